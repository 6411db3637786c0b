"""Faults on every kind of request: apply converges, creates each endpoint once, keeps the state consistent.

One apply does every kind of write at once (from a cluster holding a, b and c): ``a`` is updated
(``_update``), ``b`` replaced (DELETE + PUT), ``c`` pruned (DELETE), ``d`` and ``e`` created, and the
state document and lock written. Each fault (429 with Retry-After, 502, 503, a dropped
connection, a connection dropped after the cluster did the work, an answer slower than the client's
timeout) hits one kind of request. Afterwards: exit 0, each created endpoint PUT successfully exactly
once, a fresh plan has no change, and the state names exactly the declared ids.

Also: an apply killed with SIGKILL at random points, then ``unlock`` and a re-run, converges with
nothing lost or duplicated (``slow``).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.identity import state_id_for
from reconciler.sandbox import Fault, SandboxServer
from tests.e2e.helpers import REPO, Run, run_cli, unlock, write_requests
from tests.hardening.corpus import SECRET_ENV, SHIFT, run_parallel
from tests.sandbox.helpers import plain

TIMEOUT = 0.5  # RECONCILER_TIMEOUT for every faulted apply: a 'slow' answer takes longer


def rerank(inference_id: str, *, top_n: int = 3, model: str = "bge-reranker-v2-m3") -> str:
    return (
        SHIFT.replace("shift-rerank", inference_id)
        .replace("top_n: 3", f"top_n: {top_n}")
        .replace("bge-reranker-v2-m3", model)
    )


BEFORE = {"a": rerank("a"), "b": rerank("b"), "c": rerank("c")}
AFTER = {
    "a": rerank("a", top_n=5),
    "b": rerank("b", model="other-model"),
    "d": rerank("d"),
    "e": rerank("e"),
}
CREATED = {"b", "d", "e"}

KINDS: dict[str, dict[str, Any]] = {
    "429-retry-after": {"status": 429, "retry_after": 1, "count": 2},
    "502": {"status": 502, "count": 2},
    "503": {"status": 503, "count": 2},
    "drop": {"drop": True, "status": None, "count": 2},
    "drop-after-doing-it": {"drop": True, "status": None, "after": True, "count": 2},
    "slow-past-timeout": {"status": None, "delay": TIMEOUT + 0.4, "after": True, "count": 1},
}
TARGETS: dict[str, tuple[str, str]] = {
    "get-listing": ("GET", r"^/_inference/_all$"),
    "create": ("PUT", r"^/_inference/rerank/[bde]$"),
    "update": ("PUT", r"^/_inference/rerank/a/_update$"),
    "delete": ("DELETE", r"^/_inference/rerank/[bc]$"),
    "state-writes": ("PUT", r"^/reconciler-state"),  # the index, the lock and the state document
}


@dataclass(frozen=True)
class Result:
    run: Run
    log: list[dict[str, Any]]
    live: set[str]
    managed: set[str]
    plan_changes: list[str]


def write_specs(root: Path, specs: dict[str, str]) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    # one state document for the seed and every run made from it, wherever their folders are
    (root / "reconciler.yaml").write_text("state_id: default\n", encoding="utf-8")
    for name, text in specs.items():
        (root / f"{name}.yaml").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox data file holding a, b and c, applied (so managed, with fingerprints)."""
    folder = tmp_path_factory.mktemp("seed")
    write_specs(folder / "specs", BEFORE)
    data = folder / "sandbox.json"
    with SandboxServer(port=0, data_file=str(data)) as cluster:
        result = run_cli(
            "apply", str(folder / "specs"), "--url", cluster.url, "--auto-approve", env=SECRET_ENV
        )
        assert result.code == 0, result.output
    return data


@pytest.fixture(scope="module")
def secrets_in_process() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SECRET_ENV.items():
            patch.setenv(name, value)
        yield


def replan(root: Path, url: str) -> tuple[list[str], set[str]]:
    """A fresh plan in process (as `plan --prune` would make it): changes left, and the managed ids."""
    from reconciler.client import Connection
    from reconciler.run import make_plan
    from reconciler.session import load_specs, open_session
    from reconciler.settings import load_settings

    settings = load_settings(root, None)
    specs = load_specs(root, settings).specs
    with open_session(
        connection=Connection(url=url), settings=settings, sandbox_data=None
    ) as session:
        planned = make_plan(session, specs, prune=True)
    changes = [f"{c.action.value} {c.address}" for c in planned.plan.changes if c.action.writes]
    return changes, set(planned.snapshot.state.managed)


def faulted_apply(seed: Path, workdir: Path, fault: Fault | None) -> Result:
    workdir.mkdir(parents=True)
    data = workdir / "sandbox.json"
    shutil.copy(seed, data)
    write_specs(workdir / "specs", AFTER)
    with SandboxServer(port=0, data_file=str(data)) as cluster:
        if fault is not None:
            cluster.add_fault(fault)
        run = run_cli(
            "apply",
            str(workdir / "specs"),
            "--url",
            cluster.url,
            "--auto-approve",
            "--prune",
            env={**SECRET_ENV, "RECONCILER_TIMEOUT": str(TIMEOUT)},
            timeout=60,
        )
        deadline = time.monotonic() + (fault.delay + 1 if fault is not None else 0)
        while time.monotonic() < deadline and not any(r.get("fault") for r in cluster.requests):
            time.sleep(
                0.05
            )  # a slow answer is logged when it is sent, after the client gave up on it
        log = cluster.requests
        cluster.clear_faults()
        endpoints = plain.get(f"{cluster.url}/_inference/_all").json()["endpoints"]
        changes, managed = replan(workdir / "specs", cluster.url)
    live = {e["inference_id"] for e in endpoints if not e["inference_id"].startswith(".")}
    return Result(run=run, log=log, live=live, managed=managed, plan_changes=changes)


CASES = [(kind, target) for target in TARGETS for kind in KINDS]


@pytest.fixture(scope="module")
def outcomes(
    seeded: Path, secrets_in_process: None, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Result]:
    base = tmp_path_factory.mktemp("faults")

    def job(kind: str, target: str) -> Result:
        method, path = TARGETS[target]
        return faulted_apply(
            seeded, base / f"{kind}-{target}", Fault(method=method, path=path, **KINDS[kind])
        )

    results = run_parallel([lambda k=k, t=t: job(k, t) for k, t in CASES], workers=6)
    return dict(zip(CASES, results, strict=True))


def test_without_faults_the_scenario_does_every_kind_of_write(
    seeded: Path, secrets_in_process: None, tmp_path: Path
) -> None:
    result = faulted_apply(seeded, tmp_path / "clean", None)
    assert result.run.code == 0, result.run.output
    writes = Counter((r["method"], r["path"]) for r in result.log)
    for method, path in TARGETS.values():
        assert any(m == method and re.search(path, p) for m, p in writes), (method, path, writes)


@pytest.mark.parametrize(("kind", "target"), CASES, ids=[f"{t}-{k}" for k, t in CASES])
def test_apply_converges_through_the_fault(
    outcomes: dict[tuple[str, str], Result], kind: str, target: str
) -> None:
    result = outcomes[(kind, target)]
    run = result.run
    assert any(r.get("fault") for r in result.log), "the fault never fired"
    assert run.code == 0, run.output
    assert "Traceback" not in run.output
    creates = Counter(
        r["path"].rsplit("/", 1)[1]
        for r in result.log
        if r["method"] == "PUT"
        and r["status"] == 200
        and r["path"].count("/") == 3
        and r["path"].startswith("/_inference/")
        and "/reconciler-probe-" not in r["path"]  # a replace's trial create, removed again
    )
    assert creates == Counter(dict.fromkeys(CREATED, 1)), creates
    assert result.live == set(AFTER), result.live
    assert result.plan_changes == [], result.plan_changes
    assert result.managed == set(AFTER), result.managed
    if kind == "429-retry-after":  # the next attempt waited as long as the cluster asked
        refused = [r for r in result.log if r.get("fault") == "status 429"]
        for answer in refused:
            retry = next(
                r
                for r in result.log
                if r["time"] > answer["time"]
                and r["method"] == answer["method"]
                and r["path"] == answer["path"]
                and r["query"] == answer["query"]
            )
            assert retry["time"] - answer["time"] >= 0.9, (answer, retry)


# -- SIGKILL at random points -----------------------------------------------------------------------

KILL_ROUNDS = 4
KILLS_PER_ROUND = 6
LATENCY_MS = 15


def unlock_in_process(url: str) -> bool:
    """What `reconciler unlock` does, without starting Python again."""
    from reconciler.client import Client, Connection
    from reconciler.state import StateStore

    with Client(Connection(url=url)) as client:
        return StateStore(client).release_lock()


@dataclass(frozen=True)
class Kill:
    request: int  # the killed apply died after this many of its requests had reached the cluster
    mid_apply: bool  # it died holding the lock: between taking it and releasing it


def kill_round(
    seed: int, workdir: Path
) -> tuple[list[Kill], Run, list[dict[str, Any]], set[str], list[str]]:
    """Apply a growing desired state, killing each apply at a random request, then finish the job.

    The kill point is chosen by progress, not by clock: after the k-th request of the apply has
    reached the cluster (k random up to 16: an apply of three creates sends about 15), plus a random
    part of one request's latency, so that it lands before, inside or after a request.
    """
    rng = random.Random(seed)
    workdir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC", "RECONCILER"))}
    env.update(SECRET_ENV)
    specs: dict[str, str] = {}
    kills: list[Kill] = []
    with SandboxServer(port=0, latency_ms=LATENCY_MS) as cluster:
        for step in range(KILLS_PER_ROUND):
            for i in range(
                3
            ):  # every step declares three more endpoints, so each apply has work to do
                specs[f"k{step}-{i}"] = rerank(f"k{step}-{i}")
            write_specs(workdir / "specs", specs)
            before = len(cluster.requests)
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "reconciler",
                    "apply",
                    str(workdir / "specs"),
                    "--url",
                    cluster.url,
                    "--auto-approve",
                    "--parallelism",
                    "2",
                ],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            target = rng.randint(1, 16)  # an apply of three creates sends about 15 requests
            while process.poll() is None and len(cluster.requests) - before < target:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, LATENCY_MS / 1000))
            process.send_signal(signal.SIGKILL)
            process.wait()
            sent = len(cluster.requests) - before
            if (
                step == KILLS_PER_ROUND - 1
            ):  # the command a user runs; before, the same call in process
                unlocked = unlock(workdir / "specs", cluster.url)
                assert unlocked.code == 0, unlocked.output
                removed = "Lock removed." in unlocked.stdout
            else:
                removed = unlock_in_process(cluster.url)
            kills.append(Kill(request=sent, mid_apply=removed))
        final = run_cli(
            "apply", str(workdir / "specs"), "--url", cluster.url, "--auto-approve", env=SECRET_ENV
        )
        time.sleep(2 * LATENCY_MS / 1000)  # a request of a killed apply may still be on its way in
        log = cluster.requests
        changes, managed = replan(workdir / "specs", cluster.url)
    return kills, final, log, managed, changes


@pytest.mark.subprocess
@pytest.mark.slow
def test_apply_killed_at_random_points_converges(tmp_path: Path, secrets_in_process: None) -> None:
    seed = int(os.environ.get("HARDENING_SEED", time.time()))
    rounds = run_parallel(
        [lambda r=r: kill_round(seed + r, tmp_path / f"round-{r}") for r in range(KILL_ROUNDS)]
    )
    kills = [kill for round_kills, *_ in rounds for kill in round_kills]
    assert len(kills) >= 20
    # most kills must land inside the apply (lock held), not in Python's start-up
    assert sum(kill.mid_apply for kill in kills) >= len(kills) // 3, kills
    for round_kills, final, log, managed, changes in rounds:
        context = f"seed {seed}, kills {round_kills}\n{final.output}"
        assert final.code == 0, context
        declared = {f"k{step}-{i}" for step in range(KILLS_PER_ROUND) for i in range(3)}
        creates = Counter(
            r["path"].rsplit("/", 1)[1]
            for r in log
            if r["method"] == "PUT"
            and r["status"] == 200
            and r["path"].count("/") == 3
            and r["path"].startswith("/_inference/")
            and "/reconciler-probe-" not in r["path"]
        )
        assert creates == Counter(dict.fromkeys(declared, 1)), (
            context
        )  # nothing lost, nothing made twice
        assert changes == [], context
        assert managed == declared, context


# -- the state document: never overwritten when unreadable, kept per environment -----------------------

CORRUPT_STATES = {
    "managed-is-a-list": {"managed": [1, 2]},
    "entry-is-a-string": {"managed": {"shift-rerank": "x"}},
    "secrets-is-a-list": {"salt": "s", "managed": {"shift-rerank": {"secrets": [1]}}},
    "fingerprint-not-a-string": {
        "salt": "s",
        "managed": {"shift-rerank": {"secrets": {"service_settings.api_key": 5}}},
    },
    "fingerprints-without-salt": {
        "managed": {"shift-rerank": {"secrets": {"service_settings.api_key": "h"}}}
    },
    "newer-format": {"format_version": 99, "salt": "s", "managed": {}},
}


@pytest.mark.parametrize("document", list(CORRUPT_STATES.values()), ids=list(CORRUPT_STATES))
def test_a_state_document_we_cannot_read_stops_before_any_write(
    tmp_path: Path, document: dict[str, Any]
) -> None:
    write_specs(tmp_path / "specs", {"shift-rerank": SHIFT})
    with SandboxServer(port=0) as cluster:
        plain.put(f"{cluster.url}/reconciler-state/_doc/default", json=document).raise_for_status()
        cluster.clear_requests()
        for command in (("plan",), ("apply", "--auto-approve")):
            result = run_cli(
                command[0],
                str(tmp_path / "specs"),
                "--url",
                cluster.url,
                *command[1:],
                env=SECRET_ENV,
            )
            assert result.code == 1, result.output
            assert "Traceback" not in result.output and "internal error" not in result.output, (
                result.output
            )
            assert "reconciler-state/default cannot be read" in result.stderr, result.stderr
        writes = write_requests(cluster.requests)  # apply took and released its lock, no more
        assert writes == [], writes
        assert (
            plain.get(f"{cluster.url}/reconciler-state/_doc/default").json()["_source"] == document
        )


def test_a_saved_plan_keeps_its_environments_state_document(tmp_path: Path) -> None:
    write_specs(tmp_path / "specs", {"shift-rerank": SHIFT})
    with SandboxServer(port=0) as cluster:
        (tmp_path / "specs" / "reconciler.yaml").write_text(
            f"environments:\n  staging:\n    url: {cluster.url}\n"
        )
        made = run_cli(
            "plan", "specs", "--env", "staging", "--out", "plan.json", cwd=tmp_path, env=SECRET_ENV
        )
        assert made.code == 0, made.output
        applied = run_cli(
            "apply",
            "--plan",
            "plan.json",
            "--auto-approve",
            "--url",
            cluster.url,
            cwd=tmp_path,
            env=SECRET_ENV,
        )
        assert applied.code == 0, applied.output
        staging = plain.get(
            f"{cluster.url}/reconciler-state/_doc/{state_id_for(tmp_path / 'specs', 'staging')}"
        ).json()
    assert staging.get("found") and set(staging["_source"]["managed"]) == {"shift-rerank"}, staging
