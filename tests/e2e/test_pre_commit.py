"""The pre-commit hook, installed and run by pre-commit itself, as a user's config names it.

A git snapshot of this working tree (what `pre-commit try-repo` would make) is the hook's
repository, named by `repo:` and `rev:` in a specs repository's `.pre-commit-config.yaml`.
pre-commit builds the hook's own virtualenv from it (a pip install, so it needs the package
index) once for the module, and both tests run the hook from that one environment.
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
HOOK = "reconciler-validate"
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
        reason="the hook's repository is a git snapshot of this checkout: needs git and a checkout",
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


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)
    return done.stdout.decode()


@pytest.fixture(scope="module")
def hook_repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This working tree, committed as it is (uncommitted changes included) in a repository of
    its own: the repository and the commit a config's `repo:` and `rev:` name."""
    snapshot = tmp_path_factory.mktemp("hook-repository")
    listed = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=REPO)
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / name)
    git("init", "--quiet", cwd=snapshot)
    git("add", "--all", cwd=snapshot)
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    git(*identity, "commit", "--quiet", "--no-verify", "-m", "snapshot", cwd=snapshot)
    return snapshot, git("rev-parse", "HEAD", cwd=snapshot).strip()


def run_hook(
    specs: Path, home: Path, hook_repository: tuple[Path, str]
) -> subprocess.CompletedProcess[str]:
    repository, rev = hook_repository
    config = {"repos": [{"repo": str(repository), "rev": rev, "hooks": [{"id": HOOK}]}]}
    (specs / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    git("init", "--quiet", cwd=specs)
    git("add", "--all", cwd=specs)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC", "RECONCILER"))}
    env.update({"PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"})
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--verbose"],
        cwd=specs,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def write(specs: Path, name: str, body: dict[str, object]) -> None:
    (specs / name).parent.mkdir(parents=True, exist_ok=True)
    (specs / name).write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")


def test_the_hook_passes_a_valid_directory(
    tmp_path: Path, pre_commit_home: Path, hook_repository: tuple[Path, str]
) -> None:
    write(tmp_path, "shift-rerank.yaml", SPEC)
    result = run_hook(tmp_path, pre_commit_home, hook_repository)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 endpoint spec valid" in result.stdout


def test_the_hook_fails_a_bad_directory_naming_file_and_line(
    tmp_path: Path, pre_commit_home: Path, hook_repository: tuple[Path, str]
) -> None:
    write(tmp_path, "good.yaml", SPEC)
    write(tmp_path, "sub/bad.yaml", {**SPEC, "inference_id": "other", "colour": "red"})
    result = run_hook(tmp_path, pre_commit_home, hook_repository)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "sub/bad.yaml:8:1: unknown field 'colour'" in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
