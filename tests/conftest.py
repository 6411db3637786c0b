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

from reconciler import fingerprints
from reconciler.client import Connection
from reconciler.sandbox import SandboxServer
from reconciler.session import open_session
from reconciler.settings import Settings

REAL_SCRYPT_N = fingerprints.SCRYPT_N

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


# The longest modules (wall seconds in a whole-suite run), longest first, are collected first, so
# that `--dist loadfile` (told not to reorder them, in pytest_configure below) hands them out
# before the short ones, which then fill the gaps. xdist's default order (most tests first) started
# test_overload.py (8 tests, 45 s of waiting on purpose) among the last, and the run waited for it.
# Re-measure with `python -m pytest -n 4 --dist loadfile --durations=0 -q` when a module grows.
LONGEST_FIRST = (
    "tests/e2e/test_overload.py",
    "tests/hardening/test_faults.py",
    "tests/hardening/test_concurrency.py",
    "tests/editor/test_yaml_language_server.py",
    "tests/e2e/test_pre_commit.py",
    "tests/hardening/test_crash.py",
    "tests/e2e/test_plan_apply.py",
    "tests/e2e/test_import_roundtrip.py",
    "tests/e2e/test_verdict.py",
    "tests/e2e/test_apply_contract.py",
    "tests/hardening/test_fingerprints.py",
    "tests/unit/test_compiled_schema.py",
    "tests/hardening/test_connection.py",
    "tests/unit/test_render.py",
    "tests/unit/test_architecture.py",
)


def pytest_configure(config: pytest.Config) -> None:
    # xdist's --no-loadscope-reorder, set here rather than in addopts so that a run without
    # xdist (`-p no:xdist`) still parses its options
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(tuple(SLOW)):
            item.add_marker(pytest.mark.slow)
    rank = {module: number for number, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable


# scrypt's work factor in the test process: 2**10 instead of 2**15 (the same code and the same
# "scrypt-v1" form, 32 times cheaper). A fingerprint is derived once per secret and state document,
# some 85 ms each, and the suite makes hundreds of documents: a fifth of its CPU. Two kinds of test
# keep the real factor (`real_scrypt`): those that start the reconciler as a process (marked
# `subprocess`: the process derives with the real factor, and both sides must agree) and
# tests/hardening/test_fingerprints.py, which checks what a reader of the document faces.
CHEAP_SCRYPT_N = 2**10


@pytest.fixture(scope="session", autouse=True)
def _cheap_scrypt() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fingerprints, "SCRYPT_N", CHEAP_SCRYPT_N)
        yield


@pytest.fixture
def real_scrypt() -> Iterator[None]:
    """The product's scrypt work factor for this test (and a derivation cache of its own)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fingerprints, "SCRYPT_N", REAL_SCRYPT_N)
        patch.setattr(fingerprints, "_derived", {})
        yield


@pytest.fixture(autouse=True)
def _real_scrypt_beside_a_process(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("subprocess") is not None:
        request.getfixturevalue("real_scrypt")


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
