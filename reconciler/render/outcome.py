"""What apply did, for people and scripts: the live progress line and the JSON result.

Owns two renderings of an apply's outcomes: the one-line progress a terminal
shows while apply runs (done/total, rate, time left), and the versioned JSON
document of ``apply --format json`` (each change, its outcome and timing, the
summary). Reads values and returns text or plain JSON values; never prints.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.plan import Action, ApplyResult, Plan
from reconciler.render.json import FORMAT_VERSION, to_document

PHASES = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)


def progress_line(*, done: int, failed: int, total: int, elapsed: float) -> str:
    """``applying: 40/200 done (1 failed), 12.5/s, about 13 s left``."""
    finished = done + failed
    rate = finished / elapsed if elapsed > 0 else 0.0
    left = f", about {max(0, round((total - finished) / rate))} s left" if rate and total else ""
    failures = f" ({failed} failed)" if failed else ""
    return f"applying: {finished}/{total} done{failures}, {rate:.1f}/s{left}"


def result_document(plan: Plan, result: ApplyResult, *, exit_code: int) -> dict[str, Any]:
    """The apply as plain JSON values: the plan carried out, every outcome, the summary."""
    outcomes = [
        {
            "inference_id": o.change.inference_id,
            "address": o.change.address,
            "action": o.change.action.value,
            "ok": o.ok,
            "seconds": round(o.seconds, 3),
            "message": o.message or None,
            "lost": o.lost,
        }
        for o in result.outcomes
    ]
    summary = {action.value: result.count(action) for action in PHASES}
    summary["failed"] = len(result.failed)
    summary["lost"] = sum(1 for o in result.failed if o.lost)
    return {
        "format_version": FORMAT_VERSION,
        "plan": to_document(plan),
        "outcomes": outcomes,
        "differences": list(result.differences),
        "summary": summary,
        "region_policy": result.region_policy or None,
        "exit_code": exit_code,
    }


def render_result(plan: Plan, result: ApplyResult, *, exit_code: int) -> str:
    return json.dumps(result_document(plan, result, exit_code=exit_code), indent=2)
