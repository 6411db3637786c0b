"""The inference region policy: the desired one, the live one, and the change between them.

Owns the policy's values (`RegionPolicySpec`, read from a document of the
desired-state directory whose only key is `region_policy`; `LivePolicy`, as
`GET _inference/_region_policy` answers it, audit fields apart), which
Elastic Inference Service endpoints a policy denies (from the places the
cluster reports for each endpoint, `metadata.regions`), and deciding the
one `PolicyChange` a run needs. Pure: the reads and writes are the run's and
the applier's. Elasticsearch 9.5.0 added the API; docs/region-policy.md has
the facts and their sources.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.model import LiveEndpoint, Source
from reconciler.plan import Usage

SINCE = (9, 5, 0)
SINCE_TEXT = "9.5.0"
PATH = "/_inference/_region_policy"
ADDRESS = "region_policy"  # how plans, --target and the state name it
KEY = "region_policy"
AUDIT_FIELDS = ("created_at", "created_by", "updated_at", "updated_by")


def is_policy_document(body: Any) -> bool:
    """A document that declares the region policy rather than an endpoint."""
    return (
        (type(body) is dict or isinstance(body, Mapping))
        and KEY in body
        and "inference_id" not in body
    )


@dataclass(frozen=True, kw_only=True)
class RegionPolicySpec:
    policy: Mapping[str, Any]  # {"allowed_geos": [...]} or {"allowed_regions": [...]}
    source: Source

    @property
    def body(self) -> dict[str, Any]:
        """The body of `PUT _inference/_region_policy`."""
        return {KEY: canonical(self.policy)}


@dataclass(frozen=True, kw_only=True)
class LivePolicy:
    policy: Mapping[str, Any]
    audit: Mapping[str, Any] = field(default_factory=dict)  # who and when: never a change

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> LivePolicy:
        policy = body.get(KEY)
        return cls(
            policy=policy if isinstance(policy, Mapping) else {},
            audit={k: body[k] for k in AUDIT_FIELDS if k in body},
        )


def canonical(policy: Mapping[str, Any] | None) -> dict[str, Any]:
    """The policy with its lists in a stable order: an allow-list is a set, its order means nothing."""
    if not policy:
        return {}
    result: dict[str, Any] = {}
    if "allowed_geos" in policy:
        result["allowed_geos"] = sorted({str(g) for g in policy["allowed_geos"]})
    if "allowed_regions" in policy:
        pairs = {(str(r.get("csp")), str(r.get("region"))) for r in policy["allowed_regions"]}
        result["allowed_regions"] = [{"csp": c, "region": r} for c, r in sorted(pairs)]
    return result


def _places(endpoint: LiveEndpoint) -> list[Mapping[str, Any]] | None:
    metadata = endpoint.body.get("metadata")
    regions = metadata.get("regions") if isinstance(metadata, Mapping) else None
    return [r for r in regions if isinstance(r, Mapping)] if isinstance(regions, list) else None


def denies(policy: Mapping[str, Any] | None, places: Iterable[Mapping[str, Any]]) -> bool:
    """Whether ``policy`` leaves none of the places an endpoint runs in allowed."""
    if not policy:
        return False
    places = list(places)
    if "allowed_geos" in policy:
        geos = set(policy["allowed_geos"])
        return not any(p.get("geo") in geos for p in places)
    if "allowed_regions" in policy:
        pairs = {(r.get("csp"), r.get("region")) for r in policy["allowed_regions"]}
        return not any((p.get("csp"), p.get("region")) in pairs for p in places)
    return False


def denied_by(
    policy: Mapping[str, Any] | None, endpoints: Iterable[LiveEndpoint]
) -> frozenset[str]:
    """The endpoints a policy denies, among those whose places the cluster reports."""
    found = set()
    for endpoint in endpoints:
        places = _places(endpoint)
        if places is not None and denies(policy, places):
            found.add(endpoint.inference_id)
    return frozenset(found)


class PolicyAction(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "no-op"
    KEEP = "keep"  # ours, no longer declared, left without --prune
    CONFLICT = "conflict"  # declared here, managed by another directory: left alone

    @property
    def writes(self) -> bool:
        return self in (PolicyAction.CREATE, PolicyAction.UPDATE, PolicyAction.DELETE)


PAST = {
    PolicyAction.CREATE: "created",
    PolicyAction.UPDATE: "updated",
    PolicyAction.DELETE: "deleted",
    PolicyAction.NOOP: "unchanged",
    PolicyAction.KEEP: "kept",
    PolicyAction.CONFLICT: "left alone",
}


@dataclass(frozen=True, kw_only=True)
class PolicyChange:
    action: PolicyAction
    before: Mapping[str, Any] | None  # the live policy (canonical), None when there is none
    after: Mapping[str, Any] | None  # the desired policy (canonical), None for a delete
    reason: str
    drift: bool = False  # the live policy was edited since this directory last applied it
    adopt: bool = False  # it exists, matches or not, and no directory manages it yet
    other_owner: str | None = None
    newly_denied: tuple[str, ...] = ()  # EIS endpoints allowed now and denied after the change
    in_use: Mapping[str, Usage] = field(default_factory=dict)  # the newly denied ones in use
    source: Source | None = None

    @property
    def denies_in_use(self) -> bool:
        return any(not usage.empty for usage in self.in_use.values())

    @property
    def records(self) -> bool:
        """Whether carrying it out changes what the state document says of the policy."""
        return self.action.writes or self.adopt

    @property
    def differs(self) -> bool:
        """Whether the cluster's policy differs from the desired one (also where apply leaves it)."""
        return self.action is not PolicyAction.NOOP

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "address": ADDRESS,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "drift": self.drift,
            "adopt": self.adopt,
            "owner": self.other_owner,
            "denies": list(self.newly_denied),
            "in_use_by": {
                i: {"pipelines": list(u.pipelines), "indices": list(u.indices)}
                for i, u in sorted(self.in_use.items())
            },
            "source": f"{self.source.file}:{self.source.line}" if self.source else None,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> PolicyChange:
        file, _, line = str(document.get("source") or "").rpartition(":")
        return cls(
            action=PolicyAction(document["action"]),
            before=document.get("before"),
            after=document.get("after"),
            reason=str(document.get("reason") or ""),
            drift=bool(document.get("drift")),
            adopt=bool(document.get("adopt")),
            other_owner=document.get("owner"),
            newly_denied=tuple(document.get("denies") or ()),
            in_use={
                i: Usage(pipelines=tuple(u["pipelines"]), indices=tuple(u["indices"]))
                for i, u in (document.get("in_use_by") or {}).items()
            },
            source=Source(file=file, line=int(line)) if file and line.isdigit() else None,
        )

    def request(self, *, force: bool) -> tuple[str, str, dict[str, Any] | None, dict[str, str]]:
        """(method, path, body, query) of the one request this change sends."""
        if self.action is PolicyAction.DELETE:
            return ("DELETE", PATH, None, {})
        query = {"force": "true"} if force else {}
        return ("PUT", PATH, {KEY: dict(self.after or {})}, query)


def plan_policy(
    *,
    desired: RegionPolicySpec | None,
    live: LivePolicy | None,
    recorded: Mapping[str, Any] | None,
    managed: bool,
    other_owner: str | None,
    prune: bool,
    endpoints: Iterable[LiveEndpoint],
) -> PolicyChange | None:
    """The policy's change, or None when neither side has one and nothing is ours.

    ``recorded`` is the policy this directory last applied (from its state), ``managed``
    whether this directory manages the live policy, ``other_owner`` the directory that does
    when another one does.
    """
    before = canonical(live.policy) if live else None
    after = canonical(desired.policy) if desired else None
    source = desired.source if desired else None
    endpoints = tuple(endpoints)
    if desired is None:
        if live is None or not managed:
            return None
        if not prune:
            return PolicyChange(
                action=PolicyAction.KEEP,
                before=before,
                after=before,
                reason="no longer declared; apply --prune deletes it",
            )
        return PolicyChange(
            action=PolicyAction.DELETE,
            before=before,
            after=None,
            reason="no longer declared (--prune)",
        )
    if other_owner is not None:
        return PolicyChange(
            action=PolicyAction.CONFLICT,
            before=before,
            after=after,
            reason=f"managed by {other_owner}; apply leaves it",
            other_owner=other_owner,
            source=source,
        )
    newly = tuple(sorted(denied_by(after, endpoints) - denied_by(before, endpoints)))
    matches = PolicyChange(
        action=PolicyAction.NOOP,
        before=before,
        after=after,
        reason="matches",
        source=source,
        adopt=live is not None and not managed,
    )
    if live is None:
        return replace(
            matches,
            action=PolicyAction.CREATE,
            reason="declared, not in the cluster",
            newly_denied=newly,
        )
    if before == after:
        return matches
    drift = managed and recorded is not None and canonical(recorded) == after
    return replace(
        matches,
        action=PolicyAction.UPDATE,
        reason="changed in the cluster since the last apply (drift)"
        if drift
        else "declared change",
        drift=drift,
        newly_denied=newly,
    )
