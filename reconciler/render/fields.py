"""Field-level view of one change, shared by every human-readable renderer.

Owns flattening a change's ``before``/``after`` bodies (nested blocks
``service_settings``, ``task_settings``, ``chunking_settings``) to dotted
paths, the list of ``FieldDiff`` entries a reader is shown, and how a single
value is written. Secrets reach this module only as the masks the planner put
in ``before``/``after``; it never sees a secret value and invents none.

It does not decide what changed (``plan.py`` did); it only lays out the
difference between the two sides the plan carries. Pure: no I/O.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model import dotted
from reconciler.plan import Change
from reconciler.secrets import SENSITIVE, SENSITIVE_CHANGED

MASKS = (SENSITIVE, SENSITIVE_CHANGED)


class Kind(enum.Enum):
    ADD = "+"
    REMOVE = "-"
    CHANGE = "~"
    SECRET = "secret"  # a secret whose fingerprint moved: shown only as a mask
    PATH = "path"  # a changed path whose values the plan does not carry (task_type, service)


@dataclass(frozen=True, kw_only=True)
class FieldDiff:
    kind: Kind
    path: str
    before: Any = None
    after: Any = None


def flatten(body: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """Leaves of a nested mapping keyed by dotted path; lists are leaves, like ``diff.py``."""
    leaves: dict[str, Any] = {}
    for key, value in (body or {}).items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            leaves.update(flatten(value, prefix=dotted + "."))
        elif not (isinstance(value, Mapping) and not prefix):  # an empty top-level block is absent
            leaves[dotted] = value
    return leaves


def is_mask(value: Any) -> bool:
    return isinstance(value, str) and value in MASKS


def field_diffs(change: Change) -> tuple[FieldDiff, ...]:
    """What a reader is shown for one change, sorted by path.

    A create lists every field of ``after`` as added, a delete every field of
    ``before`` as removed. A secret mask that only ``after`` has is not a
    change when there is a live side: Elasticsearch never returns secrets, so
    ``before`` cannot hold one. Moved secrets come from ``secret_paths``.
    """
    before = flatten(change.before)
    after = flatten(change.after)
    moved = {dotted(path) for path in change.secret_paths}
    diffs: list[FieldDiff] = []
    for path in sorted(set(before) | set(after)):
        if path in moved:
            continue
        if path in before and path in after:
            if before[path] != after[path]:
                diffs.append(
                    FieldDiff(kind=Kind.CHANGE, path=path, before=before[path], after=after[path])
                )
        elif path in after:
            if change.before is not None and is_mask(after[path]):
                continue
            diffs.append(FieldDiff(kind=Kind.ADD, path=path, after=after[path]))
        else:
            diffs.append(FieldDiff(kind=Kind.REMOVE, path=path, before=before[path]))
    diffs.extend(FieldDiff(kind=Kind.SECRET, path=path, after=SENSITIVE_CHANGED) for path in moved)
    diffs.extend(_uncovered_paths(change, diffs))
    return tuple(sorted(diffs, key=lambda diff: diff.path))


def _uncovered_paths(change: Change, diffs: list[FieldDiff]) -> list[FieldDiff]:
    """Changed paths the bodies cannot show, such as ``task_type`` on a replace."""
    extra: list[FieldDiff] = []
    for path in map(dotted, change.paths):
        if any(_related(path, diff.path) for diff in diffs):
            continue
        if (
            path == "task_type"
            and change.live_task_type
            and change.live_task_type != change.task_type
        ):
            extra.append(
                FieldDiff(
                    kind=Kind.CHANGE,
                    path=path,
                    before=change.live_task_type,
                    after=change.task_type,
                )
            )
        else:
            extra.append(FieldDiff(kind=Kind.PATH, path=path))
    return extra


def _related(first: str, second: str) -> bool:
    return first == second or first.startswith(second + ".") or second.startswith(first + ".")


def changed_fields(change: Change) -> tuple[str, ...]:
    """The dotted paths a change touches, as the planner named them (secrets included)."""
    return tuple(sorted({dotted(path) for path in change.paths + change.secret_paths}))


def format_value(value: Any) -> str:
    """One value as a reader sees it: JSON, except masks, which stay bare."""
    if is_mask(value):
        return str(value)
    return json.dumps(plain(value), ensure_ascii=False, sort_keys=False)


def diff_line(diff: FieldDiff) -> str:
    """One field diff on one line: ``~ a.b: "x" -> "y"``, ``+ a.c: 5``, ``- a.d: "u"``."""
    if diff.kind is Kind.SECRET:
        return f"~ {diff.path} {SENSITIVE_CHANGED}"
    if diff.kind is Kind.PATH:
        return f"~ {diff.path} (changed)"
    if diff.kind is Kind.ADD:
        return f"+ {diff.path}: {format_value(diff.after)}"
    if diff.kind is Kind.REMOVE:
        return f"- {diff.path}: {format_value(diff.before)}"
    return f"~ {diff.path}: {format_value(diff.before)} -> {format_value(diff.after)}"


def unified_lines(diff: FieldDiff) -> list[str]:
    """One field diff as ``diff``-syntax lines: a change is a ``-`` line and a ``+`` line."""
    if diff.kind is Kind.ADD:
        return [f"+ {diff.path}: {format_value(diff.after)}"]
    if diff.kind is Kind.REMOVE:
        return [f"- {diff.path}: {format_value(diff.before)}"]
    if diff.kind is Kind.SECRET:
        return [f"- {diff.path}: {SENSITIVE}", f"+ {diff.path}: {SENSITIVE_CHANGED}"]
    if diff.kind is Kind.PATH:
        return [f"! {diff.path} (changed)"]
    return [
        f"- {diff.path}: {format_value(diff.before)}",
        f"+ {diff.path}: {format_value(diff.after)}",
    ]


def tree_lines(body: Mapping[str, Any] | None, indent: str = "  ") -> list[str]:
    """A nested mapping as an indented tree of ``key: value`` lines."""
    lines: list[str] = []
    for key, value in (body or {}).items():
        if isinstance(value, Mapping) and value:
            lines.append(f"{key}:")
            lines.extend(indent + line for line in tree_lines(value, indent))
        else:
            lines.append(f"{key}: {format_value(value)}")
    return lines


def plain(value: Any) -> Any:
    """A copy made of dicts, lists and scalars only (``Mapping`` and tuples converted)."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value
