"""The values the server filled in at the last apply: a baseline for fields nobody declared.

Owns one value, ``Baseline`` (the cluster version it was read on and, per dotted field, the value
the endpoint carried), how apply takes it from an endpoint it has just written or seen
(``taken``: every undeclared key of the endpoint's settings, never a secret), and how a plan
tells which of the fields it compares moved since (``moved``: keys present on both sides, the
same cluster version, compared as the server wrote them). Which fields are compared is the
planner's business (the catalog's server-filled fields, minus those the server itself changes);
recording more than is compared costs a few bytes and keeps apply free of the catalog.
docs/plan-and-apply.md ("Server-filled values") and docs/state-document.md tell the rules.
Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from reconciler.model import FieldPath, LiveEndpoint, copied, dotted
from reconciler.scrub import holds_secret

CHUNKING = "chunking_settings"  # one field, as it is declared


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """What the server had filled in for an endpoint's undeclared fields, on ``version``."""

    version: str
    values: Mapping[str, Any] = field(default_factory=dict)  # dotted field -> value as listed

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "values": dict(sorted(self.values.items()))}

    @classmethod
    def from_json(cls, document: Any) -> Baseline | None:
        """The baseline a state document holds; None for one we cannot read (it only adds)."""
        if not isinstance(document, Mapping) or not isinstance(document.get("values"), Mapping):
            return None
        return cls(version=str(document.get("version") or ""), values=dict(document["values"]))

    @cached_property
    def key(self) -> str:
        """The canonical text of the baseline: endpoints with equal baselines share one entry."""
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))


def taken(
    live: LiveEndpoint,
    *,
    declared: Iterable[str],
    version: str,
    held: Mapping[str, Any] | None = None,
    checked: dict[int, tuple[Any, bool]] | None = None,
) -> Baseline:
    """The baseline of ``live`` as apply saw it: each key of its service and task settings that
    the spec did not declare, and its chunking settings unless declared; ``held`` (see
    ``kept_values``) are recorded values kept over what ``live`` shows. A
    value in which a secret of this run appears is never recorded (GET hides secrets; this is
    the second lock). ``checked``: the values found clean or not so far, by identity (alike
    endpoints of one listing share their values), for a caller taking many baselines."""
    names = frozenset(declared)
    values: dict[str, Any] = {}
    for block in ("service_settings", "task_settings"):
        for key, value in live.block(block).items():
            if f"{block}.{key}" not in names:
                values[f"{block}.{key}"] = value
    chunking = live.block(CHUNKING)
    if chunking and CHUNKING not in names:
        values[CHUNKING] = chunking
    values.update(held or {})
    return Baseline(
        version=version,
        values={
            name: copied(value)
            for name, value in values.items()
            if not (_secret(value) if checked is None else _secret_seen(value, checked))
        },
    )


def kept_values(
    before: Baseline | None,
    *,
    version: str,
    drift: Iterable[FieldPath],
    sent: Iterable[FieldPath] | None = None,
) -> dict[str, Any]:
    """The recorded values a new baseline keeps (read on the same cluster version): those of the
    fields in ``drift`` (left alone by the plan: drift until undone); after an update (``sent``:
    the fields it sent), those of every field it did not send, since an update changes nothing
    else: a release that rewrites chunking on any update (Elasticsearch issue 139574) shows as
    drift at the next plan instead of becoming the baseline."""
    if before is None or before.version != version:
        return {}
    if sent is not None:
        changed = {_name(path) for path in sent}
        return {name: value for name, value in before.values.items() if name not in changed}
    names = {_name(path) for path in drift}
    return {name: value for name, value in before.values.items() if name in names}


def _name(path: FieldPath) -> str:
    """The recorded name of the field a changed path belongs to (chunking settings are one)."""
    return CHUNKING if path[:1] == (CHUNKING,) else dotted(path[:2])


def _secret(value: Any) -> bool:
    return holds_secret(json.dumps(value, sort_keys=True))


def _secret_seen(value: Any, checked: dict[int, tuple[Any, bool]]) -> bool:
    known = checked.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    found = _secret(value)
    checked[id(value)] = (value, found)  # the value kept: its id stays its own
    return found


def moved(
    baseline: Baseline, live: LiveEndpoint, *, fields: Iterable[FieldPath]
) -> dict[FieldPath, Any]:
    """Of ``fields``, those whose value in ``live`` differs from the baseline's: field -> the
    baseline's value. A field missing on either side is not compared (a release that starts or
    stops showing a key is not drift)."""
    found: dict[FieldPath, Any] = {}
    for path in fields:
        name = _NAMES.get(path) or _NAMES.setdefault(path, dotted(path))
        if name not in baseline.values:
            continue
        if path == (CHUNKING,):
            now: Any = live.block(CHUNKING) or _ABSENT
        else:
            now = live.block(str(path[0])).get(str(path[1]), _ABSENT)
        if now is not _ABSENT and now != baseline.values[name]:
            found[path] = baseline.values[name]
    return found


_ABSENT = object()
_NAMES: dict[FieldPath, str] = {}  # dotted names of the fields compared (a few dozen paths)
