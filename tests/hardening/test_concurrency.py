"""Two applies at once: one applies and the other fails fast naming the holder, or they run one after the other.

Never a double write: every endpoint is created exactly once (the sandbox's request log counts the
successful PUTs and shows no failed one), and the state document ends up naming exactly the declared
ids. Also: an expired lock is taken over with a message, a lock outlives no apply, `unlock` removes one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from reconciler.sandbox import Fault, SandboxServer
from tests.e2e.helpers import REPO, run_cli
from tests.hardening.corpus import SECRET_ENV, SHIFT

N_ENDPOINTS = 8
LOCK = "/reconciler-state/_doc/default.lock"


def declare(root: Path, count: int = N_ENDPOINTS) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text("state_id: default\n", encoding="utf-8")
    ids = [f"race-{i}" for i in range(count)]
    for inference_id in ids:
        (root / f"{inference_id}.yaml").write_text(
            SHIFT.replace("shift-rerank", inference_id), encoding="utf-8"
        )
    return ids


def start_apply(root: Path, url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC", "RECONCILER"))}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "apply",
            str(root),
            "--url",
            url,
            "--auto-approve",
            "--parallelism",
            "2",
        ],
        cwd=REPO,
        env={**env, **SECRET_ENV},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str, float]:
    started = time.monotonic()
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err, time.monotonic() - started


def successful_puts(cluster: SandboxServer) -> Counter[str]:
    return Counter(
        r["path"]
        for r in cluster.requests
        if r["method"] == "PUT" and r["path"].startswith("/_inference/") and r["status"] == 200
    )


def managed_ids(cluster: SandboxServer) -> set[str]:
    state = httpx.get(f"{cluster.url}/reconciler-state/_doc/default").json()
    return set(state["_source"]["managed"])


def assert_each_created_once(cluster: SandboxServer, ids: list[str]) -> None:
    puts = successful_puts(cluster)
    assert puts == Counter({f"/_inference/rerank/{i}": 1 for i in ids}), puts
    failed = [
        r
        for r in cluster.requests
        if r["method"] == "PUT" and r["path"].startswith("/_inference/") and r["status"] != 200
    ]
    assert failed == [], failed
    assert managed_ids(cluster) == set(ids)
    lock = httpx.get(f"{cluster.url}{LOCK}")
    assert lock.status_code == 404, f"a lock outlived the applies: {lock.text}"


@pytest.mark.parametrize("offset", [0.0, 0.15, 0.4, 1.0], ids=["together", "150ms", "400ms", "1s"])
def test_two_applies_never_write_twice(tmp_path: Path, offset: float) -> None:
    ids = declare(tmp_path / "specs")
    with SandboxServer(port=0, latency_ms=25) as cluster:
        first = start_apply(tmp_path / "specs", cluster.url)
        time.sleep(offset)
        second = start_apply(tmp_path / "specs", cluster.url)
        results = [finish(first), finish(second)]
        codes = sorted(code for code, *_ in results)
        assert codes in ([0, 0], [0, 1]), results
        for code, out, err, _ in results:
            assert "Traceback" not in out + err
            if code == 1:  # lost the race: says who holds the lock, right away
                assert (
                    "another apply holds the lock" in err or "took the expired lock first" in err
                ), err
                holder = re.search(r"holds the lock: (\S+) .*pid (\d+)", err)
                assert holder and int(holder.group(2)) in (first.pid, second.pid), err
        created = sum(
            int(m.group(1))
            for _, out, _, _ in results
            for m in re.finditer(r"Apply complete: (\d+) created", out)
        )
        assert created == N_ENDPOINTS, results
        assert_each_created_once(cluster, ids)


def test_a_racing_takeover_of_an_expired_lock(tmp_path: Path) -> None:
    ids = declare(tmp_path / "specs")
    with SandboxServer(port=0, latency_ms=25) as cluster:
        httpx.put(
            f"{cluster.url}/reconciler-state/_create/default.lock",
            json={"holder": "dead-runner-7", "acquired_at": 1, "expires_at": 2},
        ).raise_for_status()
        processes = [start_apply(tmp_path / "specs", cluster.url) for _ in range(2)]
        results = [finish(p) for p in processes]
        assert sorted(code for code, *_ in results) in ([0, 0], [0, 1]), results
        takeovers = sum(
            "took over an expired lock held by dead-runner-7" in err for _, _, err, _ in results
        )
        assert takeovers == 1, results
        assert_each_created_once(cluster, ids)


def test_expired_lock_is_taken_over_with_a_message(tmp_path: Path) -> None:
    ids = declare(tmp_path / "specs", 2)
    with SandboxServer(port=0) as cluster:
        httpx.put(
            f"{cluster.url}/reconciler-state/_create/default.lock",
            json={"holder": "ci-runner-99", "acquired_at": 1, "expires_at": int(time.time()) - 1},
        ).raise_for_status()
        result = run_cli(
            "apply", str(tmp_path / "specs"), "--url", cluster.url, "--auto-approve", env=SECRET_ENV
        )
        assert result.code == 0, result.output
        assert "took over an expired lock held by ci-runner-99" in result.stderr
        assert_each_created_once(cluster, ids)


def test_a_live_lock_blocks_fast_and_unlock_removes_it(tmp_path: Path) -> None:
    declare(tmp_path / "specs", 2)
    with SandboxServer(port=0) as cluster:
        httpx.put(
            f"{cluster.url}/reconciler-state/_create/default.lock",
            json={
                "holder": "alice@laptop pid 4711",
                "acquired_at": int(time.time()),
                "expires_at": int(time.time()) + 600,
            },
        ).raise_for_status()
        started = time.monotonic()
        blocked = run_cli(
            "apply", str(tmp_path / "specs"), "--url", cluster.url, "--auto-approve", env=SECRET_ENV
        )
        assert blocked.code == 1 and "alice@laptop pid 4711" in blocked.stderr, blocked.output
        assert "reconciler unlock" in blocked.stderr and time.monotonic() - started < 5
        assert successful_puts(cluster) == Counter()
        unlocked = run_cli("unlock", str(tmp_path / "specs"), "--url", cluster.url)
        assert unlocked.code == 0 and "Lock removed." in unlocked.stdout, unlocked.output
        assert httpx.get(f"{cluster.url}{LOCK}").status_code == 404
        again = run_cli("unlock", str(tmp_path / "specs"), "--url", cluster.url)
        assert again.code == 0 and "No lock was held." in again.stdout, again.output
        applied = run_cli(
            "apply", str(tmp_path / "specs"), "--url", cluster.url, "--auto-approve", env=SECRET_ENV
        )
        assert applied.code == 0, applied.output


@pytest.mark.parametrize(
    "fault",
    [
        Fault(method="PUT", path=r"^/_inference/rerank/race-1$", status=400, count=None),
        Fault(method="PUT", path=r"^/_inference/", status=403, count=None),
    ],
    ids=["one-change-fails", "every-write-fails"],
)
def test_a_failed_apply_releases_its_lock(tmp_path: Path, fault: Fault) -> None:
    declare(tmp_path / "specs", 3)
    with SandboxServer(port=0) as cluster:
        cluster.add_fault(fault)
        failed = run_cli(
            "apply", str(tmp_path / "specs"), "--url", cluster.url, "--auto-approve", env=SECRET_ENV
        )
        assert failed.code == 1 and "Traceback" not in failed.output, failed.output
        assert httpx.get(f"{cluster.url}{LOCK}").status_code == 404, (
            "the lock outlived a failed apply"
        )
        cluster.clear_faults()
        applied = run_cli(
            "apply", str(tmp_path / "specs"), "--url", cluster.url, "--auto-approve", env=SECRET_ENV
        )
        assert applied.code == 0, applied.output
