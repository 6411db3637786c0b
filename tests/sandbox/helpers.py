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


class _Plain:
    """``httpx.get/put/post/delete/request`` for a plain-HTTP sandbox: the same calls and defaults
    without the certificate store httpx loads for each call (some 20 ms of CPU, never used over
    plain HTTP; the suite makes hundreds of such calls). ``plain.get(url)`` as ``httpx.get(url)``."""

    @staticmethod
    def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("verify", False)
        return httpx.request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


plain = _Plain()


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
