"""The sequences of a run against a cluster: plan, and apply with every check in its place.

Owns the order of things, outside the command line: read the cluster and
plan; for apply, the freshness of a saved plan, the safety rules, secret
resolution, the lock, a new plan under the lock (checked again), the
confirmation (a callback), carrying the plan out, adoption, and verification.
``cli.py`` parses flags, calls these, prints, and maps errors to exit codes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath

from reconciler.apply import Applier, ApplyResult, Progress, apply_lock
from reconciler.availability import check_offered
from reconciler.catalog import ANY_VERSION, Catalog
from reconciler.errors import InputError, VerificationError
from reconciler.live import Snapshot, read_snapshot, read_usage, secret_statuses
from reconciler.model import EndpointSpec, undotted
from reconciler.plan import Ownership, Plan, Requested, build_plan, with_usage
from reconciler.planfile import SavedPlan, check_fresh
from reconciler.safety import Permissions, check_safety
from reconciler.secrets import secret_paths, unresolvable
from reconciler.session import Session, check_versions
from reconciler.state import Managed, State


@dataclass(frozen=True, kw_only=True)
class Planned:
    """A plan and the snapshot of the cluster it was made from."""

    plan: Plan
    snapshot: Snapshot


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
    check_references(specs, session.catalog)
    snapshot = read_snapshot(session.client, session.store, version=version)
    check_versions(tuple(specs), session.catalog, snapshot.version)
    check_offered(session.client, tuple(specs), session.catalog)
    live_ids = frozenset(e.inference_id for e in snapshot.endpoints)
    warnings = list(snapshot.warnings)
    if prune and not snapshot.state.available:
        warnings.append("--prune ignored: the state index is not readable, so ownership is unknown")
    plan = build_plan(
        specs=tuple(specs),
        live=snapshot.endpoints,
        catalog=session.catalog,
        cluster_version=snapshot.version,
        ownership=ownership_of(snapshot.state),
        secrets=secret_statuses(
            specs,
            snapshot.state,
            session.catalog,
            live_ids=live_ids,
            version=snapshot.version,
            send=asked.send_secrets,
        ),
        prune=prune and snapshot.state.available,
        requested=asked,
        warnings=tuple(warnings),
        state=f"{session.store.index}/{session.store.doc_id}",
    )
    usage = read_usage(session.client, plan.changes, snapshot.version)
    return Planned(plan=with_usage(plan, usage) if usage else plan, snapshot=snapshot)


def ownership_of(state: State) -> Ownership:
    """What the state says this directory manages, and what each of its endpoints declared."""
    return Ownership(
        mine=frozenset(state.managed),
        declared={
            inference_id: frozenset(undotted(name) for name in entry.declared)
            for inference_id, entry in state.managed.items()
            if entry.declared is not None
        },
        known=state.available,
    )


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


def check_secrets(plan: Plan, specs: Sequence[EndpointSpec]) -> None:
    """Every secret the plan's requests carry resolves here, or nothing is written (file:line)."""
    by_id = {spec.inference_id: spec for spec in specs}
    wanted = [
        (by_id[change.inference_id], [path for r in change.requests for path in r.secrets])
        for change in plan.changes
        if change.inference_id in by_id
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
    """Plan, check, lock, plan again, confirm, carry out, verify. Raises on a refusal."""
    specs = tuple(specs)
    planned = _checked_plan(session, specs, options=options, saved=saved)
    if not planned.plan.has_changes:
        hooks.show(planned.plan)
        adopt_declared(session, specs, planned.snapshot)
        return Applied(plan=planned.plan, result=ApplyResult(outcomes=()))
    with apply_lock(session) as note:
        if note:
            hooks.note(note)
        planned = _checked_plan(  # the truth under the lock
            session, specs, options=options, saved=saved, version=planned.snapshot.version
        )
        hooks.show(planned.plan)
        hooks.confirm(planned.plan)
        applier = Applier(
            session,
            specs,
            salt=planned.snapshot.state.salt,
            parallelism=options.parallelism,
            progress=hooks.progress,
        )
        result = applier.run(planned.plan, planned.snapshot.state, planned.snapshot.endpoints)
    if result.differences and not result.failed:
        raise VerificationError(
            "applied, but reading back shows the cluster differs from the plan:\n  "
            + "\n  ".join(result.differences)
        )
    return Applied(plan=planned.plan, result=result)


def _checked_plan(
    session: Session,
    specs: tuple[EndpointSpec, ...],
    *,
    options: ApplyOptions,
    saved: SavedPlan | None,
    version: str | None = None,
) -> Planned:
    planned = make_plan(
        session, specs, prune=options.prune, requested=options.requested, version=version
    )
    if saved is not None:
        check_fresh(
            saved,
            listing_fingerprint=planned.snapshot.listing_fingerprint,
            replanned=planned.plan,
        )
    check_safety(planned.plan, specs, options.permissions)
    check_secrets(planned.plan, specs)
    return planned


def adopt_declared(session: Session, specs: Sequence[EndpointSpec], snapshot: Snapshot) -> None:
    """Record declared endpoints that exist as managed, writing only if something is new."""
    state = snapshot.state
    live_ids = {e.inference_id for e in snapshot.endpoints}
    new = {
        s.inference_id: Managed(task_type=s.task_type, service=s.service)
        for s in specs
        if s.inference_id in live_ids and s.inference_id not in state.managed
    }
    if new and state.available:
        session.store.write(replace(state, managed={**state.managed, **new}))


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
