"""Plan -> the requests it carries, sent in order and recorded -> ApplyResult, then a read-back.

Owns carrying a plan out: creates, updates, replaces, deletes (prune last),
each phase run concurrently (bounded). The applier builds no request and takes
no decision a plan did not take: it resolves the secret references in each
planned request just before sending it, sends (the client retries), records
what it did in the state document (coalesced writes), and verifies by
re-planning the endpoints it touched. Which run is allowed, and in what
sequence, is ``run``'s business.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.catalog import Catalog
from reconciler.errors import AuthError, ClusterError, HTTPError, LockError, ReconcilerError
from reconciler.fingerprints import fingerprint
from reconciler.live import read_endpoints, secret_statuses
from reconciler.lock import LockKeeper
from reconciler.model import CallKind, EndpointSpec, FieldPath, LiveEndpoint, Request, dotted
from reconciler.normalize import declared_names
from reconciler.ownership import claim
from reconciler.plan import Action, Change, Plan
from reconciler.planner import build_plan
from reconciler.secrets import resolved_body, scrub
from reconciler.session import Session
from reconciler.state import Managed, State, holder_name

PHASES = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)
STATE_BATCH = 100  # outcomes per coalesced state write
STATE_SECONDS = 2.0  # ... or at most this long between two writes
Progress = Callable[[Change, str, float], None]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    change: Change
    ok: bool
    message: str = ""
    seconds: float = 0.0
    secrets_sent: Mapping[str, str] = field(default_factory=dict)  # dotted path -> fingerprint
    lost: bool = False  # a replace deleted the endpoint and could not create it again


@dataclass(frozen=True, kw_only=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]
    differences: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)

    def count(self, action: Action) -> int:
        return sum(1 for o in self.outcomes if o.ok and o.change.action is action)


class Applier:
    def __init__(
        self,
        session: Session,
        specs: tuple[EndpointSpec, ...],
        *,
        salt: str,
        parallelism: int = 8,
        progress: Progress | None = None,
        adopted: frozenset[str] = frozenset(),
    ) -> None:
        self.session = session
        self.adopted = adopted  # existing endpoints this run took ownership of
        self.salt = salt
        self.catalog: Catalog = session.catalog
        self.specs = {spec.inference_id: spec for spec in specs}
        self.parallelism = max(1, parallelism)
        self.progress = progress or (lambda change, status, seconds: None)
        self._saved: Mapping[str, Managed] | None = None
        self.notes: list[str] = []

    def run(self, plan: Plan, state: State, live: tuple[LiveEndpoint, ...]) -> ApplyResult:
        outcomes: list[Outcome] = []
        for phase in PHASES:
            batch = [c for c in plan.changes if c.action is phase]
            if not batch:
                continue
            pending: list[Outcome] = []
            last_write = time.monotonic()
            with ThreadPoolExecutor(max_workers=min(self.parallelism, len(batch))) as pool:
                for outcome in as_completed(pool.submit(self._carry_out, c) for c in batch):
                    pending.append(outcome.result())
                    # coalesced state writes: an interrupted apply loses at most a few seconds of records
                    if len(pending) >= STATE_BATCH or time.monotonic() - last_write > STATE_SECONDS:
                        state = self._save(self._record(state, pending, live))
                        outcomes.extend(pending)
                        pending, last_write = [], time.monotonic()
            outcomes.extend(pending)
            state = self._save(self._record(state, pending, live))
        state = self._save(self._record(state, [], live))  # adopt declared endpoints
        result = ApplyResult(outcomes=tuple(outcomes), notes=tuple(dict.fromkeys(self.notes)))
        touched = {o.change.inference_id for o in outcomes if o.ok}
        if touched and not result.failed:
            result = replace(result, differences=self._verify(touched, state, plan.cluster_version))
        return result

    def _save(self, state: State) -> State:
        """Write the state document, unless it holds nothing new. A write the cluster does not
        take (it gave up answering) is noted, not raised: what was applied is reported, and the
        next apply adopts what this one made but could not record."""
        if state.exists and state.managed == self._saved:
            return state
        try:
            saved = self.session.store.write(state)
        except ClusterError as error:
            self.notes.append(
                f"the state document could not be written ({scrub(str(error))}); the next apply "
                "records what this one changed"
            )
            return state
        self._saved = dict(saved.managed)
        return saved

    # -- one change ---------------------------------------------------------------------------

    def _carry_out(self, change: Change) -> Outcome:
        started = time.monotonic()
        sent: dict[str, str] = {}
        done: list[CallKind] = []
        try:
            if self.session.store.lock_lost:  # another run may be writing now: stop
                raise LockError(self.session.store.lock_lost)
            for request in change.requests:
                sent.update(self._send(change, request))
                done.append(request.kind)
        except ReconcilerError as error:
            message = scrub(str(error))
            lost = CallKind.DELETE in done and change.action is Action.REPLACE
            if CallKind.PROBE in done and CallKind.PROBE_DELETE not in done:
                message += "; the scratch endpoint of the trial create may be left behind"
            if lost:
                message = (
                    f"deleted, but the new endpoint could not be created: {change.address} no "
                    f"longer exists (the next plan shows a create): {message}"
                )
            outcome = Outcome(
                change=change,
                ok=False,
                message=message,
                seconds=time.monotonic() - started,
                lost=lost,
            )
        else:
            outcome = Outcome(
                change=change, ok=True, seconds=time.monotonic() - started, secrets_sent=sent
            )
        self.progress(change, "ok" if outcome.ok else outcome.message, outcome.seconds)
        return outcome

    def _send(self, change: Change, request: Request) -> dict[str, str]:
        """Send one planned request; the fingerprints of the secrets it carried, by dotted path."""
        body: Any = request.body
        values: dict[FieldPath, str] = {}
        spec = self.specs.get(change.inference_id)
        if request.secrets and spec is not None and request.body is not None:
            body, values = resolved_body(request.body, request.secrets, spec=spec)
        try:
            self.session.client.request(
                request.method,
                request.path,
                params=request.params or None,
                json=body,
                ok=(404,) if request.kind in (CallKind.DELETE, CallKind.PROBE_DELETE) else (),
            )
        except HTTPError as error:
            # a create retried after a lost answer meets what it made: fine if it is what we asked
            # for. It may also be another directory's create of the same id: the claim decides
            if request.kind is CallKind.PROBE and "already_exists" in error.error_type:
                # left by an apply that stopped between its probe and its removal: start afresh
                self.session.client.request("DELETE", request.path, ok=(404,))
                self.session.client.request(request.method, request.path, json=body)
                return {}
            if not (
                request.kind is CallKind.CREATE
                and "already_exists" in error.error_type
                and spec is not None
                and self._matches_live(spec)
            ):
                raise
            store = self.session.store
            with contextlib.suppress(AuthError):  # a state index we may not write: as before claims
                claim(self.session.client, store.index, spec.inference_id, owner=store.doc_id)
        if request.kind is CallKind.PROBE:
            return {}  # the scratch endpoint is removed next: its secrets are not recorded
        return {dotted(path): fingerprint(value, salt=self.salt) for path, value in values.items()}

    # -- helpers ------------------------------------------------------------------------------

    def _matches_live(self, spec: EndpointSpec) -> bool:
        """After a retried create met "already exists": is what exists what we asked for?"""
        endpoints, _ = read_endpoints(self.session.client)
        live = next((e for e in endpoints if e.inference_id == spec.inference_id), None)
        if live is None:
            return False
        plan = build_plan(specs=[spec], live=[live], catalog=self.catalog, cluster_version="99.0.0")
        return plan.changes[0].action is Action.NOOP

    def _record(
        self, state: State, outcomes: list[Outcome], live: tuple[LiveEndpoint, ...]
    ) -> State:
        managed = dict(state.managed)
        for outcome in outcomes:
            change = outcome.change
            if not outcome.ok:
                continue
            if change.action is Action.DELETE:
                managed.pop(change.inference_id, None)
                continue
            previous = managed.get(change.inference_id)
            secrets = {**(previous.secrets if previous else {}), **outcome.secrets_sent}
            if change.action in (Action.CREATE, Action.REPLACE):
                secrets = dict(outcome.secrets_sent)
            managed[change.inference_id] = Managed(
                task_type=change.task_type, service=change.service, secrets=secrets
            )
        live_ids = {e.inference_id for e in live}
        for inference_id in self.adopted & live_ids:
            spec = self.specs.get(inference_id)
            if spec is not None and inference_id not in managed:
                managed[inference_id] = Managed(task_type=spec.task_type, service=spec.service)
        for inference_id, entry in managed.items():  # what each declared at this apply
            spec = self.specs.get(inference_id)
            if spec is not None and entry.declared != declared_names(spec):
                managed[inference_id] = replace(entry, declared=declared_names(spec))
        return replace(state, managed=managed)

    def _verify(self, touched: set[str], state: State, version: str) -> tuple[str, ...]:
        endpoints, _ = read_endpoints(self.session.client)
        specs = [s for s in self.specs.values() if s.inference_id in touched]
        live_ids = frozenset(e.inference_id for e in endpoints)
        plan = build_plan(
            specs=specs,
            live=[e for e in endpoints if e.inference_id in touched],
            catalog=self.catalog,
            cluster_version=version,
            secrets=secret_statuses(specs, state, self.catalog, live_ids=live_ids, version=version),
        )
        return tuple(
            f"{c.address}: {c.action.value} still needed "
            f"({', '.join(map(dotted, c.paths)) or c.reason.value})"
            for c in plan.changes
            if c.action.writes
        )


@contextlib.contextmanager
def apply_lock(session: Session) -> Iterator[str]:
    """Hold the apply lock for the block; yields a note ("" or a takeover / degraded message)."""
    store = session.store
    ttl = session.settings.lock_ttl
    try:
        note = store.acquire_lock(holder=holder_name(), ttl=ttl)
    except AuthError as error:
        yield f"cannot write the state index ({error.status}): applying without a lock"
        return
    try:
        with LockKeeper(store, token=store.token or "", ttl=ttl):  # a long apply keeps its lock
            yield note
    finally:
        token = store.token
        try:
            store.release_lock()
        except ClusterError as error:  # the cluster is gone: say when the lock goes by itself
            expiry = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + ttl))
            store.lock_left = (
                f"the apply lock could not be released ({scrub(str(error))}); it expires by "
                f"{expiry} UTC (at most {int(ttl)} s from now); to remove it sooner, run "
                f"`{store.unlock_command(token or '')}` (with the same connection options)"
            )
