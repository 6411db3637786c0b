"""The markdown rendering of a plan, for one sticky pull-request comment.

Owns the comment's layout: the hidden marker line CI uses to find and edit
the comment, a title, a summary table, a warning banner for destructive
changes, a table of changes, per-change details collapsed in ``<details>``
with a ``diff`` block, the unchanged endpoints (counted; listed only when
verbose), unmanaged ids and warnings. It also owns the size
rule: GitHub refuses comments over 65,535 characters, so the summary and
banner always stay, and rows and details are added only while they fit in
``BUDGET``; the rest is counted in a note that points to the full plan.
Secrets appear only as the masks the planner put in the plan. Pure: returns
text, never prints.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from reconciler.plan import CHANGED_SINCE_APPLY, ORDER, Action, Change, Plan
from reconciler.render import wording
from reconciler.render.fields import changed_fields, field_diffs, format_value, unified_lines

MARKER = "<!-- reconciler-plan -->"
GITHUB_LIMIT = 65_535
BUDGET = 60_000  # the whole comment; leaves room for text CI may add around it
BANNER_BUDGET = 12_000
TAIL_BUDGET = 6_000
NOTE_RESERVE = 600
NAMES_SHOWN = 10  # pipelines / indices named per endpoint in the banner
FIELDS_SHOWN = 5  # paths named per row of the changes table


def render_markdown(plan: Plan, *, drift: bool = False, verbose: bool = False) -> str:
    """The plan as a pull-request comment (or a drift issue body), under ``BUDGET`` characters.

    Unchanged endpoints are only counted (in the summary table), unless ``verbose`` lists them
    in one collapsed block after the changes, as far as the budget allows.
    """
    writes = [change for change in plan.changes if change.action.writes]
    head = "\n\n".join(
        part
        for part in (_title(plan, drift), _counts(plan), _banner(writes), _policy(plan))
        if part
    )
    tail = "\n\n".join(
        part for part in (_left_alone(plan), _unmanaged(plan), _warnings(plan)) if part
    )
    room = BUDGET - len(head) - len(tail) - NOTE_RESERVE
    parts = [head]
    if writes:
        table_head = "### Changes\n\n| Action | Endpoint | Fields changed | Reason |\n| --- | --- | --- | --- |"
        rows, rows_hidden = _fit(
            (_row(change, plan.cluster_version) for change in writes),
            room - len(table_head) - 2,
            "\n",
        )
        parts.append("\n".join([table_head, *rows]))
        room -= len(parts[-1]) + 2
        details, details_hidden = _fit(
            (_details(change, plan.cluster_version, drift=drift) for change in writes),
            room,
            "\n\n",
        )
        parts.extend(details)
        room -= sum(len(part) + 2 for part in details)
        if rows_hidden or details_hidden:
            parts.append(_truncation_note(len(writes), rows_hidden, details_hidden))
    unchanged = [change for change in plan.changes if not change.action.writes]
    if verbose and unchanged:
        parts.append(_unchanged(unchanged, room))
    parts.append(tail)
    return "\n\n".join(part for part in parts if part)


def _policy(plan: Plan) -> str:
    """The region policy's change: a short section of its own (it decides where EIS runs)."""
    symbol, lines = wording.policy_lines(plan)
    if not lines:
        return ""
    caution = plan.region_policy is not None and plan.region_policy.denies_in_use
    head = "> [!CAUTION]\n> " if caution else ""
    details = "\n".join(f"- {line}" for line in lines[1:])
    return f"### Region policy\n\n{head}`{symbol}` {lines[0]}\n\n{details}".rstrip()


def _title(plan: Plan, drift: bool) -> str:
    lines = [
        MARKER,
        "## Inference endpoints: drift report" if drift else "## Inference endpoints: plan",
        "",
    ]
    if drift:
        lines.append(f"**{wording.drift_line(plan)}**")
    else:
        lines.append(f"**{wording.summary_line(plan)}**")
    if plan.cluster_version:
        lines.append(f"Elasticsearch {_code(plan.cluster_version)}.")
    if plan.state:
        lines.append(f"State document {_code(plan.state)}.")
    return "\n".join(lines)


def _counts(plan: Plan) -> str:
    rows = ["| Action | Count |", "| --- | ---: |"]
    rows += [f"| {_symbol(action)} {action.value} | {plan.count(action)} |" for action in ORDER]
    verdict = plan.verdict
    rows += [
        f"| {label} | {count} |"
        for label, count in (
            ("! conflict", verdict.conflicts),
            ("> hand over", verdict.moves),
            ("! no longer declared (kept)", verdict.kept),
            ("! drift left alone", verdict.held),
        )
        if count
    ]
    return "\n".join(rows)


def _banner(writes: list[Change]) -> str:
    destructive = [change for change in writes if change.action.destructive]
    if not destructive:
        return ""
    lines = [
        "> [!WARNING]",
        f"> This plan destroys {len(destructive)} endpoint(s); "
        "anything using them breaks until they are recreated.",
    ]
    items, hidden = _fit((_banner_item(change) for change in destructive), BANNER_BUDGET, "\n")
    lines += items
    if hidden:
        lines.append(f"> - ... and {hidden} more (see the table and the full plan)")
    if any(wording.blocked_in_use(change) for change in destructive):
        lines.append(
            ">\n> Apply refuses to destroy an endpoint in use unless `--allow-destroy-in-use` is given."
        )
    return "\n".join(lines)


def _banner_item(change: Change) -> str:
    item = f"> - **{change.action.value}** {_code(change.address)}"
    if not change.in_use_by.empty:
        item += f": in use by {_escape_text(wording.in_use(change.in_use_by, limit=NAMES_SHOWN))}"
    return item


def _row(change: Change, cluster_version: str) -> str:
    if change.action is Action.CREATE:
        fields = "(new endpoint)"
    elif change.action is Action.DELETE:
        fields = "(whole endpoint)"
    else:
        paths = changed_fields(change)
        fields = ", ".join(paths[:FIELDS_SHOWN]) + (
            f" (+{len(paths) - FIELDS_SHOWN} more)" if len(paths) > FIELDS_SHOWN else ""
        )
    cells = [
        _symbol(change.action),
        _cell(change.address),
        _cell(fields),
        _cell(wording.reason(change, cluster_version)),
    ]
    return "| " + " | ".join(cells) + " |"


def _details(change: Change, cluster_version: str, *, drift: bool) -> str:
    summary = (
        f"<code>{html.escape(change.action.symbol)}</code> "
        f"<b>{html.escape(change.address)}</b> {wording.outcome(change, drift=drift)}"
        + (f" {html.escape(wording.adoption(change))}" if change.adopt else "")
    )
    body = []
    reason = wording.reason(change, cluster_version)
    if reason:
        body.append(f"Reason: {_escape_text(reason)}")
    if wording.blocked_in_use(change):
        body.append(
            f"**In use by** {_escape_text(wording.in_use(change.in_use_by))}: {wording.REFUSAL}."
        )
    body += [f"- note: {_escape_text(note)}" for note in change.notes]
    body.append(_fenced("diff", _diff_lines(change)))
    return f"<details><summary>{summary}</summary>\n\n" + "\n\n".join(body) + "\n\n</details>"


def _unchanged(unchanged: list[Change], room: int) -> str:
    head = f"<details><summary>{len(unchanged)} unchanged endpoint(s)</summary>\n\n"
    foot = "\n\n</details>"
    items, hidden = _fit(
        (f"- {_code(change.address)}" for change in unchanged),
        max(0, room - len(head) - len(foot) - 80),
        "\n",
    )
    if hidden:
        items.append(f"- ... and {hidden} more (see the JSON plan)")
    return head + "\n".join(items) + foot


def _diff_lines(change: Change) -> list[str]:
    lines = [f"+ service: {format_value(change.service)}"] if change.action is Action.CREATE else []
    for diff in field_diffs(change):
        lines += unified_lines(diff)
    return lines


def _truncation_note(total: int, rows_hidden: int, details_hidden: int) -> str:
    if rows_hidden:
        hidden = f"{rows_hidden} of {total} changes are not shown in the table and {details_hidden} not in detail"
    else:
        hidden = f"{details_hidden} of {total} changes are not shown in detail"
    return (
        f"> [!NOTE]\n> Truncated to fit a GitHub comment: {hidden}. "
        "See the full plan in the job log or the JSON plan artifact."
    )


def _left_alone(plan: Plan) -> str:
    parts = []
    for title, lines in (
        ("Adopted", wording.adoptions(plan)),
        ("Secrets not tracked", [hint] if (hint := wording.untracked_hint(plan)) else []),
        ("Blocked (not planned)", list(plan.blocked)),
        ("Handed over", wording.moves(plan)),
        ("Left alone", wording.left_alone(plan) + _held_notes(plan)),
    ):
        if lines:
            parts.append(f"### {title}\n\n" + "\n".join(f"- {_escape_text(x)}" for x in lines))
    return "\n\n".join(parts)


def _held_notes(plan: Plan) -> list[str]:
    """What the drift left alone moved from and to (a server-filled value's note says both)."""
    return [
        f"{change.address}: {note}"
        for change in plan.changes
        if change.drift and not change.action.writes
        for note in change.notes
        if CHANGED_SINCE_APPLY in note
    ]


def _unmanaged(plan: Plan) -> str:
    lines = []
    for title, ids in (
        ("**Unmanaged endpoints** (not in the desired state; left alone): ", plan.unmanaged),
        ("**Managed by other directories** (not declared here; left alone): ", plan.elsewhere),
    ):
        if ids:
            names, hidden = _fit((_code(name) for name in ids), TAIL_BUDGET // 4, ", ")
            lines.append(title + ", ".join(names) + (f" and {hidden} more" if hidden else ""))
    return "\n\n".join(lines)


def _warnings(plan: Plan) -> str:
    lines, hidden = _fit(
        (f"> **Warning:** {_escape_text(w)}" for w in plan.warnings), TAIL_BUDGET // 2, "\n>\n"
    )
    if hidden:
        lines.append(f"> ... and {hidden} more warning(s) (see the job log)")
    return "\n>\n".join(lines)


def _fit(pieces: Iterable[str], budget: int, separator: str) -> tuple[list[str], int]:
    """The leading pieces whose joined length stays within ``budget``, and how many were left out."""
    kept: list[str] = []
    used = 0
    hidden = 0
    for piece in pieces:
        cost = len(piece) + (len(separator) if kept else 0)
        if hidden or used + cost > budget:
            hidden += 1
            continue
        kept.append(piece)
        used += cost
    return kept, hidden


def _symbol(action: Action) -> str:
    return f"`{action.symbol}`" if action.writes else ""


def _cell(text: str) -> str:
    """Table cell text: pipes and backticks escaped, no line breaks, no raw HTML."""
    escaped = text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
    return html.escape(" ".join(escaped.split()), quote=False)


def _escape_text(text: str) -> str:
    return html.escape(" ".join(text.split()), quote=False)


def _code(text: str) -> str:
    """Inline code that survives backticks inside ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest else f"{fence}{text}{fence}"


def _fenced(language: str, lines: list[str]) -> str:
    content = "\n".join(lines)
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{content}\n{fence}"
