"""The JSON rendering of a plan: a versioned document that scripts rely on.

Owns the document's shape (``format_version`` "1"): one entry per endpoint
considered, no-ops included, in the plan's own order, with ``before``/``after``
(masked by the planner; ``null`` when absent), the changed paths, the reason
and who uses the endpoint; then the summary counts. Keys listed in docs/json-documents.md never change meaning within a format
version; extra keys may be added. The saved plan file (``planfile.py``) builds on ``to_document``; this
module neither reads nor writes files.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.model import dotted
from reconciler.plan import Change, Plan, Verdict
from reconciler.render import wording
from reconciler.render.fields import plain

FORMAT_VERSION = "1"


def to_document(plan: Plan) -> dict[str, Any]:
    """The plan as plain JSON values (dicts, lists, strings, numbers, booleans, None)."""
    return {
        "format_version": FORMAT_VERSION,
        "cluster_version": plan.cluster_version,
        "prune": plan.prune,
        "has_changes": plan.verdict.differs,
        "changes": [_change(change, plan.cluster_version) for change in plan.changes],
        "summary": dict(plan.summary),
        "verdict": _verdict(plan.verdict),
        "conflicts": [
            {"inference_id": c.inference_id, "address": c.address, "owner": c.owner}
            for c in plan.conflicts
        ],
        "moves": [
            {"inference_id": m.inference_id, "address": m.address, "to": m.to} for m in plan.moves
        ],
        "state": plan.state,
        "unmanaged": list(plan.unmanaged),
        "managed_elsewhere": list(plan.elsewhere),
        "blocked": list(plan.blocked),
        "orphaned": list(plan.orphaned),
        "warnings": list(plan.warnings),
        "region_policy": plan.region_policy.to_json() if plan.region_policy else None,
    }


def render_json(plan: Plan) -> str:
    """``to_document`` as indented JSON text, keys in a stable (not sorted) order."""
    return json.dumps(to_document(plan), indent=2, ensure_ascii=False)


def _verdict(verdict: Verdict) -> dict[str, Any]:
    """The counts behind ``has_changes`` and the summary line (``differs`` is ``has_changes``)."""
    return {
        "differs": verdict.differs,
        "writes": verdict.changes,
        **{action.value: count for action, count in verdict.writes.items()},
        "conflict": verdict.conflicts,
        "move": verdict.moves,
        "blocked": verdict.blocked,
        "kept": verdict.kept,
        "drift_held": verdict.held,
        "unchanged": verdict.unchanged,
    }


def _change(change: Change, cluster_version: str) -> dict[str, Any]:
    return {
        "action": change.action.value,
        "inference_id": change.inference_id,
        "task_type": change.task_type,
        "service": change.service,
        "address": change.address,
        "paths": [dotted(path) for path in change.paths],
        "secret_paths": [dotted(path) for path in change.secret_paths],
        "reason": wording.reason(change, cluster_version),
        "reason_kind": change.reason.value,
        "before": plain(change.before) if change.before is not None else None,
        "after": plain(change.after) if change.after is not None else None,
        "in_use_by": {
            "pipelines": list(change.in_use_by.pipelines),
            "indices": list(change.in_use_by.indices),
        },
        "notes": list(change.notes),
        "adopt": change.adopt,
        "owner": change.owner or None,
        "conflict": change.conflict,
        "moved": change.moved,
        "drift": [dotted(path) for path in change.drift],
        "live_task_type": (change.live_task_type or None) if change.action.writes else None,
    }
