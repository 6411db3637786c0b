"""An apply killed with SIGKILL at each step loses nothing: the next run knows what was sent where.

Each case starts ``apply`` as a process against a slowed-down sandbox, kills it (kill -9) when
the sandbox's request log shows it reached a step, unlocks (as a person would), applies again,
then rotates the key: every endpoint must be updated in place (none "secret not tracked"), and
no endpoint may have been created twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import REPO, child_environment, run_cli, unlock, write_spec

N = 24
OLD, NEW = "osk-crash-old-0123456789", "osk-crash-new-9876543210"
Log = list[dict[str, Any]]


def spec(n: int) -> dict[str, Any]:
    return {
        "inference_id": f"crash-{n:02d}",
        "task_type": "rerank",
        "service": "openshift_ai",
        "service_settings": {
            "url": "https://rerank.example/v1",
            "model_id": "bge-reranker-v2-m3",
            "api_key": "${env:SHIFT_KEY}",
        },
    }


def creates(log: Log) -> list[str]:
    return [
        r["path"]
        for r in log
        if r["method"] == "PUT"
        and r["path"].startswith("/_inference/rerank/crash-")
        and r["status"] == 200
        and not r["path"].endswith("/_update")
    ]


def state_writes(log: Log) -> list[dict[str, Any]]:
    return [
        r
        for r in log
        if r["method"] == "PUT"
        and r["path"].startswith("/reconciler-state/")
        and not r["path"].endswith(".lock")
    ]


def listings(log: Log) -> int:
    return sum(1 for r in log if r["method"] == "GET" and r["path"] == "/_inference/_all")


STEPS: dict[str, Callable[[Log], bool]] = {
    "before-the-intent": lambda log: any(r["path"].endswith(".lock") for r in log),
    "after-the-intent": lambda log: len(state_writes(log)) >= 1,
    "amid-the-creates": lambda log: len(creates(log)) >= N // 3,
    "before-the-final-record": lambda log: len(creates(log)) >= N,
    "during-verification": lambda log: listings(log) >= 2,
}


@pytest.mark.subprocess
@pytest.mark.parametrize("step", list(STEPS))
def test_a_killed_apply_loses_nothing(tmp_path: Path, step: str) -> None:
    specs = tmp_path / "endpoints"
    for n in range(N):
        write_spec(specs, spec(n))
    with SandboxServer(port=0, latency_ms=40) as cluster:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "apply",
                str(specs),
                "--auto-approve",
                "--parallelism",
                "2",
                "--url",
                cluster.url,
            ],
            env=child_environment({"SHIFT_KEY": OLD}),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not STEPS[step](cluster.requests) and process.poll() is None:
            assert time.monotonic() < deadline, f"never reached {step}"
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        cluster.latency_ms = 0
        unlock(specs, cluster.url)  # a killed run leaves its lock: a person breaks it by its id
        again = run_cli(
            "apply", str(specs), "--auto-approve", "--url", cluster.url, env={"SHIFT_KEY": OLD}
        )
        assert again.code == 0, again.output
        assert "not tracked" not in again.output
        rotated = run_cli("plan", str(specs), "--url", cluster.url, env={"SHIFT_KEY": NEW})
        assert rotated.code == 0, rotated.output
        assert f"Plan: 0 to create, {N} to update, 0 to replace, 0 to delete." in rotated.stdout
        assert "not tracked" not in rotated.output
        done = run_cli(
            "apply", str(specs), "--auto-approve", "--url", cluster.url, env={"SHIFT_KEY": NEW}
        )
        assert done.code == 0 and f"{N} updated" in done.stdout, done.output
        made = creates(cluster.requests)
        assert sorted(made) == sorted(set(made)) and len(made) == N  # each created once
