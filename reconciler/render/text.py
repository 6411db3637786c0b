"""The Terraform-like text rendering of a plan, for terminals and job logs.

Owns the layout: one block per endpoint that changes (header with the action
symbol, the reason, the changed fields, notes, in-use warnings), one line
counting the unchanged endpoints and one line per distinct note they carry
(``verbose`` lists them with their notes instead), unmanaged
ids on one line, warnings, then the summary line (or the drift headline and
summary for cron jobs).
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
UNMANAGED_SHOWN = 10  # ids named on the unmanaged line; --verbose names them all
NOTE_NAMES_SHOWN = 3  # endpoints named on the line of a note that unchanged endpoints share


class _Painter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, fg: str | None = None, *, bold: bool = False) -> str:
        if not self.enabled or not text:
            return text
        codes = (f"\x1b[{COLOURS[fg]}m" if fg else "") + ("\x1b[1m" if bold else "")
        return f"{codes}{text}\x1b[0m" if codes else text


def render_text(
    plan: Plan, *, color: bool = False, drift: bool = False, verbose: bool = False
) -> str:
    """The plan as a terminal reads it; ANSI colour only when ``color`` is true.

    Unchanged endpoints are counted, not listed, unless ``verbose``: the output grows with what
    changes, not with what exists.
    """
    paint = _Painter(color)
    writes = [change for change in plan.changes if change.action.writes]
    unchanged = [c for c in plan.changes if not c.action.writes and not c.conflict]
    sections: list[str] = [f"State document: {plan.state}" if plan.state else ""]
    if drift:
        sections.append(paint(wording.drift_line(plan), bold=True) if plan.differs else "")
    elif writes or plan.has_changes:
        sections.append("The reconciler will perform the following actions:")
    sections.extend(
        _block(change, paint, drift=drift, cluster_version=plan.cluster_version)
        for change in writes
    )
    symbol, policy = wording.policy_lines(plan)
    if policy:
        colour = {"+": "green", "~": "yellow", "-": "red", "!": "yellow"}[symbol]
        head = f"{paint(symbol.rjust(3), colour, bold=True)} {paint(policy[0], bold=True)}"
        sections.append("\n".join([head, *(f"{INDENT}{line}" for line in policy[1:])]))
    if verbose and unchanged:
        sections.append("\n".join(_unchanged_lines(unchanged, paint, drift)))
    else:
        if writes and unchanged:
            sections.append(wording.unchanged_line(len(unchanged)))
        sections.append(_grouped_notes(unchanged, paint))
    hint = wording.untracked_hint(plan)
    if hint:
        sections.append(f"{paint('# note:', 'yellow')} {hint}")
    adopted = wording.adoptions(plan)
    if adopted:
        sections.append("\n".join(paint("+", "green", bold=True) + f" {line}" for line in adopted))
    moving = wording.moves(plan)
    if moving:
        sections.append("\n".join(paint(">", "yellow", bold=True) + f" {line}" for line in moving))
    held = wording.left_alone(plan)
    if held:
        sections.append("\n".join(paint("!", "yellow", bold=True) + f" {line}" for line in held))
    if plan.unmanaged:
        sections.append(_unmanaged(plan.unmanaged, verbose=verbose))
    if plan.elsewhere:
        sections.append(_elsewhere(plan.elsewhere, verbose=verbose))
    if plan.blocked:
        sections.append(
            "\n".join(paint("! blocked:", "red", bold=True) + f" {line}" for line in plan.blocked)
        )
    if plan.warnings:
        sections.append(
            "\n".join(paint("Warning:", "yellow", bold=True) + f" {w}" for w in plan.warnings)
        )
    sections.append(_closing(plan, paint, drift=drift))
    return "\n\n".join(section for section in sections if section)


def _closing(plan: Plan, paint: _Painter, *, drift: bool) -> str:
    return paint(wording.drift_summary(plan) if drift else wording.summary_line(plan), bold=True)


def _unchanged_lines(unchanged: list[Change], paint: _Painter, drift: bool) -> list[str]:
    lines = []
    for change in unchanged:
        lines.append(
            f"    {paint(change.address, bold=True)} {wording.outcome(change, drift=drift)}"
        )
        lines.extend(f"{INDENT}{paint('# note:', 'yellow')} {note}" for note in change.notes)
    return lines


def _grouped_notes(unchanged: list[Change], paint: _Painter) -> str:
    """The notes of unchanged endpoints, one line per distinct note naming the first few endpoints.

    A note (a secret rotation cannot be seen, say) often holds for many endpoints at once: one
    line each would make the output grow with what exists again.
    """
    addresses: dict[str, list[str]] = {}
    for change in unchanged:
        for note in change.notes:
            addresses.setdefault(note, []).append(change.address)
    return "\n".join(
        f"{paint('# note:', 'yellow')} {note} ({_named(names, NOTE_NAMES_SHOWN)})"
        for note, names in addresses.items()
    )


def _named(names: list[str] | tuple[str, ...], limit: int) -> str:
    shown = names[:limit]
    more = f" and {len(names) - len(shown)} more" if len(shown) < len(names) else ""
    return ", ".join(shown) + more


def _unmanaged(names: tuple[str, ...], *, verbose: bool) -> str:
    """One line, whatever the number of ids: the first few named, the rest counted."""
    limit = len(names) if verbose else UNMANAGED_SHOWN
    return "Unmanaged endpoints (not in the desired state; left alone): " + _named(names, limit)


def _elsewhere(names: tuple[str, ...], *, verbose: bool) -> str:
    limit = len(names) if verbose else UNMANAGED_SHOWN
    return "Managed by other directories (not declared here; left alone): " + _named(names, limit)


def _block(change: Change, paint: _Painter, *, drift: bool, cluster_version: str) -> str:
    colour = ACTION_COLOUR.get(change.action)
    symbol = paint(change.action.symbol.rjust(3), colour, bold=True)
    header = f"{symbol} {paint(change.address, bold=True)} {wording.outcome(change, drift=drift)}"
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
