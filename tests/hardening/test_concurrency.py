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

import pytest

from reconciler.sandbox import Fault, SandboxServer
from tests.e2e.helpers import REPO, run_cli
from tests.hardening.corpus import SECRET_ENV, SHIFT
from tests.sandbox.helpers import plain

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


def start_apply(
    root: Path, url: str, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC", "RECONCILER"))}
    env.update(extra_env or {})
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
    state = plain.get(f"{cluster.url}/reconciler-state/_doc/default").json()
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
    lock = plain.get(f"{cluster.url}{LOCK}")
    assert lock.status_code == 404, f"a lock outlived the applies: {lock.text}"


@pytest.mark.subprocess
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


@pytest.mark.subprocess
def test_a_racing_takeover_of_an_expired_lock(tmp_path: Path) -> None:
    ids = declare(tmp_path / "specs")
    with SandboxServer(port=0, latency_ms=25) as cluster:
        plain.put(
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
        plain.put(
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
        plain.put(
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
        assert f"reconciler unlock {tmp_path / 'specs'} --lock-id" in blocked.stderr
        assert time.monotonic() - started < 5
        assert successful_puts(cluster) == Counter()
        lock_id = re.search(r"--lock-id (\S+)`", blocked.stderr).group(1)  # type: ignore[union-attr]
        wrong = run_cli("unlock", str(tmp_path / "specs"), "--url", cluster.url, "--lock-id", "x1")
        assert wrong.code == 1 and lock_id in wrong.stderr, wrong.output
        unlocked = run_cli(
            "unlock", str(tmp_path / "specs"), "--url", cluster.url, "--lock-id", lock_id
        )
        assert unlocked.code == 0 and f"Lock {lock_id} removed." in unlocked.stdout, unlocked.output
        assert plain.get(f"{cluster.url}{LOCK}").status_code == 404
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
        assert plain.get(f"{cluster.url}{LOCK}").status_code == 404, (
            "the lock outlived a failed apply"
        )
        cluster.clear_faults()
        applied = run_cli(
            "apply", str(tmp_path / "specs"), "--url", cluster.url, "--auto-approve", env=SECRET_ENV
        )
        assert applied.code == 0, applied.output


# -- a lock cannot be broken by accident; a long apply keeps its own alive -------------------------

SLOW_CREATES = Fault(method="PUT", path=r"^/_inference/", status=None, delay=1.2, count=None)
SHORT_TTL = {"RECONCILER_LOCK_TTL": "3"}  # renewed every second; without renewal gone after 3 s


def wait_for_lock(cluster: SandboxServer) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answer = plain.get(f"{cluster.url}{LOCK}")
        if answer.status_code == 200:
            return dict(answer.json())
        time.sleep(0.05)
    raise AssertionError("the apply never took its lock")


@pytest.mark.subprocess
def test_unlock_during_a_running_apply_refuses_and_the_lock_stays(tmp_path: Path) -> None:
    ids = declare(tmp_path / "specs")
    with SandboxServer(port=0) as cluster:
        cluster.add_fault(SLOW_CREATES)
        running = start_apply(tmp_path / "specs", cluster.url, SHORT_TTL)
        held = wait_for_lock(cluster)
        refused = run_cli("unlock", str(tmp_path / "specs"), "--url", cluster.url)
        assert refused.code == 1 and "Lock removed" not in refused.output, refused.output
        token = held["_source"]["token"]  # type: ignore[index]
        assert f"--lock-id {token}" in refused.stderr and "pid" in refused.stderr, refused.stderr
        assert plain.get(f"{cluster.url}{LOCK}").status_code == 200, "unlock broke a live lock"
        code, out, err, _ = finish(running)
        assert code == 0, out + err
        assert_each_created_once(cluster, ids)


@pytest.mark.subprocess
def test_unlock_with_the_lock_id_stops_the_running_apply_from_writing(tmp_path: Path) -> None:
    declare(tmp_path / "specs")
    with SandboxServer(port=0) as cluster:
        cluster.add_fault(SLOW_CREATES)
        running = start_apply(tmp_path / "specs", cluster.url, SHORT_TTL)
        token = wait_for_lock(cluster)["_source"]["token"]  # type: ignore[index]
        removed = run_cli(
            "unlock", str(tmp_path / "specs"), "--url", cluster.url, "--lock-id", str(token)
        )
        assert removed.code == 0 and f"Lock {token} removed." in removed.stdout, removed.output
        removed_at = time.time()
        code, out, err, _ = finish(running)
        assert code == 1, out + err
        assert f"the apply lock {token} was lost" in err and "Traceback" not in err, err
        late = [  # the keeper looks every second; a change started after that is never sent
            r
            for r in cluster.requests
            if r["method"] == "PUT"
            and r["path"].startswith("/_inference/")
            and r["time"] > removed_at + 1.5
        ]
        assert late == [], late


@pytest.mark.subprocess
def test_a_long_apply_keeps_its_lock_alive(tmp_path: Path) -> None:
    ids = declare(tmp_path / "specs", count=12)  # 6 rounds of 2 slow creates: about 7 s
    with SandboxServer(port=0) as cluster:
        cluster.add_fault(SLOW_CREATES)
        first = start_apply(tmp_path / "specs", cluster.url, SHORT_TTL)
        wait_for_lock(cluster)
        time.sleep(4)  # past the first expiry: only a renewed lock still stands
        second = start_apply(tmp_path / "specs", cluster.url, SHORT_TTL)
        (first_code, out, err, _), (second_code, _, second_err, _) = finish(first), finish(second)
        assert first_code == 0, out + err
        assert second_code == 1 and "another apply holds the lock" in second_err, second_err
        assert "took over" not in second_err
        renewals = [
            r
            for r in cluster.requests
            if r["method"] == "PUT" and r["path"] == f"{LOCK}" and "if_seq_no" in r.get("query", {})
        ]
        assert len(renewals) >= 3, renewals
        assert_each_created_once(cluster, ids)


def unlock_on_a_terminal(root: Path, url: str, answer: str) -> tuple[int, str]:
    """`reconciler unlock` on a terminal (stdin and stdout say so), answering the question."""
    run = run_cli("unlock", str(root), "--url", url, stdin=answer + "\n", terminal=True)
    return run.code, run.output


@pytest.mark.parametrize(("answer", "code", "kept"), [("n", 1, True), ("y", 0, False)])
def test_unlock_on_a_terminal_shows_the_lock_and_asks(
    tmp_path: Path, answer: str, code: int, kept: bool
) -> None:
    declare(tmp_path / "specs", 1)
    with SandboxServer(port=0) as cluster:
        plain.put(
            f"{cluster.url}/reconciler-state/_create/default.lock",
            json={
                "holder": "bob@ci pid 99",
                "acquired_at": int(time.time()) - 60,
                "expires_at": int(time.time()) + 600,
                "token": "0a1b2c3d",
            },
        ).raise_for_status()
        exit_code, output = unlock_on_a_terminal(tmp_path / "specs", cluster.url, answer)
        assert exit_code == code, output
        assert "bob@ci pid 99" in output and "lock id 0a1b2c3d" in output and "s ago" in output
        status = plain.get(f"{cluster.url}{LOCK}").status_code
        assert status == (200 if kept else 404), output
