"""Small helpers for talking to the sandbox cluster in tests (the fixtures are in tests/conftest.py).

The helpers' asserts carry their own messages, so the module opts out of assertion
rewriting: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.sandbox import SandboxServer


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
