"""Fixtures every test can use: the sandbox cluster on 127.0.0.1.

`sandbox` is a sandbox with the default knobs and nothing in it. One server per test process
is started on a free port the first time a test asks for it and renewed before each test
(``SandboxServer.renew``: every endpoint, document, knob, fault and logged request forgotten),
which is what a new server would be, without the cost of starting one. `sandbox_factory(**knobs)`
starts servers of their own with custom knobs (version, data_file, api_key, eis, ...), stopped
after the test. Both fail the test if a request ever produced a 500 (an internal error is a
sandbox bug, never an answer Elasticsearch would give). `cluster` is the name the end-to-end
tests give the same sandbox, `server` the name the stage tests (tests/integration) give it, with
`connect()` opening a session on it; `secret_variables` sets the variables their specs'
``${env:...}`` references name (tests/specs.py). Helpers for talking to it: `tests/sandbox/helpers.py`; for running
the CLI: `tests/e2e/helpers.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.client import Connection
from reconciler.sandbox import SandboxServer
from reconciler.session import open_session
from reconciler.settings import Settings

# node id prefix -> why it is slow (on top of tests marked @pytest.mark.slow where they stand)
SLOW = {
    "tests/e2e/test_overload.py": "sits out 503/429 windows of up to 10 s, on purpose",
    "tests/e2e/test_import_roundtrip.py": "every service example created, imported, applied",
    "tests/e2e/test_spec_examples.py": "every official example made by hand, then planned",
    "tests/hardening/test_bad_input.py::test_bad_input_fails_cleanly": "about 300 CLI runs",
    "tests/hardening/test_concurrency.py": "racing processes, locks waited out until they expire",
    "tests/hardening/test_faults.py::test_apply_converges_through_the_fault": "the fault matrix",
    "tests/hardening/test_properties.py": "hundreds of generated desired and live states",
    "tests/unit/test_compiled_schema.py::test_mutated_examples_agree": "600 generated documents",
    "tests/unit/test_render.py::test_markdown_stays_under_github_limit": "plans of 20,000 endpoints",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(tuple(SLOW)):
            item.add_marker(pytest.mark.slow)


def _no_internal_errors(servers: list[SandboxServer]) -> None:
    internal_errors = [
        r
        for server in servers
        for r in server.requests
        if r["status"] == 500 and not r.get("fault")
    ]
    assert internal_errors == [], f"sandbox answered 500 (a sandbox bug): {internal_errors}"


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
    for server in servers:
        server.stop()
    _no_internal_errors(servers)


@pytest.fixture(scope="session")
def _one_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as server:
        yield server


@pytest.fixture
def sandbox(_one_sandbox: SandboxServer) -> Iterator[SandboxServer]:
    server = _one_sandbox.renew()
    yield server
    _no_internal_errors([server])


@pytest.fixture
def cluster(sandbox: SandboxServer) -> SandboxServer:
    return sandbox


@pytest.fixture
def server(sandbox: SandboxServer) -> SandboxServer:
    return sandbox


@pytest.fixture
def connect(server: SandboxServer) -> Callable[..., Any]:
    """``with connect() as session:`` a session on the sandbox (settings may be given)."""

    def make(settings: Settings | None = None) -> Any:
        return open_session(
            connection=Connection(url=server.url),
            settings=settings or Settings(),
            sandbox_data=None,
        )

    return make


@pytest.fixture
def secret_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RERANK_KEY", "rerank-secret-value-1")
    monkeypatch.setenv("OPENAI_KEY", "openai-secret-value-1")
