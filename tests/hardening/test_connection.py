"""Credentials travel with their URL: through the real CLI, two sandboxes and their request logs.

A shell that names one cluster and an ``--env`` environment that names another stop the run before
any request (neither cluster's log holds one); a variable an environment names for its key that is
unset is an error naming it and its line; the environment's key goes to the environment's cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli
from tests.hardening.corpus import AZURE, SECRET_ENV

STAGING_KEY = "k-staging-HARDEN-51c0"
OTHER_KEY = "k-other-HARDEN-77ad"


@pytest.fixture()
def clusters() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    with (
        SandboxServer(port=0, api_key=STAGING_KEY) as staging,
        SandboxServer(port=0, api_key=OTHER_KEY) as other,
    ):
        yield staging, other


def specs(tmp_path: Path, staging_url: str) -> Path:
    root = tmp_path / "specs"
    root.mkdir()
    (root / "azure.yaml").write_text(AZURE, encoding="utf-8")
    (root / "reconciler.yaml").write_text(
        f"environments:\n  staging:\n    url: {staging_url}\n    api_key_env: STAGING_KEY\n",
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize("command", ["plan", "apply", "unlock"])
def test_a_shell_url_for_another_cluster_stops_before_any_request(
    tmp_path: Path, clusters: tuple[SandboxServer, SandboxServer], command: str
) -> None:
    staging, other = clusters
    root = specs(tmp_path, staging.url)
    env = {**SECRET_ENV, "STAGING_KEY": STAGING_KEY, "ELASTICSEARCH_URL": other.url}
    extra = ("--auto-approve",) if command == "apply" else ()
    result = run_cli(command, str(root), "--env", "staging", *extra, env=env)
    assert result.code == 1 and "Traceback" not in result.output, result.output
    assert staging.url in result.stderr and other.url in result.stderr, result.stderr
    assert "ELASTICSEARCH_URL" in result.stderr
    assert other.requests == [] and staging.requests == []
    assert STAGING_KEY not in result.output


def test_an_unset_api_key_env_is_named_with_its_line(
    tmp_path: Path, clusters: tuple[SandboxServer, SandboxServer]
) -> None:
    staging, _ = clusters
    root = specs(tmp_path, staging.url)
    result = run_cli(
        "plan", str(root), "--env", "staging", env={**SECRET_ENV, "ELASTIC_API_KEY": OTHER_KEY}
    )
    assert result.code == 1, result.output
    assert "specs/reconciler.yaml:4" in result.stderr and "STAGING_KEY" in result.stderr
    assert "not set" in result.stderr and "401" not in result.stderr, result.stderr
    assert staging.requests == []


def test_the_environment_key_goes_to_the_environment_cluster_only(
    tmp_path: Path, clusters: tuple[SandboxServer, SandboxServer]
) -> None:
    staging, other = clusters
    root = specs(tmp_path, staging.url)
    env = {**SECRET_ENV, "STAGING_KEY": STAGING_KEY, "ELASTIC_API_KEY": OTHER_KEY}
    result = run_cli("apply", str(root), "--env", "staging", "--auto-approve", env=env)
    assert result.code == 0, result.output  # the sandbox answers 401 to any other key
    assert staging.requests and all(r["status"] != 401 for r in staging.requests)
    assert other.requests == []
    same = run_cli(
        "plan",
        str(root),
        "--env",
        "staging",
        "--detailed-exitcode",
        env={**env, "ELASTICSEARCH_URL": staging.url + "/"},
    )
    assert same.code == 0, same.output  # the same cluster named twice is no conflict
