"""Many spec files are read and checked by several processes: the verdict is the one a single
process gives, problem for problem, at the same file and line, in the same order.

A directory of 1,200 files is split across forked processes on Linux (``reconciler.forked``:
as many as there are idle cores, or ``RECONCILER_PROCESSES``, here 2 whatever the load of this
machine), by a process running one thread: a new ``python -m reconciler``, as a user runs it.
This test process may hold other threads (a sandbox serving on 127.0.0.1), so in it a command
reads everything alone; the two answers are compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from reconciler import forked
from reconciler.forked import MIN_CHUNK, PROCESSES
from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import Run, run_cli, run_subprocess
from tests.specs import rerank

FILES = 1200
SPLIT = f"debug: {FILES} items shared by 2 processes"
pytestmark = [
    pytest.mark.subprocess,
    pytest.mark.skipif(sys.platform != "linux", reason="not Linux: nothing is split"),
]


TEMPLATE = yaml.safe_dump(rerank("ID"), sort_keys=False)


def write_directory(root: Path, broken: dict[int, str]) -> None:
    """FILES spec files; those numbered in ``broken`` hold that text instead."""
    root.mkdir()
    for n in range(FILES):
        text = broken.get(n) or spec_text(f"r{n:04d}")
        (root / f"spec-{n:04d}.yaml").write_text(text, encoding="utf-8")


def spec_text(inference_id: str, **changes: str) -> str:
    text = TEMPLATE.replace("ID", inference_id)
    for old, new in changes.items():
        text = text.replace(old, new)
    return text


def reported(run: Run) -> tuple[int, str, list[str]]:
    """The exit code, the output and each problem and note at its file:line (``--debug`` adds
    its own lines and the error's traceback)."""
    lines = [line for line in run.stderr.splitlines() if line.startswith("specs/")]
    return run.code, run.stdout, lines


def test_problems_in_every_share_are_reported_as_one_process_reports_them(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    root = tmp_path / "specs"
    late = FILES - 10  # in the last process's share
    write_directory(
        root,
        {
            3: spec_text("r0003", **{"top_n: 3": "top_n: three"}),  # a wrong type, early
            late: "inference_id: [unclosed\n",  # a YAML syntax error
            late + 1: spec_text("r0001"),  # an id declared twice, across shares
            late + 2: spec_text("r-typo", **{"  model_id:": "  modle_id: x\n  model_id:"}),
            late + 3: "# only a comment\n",
        },
    )
    env = {"OPENSHIFT_AI_API_KEY": "osk-forked-test", PROCESSES: "2"}
    for command in (["validate", str(root)], ["plan", str(root), "--url", cluster.url]):
        split = run_subprocess("--debug", *command, env=env, cwd=tmp_path)
        assert SPLIT in split.stderr, split.stderr[-2000:]  # read by two processes
        alone = run_cli(*command, env=env, cwd=tmp_path)  # this process has other threads
        assert reported(split) == reported(alone)
        assert alone.code == 1 and "Traceback" not in alone.output
        for where, what in [
            ("spec-0003.yaml:9:", "top_n"),
            (f"spec-{late:04d}.yaml:2:", "YAML syntax error"),
            (f"spec-{late + 1:04d}.yaml:1:", "declared twice"),
            (f"spec-{late + 3:04d}.yaml:1:", "no document"),
        ]:
            assert any(where in line and what in line for line in split.stderr.splitlines())
    assert cluster.requests == []  # problems in the input: not one request, as from one process


def test_a_directory_broken_everywhere_stops_at_the_same_problem(tmp_path: Path) -> None:
    root = tmp_path / "specs"
    placeholder = {"https://rerank.example/v1": "https://<host>/v1"}  # cheap to diagnose
    bad = {n: spec_text(f"b{n:04d}", **placeholder) for n in range(FILES)}
    write_directory(root, bad)
    split = run_subprocess("--debug", "validate", str(root), env={PROCESSES: "2"}, cwd=tmp_path)
    assert SPLIT in split.stderr
    assert reported(split) == reported(run_cli("validate", str(root), cwd=tmp_path))
    assert "stopped checking after 200 problems" in split.stderr


PROBE = textwrap.dedent(
    """
    import json, os, sys
    from reconciler.forked import in_order

    parent = os.getpid()
    calls = []

    def doubled(items):
        calls.append(len(items))
        if os.getpid() != parent and sys.argv[1] == "fail":
            raise RuntimeError("a child that fails")
        return [2 * item for item in items]

    result = in_order(doubled, range(int(sys.argv[2])))
    print(json.dumps({"ok": result == [2 * i for i in range(int(sys.argv[2]))], "calls": calls}))
    """
)


def probe(mode: str, items: int, processes: str = "2") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(items)],
        env={**os.environ, PROCESSES: processes},
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_each_share_comes_back_in_order_and_a_failed_one_is_done_here() -> None:
    # `calls` is this process's: its own share, then (if a child failed) the child's again
    assert probe("ok", FILES) == {"ok": True, "calls": [FILES // 2]}
    assert probe("fail", FILES) == {"ok": True, "calls": [FILES // 2, FILES // 2]}
    assert probe("ok", 2 * MIN_CHUNK - 1) == {"ok": True, "calls": [2 * MIN_CHUNK - 1]}
    assert probe("ok", FILES, processes="1") == {"ok": True, "calls": [FILES]}  # never split
    assert probe("ok", 4 * MIN_CHUNK, processes="4")["calls"] == [MIN_CHUNK]


@pytest.mark.parametrize(
    ("runnable", "cores", "processes"),
    [(1, 2, 2), (2, 2, 1), (6, 2, 1), (3, 8, 6)],
)
def test_one_process_per_core_no_other_task_is_running_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runnable: int, cores: int, processes: int
) -> None:
    # the 1-minute load average (1.90) says a core is still taken by what ran before: what
    # counts is the tasks runnable now, this one among them
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"1.90 1.50 1.20 {runnable}/300 4242\n", encoding="ascii")
    monkeypatch.setattr(forked, "LOADAVG", str(loadavg))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.delenv(PROCESSES, raising=False)
    assert forked._processes() == processes


@pytest.mark.parametrize(("average", "processes"), [(0.2, 2), (1.0, 1), (3.0, 1)])
def test_without_a_count_of_runnable_tasks_the_load_average_decides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, average: float, processes: int
) -> None:
    monkeypatch.setattr(forked, "LOADAVG", str(tmp_path / "absent"))
    monkeypatch.setattr(os, "getloadavg", lambda: (average, average, average))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.delenv(PROCESSES, raising=False)
    assert forked._processes() == processes
