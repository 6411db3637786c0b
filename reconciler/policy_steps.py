"""The region policy's steps of a run: the version gate, planning it (reads included), sending
its one request, and reading it back.

``region_policy`` holds the values and the pure decision; ``run`` calls these at their place in
its sequence (plan: after the endpoints; apply: before the endpoints' changes, so that the run's
first state write records the policy with its intent; verify: after them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from reconciler.catalog import parse_version
from reconciler.errors import ClusterError, InputError
from reconciler.live import Snapshot, read_region_policy, read_usage_of
from reconciler.plan import Requested
from reconciler.region_policy import (
    ADDRESS,
    PAST,
    SINCE,
    SINCE_TEXT,
    PolicyAction,
    PolicyChange,
    RegionPolicySpec,
    canonical,
    plan_policy,
)
from reconciler.scrub import scrub
from reconciler.session import Session
from reconciler.state import State


def check_policy_version(policy: RegionPolicySpec | None, version: str) -> None:
    """A region policy on a cluster older than the API: an error at its line, naming both."""
    if policy is None or parse_version(version) >= SINCE:
        return
    message = (
        f"region_policy needs Elasticsearch {SINCE_TEXT} or later; this cluster runs {version}"
    )
    raise InputError(
        "the desired state needs a newer cluster; nothing was sent",
        [policy.source.problem(("region_policy",), message)],
    )


def plan_region_policy(
    session: Session,
    snapshot: Snapshot,
    policy: RegionPolicySpec | None,
    *,
    prune: bool,
    requested: Requested,
) -> tuple[Snapshot, PolicyChange | None]:
    """The region policy's change: declared here, or recorded as ours by the state. A policy this
    directory manages but no longer declares is read now (the snapshot read it only if declared)."""
    recorded = snapshot.state.region_policy
    if not requested.targeted(ADDRESS) or (policy is None and recorded is None):
        return snapshot, None
    if parse_version(snapshot.version) < SINCE:
        return snapshot, None
    if not snapshot.region_policy_read:
        live = read_region_policy(session.client)
        snapshot = replace(snapshot, region_policy=live, region_policy_read=True)
    mine = session.store.doc_id
    owner = next(
        (
            doc_id
            for doc_id, hit in sorted(snapshot.records.hits.items())
            if doc_id != mine
            and isinstance((hit.get("_source") or {}).get("region_policy"), Mapping)
        ),
        None,
    )
    change = plan_policy(
        desired=policy,
        live=snapshot.region_policy,
        recorded=recorded,
        managed=recorded is not None and owner is None,
        other_owner=owner,
        prune=prune,
        endpoints=snapshot.endpoints,
    )
    if change is not None and change.newly_denied:
        denied = [e for e in snapshot.endpoints if e.inference_id in change.newly_denied]
        usage = read_usage_of(session.client, denied, snapshot.version)
        change = replace(change, in_use={i: u for i, u in usage.items() if not u.empty})
    return snapshot, change


def carry_out_policy(
    session: Session, change: PolicyChange | None, state: State, *, allow_in_use: bool
) -> tuple[State, str]:
    """Send the region policy's one request (before the endpoints' changes: the executor's first
    state write then records it with the run's intent). A policy the cluster refuses stops the
    run before any endpoint is written."""
    if change is None or not change.records:
        return state, ""
    if change.action.writes:
        method, path, body, query = change.request(force=allow_in_use and change.denies_in_use)
        try:
            session.client.request(method, path, json=body, params=query or None)
        except ClusterError as error:
            raise ClusterError(
                f"the region policy could not be {PAST[change.action]}: {scrub(str(error))}; "
                "no endpoint was changed"
            ) from None
    kept = None if change.action is PolicyAction.DELETE else canonical(change.after)
    return replace(state, region_policy=kept), PAST[change.action] if change.action.writes else ""


def verify_policy(session: Session, change: PolicyChange) -> tuple[str, ...]:
    live = read_region_policy(session.client)
    found = canonical(live.policy) if live is not None else None
    if found != (canonical(change.after) if change.after is not None else None):
        return (f"{ADDRESS}: differs from the plan (the cluster has {found})",)
    return ()
