"""Fixtures every test can use: the sandbox cluster on a free 127.0.0.1 port.

`sandbox` is a started `SandboxServer`, one per test; `sandbox_factory(**knobs)` starts more
with custom knobs (version, data_file, api_key, eis, ...). Both stop their servers after the
test and fail the test if a request ever produced a 500 (an internal error is a sandbox bug,
never an answer Elasticsearch would give). Helpers for talking to it: `tests/sandbox/helpers.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reconciler.sandbox import SandboxServer


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
