"""The pre-commit hook, installed and run by pre-commit itself (`pre-commit try-repo`).

pre-commit builds the hook's own virtualenv from this repository (a pip install, so it needs the
package index), once for the module; then it runs the hook in a git repository of specs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e.helpers import REPO

HOOKS = REPO / ".pre-commit-hooks.yaml"
SPEC = {
    "inference_id": "shift-rerank",
    "task_type": "rerank",
    "service": "openshift_ai",
    "service_settings": {
        "url": "https://rerank.example/v1",
        "model_id": "bge-reranker-v2-m3",
        "api_key": "${env:OPENSHIFT_AI_API_KEY}",
    },
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.subprocess,
    pytest.mark.skipif(
        shutil.which("git") is None or not (REPO / ".git").exists(),
        reason="pre-commit try-repo needs git and a git checkout of this repository",
    ),
]


def test_the_hook_is_declared_for_a_directory_not_for_files() -> None:
    (hook,) = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert (
        hook["id"] == "reconciler-validate" and hook["entry"] == "reconciler validate --only-specs"
    )
    assert hook["language"] == "python" and hook["pass_filenames"] is False


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def try_repo(specs: Path, home: Path) -> subprocess.CompletedProcess[str]:
    git("init", "--quiet", cwd=specs)
    git("add", "--all", cwd=specs)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC", "RECONCILER"))}
    env.update({"PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"})
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "reconciler-validate"]
        + ["--all-files", "--verbose"],
        cwd=specs,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def write(specs: Path, name: str, body: dict[str, object]) -> None:
    (specs / name).parent.mkdir(parents=True, exist_ok=True)
    (specs / name).write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")


def test_the_hook_passes_a_valid_directory(tmp_path: Path, pre_commit_home: Path) -> None:
    write(tmp_path, "shift-rerank.yaml", SPEC)
    result = try_repo(tmp_path, pre_commit_home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 endpoint spec valid" in result.stdout


def test_the_hook_fails_a_bad_directory_naming_file_and_line(
    tmp_path: Path, pre_commit_home: Path
) -> None:
    write(tmp_path, "good.yaml", SPEC)
    write(tmp_path, "sub/bad.yaml", {**SPEC, "inference_id": "other", "colour": "red"})
    result = try_repo(tmp_path, pre_commit_home)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "sub/bad.yaml:8:1: unknown field 'colour'" in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
