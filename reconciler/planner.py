"""``build_plan``: pair desired and live by id and decide one action for each (pure).

Owns the decisions: create, update in place or replace, delete (prune), no-op;
the comparison rules (declared keys by value, server-filled values never, a key
removed since the last apply as a declared change, out-of-band drift restored
in place or held); adoption and other owners; the exact requests of each change
(built by ``calls``), what the state records when each succeeds and what each
touched endpoint should look like afterwards. The values it returns are
``plan``'s. No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from reconciler.baseline import moved
from reconciler.calls import create_call, delete_call, replace_calls, update_call
from reconciler.catalog import Catalog, EndpointFacts, Version, parse_version
from reconciler.diff import changed_paths, removed_keys
from reconciler.model import (
    SETTINGS_BLOCKS,
    CallKind,
    EndpointSpec,
    FieldPath,
    LiveEndpoint,
    Request,
    dotted,
)
from reconciler.normalize import (
    View,
    declared_fields,
    desired_view,
    field_of,
    live_view,
    names_of,
    with_restored,
)
from reconciler.plan import (
    CHANGED_SINCE_APPLY,
    ORDER,
    UNCHANGED,
    UNTRACKED,
    Action,
    Change,
    Expected,
    Move,
    Ownership,
    Plan,
    Reason,
    Requested,
    SecretStatus,
    StateStep,
    Usage,
)
from reconciler.region_policy import ADDRESS as POLICY_ADDRESS
from reconciler.secrets import SENSITIVE, SENSITIVE_CHANGED


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """What planning each spec needs that no answer of the cluster but its version changes:
    the fields it declares and its desired view (nothing dropped since the last apply),
    worked out with ``catalog`` for ``version`` while the listing and the state are read."""

    catalog: Catalog | None
    version: Version
    views: Mapping[str, tuple[EndpointSpec, frozenset[FieldPath], View]]

    def of(self, spec: EndpointSpec) -> tuple[frozenset[FieldPath], View | None]:
        found = self.views.get(spec.inference_id)
        if found is None or found[0] is not spec:
            return declared_fields(spec), None
        return found[1], found[2]


def prepare(
    specs: tuple[EndpointSpec, ...] | list[EndpointSpec], catalog: Catalog, cluster_version: str
) -> Prepared:
    version = parse_version(cluster_version)
    views = {}
    for spec in specs:
        facts = catalog.facts(spec.service, spec.task_type, version)
        views[spec.inference_id] = (spec, declared_fields(spec), desired_view(spec, facts))
    return Prepared(catalog=catalog, version=version, views=views)


NOT_PREPARED = Prepared(catalog=None, version=parse_version("0.0.0"), views={})


def build_plan(
    *,
    specs: tuple[EndpointSpec, ...] | list[EndpointSpec],
    live: tuple[LiveEndpoint, ...] | list[LiveEndpoint],
    catalog: Catalog,
    cluster_version: str,
    ownership: Ownership | None = None,
    secrets: Mapping[str, SecretStatus] | None = None,
    prune: bool = False,
    requested: Requested | None = None,
    warnings: tuple[str, ...] = (),
    state: str = "",
    invocation: str = "",
    blocked: tuple[str, ...] = (),
    prepared: Prepared | None = None,
) -> Plan:
    """Pair desired and live by id and decide one action for each. Pure. ``prepared``: what
    ``prepare`` worked out ahead, used where it was made with this catalog and version."""
    owners = ownership or Ownership(known=False)
    asked = requested or Requested()
    declared = len(specs)
    version = parse_version(cluster_version)
    if prepared is None or prepared.catalog is not catalog or prepared.version != version:
        prepared = NOT_PREPARED
    context = _Context(
        catalog=catalog, version=version, owners=owners, asked=asked, prepared=prepared
    )
    specs = [spec for spec in specs if asked.targeted(spec.inference_id)]
    live = [endpoint for endpoint in live if asked.targeted(endpoint.inference_id)]
    live_by_id = {endpoint.inference_id: endpoint for endpoint in live}
    desired_ids = {spec.inference_id for spec in specs}
    changes = [_declared_change(spec, live_by_id, context, secrets or {}) for spec in specs]
    unmanaged: list[str] = []
    elsewhere: list[str] = []
    orphaned: list[str] = []
    moves: list[Move] = []
    for endpoint in live:
        inference_id = endpoint.inference_id
        if inference_id in desired_ids:
            continue
        if inference_id in owners.others and not endpoint.preconfigured:
            elsewhere.append(inference_id)
        elif inference_id not in owners.mine or endpoint.preconfigured:
            unmanaged.append(inference_id)
        elif inference_id in owners.declared_elsewhere:  # the spec moved: hand over, never delete
            to = owners.declared_elsewhere[inference_id]
            moves.append(Move(inference_id=inference_id, task_type=endpoint.task_type, to=to))
        elif prune and owners.known:
            facts = catalog.facts(endpoint.service, endpoint.task_type, context.version)
            changes.append(_delete(endpoint, facts))
        else:
            orphaned.append(endpoint.inference_id)
    present = {c.inference_id for c in changes if c.live_service}
    notes = [
        f"--{flag} {name}: not declared, or not in the cluster; nothing to do"
        for flag, names in (("replace", asked.replace), ("adopt", asked.adopt))
        for name in sorted(names - present)
    ]
    if asked.targets is not None:
        notes += [
            f"--target {name}: neither declared nor in the cluster"
            for name in sorted(asked.targets - desired_ids - set(live_by_id) - {POLICY_ADDRESS})
        ]
    changes = [_chunking_reset_note(change, context) for change in changes]
    notes += _baselines_set_aside(changes, context, cluster_version)
    changes.sort(key=lambda c: (ORDER.index(c.action), c.inference_id))
    return Plan(
        changes=tuple(changes),
        cluster_version=cluster_version,
        unmanaged=tuple(sorted(unmanaged)),
        elsewhere=tuple(sorted(elsewhere)),
        orphaned=tuple(sorted(orphaned)),
        moves=tuple(sorted(moves, key=lambda move: move.inference_id)),
        warnings=warnings + tuple(notes),
        prune=prune and owners.known,
        state=state,
        invocation=invocation,
        blocked=blocked,
        declared=declared,
    )


def _baselines_set_aside(
    changes: list[Change], context: _Context, cluster_version: str
) -> list[str]:
    """One line for the endpoints whose server-filled values were recorded on another cluster
    version: not compared (an upgrade may change what the server fills in) until the next apply
    records them again."""
    stale = [
        baseline.version
        for change in changes
        if (baseline := context.owners.baselines.get(change.inference_id)) is not None
        and change.live_service
        and parse_version(baseline.version) != context.version
    ]
    if not stale:
        return []
    count, versions = len(stale), sorted(set(stale))
    return [
        f"the values the server filled in for {count} endpoint(s) were recorded on "
        f"Elasticsearch {', '.join(versions)}: not compared on {cluster_version} until "
        "the next apply records them again"
    ]


def _declared_change(
    spec: EndpointSpec,
    live_by_id: Mapping[str, LiveEndpoint],
    context: _Context,
    secrets: Mapping[str, SecretStatus],
) -> Change:
    # once per spec: the change, its step and its state entry
    declared, view = context.prepared.of(spec)
    change = _change_for(
        spec,
        live_by_id.get(spec.inference_id),
        context,
        secrets.get(spec.inference_id, UNCHANGED),
        declared,
        view,
    )
    return _with_step(_owned(change, context), spec, context, declared)


@dataclass(frozen=True, kw_only=True)
class _Context:
    catalog: Catalog
    version: Version
    owners: Ownership
    asked: Requested
    prepared: Prepared


def _owned(change: Change, context: _Context) -> Change:
    """Mark adoption, and leave alone what another state document manages (unless --adopt)."""
    owners = context.owners
    if not owners.known or change.inference_id in owners.mine:
        return change
    others = owners.others.get(change.inference_id, ())
    moved = bool(others) and change.inference_id in owners.released
    if others and not moved and change.inference_id not in context.asked.adopt:
        return replace(
            change,
            action=Action.NOOP,
            reason=Reason.OWNED_ELSEWHERE,
            requests=(),
            drift=(),
            owners=others,
        )
    exists = change.action is not Action.CREATE
    return replace(change, adopt=exists or bool(others), owners=others, moved=moved)


def _with_step(
    change: Change, spec: EndpointSpec, context: _Context, fields: frozenset[FieldPath]
) -> Change:
    """The state step of a declared endpoint's change: what the state records if it succeeds
    (``fields``: the spec's ``declared_fields``)."""
    owners = context.owners
    if change.reason is Reason.OWNED_ELSEWHERE or (
        not owners.known and change.action is Action.NOOP
    ):
        return change
    moved_from = owners.moving.get(spec.inference_id, "")
    recorded = spec.inference_id in owners.recorded
    if change.action is Action.NOOP and recorded and not change.adopt and not moved_from:
        before = owners.declared.get(spec.inference_id)
        # an endpoint without a baseline read on this cluster version gets one (from the
        # listing the plan was made from) at the next apply
        baseline = owners.baselines.get(spec.inference_id)
        current = baseline is not None and parse_version(baseline.version) == context.version
        if before is not None and before == fields and current:
            return change
    declared = names_of(fields)
    others = change.owners
    return replace(
        change,
        step=StateStep(
            task_type=spec.task_type,
            service=spec.service,
            declared=declared,
            claim=owners.known and (change.adopt or bool(moved_from)),
            over=others if spec.inference_id in context.asked.adopt or change.moved else (),
            hand_over=(others if change.adopt else ()) + ((moved_from,) if moved_from else ()),
            moved_from=moved_from,
        ),
    )


def with_usage(plan: Plan, usage: Mapping[str, Usage]) -> Plan:
    """The same plan with ``in_use_by`` filled for the ids in ``usage``; the delete of an endpoint
    in use is sent with ``force`` (apply refuses it unless the user allows it)."""
    changes = []
    for change in plan.changes:
        used = usage.get(change.inference_id)
        if used is None:
            changes.append(change)
            continue
        requests = tuple(
            replace(request, params={**request.params, "force": "true"})
            if request.kind is CallKind.DELETE and not used.empty
            else request
            for request in change.requests
        )
        changes.append(replace(change, in_use_by=used, requests=requests))
    return replace(plan, changes=tuple(changes))


def _change_for(
    spec: EndpointSpec,
    live: LiveEndpoint | None,
    context: _Context,
    secrets: SecretStatus,
    declared: frozenset[FieldPath],
    view: View | None = None,
) -> Change:
    """``view``: the spec's ``desired_view`` with nothing dropped, when worked out ahead."""
    facts = context.catalog.facts(spec.service, spec.task_type, context.version)
    base: dict[str, Any] = dict(
        inference_id=spec.inference_id,
        task_type=spec.task_type,
        service=spec.service,
        notes=_secret_notes(secrets, spec.inference_id),
    )
    if live is None:  # show what will be sent, not what the server will fill in
        declared_blocks = {
            block: dict(spec.block(block)) for block in SETTINGS_BLOCKS if spec.block(block)
        }
        return Change(
            action=Action.CREATE,
            reason=Reason.NOT_IN_CLUSTER,
            after=masked(spec, declared_blocks, facts),
            requests=(create_call(spec, facts, create_timeout=context.asked.create_timeout),),
            expected=_expected(spec, desired_view(spec, facts) if view is None else view, declared),
            **base,
        )
    previously = context.owners.declared.get(spec.inference_id, frozenset())
    dropped = previously - declared  # the user removed these: a declared change (rule 3)
    compared = declared | dropped if dropped else declared  # (the shared set when nothing dropped)
    planned = (
        view if view is not None and not dropped else desired_view(spec, facts, dropped=dropped)
    )
    live_facts = context.catalog.facts(live.service, live.task_type, context.version)
    same_service = live_facts.canonical_service == facts.canonical_service
    # server-filled values that moved since the last apply recorded them: drift (rule 4)
    restore = (
        _moved_since_apply(spec, live, facts, context, compared)
        if same_service and live.task_type == spec.task_type
        else {}
    )
    desired = with_restored(planned, restore, facts) if restore else planned
    current = live_view(
        live,
        facts if same_service else live_facts,
        keep=compared | frozenset(restore) if restore else compared,
    )
    base.update(
        before=current,  # nothing changes a view once made
        after=masked(spec, desired, facts, changed=secrets.changed),
        live_task_type=live.task_type,
        live_service=live.service,
    )
    base["expected"] = _expected(spec, planned, compared)

    def replace_requests() -> tuple[Request, ...]:  # built only for a replace (most are no-ops)
        return replace_calls(
            spec,
            facts,
            live_task_type=live.task_type,
            create_timeout=context.asked.create_timeout,
        )

    if live.task_type != spec.task_type or not same_service:
        path: FieldPath = ("task_type",) if live.task_type != spec.task_type else ("service",)
        return Change(
            action=Action.REPLACE,
            reason=Reason.TASK_TYPE_CHANGED if path == ("task_type",) else Reason.SERVICE_CHANGED,
            paths=(path,),
            replace_paths=(path,),
            requests=replace_requests(),
            **base,
        )
    paths = changed_paths(desired, current)
    ours = tuple(p for p in paths if field_of(p) in compared) if paths else ()
    reason, blocking = _blockers(ours + secrets.changed, desired, current, facts)
    if blocking:  # a change the user made in the specs: a replace is what they asked for
        return Change(
            action=Action.REPLACE,
            reason=reason,
            paths=paths,
            secret_paths=secrets.changed,
            replace_paths=blocking,
            requests=replace_requests(),
            **base,
        )
    drift = tuple(p for p in paths if p not in ours) if paths else ()  # set out of band
    restorable = tuple(p for p in drift if not _blockers((p,), desired, current, facts)[1])
    held = tuple(p for p in drift if p not in restorable) if drift else ()
    if restore:
        restored = frozenset(field_of(p) for p in restorable) & frozenset(restore)
        base["notes"] += _restore_notes(restore, live, restored)
        if restored:  # verified after apply like a declared field
            back = {f: v for f, v in restore.items() if f in restored}
            base["expected"] = _expected(
                spec, with_restored(planned, back, facts), compared | restored
            )
    if spec.inference_id in context.asked.replace:
        return Change(
            action=Action.REPLACE,
            reason=Reason.REPLACE_REQUESTED,
            paths=paths,
            secret_paths=secrets.changed,
            requests=replace_requests(),
            **base,
        )
    sent = ours + restorable
    if held:
        base["expected"] = replace(base["expected"], ignored=held)
    if not sent and not secrets.changed:
        return Change(
            action=Action.NOOP,
            reason=Reason.DRIFT_HELD if held else Reason.NONE,
            drift=held,
            **base,
        )
    update = update_call(
        spec, facts, desired=desired, paths=sent, secrets_moved=bool(secrets.changed)
    )
    return Change(
        action=Action.UPDATE,
        reason=Reason.IN_PLACE,
        paths=sent,
        secret_paths=secrets.changed,
        requests=(update,) if update else (),
        drift=held,
        **base,
    )


def _moved_since_apply(
    spec: EndpointSpec,
    live: LiveEndpoint,
    facts: EndpointFacts,
    context: _Context,
    owned: frozenset[FieldPath],
) -> dict[FieldPath, Any]:
    """The undeclared server-filled fields whose value moved since the last apply recorded it
    (field -> the recorded value); none without a baseline read on this cluster version."""
    baseline = context.owners.baselines.get(spec.inference_id)
    if baseline is None or parse_version(baseline.version) != context.version:
        return {}
    return moved(baseline, live, fields=facts.baseline_fields(owned))


def _restore_notes(
    restore: Mapping[FieldPath, Any], live: LiveEndpoint, restored: frozenset[FieldPath]
) -> tuple[str, ...]:
    """From what to what each server-filled value moved, and whether apply restores it."""
    notes = []
    for path, value in sorted(restore.items(), key=lambda item: dotted(item[0])):
        now = live.block(str(path[0])) if len(path) == 1 else live.block(str(path[0]))[str(path[1])]
        notes.append(
            f"{dotted(path)} {CHANGED_SINCE_APPLY}: {_json(now)} in the cluster, "
            f"{_json(value)} as the server filled it in at the last apply; "
            + ("apply restores it in place" if path in restored else "only a replace restores it")
        )
    return tuple(notes)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


def _expected(spec: EndpointSpec, desired: View, compared: frozenset[FieldPath]) -> Expected:
    return Expected(
        task_type=spec.task_type,
        service=spec.service,
        view=desired,
        compared=_in_order(compared),
    )


@cache
def _in_order(fields: frozenset[FieldPath]) -> tuple[FieldPath, ...]:
    """``fields`` sorted by name, once per distinct set (specs alike declare the same set)."""
    return tuple(sorted(fields, key=dotted))


def _blockers(
    paths: tuple[FieldPath, ...], desired: View, live: View, facts: EndpointFacts
) -> tuple[Reason, tuple[FieldPath, ...]]:
    """Why these changes cannot be made through ``_update``, and which paths force the replace;
    ``(IN_PLACE, ())`` when they can."""
    if not paths:
        return Reason.IN_PLACE, ()
    if not facts.update_api:
        return Reason.NO_UPDATE_API, paths
    if not facts.known:
        return Reason.UNKNOWN_SERVICE, paths
    stuck = tuple(
        path for path in paths if not facts.updatable(path) or _unsendable(path, desired, facts)
    )
    if stuck:
        return Reason.NOT_UPDATABLE, stuck
    if facts.task_settings_mode == "merge":
        gone = set(removed_keys(desired, live, "task_settings"))
        dropped = tuple(p for p in paths if p[:1] == ("task_settings",) and p[1] in gone)
        if dropped:
            return Reason.TASK_SETTING_REMOVED, dropped
    return Reason.IN_PLACE, ()


def _unsendable(path: FieldPath, desired: View, facts: EndpointFacts) -> bool:
    """A service setting that should go away: ``_update`` takes values, it cannot remove a key."""
    if path[0] != "service_settings" or len(path) < 2:
        return False
    return path[1] not in desired.get("service_settings", {}) and path[1] not in facts.secret_fields


def _delete(endpoint: LiveEndpoint, facts: EndpointFacts) -> Change:
    return Change(
        action=Action.DELETE,
        inference_id=endpoint.inference_id,
        task_type=endpoint.task_type,
        service=endpoint.service,
        reason=Reason.PRUNED,
        before=live_view(endpoint, facts),
        live_task_type=endpoint.task_type,
        live_service=endpoint.service,
        requests=(delete_call(task_type=endpoint.task_type, inference_id=endpoint.inference_id),),
        step=StateStep(entry=False),
    )


def masked(
    spec: EndpointSpec,
    view: Mapping[str, Mapping[str, Any]],
    facts: EndpointFacts,
    *,
    changed: tuple[FieldPath, ...] = (),
) -> Mapping[str, Any]:
    """The view with each declared secret shown as a mask, never a value."""
    settings = spec.block("service_settings")
    hidden = [name for name in facts.secret_fields if name in settings]
    if not hidden:
        return view  # nothing to mask: the view itself (read only)
    result = dict(view)  # blocks shared with the view; service_settings copied to be masked
    shown = result["service_settings"] = dict(view.get("service_settings", {}))
    for name in hidden:
        moved = bool(changed) and any(path[:2] == ("service_settings", name) for path in changed)
        shown[name] = SENSITIVE_CHANGED if moved else SENSITIVE
    return result


CHUNKING_RESET = (
    "Elasticsearch {version} may rewrite this endpoint's chunking_settings to word/250/100 on "
    "any in-place update (issue 139574, fixed in 9.4.0; the 9.2 and 9.3 patch releases with the "
    "fix are not established): check them after apply, or declare them and replace"
)


def _chunking_reset_note(change: Change, context: _Context) -> Change:
    """Say so where an in-place update of an embedding endpoint runs on a release with the bug."""
    if change.action is not Action.UPDATE or not context.catalog.update_resets_chunking(
        context.version
    ):
        return change
    if not context.catalog.facts(change.service, change.task_type, context.version).chunked:
        return change
    version = ".".join(map(str, context.version))
    return replace(change, notes=change.notes + (CHUNKING_RESET.format(version=version),))


def _secret_notes(secrets: SecretStatus, inference_id: str) -> tuple[str, ...]:
    if secrets is UNCHANGED:
        return ()
    notes = [f"{dotted(path)}: {UNTRACKED}" for path in secrets.untracked]
    notes += [
        f"{dotted(path)}: secret reference not resolvable here; rotation not checked"
        for path in secrets.unresolved
    ]
    return tuple(notes)
