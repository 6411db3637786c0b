"""``${file:PATH}`` reads only inside the desired-state directory, or under ``secret_file_roots``.

Before issue 24, ``${file:/absolute/path}`` (or ``../../x``) was accepted and the file's content
sent as the secret: a pull request could point a secret at any file on the runner and have the
plan job read it. Now a reference that leads out of the directory, after resolving ``..`` and
symbolic links, is a validate error at its file:line, and plan and apply send nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli
from tests.hardening.corpus import AZURE

OUTSIDE_SECRET = "outside-HARDEN-5a1c-not-for-specs"
INSIDE_SECRET = "inside-HARDEN-7d2e-token"


@pytest.fixture()
def cluster() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as server:
        yield server


def layout(tmp_path: Path, reference: str, settings: str = "") -> Path:
    """specs/azure.yaml whose key is ``reference``; specs/keys/inside.token; outside/runner.token
    (a file on the runner outside the directory); specs/link.token -> outside/runner.token."""
    root = tmp_path / "specs"
    (root / "keys").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "runner.token").write_text(OUTSIDE_SECRET + "\n", encoding="utf-8")
    (root / "keys" / "inside.token").write_text(INSIDE_SECRET + "\n", encoding="utf-8")
    (root / "link.token").symlink_to(tmp_path / "outside" / "runner.token")
    (root / "azure.yaml").write_text(
        AZURE.replace("${env:AZURE_KEY}", reference.replace("TMP", str(tmp_path))),
        encoding="utf-8",
    )
    if settings:
        (root / "reconciler.yaml").write_text(
            settings.replace("TMP", str(tmp_path)), encoding="utf-8"
        )
    return root


LEAVING = {
    "absolute": "${file:TMP/outside/runner.token}",
    "dot-dot": "${file:../outside/runner.token}",
    "dot-dot inside a path": "${file:keys/../../outside/runner.token}",
    "symbolic link": "${file:link.token}",
}


@pytest.mark.parametrize("reference", LEAVING.values(), ids=LEAVING.keys())
def test_a_file_reference_leaving_the_directory_is_an_error_at_its_line(
    tmp_path: Path, cluster: SandboxServer, reference: str
) -> None:
    root = layout(tmp_path, reference)
    validated = run_cli("validate", str(root))
    assert validated.code == 1 and "Traceback" not in validated.output, validated.output
    assert "azure.yaml:8" in validated.output, validated.output  # the api_key line
    assert "leads out of the desired-state directory" in validated.output
    assert "secret_file_roots" in validated.output
    planned = run_cli("plan", str(root), "--url", cluster.url)
    assert planned.code == 1 and "leads out" in planned.output, planned.output
    assert cluster.requests == []  # nothing was read from the cluster, nothing sent
    for result in (validated, planned):
        assert OUTSIDE_SECRET not in result.output


ROOTS = ["secret_file_roots: [TMP/outside]\n", "secret_file_roots: [../outside]\n"]


@pytest.mark.parametrize(
    ("reference", "settings"),
    [(reference, ROOTS[n % 2]) for n, reference in enumerate(LEAVING.values())],
    ids=[f"{name}, {('absolute root', 'relative root')[n % 2]}" for n, name in enumerate(LEAVING)],
)
def test_a_file_under_secret_file_roots_is_read(
    tmp_path: Path, cluster: SandboxServer, reference: str, settings: str
) -> None:
    root = layout(tmp_path, reference, settings)
    assert run_cli("validate", str(root)).code == 0
    applied = run_cli("apply", str(root), "--url", cluster.url, "--auto-approve")
    assert applied.code == 0, applied.output
    assert OUTSIDE_SECRET not in applied.output


def test_a_file_inside_the_directory_is_read(tmp_path: Path, cluster: SandboxServer) -> None:
    root = layout(tmp_path, "${file:keys/inside.token}")
    assert run_cli("validate", str(root)).code == 0
    applied = run_cli("apply", str(root), "--url", cluster.url, "--auto-approve")
    assert applied.code == 0, applied.output
    again = run_cli("plan", str(root), "--url", cluster.url, "--detailed-exitcode")
    assert again.code == 0, again.output


def test_secret_file_roots_must_be_a_list_of_folders(tmp_path: Path) -> None:
    root = layout(tmp_path, "${file:keys/inside.token}", "secret_file_roots: /run/secrets\n")
    result = run_cli("validate", str(root))
    assert result.code == 1, result.output
    assert "reconciler.yaml:1" in result.output and "secret_file_roots" in result.output
