"""pytest fixtures for the sandbox cluster, and small helpers for talking to it.

    from tests.sandbox_fixture import sandbox, sandbox_factory  # noqa: F401 (fixtures)

`sandbox` is a started `SandboxServer` on a free 127.0.0.1 port, one per test;
`sandbox_factory(**knobs)` starts more with custom knobs (version, data_file,
api_key, ...). Both stop their servers after the test and fail the test if a
request ever produced a 500 (an internal error is a sandbox bug, never an
answer Elasticsearch would give).

Test modules import the helpers directly and load the fixtures with
`pytest_plugins`; the helpers' asserts carry their own messages, so the
module opts out of assertion rewriting: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
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


def client(server: SandboxServer, **kwargs: Any) -> httpx.Client:
    # plain HTTP needs no certificate store; loading it costs ~0.1 s per client
    kwargs.setdefault("verify", False)
    return httpx.Client(base_url=server.url, timeout=10, **kwargs)


def assert_es_error(
    response: httpx.Response, status: int, error_type: str, reason: str | None = None
) -> str:
    """The response is Elasticsearch's error envelope with this status and type; returns the reason."""
    assert response.status_code == status, (
        f"expected {status}, got {response.status_code}: {response.text}"
    )
    assert response.headers["X-Elastic-Product"] == "Elasticsearch"
    body = response.json()
    assert set(body) == {"error", "status"} and body["status"] == status, (
        f"not an ES error envelope: {body}"
    )
    error = body["error"]
    assert error["type"] == error_type, f"expected type {error_type}: {body}"
    root = error["root_cause"][0]
    assert (root["type"], root["reason"]) == (error_type, error["reason"]), (
        f"bad root_cause: {body}"
    )
    if reason is not None:
        assert error["reason"] == reason, (
            f"\nexpected reason: {reason}\n     got reason: {error['reason']}"
        )
    return str(error["reason"])
