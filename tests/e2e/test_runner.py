"""The in-process runner gives the CLI what a new process would get, and puts everything back.

If ``run_cli`` leaked an environment variable, a working directory, a signal handler or a log
handler into the next test, tests would pass or fail by their order; these tests fail instead.
``test_the_entry_point_*`` run the real ``python -m reconciler`` (the smoke test of the entry
point itself).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import REPO, run_cli, run_subprocess, write_spec
from tests.specs import ENV, rerank


def test_the_command_sees_only_the_given_cluster_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ELASTICSEARCH_URL", "http://127.0.0.1:1")  # would be a closed port
    monkeypatch.setenv("RECONCILER_ENV", "nowhere")
    write_spec(tmp_path, rerank())
    result = run_cli("validate", str(tmp_path))
    assert result.code == 0, result.output
    assert os.environ["ELASTICSEARCH_URL"] == "http://127.0.0.1:1"  # the test's own, put back


def test_cwd_environment_streams_and_handlers_are_restored(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    write_spec(tmp_path / "specs", rerank())
    before = (
        os.getcwd(),
        dict(os.environ),
        sys.stdout,
        sys.stderr,
        sys.stdin,
        signal.getsignal(signal.SIGINT),
        logging.getLogger().handlers[:],
        logging.getLogger("reconciler").level,
    )
    result = run_cli(
        "--debug", "plan", "specs", "--url", cluster.url, env={**ENV, "EXTRA": "1"}, cwd=tmp_path
    )
    assert result.code == 0, result.output
    assert "debug: GET /_inference/_all" in result.stderr  # --debug logs to the captured stderr
    after = (
        os.getcwd(),
        dict(os.environ),
        sys.stdout,
        sys.stderr,
        sys.stdin,
        signal.getsignal(signal.SIGINT),
        logging.getLogger().handlers[:],
        logging.getLogger("reconciler").level,
    )
    assert after == before


def test_exit_codes_and_streams_are_the_commands(tmp_path: Path, cluster: SandboxServer) -> None:
    write_spec(tmp_path, rerank())
    planned = run_cli("plan", str(tmp_path), "--url", cluster.url, "--detailed-exitcode", env=ENV)
    assert planned.code == 2 and "will be created" in planned.stdout and planned.stderr == ""
    missing = run_cli("plan", str(tmp_path / "nowhere"), "--url", cluster.url, env=ENV)
    assert missing.code == 1 and missing.stdout == "" and "Error:" in missing.stderr


def test_a_secret_one_command_resolved_masks_nothing_in_the_next(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    write_spec(tmp_path, rerank())
    env = {**ENV, "OPENSHIFT_AI_API_KEY": "key-for-_services-and-more"}  # 8-character pieces
    planned = run_cli("plan", str(tmp_path), "--url", cluster.url, env=env)
    assert planned.code == 0, planned.output
    cluster.version = "8.17.0"  # doctor's error then names GET _inference/_services
    doctor = run_cli("doctor", "--url", cluster.url)  # a new process would not know that key
    assert doctor.code == 1 and "GET _inference/_services" in doctor.stderr, doctor.stderr


@pytest.mark.subprocess
def test_the_entry_point_runs_the_same_command(tmp_path: Path, cluster: SandboxServer) -> None:
    write_spec(tmp_path, rerank())
    args = ("plan", str(tmp_path), "--url", cluster.url, "--format", "json")
    in_process, process = run_cli(*args, env=ENV), run_subprocess(*args, env=ENV)
    assert in_process.code == process.code == 0
    assert in_process.stdout == process.stdout and '"action": "create"' in process.stdout
    version = run_subprocess("--version", cwd=REPO)
    assert version.code == 0 and version.stdout.startswith("reconciler, version ")
