"""The plan: a frozen value saying what would change, and ``build_plan`` that makes it.

Owns the closed set of actions, the pairing of desired and live by id, and
the choice between update in place and replace, with a typed reason for each
and the exact requests apply will send (built by ``calls``). Building a plan
has no side effects: it reads loaded specs, a fetched live snapshot and secret
fingerprints, and returns a ``Plan``. The reason explains (renderers word it);
it never decides.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.calls import create_call, delete_call, update_call
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
from reconciler.normalize import View, desired_view, live_view
from reconciler.secrets import SENSITIVE, SENSITIVE_CHANGED


class Action(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "no-op"

    @property
    def destructive(self) -> bool:
        return self in (Action.REPLACE, Action.DELETE)

    @property
    def writes(self) -> bool:
        return self is not Action.NOOP

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "no-op": " "}[
            self.value
        ]


ORDER = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE, Action.NOOP)


class Reason(enum.Enum):
    """Why a change has its action: a closed set the renderers turn into words."""

    NONE = "none"  # no-op
    NOT_IN_CLUSTER = "not_in_cluster"  # create
    IN_PLACE = "in_place"  # update: every changed field can change through _update
    TASK_TYPE_CHANGED = "task_type_changed"  # replace
    SERVICE_CHANGED = "service_changed"  # replace
    NO_UPDATE_API = "no_update_api"  # replace: the cluster predates _update
    UNKNOWN_SERVICE = "unknown_service"  # replace: nothing is known to be updatable
    NOT_UPDATABLE = "not_updatable"  # replace: replace_paths cannot change in place
    TASK_SETTING_REMOVED = "task_setting_removed"  # replace: _update merges and cannot drop it
    PRUNED = "pruned"  # delete: managed, no longer declared, --prune


@dataclass(frozen=True, kw_only=True)
class Usage:
    pipelines: tuple[str, ...] = ()
    indices: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.pipelines and not self.indices


@dataclass(frozen=True, kw_only=True)
class Change:
    """What happens to one endpoint: the action, the facts behind it, and the requests apply sends.

    ``paths`` are the fields that differ, ``secret_paths`` the secrets whose fingerprint moved,
    ``replace_paths`` those of them that force a replace. ``before``/``after`` are for people
    (secrets masked); ``requests`` is the contract with apply, secrets as references.
    """

    action: Action
    inference_id: str
    task_type: str
    service: str
    reason: Reason = Reason.NONE
    paths: tuple[FieldPath, ...] = ()
    secret_paths: tuple[FieldPath, ...] = ()
    replace_paths: tuple[FieldPath, ...] = ()
    before: Mapping[str, Any] | None = None  # masked
    after: Mapping[str, Any] | None = None  # masked
    notes: tuple[str, ...] = ()
    in_use_by: Usage = field(default_factory=Usage)
    live_task_type: str = ""  # what the live endpoint has (update, replace, delete)
    live_service: str = ""
    requests: tuple[Request, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.task_type}/{self.inference_id}"


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Every change one run would make, in apply order, and what the plan was made against."""

    changes: tuple[Change, ...]
    cluster_version: str
    unmanaged: tuple[str, ...] = ()  # live ids nobody declared and that are not pruned
    warnings: tuple[str, ...] = ()
    prune: bool = False

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action is action)

    @property
    def summary(self) -> dict[str, int]:
        return {action.value: self.count(action) for action in ORDER}

    @property
    def has_changes(self) -> bool:
        return any(change.action.writes for change in self.changes)


@dataclass(frozen=True, kw_only=True)
class SecretStatus:
    """What the planner knows of one endpoint's secrets (computed by the caller)."""

    changed: tuple[FieldPath, ...] = ()  # fingerprint differs from the state's
    untracked: tuple[FieldPath, ...] = ()  # never sent by us: rotation cannot be seen
    unresolved: tuple[FieldPath, ...] = ()  # reference not resolvable here


def build_plan(
    *,
    specs: tuple[EndpointSpec, ...] | list[EndpointSpec],
    live: tuple[LiveEndpoint, ...] | list[LiveEndpoint],
    catalog: Catalog,
    cluster_version: str,
    managed: frozenset[str] = frozenset(),
    secrets: Mapping[str, SecretStatus] | None = None,
    prune: bool = False,
    warnings: tuple[str, ...] = (),
) -> Plan:
    """Pair desired and live by id and decide one action for each. Pure."""
    version = parse_version(cluster_version)
    live_by_id = {endpoint.inference_id: endpoint for endpoint in live}
    desired_ids = {spec.inference_id for spec in specs}
    changes = [
        _change_for(
            spec,
            live_by_id.get(spec.inference_id),
            catalog,
            version,
            (secrets or {}).get(spec.inference_id, SecretStatus()),
        )
        for spec in specs
    ]
    unmanaged: list[str] = []
    for endpoint in live:
        if endpoint.inference_id in desired_ids:
            continue
        if prune and endpoint.inference_id in managed and not endpoint.preconfigured:
            changes.append(
                _delete(endpoint, catalog.facts(endpoint.service, endpoint.task_type, version))
            )
        else:
            unmanaged.append(endpoint.inference_id)
    changes.sort(key=lambda c: (ORDER.index(c.action), c.inference_id))
    return Plan(
        changes=tuple(changes),
        cluster_version=cluster_version,
        unmanaged=tuple(sorted(unmanaged)),
        warnings=warnings,
        prune=prune,
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
    catalog: Catalog,
    version: Version,
    secrets: SecretStatus,
) -> Change:
    facts = catalog.facts(spec.service, spec.task_type, version)
    desired = desired_view(spec, facts)
    after = masked(spec, desired, facts, changed=secrets.changed)
    base: dict[str, Any] = dict(
        inference_id=spec.inference_id, task_type=spec.task_type, service=spec.service
    )
    notes = _secret_notes(secrets)
    if live is None:  # show what will be sent, not what the server will fill in
        declared = {
            block: dict(spec.block(block)) for block in SETTINGS_BLOCKS if spec.block(block)
        }
        return Change(
            action=Action.CREATE,
            reason=Reason.NOT_IN_CLUSTER,
            notes=notes,
            after=masked(spec, declared, facts),
            requests=(create_call(spec, facts),),
            **base,
        )
    live_facts = catalog.facts(live.service, live.task_type, version)
    same_service = live_facts.canonical_service == facts.canonical_service
    current = live_view(live, facts if same_service else live_facts, desired)
    base.update(
        before=dict(current),
        after=after,
        notes=notes,
        live_task_type=live.task_type,
        live_service=live.service,
    )
    replace_calls = (
        delete_call(task_type=live.task_type, inference_id=live.inference_id),
        create_call(spec, facts),
    )
    if live.task_type != spec.task_type or not same_service:
        path: FieldPath = ("task_type",) if live.task_type != spec.task_type else ("service",)
        return Change(
            action=Action.REPLACE,
            reason=Reason.TASK_TYPE_CHANGED if path == ("task_type",) else Reason.SERVICE_CHANGED,
            paths=(path,),
            replace_paths=(path,),
            requests=replace_calls,
            **base,
        )
    paths = changed_paths(desired, current)
    if not paths and not secrets.changed:
        return Change(action=Action.NOOP, **base)
    reason, blocking = _blockers(paths + secrets.changed, desired, current, facts)
    if blocking:
        return Change(
            action=Action.REPLACE,
            reason=reason,
            paths=paths,
            secret_paths=secrets.changed,
            replace_paths=blocking,
            requests=replace_calls,
            **base,
        )
    update = update_call(
        spec, facts, desired=desired, paths=paths, secrets_moved=bool(secrets.changed)
    )
    return Change(
        action=Action.UPDATE,
        reason=Reason.IN_PLACE,
        paths=paths,
        secret_paths=secrets.changed,
        requests=(update,) if update else (),
        **base,
    )


def _blockers(
    paths: tuple[FieldPath, ...], desired: View, live: View, facts: EndpointFacts
) -> tuple[Reason, tuple[FieldPath, ...]]:
    """Why these changes cannot be made through ``_update``, and which paths force the replace;
    ``(IN_PLACE, ())`` when they can."""
    if not facts.update_api:
        return Reason.NO_UPDATE_API, paths
    if not facts.known:
        return Reason.UNKNOWN_SERVICE, paths
    stuck = tuple(path for path in paths if not facts.updatable(path))
    if stuck:
        return Reason.NOT_UPDATABLE, stuck
    if facts.task_settings_mode == "merge":
        gone = removed_keys(desired, live, "task_settings")
        if gone:
            return Reason.TASK_SETTING_REMOVED, tuple(("task_settings", key) for key in gone)
    return Reason.IN_PLACE, ()


def _delete(endpoint: LiveEndpoint, facts: EndpointFacts) -> Change:
    return Change(
        action=Action.DELETE,
        inference_id=endpoint.inference_id,
        task_type=endpoint.task_type,
        service=endpoint.service,
        reason=Reason.PRUNED,
        before=live_view(endpoint, facts, None),
        live_task_type=endpoint.task_type,
        live_service=endpoint.service,
        requests=(delete_call(task_type=endpoint.task_type, inference_id=endpoint.inference_id),),
    )


def masked(
    spec: EndpointSpec,
    view: Mapping[str, Mapping[str, Any]],
    facts: EndpointFacts,
    *,
    changed: tuple[FieldPath, ...] = (),
) -> dict[str, Any]:
    """The view with each declared secret shown as a mask, never a value."""
    result = {block: dict(values) for block, values in view.items()}
    settings = spec.block("service_settings")
    for name in facts.secret_fields:
        if name in settings:
            moved = any(path[:2] == ("service_settings", name) for path in changed)
            result.setdefault("service_settings", {})[name] = (
                SENSITIVE_CHANGED if moved else SENSITIVE
            )
    return result


def _secret_notes(secrets: SecretStatus) -> tuple[str, ...]:
    notes = [
        f"{dotted(path)}: secret not tracked (not sent by reconciler yet); rotation cannot be detected"
        for path in secrets.untracked
    ]
    notes += [
        f"{dotted(path)}: secret reference not resolvable here; rotation not checked"
        for path in secrets.unresolved
    ]
    return tuple(notes)
