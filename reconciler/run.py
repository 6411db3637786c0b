"""The sequences of a run against a cluster: plan, and apply with every check in its place.

Owns the order of things, outside the command line: read the cluster and
plan; for apply, the freshness of a saved plan, the safety rules, secret
resolution, the lock, a new plan under the lock (checked again), the
confirmation (a callback), carrying the plan out, adoption, and verification.
The ``cli`` package parses flags, calls these, prints, and maps errors to exit codes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath

from reconciler import addresses
from reconciler.addresses import known_endpoints
from reconciler.apply import Applier, ApplyResult, Outcome, Progress, apply_lock
from reconciler.availability import blocked_specs
from reconciler.catalog import ANY_VERSION, Catalog
from reconciler.errors import ClusterError, InputError, VerificationError
from reconciler.fingerprints import check_key, self_contained
from reconciler.live import (
    Snapshot,
    read_snapshot,
    read_usage,
    rekeyed,
    secret_statuses,
    stale_fingerprints,
)
from reconciler.model import EndpointSpec, LiveEndpoint
from reconciler.normalize import declared_names
from reconciler.ownership import forget_ids, hand_over, move_out, resolve, take_claims
from reconciler.plan import SEND_UNTRACKED, Action, Ownership, Plan, Requested
from reconciler.planfile import SavedPlan, check_fresh
from reconciler.planner import build_plan, with_usage
from reconciler.safety import Permissions, check_safety
from reconciler.secrets import scrub, secret_paths, unresolvable
from reconciler.session import Session, check_versions
from reconciler.state import State, StateStore


@dataclass(frozen=True, kw_only=True)
class Planned:
    """A plan, the snapshot of the cluster it was made from, and the endpoints that move out of
    a legacy shared state document into this directory's own at the next apply."""

    plan: Plan
    snapshot: Snapshot
    moving: Mapping[str, str] = field(default_factory=dict)  # id -> legacy document
    ownership: Ownership = field(default_factory=Ownership)
    requested: Requested = field(default_factory=Requested)  # every address read as an id

    def unrecorded(self, specs: Sequence[EndpointSpec]) -> frozenset[str]:
        """Declared endpoints that exist and are ours by claim, but that our state does not list
        (an apply stopped between its claim and its state write)."""
        live = {e.inference_id for e in self.snapshot.endpoints}
        return frozenset(
            s.inference_id
            for s in specs
            if s.inference_id in self.ownership.mine
            and s.inference_id in live
            and s.inference_id not in self.snapshot.state.managed
        )


def make_plan(
    session: Session,
    specs: Sequence[EndpointSpec],
    *,
    prune: bool,
    requested: Requested | None = None,
    version: str | None = None,
) -> Planned:
    """Read the cluster (a constant number of requests) and plan ``specs`` against it.

    Every secret reference is resolved first, as apply will resolve it: a missing or empty one
    is an error (file:line, all at once) before any request, so a green plan means apply can send.
    """
    asked = requested or Requested()
    check_key()
    check_references(specs, session.catalog)
    snapshot = read_snapshot(session.client, session.store, version=version)
    check_versions(tuple(specs), session.catalog, snapshot.version)
    live_ids = frozenset(e.inference_id for e in snapshot.endpoints)
    blocked = blocked_specs(specs, session.catalog, snapshot.offered, live_ids=live_ids)
    asked = named_endpoints(asked, specs, snapshot.endpoints)
    resolved = resolve(
        snapshot.records,
        mine=session.store.doc_id,
        state=snapshot.state,
        declared=[spec.inference_id for spec in specs],
    )
    snapshot = replace(snapshot, state=_with_moving(session, snapshot.state, resolved.moving))
    warnings = list(snapshot.warnings) + list(resolved.warnings)
    for legacy in sorted(set(resolved.moving.values())):
        moved = sorted(i for i, source in resolved.moving.items() if source == legacy)
        warnings.append(
            f"{len(moved)} endpoint(s) move from the shared state document {legacy} (used by every "
            f"directory before each had its own) to this directory's {session.store.doc_id} at the "
            f"next apply: {', '.join(moved)}. To keep using {legacy}, set state_id: {legacy} in "
            "reconciler.yaml"
        )
    if prune and not snapshot.state.available:
        warnings.append("--prune ignored: the state index is not readable, so ownership is unknown")
    plan = build_plan(
        specs=tuple(spec for spec in specs if spec.inference_id not in blocked),
        live=snapshot.endpoints,
        catalog=session.catalog,
        cluster_version=snapshot.version,
        ownership=resolved.ownership,
        secrets=secret_statuses(
            specs,
            snapshot.state,
            session.catalog,
            live_ids=live_ids,
            version=snapshot.version,
            send=asked.send_secrets,
            send_untracked=asked.send_untracked,
        ),
        prune=prune and snapshot.state.available,
        requested=asked,
        warnings=tuple(warnings),
        state=f"{session.store.index}/{session.store.doc_id}",
        invocation=session.settings.invocation,
        blocked=tuple(str(problem) for _, problem in sorted(blocked.items())),
    )
    usage = read_usage(session.client, plan.changes, snapshot.version)
    return Planned(
        plan=with_usage(plan, usage) if usage else plan,
        snapshot=snapshot,
        moving=resolved.moving,
        ownership=resolved.ownership,
        requested=asked,
    )


def named_endpoints(
    asked: Requested, specs: Sequence[EndpointSpec], live: Sequence[LiveEndpoint]
) -> Requested:
    """``asked`` with every address (``ID`` or ``TASK_TYPE/ID``) read as an id; an address that
    names nothing declared here and nothing in the cluster is an error, before any write."""
    known = known_endpoints(
        ((s.inference_id, s.task_type) for s in specs),
        ((e.inference_id, e.task_type) for e in live),
    )
    where = "is declared in this directory or exists in the cluster"
    problems: list[str] = []
    named: dict[str, frozenset[str]] = {}
    untracked = SEND_UNTRACKED in asked.send_secrets
    for flag, written in (
        ("--replace", asked.replace),
        ("--adopt", asked.adopt),
        ("--send-secrets", asked.send_secrets - {SEND_UNTRACKED}),
        ("--target", asked.targets or ()),
    ):
        named[flag], found = addresses.resolve(flag, sorted(written), known=known, where=where)
        problems += found
    addresses.check(problems)
    return replace(
        asked,
        replace=named["--replace"],
        adopt=named["--adopt"],
        send_secrets=named["--send-secrets"],
        send_untracked=asked.send_untracked or untracked,
        targets=named["--target"] if asked.targets is not None else None,
    )


def _with_moving(session: Session, state: State, moving: Mapping[str, str]) -> State:
    """This directory's state with the entries of endpoints moving out of a legacy document
    (their fingerprints stay valid: a new document takes the legacy document's salt, and only
    the legacy salt-keyed form depends on it)."""
    if not moving:
        return state
    managed = dict(state.managed)
    salt = state.salt
    for legacy in sorted(set(moving.values())):
        source = StateStore(session.client, index=session.store.index, doc_id=legacy).read()
        if not state.exists:
            salt = source.salt
        for inference_id, entry in source.managed.items():
            if moving.get(inference_id) == legacy:
                managed[inference_id] = (
                    entry
                    if source.salt == salt
                    else replace(
                        entry, secrets={k: v for k, v in entry.secrets.items() if self_contained(v)}
                    )
                )
    return replace(state, managed=managed, salt=salt)


def check_references(specs: Sequence[EndpointSpec], catalog: Catalog) -> None:
    """Every secret reference of ``specs`` resolves here (the values are remembered for scrubbing)."""
    wanted = [
        (
            spec,
            secret_paths(
                spec, catalog.facts(spec.service, spec.task_type, ANY_VERSION).secret_fields
            ),
        )
        for spec in specs
    ]
    problems = unresolvable(wanted)
    if problems:
        raise InputError(
            f"{len(problems)} secret reference(s) cannot be resolved; nothing was sent", problems
        )


@dataclass(frozen=True, kw_only=True)
class ApplyOptions:
    prune: bool = False
    allow_destroy_in_use: bool = False
    requested: Requested = field(default_factory=Requested)
    parallelism: int = 8

    @property
    def permissions(self) -> Permissions:
        return Permissions(
            allow_destroy_in_use=self.allow_destroy_in_use, replace=self.requested.replace
        )


def _ignore(_: object) -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class ApplyHooks:
    """How a run talks to its user: show the plan it will carry out, ask, note, report progress."""

    show: Callable[[Plan], None] = _ignore
    confirm: Callable[[Plan], None] = _ignore  # raises to stop before the first write
    note: Callable[[str], None] = _ignore
    progress: Progress | None = None


@dataclass(frozen=True, kw_only=True)
class Applied:
    plan: Plan  # the plan carried out (made under the lock)
    result: ApplyResult


def apply_specs(
    session: Session,
    specs: Sequence[EndpointSpec],
    *,
    options: ApplyOptions,
    hooks: ApplyHooks,
    saved: SavedPlan | None = None,
) -> Applied:
    """Plan, check, lock, plan again, confirm, take ownership, carry out, verify."""
    specs = tuple(specs)
    planned = _checked_plan(session, specs, options=options, saved=saved)
    if not planned.plan.has_changes and not _ownership_work(planned, specs):
        hooks.show(planned.plan)
        return Applied(plan=planned.plan, result=ApplyResult(outcomes=()))
    with apply_lock(session) as note:
        if note:
            hooks.note(note)
        planned = _checked_plan(  # the truth under the lock
            session, specs, options=options, saved=saved, version=planned.snapshot.version
        )
        hooks.show(planned.plan)
        if planned.plan.has_changes:
            hooks.confirm(planned.plan)
        taken, refused = _take_ownership(session, planned)
        state = _recorded(planned)
        state = replace(state, managed={k: v for k, v in state.managed.items() if k not in refused})
        state = rekeyed(state, specs, session.catalog, version=planned.snapshot.version)
        applier = Applier(
            session,
            specs,
            salt=state.salt,
            parallelism=options.parallelism,
            progress=hooks.progress,
            adopted=taken | planned.unrecorded(specs),
        )
        runnable = replace(
            planned.plan,
            changes=tuple(c for c in planned.plan.changes if c.inference_id not in refused),
        )
        result = applier.run(runnable, state, planned.snapshot.endpoints)
        try:
            _hand_over(session, planned, taken=taken, result=result)
            moved = move_out(session.client, session.store, planned.plan.moves)
        except ClusterError as lost:  # what was applied is reported all the same
            moved = (
                f"ownership hand-overs not recorded ({scrub(str(lost))}); the next apply "
                "makes them",
            )
        result = replace(result, notes=result.notes + moved)
    if session.store.lock_left:
        result = replace(result, notes=result.notes + (session.store.lock_left,))
    result = replace(
        result,
        outcomes=result.outcomes
        + tuple(
            Outcome(change=change, ok=False, message=refused[change.inference_id])
            for change in planned.plan.changes
            if change.inference_id in refused and change.action.writes
        ),
    )
    if result.differences and not result.failed:
        error = VerificationError(
            "applied, but reading back shows the cluster differs from the plan:\n  "
            + "\n  ".join(result.differences)
        )
        error.result = result
        raise error
    return Applied(plan=planned.plan, result=result)


def _ownership_work(planned: Planned, specs: tuple[EndpointSpec, ...]) -> bool:
    """Whether the state must be written although no endpoint changes: adoptions, moves out
    of a legacy document, fields whose declaration changed since the last apply, secret
    fingerprints of an older form to re-key, or what the other directories read from our state
    (conflicts, endpoints no longer declared, hand-overs) changed."""
    state = planned.snapshot.state
    if not state.available:
        return False
    if planned.moving or planned.unrecorded(specs) or any(c.adopt for c in planned.plan.changes):
        return True
    if stale_fingerprints(state):
        return True
    recorded = _recorded(planned)
    if planned.plan.moves or (recorded.declared_not_owned, recorded.no_longer_declared) != (
        state.declared_not_owned,
        state.no_longer_declared,
    ):
        return True
    managed = planned.snapshot.state.managed
    return any(
        spec.inference_id in managed and managed[spec.inference_id].declared != declared_names(spec)
        for spec in specs
    )


def _recorded(planned: Planned) -> State:
    """This directory's state with what the plan found for the other directories: the ids it
    declares that another manages, and those it manages but no longer declares (a targeted plan
    saw only its targets: what it did not see stays as recorded)."""
    state, plan, targets = planned.snapshot.state, planned.plan, planned.requested.targets

    def merged(previous: tuple[str, ...], now: set[str]) -> tuple[str, ...]:
        kept = {i for i in previous if targets is not None and i not in targets}
        return tuple(sorted(kept | now))

    return replace(
        state,
        declared_not_owned=merged(
            state.declared_not_owned, {c.inference_id for c in plan.conflicts}
        ),
        no_longer_declared=merged(state.no_longer_declared, set(plan.orphaned)),
    )


def _take_ownership(session: Session, planned: Planned) -> tuple[frozenset[str], dict[str, str]]:
    """Claim what becomes ours by adoption, by --adopt or by a move out of a legacy document."""
    wanted = {c.inference_id: c.owner for c in planned.plan.changes if c.adopt}
    wanted.update({inference_id: "" for inference_id in planned.moving})
    return take_claims(session.client, session.store, wanted)


def _hand_over(
    session: Session, planned: Planned, *, taken: frozenset[str], result: ApplyResult
) -> None:
    """After our state is written: the documents we took endpoints from stop listing them, and
    the claims of endpoints we deleted are released."""
    previous: dict[str, set[str]] = {}
    for change in planned.plan.changes:
        if change.inference_id in taken and change.owner:
            for owner in change.owner.split(", "):
                previous.setdefault(owner, set()).add(change.inference_id)
    for inference_id, legacy in planned.moving.items():
        if inference_id in taken:
            previous.setdefault(legacy, set()).add(inference_id)
    deleted = [
        o.change.inference_id for o in result.outcomes if o.ok and o.change.action is Action.DELETE
    ]
    hand_over(session.client, session.store, previous=previous, deleted=deleted)


def forget(
    session: Session, written: Sequence[str], specs: Sequence[EndpointSpec]
) -> tuple[str, ...]:
    """Stop managing the endpoints ``written`` names, touching none of them (under the lock);
    the ids forgotten. One the directory still declares is refused: the next apply would adopt
    it again, so forgetting it would be undone without a word."""
    declared = {spec.inference_id: spec for spec in specs}
    still = [declared[i] for i in sorted(addresses.ids_of(written)) if i in declared]
    if still:
        raise InputError(
            f"{len(still)} endpoint(s) to forget are still declared here; the next apply would "
            "adopt them again. Remove (or move) their specs first; nothing was changed",
            [
                spec.source.problem(
                    ("inference_id",), f"{spec.task_type}/{spec.inference_id} is declared here"
                )
                for spec in still
            ],
        )
    with apply_lock(session):
        return forget_ids(session.client, session.store, written)


def _checked_plan(
    session: Session,
    specs: tuple[EndpointSpec, ...],
    *,
    options: ApplyOptions,
    saved: SavedPlan | None,
    version: str | None = None,
) -> Planned:
    """A plan apply may carry out: made (every secret resolved first), fresh, and safe."""
    planned = make_plan(
        session,
        specs,
        prune=options.prune,
        requested=options.requested,
        version=version,
    )
    if saved is not None:
        check_fresh(
            saved,
            listing_fingerprint=planned.snapshot.listing_fingerprint,
            replanned=planned.plan,
        )
    check_safety(planned.plan, specs, replace(options, requested=planned.requested).permissions)
    return planned


def saved_plan(
    session: Session,
    planned: Planned,
    *,
    specs: Sequence[EndpointSpec],
    directory: FsPath,
    environment: str | None,
    requested: Requested | None = None,
) -> SavedPlan:
    """The plan with everything ``apply --plan`` needs to carry it out later."""
    return SavedPlan(
        requested=requested or Requested(),
        plan=planned.plan,
        specs=tuple(specs),
        listing_fingerprint=planned.snapshot.listing_fingerprint,
        directory=directory,
        environment=environment,
        cluster=session.origin,
        state_index=session.store.index,
        state_id=session.store.doc_id,
    )


def check_origin(saved: SavedPlan, *, environment: str | None, cluster: str) -> None:
    """A saved plan is applied where it was made: the same environment and cluster, or not at all."""
    if environment is not None and environment != saved.environment:
        raise InputError(
            f"the saved plan was made for environment {saved.environment or '(none)'}, "
            f"not {environment}; nothing was sent"
        )
    if saved.cluster and cluster != saved.cluster:
        raise InputError(
            f"the saved plan was made against {saved.cluster}, not {cluster}; nothing was sent"
        )
