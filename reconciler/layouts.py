"""Old layouts that Elasticsearch still accepts, and the current layout it reads them as.

Owns one question: given a spec body, what does the server make of a layout
from an earlier release (OpenAI's ``task_settings.model`` of 8.12, Cohere's
``service_settings.model``, the ``elser`` service name)? The facts are the
catalog's ``legacy_layouts`` (with the parser each comes from); this module
only applies them. A *move* is what the server itself does on every PUT, so
``validate`` applies it and the plan compares the current layout; a
*service* rename is what the deprecation warning asks for, applied only when
a user says ``convert --modernise`` (the server keeps accepting the old
name). Pure: no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.catalog import Catalog

Where = tuple[str, ...]  # (block, key) or ("service",): a FieldPath without list indices


@dataclass(frozen=True, kw_only=True)
class Change:
    """One old-layout element found in a body, and what it becomes."""

    source: Where  # where the old layout put the value
    target: Where  # where the current layout puts it (the service name: ("service",))
    value: Any
    applied: bool  # False: the server keeps the old element (both were given, or a rename)
    message: str


@dataclass(frozen=True, kw_only=True)
class Layout:
    body: dict[str, Any]
    changes: tuple[Change, ...]


def _split(dotted: str) -> Where:
    return tuple(dotted.split("."))


def _get(body: Mapping[str, Any], path: Where) -> Any:
    block = body.get(path[0])
    return block.get(path[1]) if isinstance(block, Mapping) and len(path) == 2 else None


def _has(body: Mapping[str, Any], path: Where) -> bool:
    block = body.get(path[0])
    return isinstance(block, Mapping) and path[1] in block


def current_layout(body: Any, catalog: Catalog, *, rename_service: bool = False) -> Layout:
    """``body`` as the server reads it (its moves applied); the service renamed too on request."""
    if not isinstance(body, Mapping) or not isinstance(body.get("service"), str):
        return Layout(body=body, changes=())
    entries = (catalog.raw.get("legacy_layouts") or {}).get(body["service"], ())
    if not entries:
        return Layout(body=dict(body), changes=())
    result = copy.deepcopy(dict(body))
    changes: list[Change] = []
    for entry in entries:
        if "move" in entry:
            found = _move(result, _split(entry["move"]), _split(entry["to"]), entry["when_both"])
            changes.extend(found)
        elif "service" in entry:
            changes.append(_rename(result, entry, apply=rename_service))
    return Layout(body=result, changes=tuple(changes))


def may_have_old_layout(body: Any, catalog: Catalog) -> bool:
    """False when ``current_layout`` would find nothing in ``body`` (asked per spec: no copy)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("service"), str):
        return False
    entries = (catalog.raw.get("legacy_layouts") or {}).get(body["service"], ())
    return any("move" not in entry or _has(body, _split(entry["move"])) for entry in entries)


def _move(body: dict[str, Any], source: Where, target: Where, when_both: str) -> list[Change]:
    if not _has(body, source):
        return []
    value = _get(body, source)
    where, to = ".".join(source), ".".join(target)
    if _has(body, target):
        if when_both != "ignored":
            return []  # the server leaves it where it is, and refuses it as unknown there
        del body[source[0]][source[1]]
        message = f"{where} is an old name of {to}; with both given, Elasticsearch ignores {where}"
        return [Change(source=source, target=target, value=value, applied=True, message=message)]
    del body[source[0]][source[1]]
    if not body[source[0]] and source[0] == "task_settings":  # {} and absent are the same
        del body[source[0]]
    body.setdefault(target[0], {})
    if isinstance(body[target[0]], dict):
        body[target[0]][target[1]] = value
    message = (
        f"{where} is an old layout that Elasticsearch still accepts and reads as {to}; "
        f"the current layout is {to}: {value}"
    )
    return [Change(source=source, target=target, value=value, applied=True, message=message)]


def _rename(body: dict[str, Any], entry: Mapping[str, Any], *, apply: bool) -> Change:
    old, new = body["service"], entry["service"]
    defaults = {_split(k): v for k, v in (entry.get("default") or {}).items()}
    shown = ", ".join(
        f"{'.'.join(path)} {value}" for path, value in defaults.items() if not _has(body, path)
    )
    message = (
        f"service '{old}' is deprecated: Elasticsearch stores it as '{new}'; the current layout "
        f"is service: {new}" + (f" with {shown}" if shown else "")
    )
    if apply and shown and entry.get("caveat"):
        message += f" ({entry['caveat']})"
    if apply:
        body["service"] = new
        for path, value in defaults.items():
            if not _has(body, path):
                body.setdefault(path[0], {})[path[1]] = value
    return Change(
        source=("service",), target=("service",), value=new, applied=apply, message=message
    )
