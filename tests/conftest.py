"""Fixtures every test can use: the sandbox cluster on a free 127.0.0.1 port.

`sandbox` is a started `SandboxServer`, one per test; `sandbox_factory(**knobs)` starts more
with custom knobs (version, data_file, api_key, eis, ...). Both stop their servers after the
test and fail the test if a request ever produced a 500 (an internal error is a sandbox bug,
never an answer Elasticsearch would give). Helpers for talking to it: `tests/sandbox/helpers.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SandboxServer

# A CLI started as a subprocess from another folder imports this checkout's package, installed or
# not (a developer's worktree need not be installed; CI installs the same code).
_ROOT = str(Path(__file__).resolve().parents[1])
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (_ROOT, os.environ.get("PYTHONPATH", "")) if p
)


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxServer]]:
    servers: list[SandboxServer] = []

    def make(**knobs: Any) -> SandboxServer:
        knobs.setdefault("port", 0)
        server = SandboxServer(**knobs).start()
        servers.append(server)
        return server

    yield make
    internal_errors = []
    for server in servers:
        internal_errors += [r for r in server.requests if r["status"] == 500 and not r.get("fault")]
        server.stop()
    assert internal_errors == [], f"sandbox answered 500 (a sandbox bug): {internal_errors}"


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    return sandbox_factory()
