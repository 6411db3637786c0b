"""Plan -> ordered, retried HTTP calls -> ApplyResult, then a read-back check.

Owns carrying a plan out with the fewest calls: creates, updates, replaces,
deletes (prune last), each phase run concurrently (bounded); secrets resolved
only here, at send time; the state document updated after every phase; the
lock held for the whole run; verification by re-planning after the last
change. Safety rules are checked before the first write.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.catalog import Catalog
from reconciler.errors import (
    AuthError,
    HTTPError,
    InputError,
    LockError,
    ReconcilerError,
    SafetyError,
    VerificationError,
)
from reconciler.live import read_endpoints, secret_statuses
from reconciler.lock import LockKeeper
from reconciler.model import EndpointSpec, LiveEndpoint
from reconciler.normalize import desired_view
from reconciler.plan import Action, Change, Plan, build_plan
from reconciler.secrets import fingerprint, resolve_body, resolved_secrets, scrub, unresolvable
from reconciler.session import Session
from reconciler.state import Managed, State, holder_name

PHASES = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)
STATE_BATCH = 100  # outcomes per coalesced state write
STATE_SECONDS = 2.0  # ... or at most this long between two writes
PUT_KEYS = ("service", "service_settings", "task_settings", "chunking_settings")
Progress = Callable[[Change, str, float], None]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    change: Change
    ok: bool
    message: str = ""
    seconds: float = 0.0
    secrets_sent: Mapping[str, str] = field(default_factory=dict)  # dotted path -> fingerprint


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


def check_safety(
    plan: Plan, specs: tuple[EndpointSpec, ...], *, allow_destroy_in_use: bool
) -> None:
    """Refuse (exit 3, nothing written) what DESIGN.md section 5 forbids."""
    if plan.prune and not specs:
        raise SafetyError(
            "refusing to prune with an empty desired state: it would delete every managed endpoint"
        )
    for change in plan.changes:
        if change.action.writes and change.inference_id.startswith("."):
            raise SafetyError(f"refusing to touch the preconfigured endpoint {change.inference_id}")
        if change.action.destructive and not change.in_use_by.empty and not allow_destroy_in_use:
            users = ", ".join(
                [f"pipeline {p}" for p in change.in_use_by.pipelines]
                + [f"index {i}" for i in change.in_use_by.indices]
            )
            raise SafetyError(
                f"refusing to {change.action.value} {change.address}: it is in use by {users}; "
                "pass --allow-destroy-in-use to do it anyway"
            )


def check_secrets(plan: Plan, specs: tuple[EndpointSpec, ...], catalog: Catalog) -> None:
    """Resolve every secret apply will send before anything is written (SecretError names file:line)."""
    by_id = {spec.inference_id: spec for spec in specs}
    sending = [
        by_id[c.inference_id]
        for c in plan.changes
        if c.inference_id in by_id
        and (c.action in (Action.CREATE, Action.REPLACE) or c.secret_paths)
    ]
    problems = unresolvable(sending, catalog)
    if problems:
        raise InputError(
            f"{len(problems)} secret reference(s) cannot be resolved; nothing was sent", problems
        )


class Applier:
    def __init__(
        self,
        session: Session,
        specs: tuple[EndpointSpec, ...],
        *,
        salt: str,
        parallelism: int = 8,
        allow_destroy_in_use: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.session = session
        self.salt = salt
        self.catalog: Catalog = session.catalog
        self.specs = {spec.inference_id: spec for spec in specs}
        self.parallelism = max(1, parallelism)
        self.allow_destroy_in_use = allow_destroy_in_use
        self.progress = progress or (lambda change, status, seconds: None)
        self._secret_cache: dict[str, list[tuple[Any, str]]] = {}
        self._saved: Mapping[str, Managed] | None = None

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
        result = ApplyResult(outcomes=tuple(outcomes))
        touched = {o.change.inference_id for o in outcomes if o.ok}
        if touched and not result.failed:
            result = replace(result, differences=self._verify(touched, state, plan.cluster_version))
        return result

    def _save(self, state: State) -> State:
        """Write the state document, unless it holds nothing new."""
        if state.exists and state.managed == self._saved:
            return state
        saved = self.session.store.write(state)
        self._saved = dict(saved.managed)
        return saved

    # -- one change ---------------------------------------------------------------------------

    def _carry_out(self, change: Change) -> Outcome:
        started = time.monotonic()
        try:
            if self.session.store.lock_lost:  # another run may be writing now: stop
                raise LockError(self.session.store.lock_lost)
            sent = getattr(self, f"_{change.action.name.lower()}")(change)
        except ReconcilerError as error:
            outcome = Outcome(
                change=change,
                ok=False,
                message=scrub(str(error)),
                seconds=time.monotonic() - started,
            )
        else:
            outcome = Outcome(
                change=change, ok=True, seconds=time.monotonic() - started, secrets_sent=sent or {}
            )
        self.progress(change, "ok" if outcome.ok else outcome.message, outcome.seconds)
        return outcome

    def _create(self, change: Change) -> dict[str, str]:
        spec = self.specs[change.inference_id]
        body = self._resolved(spec)
        path = f"/_inference/{spec.task_type}/{spec.inference_id}"
        try:
            self.session.client.request(
                "PUT", path, json={k: body[k] for k in PUT_KEYS if k in body}
            )
        except HTTPError as error:
            if "already_exists" not in error.error_type or not self._matches_live(spec):
                raise
        return self._fingerprints(spec)

    def _update(self, change: Change) -> dict[str, str]:
        spec = self.specs[change.inference_id]
        desired = desired_view(spec, self.catalog)
        facts = self.catalog.service(spec.service)
        body: dict[str, Any] = {}
        for dotted in change.paths:
            block, _, key = dotted.partition(".")
            key = key.split(".")[0]
            if block == "chunking_settings":
                body[block] = desired.get(block, {})
            elif (
                block == "task_settings"
                and facts
                and facts.task_settings_mode(spec.task_type) == "replace"
            ):
                body[block] = desired.get(block, {})
            elif key in desired.get(block, {}):
                body.setdefault(block, {})[key] = desired[block][key]
        sent: dict[str, str] = {}
        if (
            change.secret_paths
        ):  # send every secret: AWS keys must travel as a pair, 8.17-9.4 re-parse them all
            resolved = self._resolved(spec)["service_settings"]
            for name in facts.secret_fields() if facts else ():
                if name in resolved:
                    body.setdefault("service_settings", {})[name] = resolved[name]
            sent = self._fingerprints(spec)
        if body:
            self.session.client.request(
                "PUT", f"/_inference/{spec.task_type}/{spec.inference_id}/_update", json=body
            )
        return sent

    def _replace(self, change: Change) -> dict[str, str]:
        self._delete(change)
        return self._create(change)

    def _delete(self, change: Change) -> dict[str, str]:
        task_type = change.live_task_type or change.task_type
        params = (
            {"force": True} if (self.allow_destroy_in_use and not change.in_use_by.empty) else None
        )
        self.session.client.request(
            "DELETE", f"/_inference/{task_type}/{change.inference_id}", params=params, ok=(404,)
        )
        return {}

    # -- helpers ------------------------------------------------------------------------------

    def _secrets(self, spec: EndpointSpec) -> list[tuple[Any, str]]:
        """Each spec's secrets, resolved once per run (and remembered for scrubbing errors)."""
        found = self._secret_cache.get(spec.inference_id)
        if found is None:
            found = list(resolved_secrets(spec, self.catalog))
            self._secret_cache[spec.inference_id] = found
        return found

    def _resolved(self, spec: EndpointSpec) -> dict[str, Any]:
        return resolve_body(spec, self.catalog, self._secrets(spec))

    def _fingerprints(self, spec: EndpointSpec) -> dict[str, str]:
        return {
            ".".join(map(str, path)): fingerprint(value, salt=self.salt)
            for path, value in self._secrets(spec)
        }

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
        for inference_id, spec in self.specs.items():  # adopt what exists and is declared
            if inference_id in live_ids and inference_id not in managed:
                managed[inference_id] = Managed(task_type=spec.task_type, service=spec.service)
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
            secrets=secret_statuses(specs, state, self.catalog, live_ids),
        )
        return tuple(
            f"{c.address}: {c.action.value} still needed ({', '.join(c.paths) or c.reason})"
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
        store.release_lock()


def apply_plan(
    session: Session,
    plan: Plan,
    specs: tuple[EndpointSpec, ...],
    *,
    state: State,
    live: tuple[LiveEndpoint, ...],
    parallelism: int = 8,
    allow_destroy_in_use: bool = False,
    progress: Progress | None = None,
) -> ApplyResult:
    """Check safety, then carry the plan out (the caller holds the lock)."""
    check_safety(plan, specs, allow_destroy_in_use=allow_destroy_in_use)
    applier = Applier(
        session,
        specs,
        salt=state.salt,
        parallelism=parallelism,
        allow_destroy_in_use=allow_destroy_in_use,
        progress=progress,
    )
    result = applier.run(plan, state, live)
    if result.differences and not result.failed:
        raise VerificationError(
            "applied, but reading back shows the cluster differs from the plan:\n  "
            + "\n  ".join(result.differences)
        )
    return result
