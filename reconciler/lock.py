"""The apply lock seen from outside ``acquire``/``release``: its id, its renewal, breaking it on purpose.

Owns three things the state store's create-only lock write does not: reading a held lock as a
value (holder, age, expiry and the lock id that every message about it shows); removing exactly
the lock a person named (``reconciler unlock --lock-id ID``: a conditional delete, so a lock that
another apply took in the meantime survives); and ``LockKeeper``, a background thread that keeps
a running apply's lock alive by extending ``expires_at`` every ttl/3 with ``if_seq_no``, and
reports a ``LockLost`` event when it finds the lock removed or taken over, so that the apply
stops writing. Does not take or release the lock (``state.StateStore`` does).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.errors import ClusterError, Conflict, LockError, NotFound
from reconciler.state import StateStore, lock_id_of


@dataclass(frozen=True, kw_only=True)
class HeldLock:
    lock_id: str
    holder: str
    acquired_at: float
    expires_at: float
    seq_no: int
    primary_term: int

    def describe(self, *, now: float) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.acquired_at))
        left = int(self.expires_at - now)
        expiry = f"expires in {left} s" if left > 0 else f"expired {-left} s ago"
        return (
            f"held by {self.holder} since {since} UTC ({int(now - self.acquired_at)} s ago, "
            f"{expiry}), lock id {self.lock_id}"
        )


def read_lock(store: StateStore) -> HeldLock | None:
    answer = store.client.request("GET", f"/{store.index}/_doc/{store.lock_id}", ok=(404,))
    document = answer.body if isinstance(answer.body, Mapping) else {}
    if answer.status == 404 or not document.get("found"):
        return None
    source = document.get("_source") or {}
    return HeldLock(
        lock_id=lock_id_of(document),
        holder=str(source.get("holder", "unknown")),
        acquired_at=float(source.get("acquired_at") or 0),
        expires_at=float(source.get("expires_at") or 0),
        seq_no=int(document["_seq_no"]),
        primary_term=int(document["_primary_term"]),
    )


def remove_lock(store: StateStore, *, lock_id: str) -> bool:
    """Remove the lock if its id is ``lock_id``; False when no lock is held; LockError when another is."""
    held = read_lock(store)
    if held is None:
        return False
    if held.lock_id != lock_id:
        raise LockError(
            f"the lock is not {lock_id}: it is {held.describe(now=time.time())}; nothing was removed"
        )
    try:
        store.client.request(
            "DELETE",
            f"/{store.index}/_doc/{store.lock_id}",
            params={
                "if_seq_no": held.seq_no,
                "if_primary_term": held.primary_term,
                "refresh": "true",
            },
        )
    except (Conflict, NotFound):  # renewed, released or taken over between our read and delete
        raise LockError(
            f"the lock {lock_id} changed while it was being removed (a live apply renewed or "
            "released it); nothing was removed"
        ) from None
    return True


@dataclass(frozen=True, kw_only=True)
class LockLost:
    """The event of a running apply's lock going away: from then on it sends nothing."""

    lock_id: str
    reason: str

    @property
    def message(self) -> str:
        return (
            f"the apply lock {self.lock_id} was lost: {self.reason}; stopped writing, this "
            "change was not sent"
        )


class LockKeeper:
    """Extends the lock a store holds every ``ttl / 3`` seconds until stopped.

    A renewal that finds the lock gone or holding another token records the event once
    (``lost()`` returns it, to any thread); a renewal that fails for a transient reason is
    retried at the next tick, and the lock counts as lost only once its last known expiry has
    passed.
    """

    def __init__(self, store: StateStore, *, token: str, ttl: float) -> None:
        self.store = store
        self.token = token
        self.ttl = ttl
        self.renewals = 0
        self._expires_at = time.time() + ttl
        self._stop = threading.Event()
        self._event: LockLost | None = None
        self._guard = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="lock-keeper", daemon=True)

    def lost(self) -> LockLost | None:
        """The lock-lost event, once it happened (None while the lock is held)."""
        with self._guard:
            return self._event

    def __enter__(self) -> LockKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self._renew()
            except ClusterError as error:
                if time.time() >= self._expires_at:
                    self._lost(f"it expired while it could not be renewed ({error})")
            if self.lost() is not None:
                return

    def _renew(self) -> None:
        answer = self.store.client.request(
            "GET", f"/{self.store.index}/_doc/{self.store.lock_id}", ok=(404,)
        )
        document = answer.body if isinstance(answer.body, Mapping) else {}
        if answer.status == 404 or not document.get("found"):
            self._lost("it was removed (reconciler unlock?)")
            return
        if lock_id_of(document) != self.token:
            self._lost(f"another run took it over ({document['_source'].get('holder', 'unknown')})")
            return
        expires_at = time.time() + self.ttl
        try:
            renewed = self.store.client.request(
                "PUT",
                f"/{self.store.index}/_doc/{self.store.lock_id}",
                params={
                    "if_seq_no": document["_seq_no"],
                    "if_primary_term": document["_primary_term"],
                    "refresh": "true",
                },
                json={**document["_source"], "expires_at": int(expires_at)},
            )
        except (Conflict, NotFound):
            self._lost("it changed under us (removed or taken over)")
            return
        self.store.lock_written(renewed.body)
        self._expires_at = expires_at
        self.renewals += 1

    def _lost(self, reason: str) -> None:
        with self._guard:
            if self._event is None:
                self._event = LockLost(lock_id=self.token, reason=reason)
