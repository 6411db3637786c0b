"""Comparing an endpoint the cluster holds with the state a plan expected for it (pure).

Owns three uses of one comparison, by the comparison rules of the planner
(declared fields by value after normalising; what the server fills in for
fields nobody declared is allowed, whatever its value): the read-back after
apply (``Comparison.differences``), a create that met "already exists" after a
lost answer (``Comparison.matches``), and what a killed apply's intent tells
the next run (``recovered``: an endpoint that exists and matches the intent is
recorded with the intent's fingerprints). It never plans: the expected state is
the plan's (``plan.Expected``). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from reconciler.catalog import Catalog, parse_version
from reconciler.diff import changed_paths
from reconciler.model import FieldPath, LiveEndpoint, content_digest, dotted, undotted
from reconciler.normalize import View, live_view
from reconciler.plan import Action, Expected

if TYPE_CHECKING:  # the value only: the state store itself speaks HTTP
    from reconciler.state import State


@dataclass(frozen=True, kw_only=True)
class Comparison:
    catalog: Catalog
    version: str
    # answers given, by the identity of what was compared: apply's read-back asks for each
    # endpoint written, and its verification asks again about the same objects
    _answers: dict[tuple[int, int], tuple[Expected, LiveEndpoint | None, tuple[str, ...]]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def differences(self, expected: Expected, live: LiveEndpoint | None) -> tuple[str, ...]:
        """The fields where ``live`` differs from ``expected`` (dotted); ("absent",) if gone."""
        key = (id(expected), id(live))
        known = self._answers.get(key)
        if known is not None and known[0] is expected and known[1] is live:
            return known[2]
        found = self._differences(expected, live)
        self._answers[key] = (expected, live, found)
        return found

    def _differences(self, expected: Expected, live: LiveEndpoint | None) -> tuple[str, ...]:
        view = self._view(expected.task_type, expected.service, expected.compared, live)
        if isinstance(view, tuple):
            return view
        wanted = {block: dict(values) for block, values in expected.view.items()}
        ignored = set(expected.ignored)
        return tuple(dotted(p) for p in changed_paths(wanted, view) if p not in ignored)

    def matches(self, expected: Expected, live: LiveEndpoint | None) -> bool:
        return not self.differences(expected, live)

    def matches_summary(self, summary: Mapping[str, Any], live: LiveEndpoint | None) -> bool:
        """``matches`` for an ``Expected.summary()`` (as the intent record keeps it)."""
        compared = tuple(undotted(str(name)) for name in summary.get("compared") or ())
        view = self._view(
            str(summary.get("task_type")), str(summary.get("service")), compared, live
        )
        return not isinstance(view, tuple) and content_digest(view) == summary.get("digest")

    def _view(
        self,
        task_type: str,
        service: str,
        compared: tuple[FieldPath, ...],
        live: LiveEndpoint | None,
    ) -> View | tuple[str, ...]:
        """The live endpoint's view, compared fields kept; or why it cannot match at all."""
        if live is None:
            return ("absent",)
        version = parse_version(self.version)
        facts = self.catalog.facts(service, task_type, version)
        if live.task_type != task_type:
            return ("task_type",)
        live_facts = self.catalog.facts(live.service, live.task_type, version)
        if live_facts.canonical_service != facts.canonical_service:
            return ("service",)
        return live_view(live, facts, keep=frozenset(compared))


@dataclass(frozen=True, kw_only=True)
class Recovery:
    state: State
    recorded: tuple[str, ...] = ()  # endpoints recorded with the intent's fingerprints
    notes: tuple[str, ...] = ()


def recovered(state: State, endpoints: Iterable[LiveEndpoint], comparison: Comparison) -> Recovery:
    """``state`` with what an interrupted run's intent tells: an endpoint it was creating or
    replacing that exists and matches what it expected is recorded with the intent's entry
    (and so the fingerprints of the secrets it sent); one it was deleting that is gone leaves
    the state. An update cannot be told from before (its secrets are not read back): its entry
    keeps the fingerprints recorded before, so a secret that moved is sent again."""
    intent = state.intent
    if intent is None:
        return Recovery(state=state)
    live: Mapping[str, LiveEndpoint] = {e.inference_id: e for e in endpoints}
    managed = dict(state.managed)
    recorded: list[str] = []
    notes: list[str] = []
    for inference_id, item in sorted(intent.endpoints.items()):
        endpoint = live.get(inference_id)
        if item.action == Action.DELETE.value:
            if endpoint is None:
                managed.pop(inference_id, None)
            continue
        if item.action not in (Action.CREATE.value, Action.REPLACE.value) or endpoint is None:
            continue
        if item.entry is None or item.expected is None:
            continue
        if comparison.matches_summary(item.expected, endpoint):
            known = managed.get(inference_id)
            if known is None or known.secrets != item.entry.secrets:
                managed[inference_id] = item.entry  # its declared fields: from the next plan
                recorded.append(inference_id)
        elif item.action == Action.CREATE.value and inference_id not in managed:
            notes.append(
                f"{inference_id}: an interrupted apply was creating it, but it differs from what "
                "that apply planned: whether the secrets it holds are the ones sent cannot be "
                f"known. Send them once with `apply --send-secrets {inference_id}`"
            )
    return Recovery(
        state=replace(state, managed=managed), recorded=tuple(recorded), notes=tuple(notes)
    )
