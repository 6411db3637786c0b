"""Plan -> the requests it carries, sent in order and recorded -> ApplyResult.

Owns carrying a plan out, and nothing else: it builds no request and takes no
decision the plan did not take, and it needs no spec, no catalog and no
second plan. In order: take the claims the plan's state steps ask for; record
the run's intent in the state document (one write, before the first write to
an endpoint: the ids it will write and, for creates and replaces, the entries
they will record, with the fingerprints of the secrets they send); send each change's requests, phase by
phase (creates, updates, replaces, deletes), concurrently within a phase
(bounded; the client retries); record outcomes as they complete (kept in
memory, written at most every ``STATE_SECONDS``, so that writing takes at most a tenth of
the run, and at most ``STATE_WRITES`` times whatever the number of changes: each write holds
every entry, so more writes would cost more than linear in the changes);
record the end (intent cleared); hand over what other documents listed. Each
secret reference is resolved once per command (``secrets.SecretValues``).
Which run is allowed, and verification, are ``run``'s business.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.baseline import Baseline, kept_values, taken
from reconciler.errors import AuthError, ClusterError, HTTPError, LockError, ReconcilerError
from reconciler.fingerprints import fingerprint
from reconciler.live import read_endpoints
from reconciler.lock import LockKeeper, LockLost
from reconciler.model import CallKind, LiveEndpoint, Request, dotted
from reconciler.ownership import claim, hand_over, move_out, take_claims
from reconciler.plan import Action, ApplyResult, Change, Expected, Outcome, Plan
from reconciler.scrub import scrub
from reconciler.secrets import SecretValues, get_path, resolved_body
from reconciler.session import Session
from reconciler.state import Intended, Intent, Managed, State, holder_name

PHASES = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)
STATE_SECONDS = 5.0  # outcomes are written to the state at most this often (and at the end),
STATE_SHARE = 0.1  # so that writing them takes at most this share of the run,
STATE_WRITES = 10  # and at most this many times in a run, besides the intent and the end
Progress = Callable[[Outcome], None]
Matches = Callable[[Expected, "LiveEndpoint | None"], bool]


class Executor:
    """Carries out one plan against one session (see the module docstring for the order)."""

    def __init__(
        self,
        session: Session,
        *,
        values: SecretValues,
        matches: Matches,
        parallelism: int = 8,
        progress: Progress | None = None,
        lock_lost: Callable[[], LockLost | None] = lambda: None,
    ) -> None:
        self.session = session
        self.lock_lost = lock_lost  # the lock-lost event, once the lock keeper saw it
        self.values = values
        self.matches = matches  # whether a live endpoint is what a change expected
        self.parallelism = max(1, parallelism)
        self.progress = progress or (lambda outcome: None)
        self.notes: list[str] = []
        self._lock = threading.Lock()
        # the listing read after the last write (None: not read): verification uses it
        self.read_back: dict[str, LiveEndpoint] | None = None

    def run(self, plan: Plan, state: State, *, seen: Iterable[LiveEndpoint] = ()) -> ApplyResult:
        """Carry ``plan`` out from ``state``; ``seen`` is the listing the plan was made from
        (the values the server filled in are recorded from it for steps that write nothing)."""
        store = self.session.store
        listed = {e.inference_id: e for e in seen}
        taken, refused = take_claims(
            self.session.client,
            store,
            {
                c.inference_id: c.step.over[0] if len(c.step.over) == 1 else ""
                for c in plan.changes
                if c.step is not None and c.step.claim
            },
        )
        runnable = [c for c in plan.changes if c.inference_id not in refused]
        salt = state.salt
        # an endpoint someone else claimed first is not ours to record (a move out of a legacy
        # document brought its entry in)
        managed = {k: v for k, v in state.managed.items() if k not in refused}
        for change in runnable:  # steps that write to no endpoint: recorded with the intent
            if not change.action.writes and change.step is not None:
                previous = managed.get(change.inference_id)
                managed[change.inference_id] = _entry(
                    change,
                    previous,
                    {},
                    baseline=_baseline(
                        change, previous, listed.get(change.inference_id), plan.cluster_version
                    ),
                )

        def record(change: Change) -> Managed | None:
            """The entry a write leaves when it succeeds (None: it leaves none)."""
            if change.step is None or not change.step.entry:
                return None
            sent = self._fingerprints(change, salt)
            return _entry(change, managed.get(change.inference_id), sent)

        # a create's or replace's entry is made before the first write: the intent holds it,
        # for a next run to check. An update's is made when its outcome comes in, while other
        # writes are on their way (its intent is its action alone; a key rotation of 10,000
        # endpoints spent 0.3 s on their fingerprints before its first write)
        records = {c.inference_id: record(c) for c in runnable if c.action in RECORDED_AHEAD}
        intent = Intent(
            run=uuid.uuid4().hex,
            started_at=int(time.time()),
            endpoints={
                c.inference_id: _intended(c, records.get(c.inference_id))
                for c in runnable
                if c.action.writes
            },
        )
        started = time.monotonic()
        state = self._save(replace(state, managed=dict(managed), intent=intent))
        last_write = time.monotonic()
        cost = last_write - started  # of one state write: the document grows with the changes
        outcomes: list[Outcome] = []
        intent_left = dict(intent.endpoints)
        recorded = 0  # outcomes the state document holds
        for phase in PHASES:
            batch = [c for c in runnable if c.action is phase]
            if not batch:
                continue
            for outcome in self._outcomes(batch):
                outcomes.append(outcome)
                change = outcome.change
                entry = None
                if outcome.ok and change.action.writes:
                    entry = records.pop(change.inference_id, None) or record(change)
                _record(managed, outcome, entry)
                if outcome.ok:
                    intent_left.pop(change.inference_id, None)
                now = time.monotonic()
                if write_due(
                    len(outcomes) - recorded,
                    total=len(intent.endpoints),
                    elapsed=now - last_write,
                    cost=cost,
                    left=len(intent.endpoints) - len(outcomes),
                    in_flight=self.parallelism,
                ):
                    # what is recorded leaves the intent: the document stays one entry
                    # per endpoint, not two
                    state = self._save(
                        replace(
                            state,
                            managed=dict(managed),
                            intent=replace(intent, endpoints=dict(intent_left)),
                        )
                    )
                    last_write = time.monotonic()
                    cost = last_write - now
                    recorded = len(outcomes)
        if outcomes and not refused and all(o.ok for o in outcomes):
            self._read_back(outcomes, managed, plan.cluster_version)
        self._save(replace(state, managed=managed, intent=None))
        self._hand_over(runnable, taken, outcomes)
        try:  # endpoints another directory declares now: their claims pass to it, untouched
            self.notes.extend(move_out(self.session.client, store, plan.moves))
        except ClusterError as error:
            self.notes.append(
                f"hand-overs not recorded ({scrub(str(error))}); the next apply makes them"
            )
        outcomes += [
            Outcome(change=c, ok=False, message=refused[c.inference_id])
            for c in plan.changes
            if c.inference_id in refused and c.action.writes
        ]
        return ApplyResult(outcomes=tuple(outcomes), notes=tuple(dict.fromkeys(self.notes)))

    def _outcomes(self, batch: list[Change]) -> Iterator[Outcome]:
        """Carry out ``batch``, at most ``parallelism`` changes at once, and yield each outcome
        as it completes. Each worker takes the next change until none is left and hands its
        outcomes over one queue: no future per change, and no waiter over all of them (a
        ``ThreadPoolExecutor`` with ``as_completed`` cost three times the CPU per change).
        An unexpected error in a worker stops the others after their current change and is
        raised here."""
        todo = iter(batch)
        taking = threading.Lock()
        done: queue.SimpleQueue[Outcome | BaseException | None] = queue.SimpleQueue()
        stop = threading.Event()

        def work() -> None:
            try:
                while not stop.is_set():
                    with taking:
                        change = next(todo, None)
                    if change is None:
                        break
                    done.put(self._carry_out(change))
            except BaseException as error:  # a bug, not a change that failed: raised below
                done.put(error)
            finally:
                done.put(None)  # this worker is done

        workers = [
            threading.Thread(target=work, name=f"apply-{n}", daemon=True)
            for n in range(min(self.parallelism, len(batch)))
        ]
        for worker in workers:
            worker.start()
        try:
            running = len(workers)
            while running:
                item = done.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            stop.set()
            for worker in workers:
                worker.join()

    def _read_back(
        self, outcomes: list[Outcome], managed: dict[str, Managed], version: str
    ) -> None:
        """Read the listing once after the last write (verification reads this one: no extra
        request) and record, for each endpoint written as the plan expected, the values the
        server filled in."""
        try:
            self.read_back = {e.inference_id: e for e in read_endpoints(self.session.client)}
        except ClusterError:
            return  # verification reads it again and says what went wrong
        checked: dict[int, tuple[Any, bool]] = {}  # values looked at for secrets, by identity
        for outcome in outcomes:
            change = outcome.change
            entry = managed.get(change.inference_id)
            live = self.read_back.get(change.inference_id)
            if entry is None or change.step is None or change.expected is None or live is None:
                continue
            if self.matches(change.expected, live):
                managed[change.inference_id] = replace(
                    entry, baseline=_baseline(change, entry, live, version, checked)
                )

    def _fingerprints(self, change: Change, salt: str) -> dict[str, str]:
        """Per dotted path, the fingerprint of each secret the change sends (a trial create
        under a scratch id is removed again: its secrets are not recorded)."""
        found: dict[str, str] = {}
        for request in change.requests:
            if request.kind is CallKind.PROBE or request.body is None:
                continue
            for ref in request.secrets:  # the values alone: no copy of the body
                value = self.values.value(get_path(request.body, ref.path), ref=ref)
                found[dotted(ref.path)] = fingerprint(value, salt=salt)
        return found

    def _save(self, state: State) -> State:
        """Write the state document. A write the cluster does not take (it gave up answering)
        is noted, not raised: what was applied is reported, and the intent written before the
        first write lets the next apply record it."""
        try:
            written = self.session.store.write(state)
        except ClusterError as error:
            self.notes.append(
                f"the state document could not be written ({scrub(str(error))}); the next apply "
                "records what this one changed"
            )
            return state
        if state.available and not written.available:
            self.notes.append(written.problem)
        return written

    def _hand_over(
        self, changes: list[Change], taken: frozenset[str], outcomes: list[Outcome]
    ) -> None:
        """After our state is written: the documents we took endpoints from stop listing them,
        and the claims of endpoints we deleted are released."""
        previous: dict[str, set[str]] = {}
        for change in changes:
            if change.step is not None and change.inference_id in taken:
                for owner in change.step.hand_over:
                    previous.setdefault(owner, set()).add(change.inference_id)
        deleted = [
            o.change.inference_id
            for o in outcomes
            if o.ok and o.change.step is not None and not o.change.step.entry
        ]
        if previous or deleted:
            hand_over(self.session.client, self.session.store, previous=previous, deleted=deleted)

    # -- one change ---------------------------------------------------------------------------

    def _carry_out(self, change: Change) -> Outcome:
        started = time.monotonic()
        done: list[CallKind] = []
        try:
            gone = self.lock_lost()
            if gone is not None:  # another run may be writing now: stop
                raise LockError(gone.message)
            for request in change.requests:
                self._send(change, request)
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
            outcome = Outcome(change=change, ok=True, seconds=time.monotonic() - started)
        with self._lock:  # progress is reported one outcome at a time
            self.progress(outcome)
        return outcome

    def _send(self, change: Change, request: Request) -> None:
        """Send one planned request, its secret references resolved."""
        body: Any = request.body
        if request.secrets and request.body is not None:
            body, _ = resolved_body(request.body, request.secrets, values=self.values)
        try:
            self.session.client.request(
                request.method,
                request.path,
                params=request.params or None,
                json=body,
                ok=(404,) if request.kind in (CallKind.DELETE, CallKind.PROBE_DELETE) else (),
                wait=_waits(request),
            )
        except HTTPError as error:
            if request.kind is CallKind.PROBE and "already_exists" in error.error_type:
                # left by an apply that stopped between its probe and its removal: start afresh
                self.session.client.request("DELETE", request.path, ok=(404,))
                self.session.client.request(request.method, request.path, json=body)
                return
            # a create retried after a lost answer meets what it made: fine if it is what the plan
            # expected. It may also be another directory's create of the same id: the claim decides
            if not (
                request.kind is CallKind.CREATE
                and "already_exists" in error.error_type
                and change.expected is not None
                and self._exists_as_expected(change)
            ):
                raise
            store = self.session.store
            with contextlib.suppress(AuthError):  # a state index we may not write: as before claims
                claim(self.session.client, store.index, change.inference_id, owner=store.doc_id)

    def _exists_as_expected(self, change: Change) -> bool:
        assert change.expected is not None
        live = next(
            (
                e
                for e in read_endpoints(self.session.client)
                if e.inference_id == change.inference_id
            ),
            None,
        )
        return self.matches(change.expected, live)


def write_due(
    unrecorded: int, *, total: int, elapsed: float, cost: float, left: int, in_flight: int
) -> bool:
    """Whether the outcomes not yet in the state document are written now: ``elapsed`` seconds
    after the last write, which took ``cost`` seconds, with ``total`` changes in the run. Each
    write holds every entry (its cost grows with the run), so there are at most
    ``STATE_WRITES`` of them whatever the size, none sooner than ``STATE_SECONDS`` apart, and
    together they take at most ``STATE_SHARE`` of the run. None when the ``left`` outcomes
    still to come are those of the changes in flight (at most ``in_flight``): the end write
    follows them at once."""
    return (
        unrecorded * STATE_WRITES >= total
        and elapsed > STATE_SECONDS
        and elapsed > cost / STATE_SHARE
        and left > in_flight
    )


def _waits(request: Request) -> float | None:
    """The seconds a create told the cluster it may take (its ``timeout`` parameter)."""
    from reconciler.retry import parse_duration

    given = request.params.get("timeout")
    try:
        return parse_duration(given) if given else None
    except ValueError:
        return None


def _entry(
    change: Change,
    previous: Managed | None,
    sent: Mapping[str, str],
    *,
    baseline: Baseline | None = None,
) -> Managed:
    """The state entry a change leaves: an update or a no-op keeps the fingerprints recorded
    before (a secret it does not send did not change); a create or replace records only what
    it sent. Until the listing is read back, an update keeps the values the server filled in
    as recorded before, and a create or replace has none."""
    step = change.step
    assert step is not None
    kept = previous is not None and change.action in (Action.UPDATE, Action.NOOP)
    return Managed(
        task_type=step.task_type,
        service=step.service,
        secrets={**(previous.secrets if kept and previous else {}), **sent},
        declared=step.declared,
        baseline=baseline or (previous.baseline if kept and previous else None),
    )


def _baseline(
    change: Change,
    previous: Managed | None,
    live: LiveEndpoint | None,
    version: str,
    checked: dict[int, tuple[Any, bool]] | None = None,
) -> Baseline | None:
    """The values the server filled in, as ``live`` shows them now; drift the plan left alone,
    and after an update every field it did not send, keep the value recorded before."""
    if live is None or change.step is None:
        return None
    held = kept_values(
        previous.baseline if previous is not None else None,
        version=version,
        drift=change.drift,
        sent=change.paths if change.action is Action.UPDATE else None,
    )
    return taken(live, declared=change.step.declared, version=version, held=held, checked=checked)


RECORDED_AHEAD = (Action.CREATE, Action.REPLACE)  # the intent holds their entries


def _intended(change: Change, entry: Managed | None) -> Intended:
    """What the intent records of a change: what the next run can check (``verify.recovered``).
    A create or replace: the entry it records (the fingerprints of the secrets it sends) and the
    endpoint it expects afterwards. An update or a delete: its action alone (an update cannot be
    told from before, its secrets are not read back; a delete is done when the endpoint is gone):
    a key rotation's intent is one short line per endpoint, not a second copy of its entry."""
    if change.action not in RECORDED_AHEAD:
        return Intended(action=change.action.value, entry=None)
    return Intended(
        action=change.action.value,
        entry=entry,
        expected=change.expected.summary() if change.expected is not None else None,
    )


def _record(managed: dict[str, Managed], outcome: Outcome, entry: Managed | None) -> None:
    """Record an outcome: a write that succeeded leaves ``entry`` (``_entry``), a delete
    removes its entry."""
    change = outcome.change
    if not outcome.ok or change.step is None:
        return
    if not change.step.entry:
        managed.pop(change.inference_id, None)
        return
    if entry is not None:
        managed[change.inference_id] = entry


@dataclass(frozen=True, kw_only=True)
class HeldLock:
    """The apply lock, while a block holds it: a note for the user ("" or a takeover / degraded
    message), and how to learn that it was lost."""

    note: str = ""
    lost: Callable[[], LockLost | None] = lambda: None


@contextlib.contextmanager
def apply_lock(session: Session) -> Iterator[HeldLock]:
    """Hold the apply lock for the block, kept alive by a ``LockKeeper``."""
    store = session.store
    ttl = session.settings.lock_ttl
    try:
        note = store.acquire_lock(holder=holder_name(), ttl=ttl)
    except AuthError as error:
        yield HeldLock(
            note=f"cannot write the state index ({error.status}): applying without a lock"
        )
        return
    try:
        with LockKeeper(store, token=store.token or "", ttl=ttl) as keeper:
            yield HeldLock(note=note, lost=keeper.lost)
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
