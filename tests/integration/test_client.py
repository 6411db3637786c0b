"""The client's retries and error mapping, against the sandbox's injected faults."""

from __future__ import annotations

import pytest

from reconciler.client import Client, Connection
from reconciler.errors import GaveUp, HTTPError, NotFound
from reconciler.sandbox import Fault, SandboxServer

pytestmark = pytest.mark.usefixtures("secret_variables")


def connect(server: SandboxServer) -> Client:
    return Client(Connection(url=server.url, retry_for=20))


def attempts(server: SandboxServer, path: str) -> int:
    return sum(1 for r in server.requests if r["path"] == path)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_transient_statuses_are_retried_until_an_answer(server: SandboxServer, status: int) -> None:
    server.add_fault(Fault(method="GET", path="^/$", status=status, count=2))
    with connect(server) as client:
        assert client.request("GET", "/").status == 200
    assert attempts(server, "/") == 3


def test_a_lost_answer_is_retried(server: SandboxServer) -> None:
    server.add_fault(Fault(method="GET", path="^/$", drop=True, status=None, count=1))
    with connect(server) as client:
        assert client.request("GET", "/").status == 200


@pytest.mark.parametrize("status", [400, 401, 403, 409])
def test_other_client_errors_are_sent_once(server: SandboxServer, status: int) -> None:
    server.add_fault(Fault(method="GET", path="^/$", status=status, count=5))
    with connect(server) as client, pytest.raises(HTTPError) as raised:
        client.request("GET", "/")
    assert raised.value.status == status
    assert attempts(server, "/") == 1


def test_statuses_map_to_named_errors_with_elasticsearch_type(server: SandboxServer) -> None:
    with connect(server) as client, pytest.raises(NotFound) as raised:
        client.request("GET", "/_inference/rerank/nobody")
    assert raised.value.error_type == "resource_not_found_exception"


def test_a_closed_port_fails_as_a_transport_error() -> None:
    with Client(Connection(url="http://127.0.0.1:9", retry_for=1)) as client:
        with pytest.raises(GaveUp, match="cannot connect to http://127.0.0.1:9"):
            client.request("GET", "/")
