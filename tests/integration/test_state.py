"""The state document and the lock, through the real document APIs of the sandbox."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from reconciler.client import Client, Connection
from reconciler.errors import LockError
from reconciler.sandbox import SandboxServer
from reconciler.state import Managed, StateStore

pytestmark = pytest.mark.usefixtures("secret_variables")


def store(server: SandboxServer, doc_id: str = "team-a") -> StateStore:
    return StateStore(Client(Connection(url=server.url)), doc_id=doc_id)


def test_a_written_state_reads_back(server: SandboxServer) -> None:
    first = store(server)
    state = first.read()
    assert not state.exists
    managed = {"ep": Managed(task_type="rerank", service="cohere", secrets={"k": "hmac-sha256:1"})}
    first.write(replace(state, managed=managed))
    again = store(server).read()
    assert again.exists and again.salt == state.salt
    assert dict(again.managed) == managed


def test_concurrent_writers_merge_instead_of_losing_each_other(server: SandboxServer) -> None:
    a, b = store(server), store(server)
    base = a.read()
    a.write(replace(base, managed={"one": Managed(task_type="rerank", service="cohere")}))
    b.write(replace(base, managed={"two": Managed(task_type="rerank", service="cohere")}))  # stale
    assert set(store(server).read().managed) == {"one", "two"}


def test_the_lock_is_exclusive_and_released_only_by_its_holder(server: SandboxServer) -> None:
    holder, other = store(server), store(server)
    assert holder.acquire_lock(holder="ci job 1") == ""
    with pytest.raises(LockError, match="ci job 1"):
        other.acquire_lock(holder="ci job 2")
    assert holder.release_lock() is True
    assert other.acquire_lock(holder="ci job 2") == ""


def test_a_lock_written_again_since_its_create_is_still_released(server: SandboxServer) -> None:
    """Release deletes on the version of our last write of the lock; a renewal whose answer it
    did not see moved it on: the lock is read, found ours, and removed all the same."""
    holder = store(server)
    holder.acquire_lock(holder="ci job")
    path = f"/{holder.index}/_doc/{holder.lock_id}"
    held = holder.client.request("GET", path).body
    holder.client.request("PUT", path, json=held["_source"])  # renewed behind its back
    assert holder.release_lock() is True
    assert holder.client.request("GET", path, ok=(404,)).status == 404


def test_an_expired_lock_is_taken_over_with_a_note(server: SandboxServer) -> None:
    store(server).acquire_lock(holder="dead job", ttl=-1)
    note = store(server).acquire_lock(holder="new job")
    assert "dead job" in note


def test_release_leaves_a_lock_someone_else_took_over(server: SandboxServer) -> None:
    first: Any = store(server)
    first.acquire_lock(holder="slow job", ttl=-1)  # expires at once
    store(server).acquire_lock(holder="next job")
    assert first.release_lock() is False  # not ours any more
    with pytest.raises(LockError, match="next job"):
        store(server).acquire_lock(holder="third job")
