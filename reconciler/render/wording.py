"""The sentences every human-readable rendering shares.

Owns the words for a plan's outcome (``Plan: N to create, ...``,
``No changes.``, the drift wording for scheduled jobs), for what happens to
one endpoint (``will be created`` in a plan, ``has drifted`` in a drift
report), for how many endpoints are unchanged, for what an apply did
(``Apply complete: ...``), and for who uses an endpoint that a destructive
change would break. Text and markdown both take their words from
here so that a user reads the same sentence in the job log and on the pull
request. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.catalog import parse_version
from reconciler.model import dotted
from reconciler.plan import SEND_UNTRACKED, UNTRACKED, Action, Change, Plan, Reason, Usage, Verdict
from reconciler.region_policy import ADDRESS, PolicyAction

NO_CHANGES = "No changes. The cluster matches the desired state."
NO_DRIFT = "No drift: the cluster matches the desired state."
HELD = "Apply would change nothing: what differs is left alone (see above)."
REFUSAL = "apply refuses this change unless --allow-destroy-in-use is given"

OUTCOME = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.REPLACE: "must be replaced",
    Action.DELETE: "will be destroyed",
    Action.NOOP: "is up to date",
}
# A drift report describes the cluster as it is; what apply would do follows the semicolon.
DRIFT_OUTCOME = {
    Action.CREATE: "is missing from the cluster; apply creates it",
    Action.UPDATE: "has drifted; apply updates it in place",
    Action.REPLACE: "has drifted; apply must replace it",
    Action.DELETE: "is no longer declared; apply deletes it (--prune)",
    Action.NOOP: "matches the desired state",
}
PAST = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.REPLACE: "replaced",
    Action.DELETE: "deleted",
}


def summary_line(plan: Plan) -> str:
    """``Plan: N to create, N to update, N to replace, N to delete.`` (plus what apply leaves
    alone or hands over), or ``No changes. ...`` only when nothing at all differs."""
    verdict = plan.verdict
    if not verdict.differs:
        return _with_count(NO_CHANGES, plan)
    return "Plan: " + _counts(plan) + _extras(verdict, "; ") + "."


def drift_summary(plan: Plan) -> str:
    """The closing line of a drift report: what an apply would do to correct the drift."""
    verdict = plan.verdict
    if not verdict.differs:
        return _with_count(NO_DRIFT, plan)
    if not verdict.changes:
        return "Apply would change no endpoint: " + _extras(verdict, "") + "."
    return "Drift to correct: " + _counts(plan) + _extras(verdict, "; ") + "."


def _extras(verdict: Verdict, lead: str) -> str:
    """``1 conflict, 1 to hand over, ...``: what differs besides the writes ("" when nothing)."""
    parts = [
        f"{count} {words}"
        for count, words in (
            (verdict.blocked, "blocked (not offered by this cluster)"),
            (verdict.conflicts, "conflict" + _plural(verdict.conflicts)),
            (verdict.moves, "to hand over"),
            (verdict.kept, "no longer declared (kept)"),
            (verdict.held, "with drift left alone"),
            (verdict.policy_left_alone, "region policy left alone"),
        )
        if count
    ]
    return lead + ", ".join(parts) if parts else ""


def outcome(change: Change, *, drift: bool = False) -> str:
    """What happens to one endpoint, worded for a plan or for a drift report."""
    return (DRIFT_OUTCOME if drift else OUTCOME)[change.action]


def unchanged_count(plan: Plan) -> int:
    return plan.count(Action.NOOP)


def unchanged_line(count: int) -> str:
    """The one line that stands for every unchanged endpoint of a plan with changes."""
    return f"{count} unchanged endpoint{_plural(count)} not shown (--verbose lists them)."


def apply_summary(
    done: Mapping[Action, int], *, failed: int, lost: int = 0, policy: str = ""
) -> str:
    """``Apply complete: N created, N updated, N replaced, N deleted, N failed.``; ends every apply.
    ``lost``: replaces that deleted an endpoint and could not create it again."""
    counts = ", ".join(f"{done.get(action, 0)} {verb}" for action, verb in PAST.items())
    gone = f" ({lost} deleted and not re-created: they no longer exist)" if lost else ""
    policy_done = f"; the region policy {policy}" if policy else ""
    return f"Apply complete: {counts}, {failed} failed{gone}{policy_done}."


def _counts(plan: Plan) -> str:
    counts = (
        f"{plan.count(Action.CREATE)} to create, {plan.count(Action.UPDATE)} to update, "
        f"{plan.count(Action.REPLACE)} to replace, {plan.count(Action.DELETE)} to delete"
    )
    policy = plan.region_policy
    if policy is not None and policy.action.writes:
        counts += f"; the region policy to {policy.action.value}"
    return counts


POLICY_SYMBOL = {
    PolicyAction.CREATE: "+",
    PolicyAction.UPDATE: "~",
    PolicyAction.DELETE: "-",
    PolicyAction.KEEP: "!",
    PolicyAction.CONFLICT: "!",
    PolicyAction.NOOP: "+",
}


def _policy_value(policy: Mapping[str, Any] | None) -> str:
    if not policy:
        return "(none)"
    if "allowed_geos" in policy:
        return "allowed_geos: [" + ", ".join(policy["allowed_geos"]) + "]"
    places = ", ".join(f"{r['csp']}/{r['region']}" for r in policy.get("allowed_regions", ()))
    return f"allowed_regions: [{places}]"


def policy_lines(plan: Plan) -> tuple[str, list[str]]:
    """The region policy's change as (symbol, lines): a headline and its details, no colour;
    ("", []) when there is nothing to say."""
    change = plan.region_policy
    if change is None or (change.action is PolicyAction.NOOP and not change.adopt):
        return "", []
    action = change.action
    if action is PolicyAction.NOOP:
        head = f"{ADDRESS} is up to date; apply records it as managed here (adopted: no directory manages it)"
    elif action is PolicyAction.CONFLICT:
        head = f"{ADDRESS} is declared here and managed by {change.other_owner}; apply leaves it"
    elif action is PolicyAction.KEEP:
        head = f"{ADDRESS} is managed here and no longer declared; apply --prune deletes it"
    else:
        verb = {"create": "created", "update": "updated (PUT replaces it)", "delete": "deleted"}
        head = f"{ADDRESS} will be {verb[action.value]}"
        if change.drift:
            head += " (drift: it was changed in the cluster since the last apply)"
        elif change.adopt:
            head += " (adopted: no directory manages it)"
    details = []
    if action is PolicyAction.UPDATE:
        details.append(f"{_policy_value(change.before)} -> {_policy_value(change.after)}")
    elif action in (PolicyAction.CREATE, PolicyAction.CONFLICT):
        details.append(_policy_value(change.after))
    elif action in (PolicyAction.DELETE, PolicyAction.KEEP):
        details.append(_policy_value(change.before))
    if change.newly_denied:
        details.append("denies EIS endpoints: " + ", ".join(change.newly_denied))
    for inference_id, usage in sorted(change.in_use.items()):
        details.append(f"! {inference_id} is in use by {in_use(usage)}")
    if change.denies_in_use:
        details.append(f"! {REFUSAL}")
    return POLICY_SYMBOL[action], [head, *details]


def _with_count(sentence: str, plan: Plan) -> str:
    """``No changes. The cluster matches ... (N endpoints up to date).``: the count, not a list."""
    count = unchanged_count(plan)
    if not count:
        return sentence
    return f"{sentence.removesuffix('.')} ({count} endpoint{_plural(count)} up to date)."


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


def drift_line(plan: Plan) -> str:
    """The headline of a drift report, for a scheduled job."""
    verdict = plan.verdict
    if not verdict.differs:
        return _with_count(NO_DRIFT, plan)
    differing = sum(1 for change in plan.changes if change.action.writes or change.drift)
    differing += verdict.conflicts + verdict.kept + verdict.moves
    if verdict.policy_writes or verdict.policy_left_alone:
        return (
            f"Drift detected: {differing} endpoint(s) and the region policy differ from the "
            "desired state."
        )
    return f"Drift detected: {differing} endpoint(s) differ from the desired state."


def command(plan: Plan, arguments: str) -> str:
    """A command to paste: ``reconciler apply DIR --adopt rerank/x`` for ``apply --adopt ...``
    (the directory and ``--env`` the plan was made for)."""
    verb, _, rest = arguments.partition(" ")
    return " ".join(part for part in ("reconciler", verb, plan.invocation or ".", rest) if part)


def adoption(change: Change) -> str:
    """How a change's endpoint becomes ours ("" when it is ours already)."""
    if change.moved:
        return f"(moves here from the state document {change.owner}, which no longer declares it)"
    if change.adopt and change.owner:
        return f"(taken over from the state document {change.owner} with --adopt)"
    if change.adopt:
        return "(adopted: it exists and no state document manages it)"
    return ""


def adoptions(plan: Plan) -> list[str]:
    """Endpoints that are up to date but become this directory's at the next apply: adoption is
    shown, never silent (a change that writes carries the mark on its own line)."""
    return [
        f"{change.address} {adoption(change).strip('()')}: apply records it as managed here, "
        "writing nothing to it"
        for change in plan.changes
        if change.adopt and not change.action.writes
    ]


def conflict(plan: Plan, change: Change) -> str:
    """``rerank/x is declared here and managed by D (differs: ...); apply leaves it; ...``."""
    if not change.live_service:
        differs = "not in the cluster"
    elif change.paths or change.secret_paths:
        names = dict.fromkeys(str(path[-1]) for path in change.paths + change.secret_paths)
        differs = "differs: " + ", ".join(names)
    else:
        differs = "matches this spec"
    adopt = f"apply --adopt {change.address}"
    if change.replace_paths:  # what differs cannot change in place: taking it over replaces it
        adopt += f" --replace {change.address}"
    return (
        f"{change.address} is declared here and managed by {change.owner} ({differs}); apply "
        f"leaves it; `{command(plan, adopt)}` takes it over"
    )


def untracked_hint(plan: Plan) -> str:
    """One line for every endpoint whose secrets we never sent, with the command that sends them
    all once ("" when there is none)."""
    count = sum(1 for c in plan.changes if any(note.endswith(UNTRACKED) for note in c.notes))
    if not count:
        return ""
    return (
        f"{count} endpoint{_plural(count)} with secrets never sent by reconciler: send them once, "
        f"in place, with `{command(plan, f'apply --send-secrets {SEND_UNTRACKED}')}` "
        "(or --send-secrets ID for one); rotation is tracked from then on"
    )


def moves(plan: Plan) -> list[str]:
    """Endpoints managed here, no longer declared here, declared by another directory."""
    return [
        f"{move.address} moves to {move.to}, which declares it: apply hands it over without "
        "touching the endpoint (never a delete)"
        for move in plan.moves
    ]


def left_alone(plan: Plan) -> list[str]:
    """What differs but apply leaves alone, and why: each with the command that would change it."""
    lines = []
    for change in plan.changes:
        if change.conflict:
            lines.append(conflict(plan, change))
        if change.drift:
            fields = ", ".join(dotted(path) for path in change.drift)
            lines.append(
                f"{change.address} has drift only a replace can undo ({fields}): apply leaves it; "
                f"`{command(plan, f'apply --replace {change.address}')}` replaces the endpoint"
            )
    if plan.orphaned:
        lines.append(
            "Managed by this directory but no longer declared (kept; "
            f"`{command(plan, 'apply --prune')}` deletes them): " + ", ".join(plan.orphaned)
        )
    return lines


def reason(change: Change, cluster_version: str) -> str:
    """The reason of a change in words ("" for a no-op)."""
    kind = change.reason
    if kind is Reason.TASK_TYPE_CHANGED:
        return f"task_type cannot change in place ({change.live_task_type} -> {change.task_type})"
    if kind is Reason.SERVICE_CHANGED:
        return f"service cannot change in place ({change.live_service} -> {change.service})"
    if kind is Reason.NO_UPDATE_API:
        shown = ".".join(str(part) for part in parse_version(cluster_version))
        return f"Elasticsearch {shown} has no _update API (it arrived in 8.17)"
    if kind is Reason.NOT_UPDATABLE:
        shown = ".".join(str(part) for part in parse_version(cluster_version))
        first = dotted(change.replace_paths[0]) if change.replace_paths else "a field"
        return f"{first} cannot change in place ({change.service}, Elasticsearch {shown})"
    if kind is Reason.OWNED_ELSEWHERE:
        return f"managed by the state document {change.owner}"
    if kind is Reason.TASK_SETTING_REMOVED:
        first = dotted(change.replace_paths[0]) if change.replace_paths else "a task setting"
        return f"{first} was removed; _update merges task settings and cannot drop a key"
    return REASONS.get(kind, "")


REASONS = {
    Reason.NOT_IN_CLUSTER: "not in the cluster",
    Reason.IN_PLACE: "can change in place through _update",
    Reason.UNKNOWN_SERVICE: "service unknown to the catalog: only a replace is safe",
    Reason.PRUNED: "managed by this directory but no longer declared (--prune)",
    Reason.REPLACE_REQUESTED: "replacement requested with --replace",
    Reason.DRIFT_HELD: "drift that only a replace could undo: left alone",
}


def in_use(usage: Usage, *, limit: int | None = None) -> str:
    """``pipelines: [p1]; indices: [idx]``, naming only the kinds that are present."""
    parts = []
    if usage.pipelines:
        parts.append(f"pipelines: [{_names(usage.pipelines, limit)}]")
    if usage.indices:
        parts.append(f"indices: [{_names(usage.indices, limit)}]")
    return "; ".join(parts)


def blocked_in_use(change: Change) -> bool:
    """A destructive change of an endpoint something uses: apply refuses it by default."""
    return change.action.destructive and not change.in_use_by.empty


def _names(names: tuple[str, ...], limit: int | None) -> str:
    if limit is None or len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names) - limit} more)"
