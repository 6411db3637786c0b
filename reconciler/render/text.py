"""The Terraform-like text rendering of a plan, for terminals and job logs.

Owns the layout: one block per endpoint that changes (header with the action
symbol, the reason, the changed fields, notes, in-use warnings), unmanaged
ids, warnings, then the summary line (or the drift headline for cron jobs).
Colour is ANSI SGR, the same codes ``click.style`` emits, written here so
that this pure package does not import click. It reads a ``Plan`` and
returns a string: it never prints.
"""

from __future__ import annotations

from reconciler.plan import Action, Change, Plan
from reconciler.render import wording
from reconciler.render.fields import (
    FieldDiff,
    Kind,
    diff_line,
    field_diffs,
    format_value,
    tree_lines,
)

INDENT = "      "
COLOURS = {"green": 32, "yellow": 33, "red": 31, "magenta": 35}
ACTION_COLOUR = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.REPLACE: "magenta",
    Action.DELETE: "red",
}
KIND_COLOUR = {Kind.ADD: "green", Kind.REMOVE: "red"}


class _Painter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, fg: str | None = None, *, bold: bool = False) -> str:
        if not self.enabled or not text:
            return text
        codes = (f"\x1b[{COLOURS[fg]}m" if fg else "") + ("\x1b[1m" if bold else "")
        return f"{codes}{text}\x1b[0m" if codes else text


def render_text(plan: Plan, *, color: bool = False, drift: bool = False) -> str:
    """The plan as a terminal reads it; ANSI colour only when ``color`` is true."""
    paint = _Painter(color)
    writes = [change for change in plan.changes if change.action.writes]
    unchanged = [change for change in plan.changes if not change.action.writes]
    sections: list[str] = [f"State document: {plan.state}" if plan.state else ""]
    if drift:
        sections.append(paint(wording.drift_line(plan), bold=True) if writes else "")
    elif writes:
        sections.append("The reconciler will perform the following actions:")
    shown = writes or ([] if drift else unchanged)
    sections.extend(_block(change, paint, plan.cluster_version) for change in shown)
    if writes and unchanged:
        sections.append(f"{len(unchanged)} unchanged endpoint(s) not shown.")
    held = wording.left_alone(plan)
    if held:
        sections.append("\n".join(paint("!", "yellow", bold=True) + f" {line}" for line in held))
    if plan.unmanaged:
        sections.append(
            "Unmanaged endpoints (not in the desired state; left alone): "
            + ", ".join(plan.unmanaged)
        )
    if plan.warnings:
        sections.append(
            "\n".join(paint("Warning:", "yellow", bold=True) + f" {w}" for w in plan.warnings)
        )
    sections.append(_closing(plan, paint, drift=drift))
    return "\n\n".join(section for section in sections if section)


def _closing(plan: Plan, paint: _Painter, *, drift: bool) -> str:
    if drift and plan.differs and not plan.has_changes:
        return paint(
            "Apply would change nothing: what differs is left alone (see above).", bold=True
        )
    if not plan.has_changes:
        return paint(wording.NO_DRIFT if drift else wording.NO_CHANGES, bold=True)
    return paint(wording.summary_line(plan), bold=True)


def _block(change: Change, paint: _Painter, cluster_version: str) -> str:
    colour = ACTION_COLOUR.get(change.action)
    symbol = paint(change.action.symbol.rjust(3), colour, bold=True)
    header = f"{symbol} {paint(change.address, bold=True)} {wording.OUTCOME[change.action]}"
    lines = [" ".join(part for part in (header, wording.adoption(change)) if part)]
    reason = wording.reason(change, cluster_version)
    if reason:
        lines.append(f"{INDENT}reason: {reason}")
    if change.action is Action.CREATE:
        tree = [f"service: {format_value(change.service)}", *tree_lines(change.after)]
        lines.extend(INDENT + paint(line, "green") for line in tree)
    elif change.action.writes:
        lines.extend(INDENT + _field_line(diff, paint) for diff in field_diffs(change))
    lines.extend(f"{INDENT}{paint('# note:', 'yellow')} {note}" for note in change.notes)
    if wording.blocked_in_use(change):
        lines.append(
            INDENT + paint(f"! in use by {wording.in_use(change.in_use_by)}", "red", bold=True)
        )
        lines.append(INDENT + paint(f"! {wording.REFUSAL}", "red"))
    return "\n".join(lines)


def _field_line(diff: FieldDiff, paint: _Painter) -> str:
    line = diff_line(diff)
    symbol, rest = line[:1], line[1:]
    return paint(symbol, KIND_COLOUR.get(diff.kind, "yellow"), bold=True) + rest
