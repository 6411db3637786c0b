"""A pytest plugin that counts the tests which start a process (run by hand, prints a figure).

    python -m pytest -p tests.benchmarks.subprocess_count -q

At the end it prints how many tests started at least one child process (``subprocess``,
``os.fork``/``pty.fork``) and how many processes they started; ``-n`` works (each worker prints
its share and the controller sums them). It counts every child: git, pre-commit, actionlint and
the reconciler itself.
"""

from __future__ import annotations

import os
import pty
import subprocess
from collections import Counter
from typing import Any

import pytest

_current: list[str] = [""]
_started: Counter[str] = Counter()


def _counted(function: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _started[_current[0] or "(outside a test)"] += 1
        return function(*args, **kwargs)

    return wrapper


subprocess.Popen._execute_child = _counted(subprocess.Popen._execute_child)  # type: ignore[attr-defined]
os.fork = _counted(os.fork)
pty.fork = _counted(pty.fork)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    _current[0] = item.nodeid
    try:
        return (yield)
    finally:
        _current[0] = ""


def pytest_sessionfinish(session: pytest.Session) -> None:
    tests = sum(1 for name in _started if name != "(outside a test)")
    if hasattr(session.config, "workerinput"):
        session.config.workeroutput["subprocess_count"] = (tests, sum(_started.values()))  # type: ignore[attr-defined]
        return
    _report(session.config, tests, sum(_started.values()))


def pytest_testnodedown(node: Any, error: Any) -> None:
    tests, processes = node.workeroutput.get("subprocess_count", (0, 0))
    _totals[0] += tests
    _totals[1] += processes


_totals = [0, 0]


def pytest_unconfigure(config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is None and (_totals[0] or _totals[1]):
        _report(config, *_totals)


def _report(config: pytest.Config, tests: int, processes: int) -> None:
    print(f"\nsubprocess count: {tests} tests started {processes} processes")
