"""Field-level differences between two normalised views (deepdiff underneath).

Owns one question: which field paths differ between desired and live, as
``FieldPath`` tuples (``("service_settings", "model_id")``). Lists compare whole: a
changed separator list is one changed path. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from reconciler.model import FieldPath
from reconciler.normalize import View


def changed_paths(desired: View, live: View) -> tuple[FieldPath, ...]:
    """Sorted field paths where the two views differ; () when equal."""
    if desired == live:  # the common case, without deepdiff's cost
        return ()
    # imported here, not at the top: importing deepdiff costs more than most plans spend diffing
    from deepdiff import DeepDiff

    difference = DeepDiff(live, desired, view="tree", verbose_level=2)
    paths: set[FieldPath] = set()
    for items in difference.values():
        for item in items:
            parts = _field(item.path(output_format="list"))
            if len(parts) == 1:  # a whole block added or removed: name its fields
                block = parts[0]
                keys = set(desired.get(block, {})) | set(live.get(block, {}))
                paths.update((block, key) for key in keys)
            else:
                paths.add(tuple(parts))
    return tuple(sorted(paths))


def _field(parts: list[Any]) -> list[str]:
    """A change deep inside a field (a list element, rate_limit.requests_per_minute) is a change of the field."""
    kept: list[str] = []
    for part in parts[:2]:
        if isinstance(part, int):
            break
        kept.append(str(part))
    return kept


def removed_keys(desired: View, live: View, block: str) -> tuple[str, ...]:
    """Keys of ``block`` present live but no longer declared."""
    return tuple(sorted(set(live.get(block, {})) - set(desired.get(block, {}))))
