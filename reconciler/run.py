"""The sequences of a run against a cluster: plan, and apply with every check in its place.

Owns the order of things, outside the command line. ``apply DIR``: every
secret reference resolved (once), the lock, the snapshot read once, one plan,
safety, show, confirm (a callback), carry out (``apply.Executor``), verify
(one listing read against the plan's expected states). ``apply --plan``: the
lock, the snapshot read once and compared with the plan's fingerprint (stale:
refused, naming what moved), then the same carrying out. Never a second plan.
The ``cli`` package parses flags, calls these, prints, and maps errors to exit codes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from typing import Any

from reconciler import addresses
from reconciler.addresses import known_endpoints
from reconciler.apply import Executor, HeldLock, Progress, apply_lock
from reconciler.availability import blocked_specs, read_services
from reconciler.catalog import ANY_VERSION, Catalog
from reconciler.described import catalog_gaps, check_described, extended
from reconciler.diagnostics import Diagnostic
from reconciler.errors import (
    InputError,
    SecretError,
    StalePlanError,
    VerificationError,
)
from reconciler.fingerprints import check_key, is_current, self_contained
from reconciler.live import (
    Snapshot,
    read_endpoints,
    read_snapshot,
    read_usage,
    rekeyed,
    secret_statuses,
)
from reconciler.model import EndpointSpec, LiveEndpoint
from reconciler.ownership import Records, forget_ids, resolve
from reconciler.plan import SEND_UNTRACKED, Action, ApplyResult, Plan, Requested
from reconciler.planfile import SavedPlan
from reconciler.planner import Prepared, build_plan, prepare, with_usage
from reconciler.policy_steps import (
    carry_out_policy,
    check_policy_version,
    plan_region_policy,
    verify_policy,
)
from reconciler.region_policy import ADDRESS as POLICY_ADDRESS
from reconciler.region_policy import (
    RegionPolicySpec,
)
from reconciler.safety import Permissions, check_safety
from reconciler.secrets import SecretValues, get_path, secret_paths
from reconciler.session import Session, check_versions
from reconciler.state import State, StateStore
from reconciler.verify import Comparison, recovered


@dataclass(frozen=True, kw_only=True)
class Planned:
    """A plan, the snapshot of the cluster it was made from, and the state apply starts from
    (the snapshot's, with what an interrupted apply's intent tells and the entries of
    endpoints moving out of a legacy document)."""

    plan: Plan
    snapshot: Snapshot
    state: State
    requested: Requested = field(default_factory=Requested)  # every address read as an id
    catalog: Catalog | None = None  # the catalog it was planned with (``described_session``)


def make_plan(
    session: Session,
    specs: Sequence[EndpointSpec],
    *,
    prune: bool,
    requested: Requested | None = None,
    values: SecretValues | None = None,
    policy: RegionPolicySpec | None = None,
) -> Planned:
    """Read the cluster (one round trip) and plan ``specs`` against it.

    Every secret reference is resolved first, as apply will resolve it (``values``: once per
    command): a missing or empty one is an error (file:line, all at once) before any request,
    so a green plan means apply can send.
    """
    asked = requested or Requested()
    if asked.create_timeout is None:  # the flag, else reconciler.yaml (else the service's)
        asked = replace(asked, create_timeout=session.settings.create_timeout)
    values = values or SecretValues()
    check_key()
    check_references(specs, session.catalog, values)
    ahead: list[Prepared] = []  # worked out while the listing and the state are on their way
    snapshot = read_snapshot(
        session.client,
        session.store,
        region_policy=policy is not None,
        meanwhile=lambda version: ahead.append(prepare(specs, session.catalog, version)),
    )
    session = described_session(session, specs, snapshot, values)
    check_versions(
        tuple(specs),
        session.catalog,
        snapshot.version,
        offered=snapshot.offered,
        live=snapshot.endpoints,
    )
    check_policy_version(policy, snapshot.version)
    live_ids = frozenset(e.inference_id for e in snapshot.endpoints)
    blocked = blocked_specs(specs, session.catalog, snapshot.offered, live_ids=live_ids)
    asked = named_endpoints(asked, specs, snapshot.endpoints)
    comparison = Comparison(catalog=session.catalog, version=snapshot.version)
    recovery = recovered(snapshot.state, snapshot.endpoints, comparison)
    resolved = resolve(
        snapshot.records,
        mine=session.store.doc_id,
        state=recovery.state,
        declared=[spec.inference_id for spec in specs],
    )
    # endpoints recovered from an intent are not recorded yet: their entries are written; so are
    # those whose fingerprints are of an older form (re-keyed where the secret still matches)
    stale = frozenset(
        i for i, e in snapshot.state.managed.items() if not all(map(is_current, e.secrets.values()))
    )
    ownership = replace(resolved.ownership, recorded=frozenset(snapshot.state.managed) - stale)
    state = _with_moving(session, recovery.state, snapshot.records, resolved.moving)
    if stale and state.available:
        state = rekeyed(state, specs, session.catalog, version=snapshot.version, values=values)
    warnings = list(snapshot.warnings) + list(resolved.warnings) + list(recovery.notes)
    if recovery.recorded:
        warnings.append(
            f"an interrupted apply created {len(recovery.recorded)} endpoint(s) as planned; "
            "recorded with the secrets it sent"
        )
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
        ownership=ownership,
        secrets=secret_statuses(
            specs,
            state,
            session.catalog,
            live_ids=live_ids,
            version=snapshot.version,
            values=values,
            send=asked.send_secrets,
            send_untracked=asked.send_untracked,
        ),
        prune=prune and snapshot.state.available,
        requested=asked,
        warnings=tuple(warnings),
        state=f"{session.store.index}/{session.store.doc_id}",
        invocation=session.settings.invocation,
        blocked=tuple(str(problem) for _, problem in sorted(blocked.items())),
        prepared=ahead[0] if ahead else None,
    )
    usage = read_usage(session.client, plan.changes, snapshot.version)
    unknown = sorted(i for i, used in usage.items() if used.unknown)
    if unknown:
        plan = replace(plan, warnings=(*plan.warnings, _usage_unknown(unknown)))
    plan = with_usage(plan, usage) if usage else plan
    listed = _listed(state, plan, asked.targets)
    snapshot, policy_change = plan_region_policy(
        session, snapshot, policy, prune=prune and snapshot.state.available, requested=asked
    )
    plan = replace(  # its snapshot fingerprint is taken when it is saved (``saved_plan``)
        plan,
        relists=state.available and _lists(listed) != _lists(state),
        region_policy=policy_change,
    )
    return Planned(
        plan=plan, snapshot=snapshot, state=listed, requested=asked, catalog=session.catalog
    )


def _check_described_first(session: Session, specs: Sequence[EndpointSpec]) -> None:
    """Before the lock (a write): specs that use what the catalog lacks, checked against the
    cluster's description (one more read, only when there are such specs)."""
    if not any(catalog_gaps(spec.body, session.catalog) for spec in specs):
        return
    described = read_services(session.client)
    problems = check_described(specs, session.catalog, described)
    if problems:
        raise InputError(DESCRIBED_PROBLEMS.format(count=len(problems)), problems)


DESCRIBED_PROBLEMS = (
    "{count} problem(s) against this cluster's description of its services "
    "(GET _inference/_services); nothing was sent"
)


def described_session(
    session: Session,
    specs: Sequence[EndpointSpec],
    snapshot: Snapshot,
    values: SecretValues | None = None,
) -> Session:
    """The session with the catalog extended by what the cluster's ``_services`` describes and
    the catalog lacks (services, task types, fields), once each spec that uses such a thing is
    checked against that description (file:line, before any write) and, with ``values``, its
    secrets resolve."""
    problems = check_described(specs, session.catalog, snapshot.described)
    if problems:
        raise InputError(DESCRIBED_PROBLEMS.format(count=len(problems)), problems)
    catalog = extended(session.catalog, snapshot.described, version=snapshot.version)
    if catalog is session.catalog:
        return session
    if values is not None:
        check_references(specs, catalog, values)
    return replace(session, catalog=catalog)


def _lists(state: State) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return state.declared_not_owned, state.no_longer_declared


def _listed(state: State, plan: Plan, targets: frozenset[str] | None) -> State:
    """The state with what the plan found for the other directories: the ids this directory
    declares that another manages, and those it manages but no longer declares (a targeted
    plan saw only its targets: what it did not see stays as recorded)."""

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


def named_endpoints(
    asked: Requested, specs: Sequence[EndpointSpec], live: Sequence[LiveEndpoint]
) -> Requested:
    """``asked`` with every address (``ID`` or ``TASK_TYPE/ID``) read as an id; an address that
    names nothing declared here and nothing in the cluster is an error, before any write."""
    if not (asked.replace or asked.adopt or asked.send_secrets) and asked.targets is None:
        return asked  # nothing named: nothing to look up
    known = known_endpoints(
        ((s.inference_id, s.task_type) for s in specs),
        ((e.inference_id, e.task_type) for e in live),
    )
    known.setdefault(POLICY_ADDRESS, frozenset())  # --target region_policy: the policy alone
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


def _with_moving(
    session: Session, state: State, records: Records, moving: Mapping[str, str]
) -> State:
    """This directory's state with the entries of endpoints moving out of a legacy document
    (their fingerprints stay valid: a new document takes the legacy document's salt, and only
    the legacy salt-keyed form depends on it). The legacy documents are in the snapshot's
    records already: nothing is read."""
    if not moving:
        return state
    managed = dict(state.managed)
    salt = state.salt
    for legacy in sorted(set(moving.values())):
        hit = records.hits.get(legacy)
        if hit is None:
            continue
        source = StateStore(session.client, index=session.store.index, doc_id=legacy).parse(hit)
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


def check_references(specs: Sequence[EndpointSpec], catalog: Catalog, values: SecretValues) -> None:
    """Every secret reference of ``specs`` resolves here (once: ``values`` keeps them)."""
    wanted = [
        (
            spec,
            secret_paths(
                spec, catalog.facts(spec.service, spec.task_type, ANY_VERSION).secret_fields
            ),
        )
        for spec in specs
    ]
    problems = values.problems(wanted)
    if problems:
        raise InputError(
            f"{len(problems)} secret reference(s) cannot be resolved; nothing was sent", problems
        )


def check_requests(plan: Plan, values: SecretValues) -> None:
    """Every secret reference of the plan's requests resolves here (once: ``values`` keeps
    them), before the first write; errors name where each reference was written."""
    problems: list[Diagnostic] = []
    for change in plan.changes:
        for request in change.requests:
            for ref in request.secrets:
                try:
                    values.value(get_path(request.body or {}, ref.path), ref=ref)
                except SecretError as error:
                    message = str(error).split(": ", 1)[-1]
                    line, col = ref.position()
                    problems.append(Diagnostic(file=ref.file, line=line, col=col, message=message))
    if problems:
        unique = list(dict.fromkeys(problems))
        raise InputError(
            f"{len(unique)} secret reference(s) cannot be resolved; nothing was sent", unique
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
    policy: RegionPolicySpec | None = None,
) -> Applied:
    """``apply DIR``: every reference resolved (once), the lock, the snapshot read once, one
    plan, safety, show, confirm, carry out (intent, requests, outcomes), verify."""
    specs = tuple(specs)
    values = SecretValues()
    check_references(specs, session.catalog, values)
    _check_described_first(session, specs)
    with apply_lock(session) as lock:
        if lock.note:
            hooks.note(lock.note)
        planned = make_plan(
            session,
            specs,
            prune=options.prune,
            requested=options.requested,
            values=values,
            policy=policy,
        )
        applied = _carry_out(
            replace(session, catalog=planned.catalog or session.catalog),
            planned.plan,
            planned.state,
            seen=planned.snapshot.endpoints,
            values=values,
            options=replace(options, requested=planned.requested),
            hooks=hooks,
            lock=lock,
        )
    return _lock_left(session, applied)


def _lock_left(session: Session, applied: Applied) -> Applied:
    """The run's result, with a word on a lock that could not be released (the cluster was
    lost): when it expires, and the command that removes it sooner."""
    if not session.store.lock_left:
        return applied
    notes = applied.result.notes + (session.store.lock_left,)
    return replace(applied, result=replace(applied.result, notes=notes))


def _usage_unknown(ids: Sequence[str]) -> str:
    return (
        f"not known whether pipelines or indices use {', '.join(ids)}: this key may not ask "
        "(DELETE ?dry_run=true needs the cluster privilege manage_inference, which a read-only "
        "plan key lacks); apply asks with its own key and refuses to destroy an endpoint in use "
        "unless --allow-destroy-in-use"
    )


def apply_saved(
    session: Session, saved: SavedPlan, *, options: ApplyOptions, hooks: ApplyHooks
) -> Applied:
    """``apply --plan FILE``: the lock, the snapshot read once and compared with the one the
    plan was made from (stale: refused, naming what moved, nothing written), then exactly the
    saved requests. Never plans."""
    plan = saved.plan
    values = SecretValues()
    check_key()
    check_requests(plan, values)
    with apply_lock(session) as lock:
        if lock.note:
            hooks.note(lock.note)
        snapshot = read_snapshot(
            session.client, session.store, region_policy=bool(plan.snapshot.region_policy)
        )
        session = replace(
            session,
            catalog=extended(session.catalog, snapshot.described, version=snapshot.version),
        )
        moved = plan.snapshot.moved(snapshot.fingerprint_for(plan.scope))
        if moved:
            raise StalePlanError(
                "the saved plan is stale: since it was made, these changed: "
                + "; ".join(moved)
                + ". Run `reconciler plan` again (nothing was written)"
            )
        unasked = [c for c in plan.changes if c.in_use_by.unknown]
        if unasked:  # planned with a key that may not ask who uses them: ask now
            plan = with_usage(plan, read_usage(session.client, unasked, snapshot.version))
        comparison = Comparison(catalog=session.catalog, version=snapshot.version)
        state = recovered(snapshot.state, snapshot.endpoints, comparison).state
        moving = {
            c.inference_id: c.step.moved_from
            for c in plan.changes
            if c.step is not None and c.step.moved_from
        }
        state = _with_moving(session, state, snapshot.records, moving)
        applied = _carry_out(
            session,
            plan,
            state,
            seen=snapshot.endpoints,
            values=values,
            options=options,
            hooks=hooks,
            lock=lock,
        )
    return _lock_left(session, applied)


def _carry_out(
    session: Session,
    plan: Plan,
    state: State,
    *,
    seen: Sequence[LiveEndpoint],
    values: SecretValues,
    options: ApplyOptions,
    hooks: ApplyHooks,
    lock: HeldLock,
) -> Applied:
    """Under the lock: safety, show, confirm, execute, verify (``seen``: the listing the plan
    was made from)."""
    check_safety(plan, options.permissions)
    hooks.show(plan)
    if not plan.has_changes and not plan.records:
        return Applied(plan=plan, result=ApplyResult(outcomes=()))
    if plan.has_changes:
        hooks.confirm(plan)
    comparison = Comparison(catalog=session.catalog, version=plan.cluster_version)
    executor = Executor(
        session,
        values=values,
        matches=comparison.matches,
        parallelism=options.parallelism,
        progress=hooks.progress,
        lock_lost=lock.lost,
    )
    state, policy_done = carry_out_policy(
        session, plan.region_policy, state, allow_in_use=options.allow_destroy_in_use
    )
    result = replace(executor.run(plan, state, seen=seen), region_policy=policy_done)
    touched = [o.change for o in result.outcomes if o.ok and o.change.action.writes]
    if touched and not result.failed:
        live = executor.read_back
        if live is None:
            live = {e.inference_id: e for e in read_endpoints(session.client)}
        result = replace(result, differences=_verify(touched, comparison, live))
    if plan.region_policy is not None and plan.region_policy.action.writes:
        result = replace(
            result, differences=result.differences + verify_policy(session, plan.region_policy)
        )
    if result.differences:
        raise VerificationError(
            "applied, but reading back shows the cluster differs from the plan:\n  "
            + "\n  ".join(result.differences),
            result=result,
        )
    return Applied(plan=plan, result=result)


def _verify(
    touched: Sequence[Any], comparison: Comparison, live: Mapping[str, LiveEndpoint]
) -> tuple[str, ...]:
    """Each touched endpoint, in the listing read after the last write, against the state the
    plan expected."""
    differences = []
    for change in touched:
        endpoint = live.get(change.inference_id)
        if change.action is Action.DELETE:
            if endpoint is not None:
                differences.append(f"{change.address}: still exists after its delete")
            continue
        if change.expected is None:
            continue
        found = comparison.differences(change.expected, endpoint)
        if found:
            differences.append(f"{change.address}: differs from the plan ({', '.join(found)})")
    return tuple(differences)


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


def saved_plan(
    session: Session,
    planned: Planned,
    *,
    directory: FsPath,
    environment: str | None,
    requested: Requested | None = None,
) -> SavedPlan:
    """The plan with everything ``apply --plan`` needs to carry it out later: with the
    fingerprint of the snapshot it was made from (taken here, as only a saved plan needs it)."""
    plan = planned.plan
    return SavedPlan(
        requested=requested or Requested(),
        plan=replace(plan, snapshot=planned.snapshot.fingerprint_for(plan.scope)),
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
