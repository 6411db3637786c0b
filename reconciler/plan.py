"""The plan: a frozen value saying what would change, and ``build_plan`` that makes it.

Owns the closed set of actions, the pairing of desired and live by id, and
the choice between update in place and replace, with a reason for each.
Building a plan has no side effects: it reads loaded specs, a fetched live
snapshot and secret fingerprints, and returns a ``Plan``. The reason explains;
it never decides.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.catalog import Catalog, ServiceFacts, parse_version
from reconciler.diff import changed_paths, removed_keys
from reconciler.model import SETTINGS_BLOCKS, EndpointSpec, LiveEndpoint
from reconciler.normalize import View, canonical_service, desired_view, live_view
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


@dataclass(frozen=True, kw_only=True)
class Usage:
    pipelines: tuple[str, ...] = ()
    indices: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.pipelines and not self.indices


@dataclass(frozen=True, kw_only=True)
class Change:
    action: Action
    inference_id: str
    task_type: str
    service: str
    paths: tuple[str, ...] = ()
    secret_paths: tuple[str, ...] = ()  # secrets whose fingerprint moved
    reason: str = ""
    before: Mapping[str, Any] | None = None  # masked
    after: Mapping[str, Any] | None = None  # masked
    notes: tuple[str, ...] = ()
    in_use_by: Usage = field(default_factory=Usage)
    live_task_type: str = ""  # the task type the live endpoint has (replace / delete)

    @property
    def address(self) -> str:
        return f"{self.task_type}/{self.inference_id}"


@dataclass(frozen=True, kw_only=True)
class Plan:
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

    def by_id(self, inference_id: str) -> Change | None:
        return next((c for c in self.changes if c.inference_id == inference_id), None)


@dataclass(frozen=True, kw_only=True)
class SecretStatus:
    """What the planner knows of one endpoint's secrets (computed by the caller)."""

    changed: tuple[str, ...] = ()  # dotted paths whose fingerprint differs from the state's
    untracked: tuple[str, ...] = ()  # never sent by us: rotation cannot be seen
    unresolved: tuple[str, ...] = ()  # reference not resolvable here


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
            changes.append(_delete(endpoint, catalog))
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
    """The same plan with ``in_use_by`` filled for the ids in ``usage``."""
    changes = tuple(
        replace(c, in_use_by=usage[c.inference_id]) if c.inference_id in usage else c
        for c in plan.changes
    )
    return replace(plan, changes=changes)


def _change_for(
    spec: EndpointSpec,
    live: LiveEndpoint | None,
    catalog: Catalog,
    version: tuple[int, int, int],
    secrets: SecretStatus,
) -> Change:
    desired = desired_view(spec, catalog, version=version)
    after = masked(spec, desired, catalog, changed=secrets.changed)
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
            reason="not in the cluster",
            notes=notes,
            after=masked(spec, declared, catalog),
            **base,
        )
    same_service = canonical_service(live.service, catalog) == canonical_service(
        spec.service, catalog
    )
    current = live_view(live, catalog, desired, service=spec.service if same_service else None)
    before = dict(current)
    replace_reason = ""
    if live.task_type != spec.task_type:
        replace_reason = f"task_type cannot change in place ({live.task_type} -> {spec.task_type})"
    elif not same_service:
        replace_reason = f"service cannot change in place ({live.service} -> {spec.service})"
    if replace_reason:
        return Change(
            action=Action.REPLACE,
            paths=("task_type" if "task_type" in replace_reason else "service",),
            reason=replace_reason,
            before=before,
            after=after,
            notes=notes,
            live_task_type=live.task_type,
            **base,
        )
    paths = changed_paths(desired, current)
    if not paths and not secrets.changed:
        return Change(action=Action.NOOP, before=before, after=after, notes=notes, **base)
    facts = catalog.service(spec.service)
    blocker = _first_blocker(
        paths, secrets.changed, desired, current, facts, spec.task_type, version
    )
    action = Action.REPLACE if blocker else Action.UPDATE
    reason = blocker or "can change in place through _update"
    return Change(
        action=action,
        paths=paths,
        secret_paths=secrets.changed,
        reason=reason,
        before=before,
        after=after,
        notes=notes,
        live_task_type=live.task_type,
        **base,
    )


def _first_blocker(
    paths: tuple[str, ...],
    secret_paths: tuple[str, ...],
    desired: View,
    live: View,
    facts: ServiceFacts | None,
    task_type: str,
    version: tuple[int, int, int],
) -> str:
    """Why these changes cannot be made through ``_update``; "" when they can."""
    shown = ".".join(str(v) for v in version)
    if version < (8, 17, 0):
        return f"Elasticsearch {shown} has no _update API (it arrived in 8.17)"
    if facts is None:
        return "service unknown to the catalog: only a replace is safe"
    for dotted in paths + secret_paths:
        block, _, key = dotted.partition(".")
        key = key.split(".")[0]
        if block == "chunking_settings":
            key = ""
        if block not in ("service_settings", "task_settings", "chunking_settings"):
            return f"{dotted} cannot change in place"
        if not facts.updatable(task_type=task_type, block=block, key=key, version=version):
            return f"{dotted} cannot change in place ({facts.name}, Elasticsearch {shown})"
    if facts.task_settings_mode(task_type) == "merge":
        gone = removed_keys(desired, live, "task_settings")
        if gone:
            return f"task_settings.{gone[0]} was removed; _update merges task settings and cannot drop a key"
    return ""


def _delete(endpoint: LiveEndpoint, catalog: Catalog) -> Change:
    return Change(
        action=Action.DELETE,
        inference_id=endpoint.inference_id,
        task_type=endpoint.task_type,
        service=endpoint.service,
        reason="managed by this directory but no longer declared (--prune)",
        before=live_view(endpoint, catalog, None),
        live_task_type=endpoint.task_type,
    )


def masked(
    spec: EndpointSpec, view: View, catalog: Catalog, *, changed: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The desired view with each declared secret shown as a mask, never a value."""
    result = {block: dict(values) for block, values in view.items()}
    facts = catalog.service(spec.service)
    settings = spec.block("service_settings")
    for name in facts.secret_fields() if facts else ():
        if name in settings:
            dotted = f"service_settings.{name}"
            moved = any(p == dotted or p.startswith(dotted + ".") for p in changed)
            result.setdefault("service_settings", {})[name] = (
                SENSITIVE_CHANGED if moved else SENSITIVE
            )
    return result


def _secret_notes(secrets: SecretStatus) -> tuple[str, ...]:
    notes = [
        f"{path}: secret not tracked (not sent by reconciler yet); rotation cannot be detected"
        for path in secrets.untracked
    ]
    notes += [
        f"{path}: secret reference not resolvable here; rotation not checked"
        for path in secrets.unresolved
    ]
    return tuple(notes)
