"""Make a desired spec and a live endpoint comparable.

Owns the rules that remove server noise before diffing: defaults the server
fills in (from the catalog), values it re-cases, chunking it expands, empty
task settings it omits, values it measures (kept only where the user
declared them). Secrets are taken out of both sides: they are compared by
fingerprint, not here. Pure: no I/O, no HTTP.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from reconciler.catalog import ANY_VALUE, Catalog, ServiceFacts
from reconciler.model import SETTINGS_BLOCKS, EndpointSpec, LiveEndpoint

# What the server returns for a recursive strategy's separator_group (es-api-behaviour.md s.13).
SEPARATOR_GROUPS = {
    "plaintext": ["(?<!\\n)\\n\\n(?!\\n)", "(?<!\\n)\\n(?!\\n)"],
    "markdown": [
        "\n# ",
        "\n## ",
        "\n### ",
        "\n#### ",
        "\n##### ",
        "\n###### ",
        "\n^(?!\\s*$).*\\n-{1,}\\n",
        "\n^(?!\\s*$).*\\n={1,}\\n",
    ],
}
CHUNKING_FILLS = {"sentence": {"sentence_overlap": 1}}

View = dict[str, dict[str, Any]]


def desired_view(
    spec: EndpointSpec, catalog: Catalog, *, version: tuple[int, int, int] | None = None
) -> View:
    """The spec as the server would return it: secrets out, defaults in.

    With ``version``, only the defaults that release fills (no rate_limit before 8.15)."""
    facts = catalog.service(spec.service)
    view: View = {block: _copied(spec.block(block)) for block in SETTINGS_BLOCKS}
    if facts is not None:
        for name in facts.secret_fields():
            view["service_settings"].pop(name, None)
        for name in facts.hidden_fields("service_settings"):
            view["service_settings"].pop(name, None)
        for dotted, value in facts.server_filled(spec.task_type, version=version).items():
            if value != ANY_VALUE:
                block, _, key = dotted.partition(".")
                if block in view and key not in view[block]:
                    view[block][key] = _copied(value)
        _fold_case(view, facts)
    if spec.task_type in catalog.embedding_task_types:
        view["chunking_settings"] = _chunking(view["chunking_settings"], catalog)
    return _drop_empty(view)


def live_view(
    live: LiveEndpoint, catalog: Catalog, declared: View | None, *, service: str | None = None
) -> View:
    """The live endpoint with unpredictable server-filled values the user did not declare removed.

    ``service`` names the spec's service when it is an alias of the live one (elser -> elasticsearch).
    """
    facts = catalog.service(service or live.service)
    view: View = {block: _copied(live.block(block)) for block in SETTINGS_BLOCKS}
    if facts is not None:
        for dotted, value in facts.server_filled(live.task_type).items():
            block, _, key = dotted.partition(".")
            user_declared = declared is not None and key in declared.get(block, {})
            if value == ANY_VALUE and not user_declared and block in view:
                view[block].pop(key, None)
        _fold_case(view, facts)
    if view["chunking_settings"]:
        view["chunking_settings"] = _chunking(view["chunking_settings"], catalog)
    return _drop_empty(view)


def _copied(value: Any) -> Any:
    """A deep copy of JSON-shaped data (what YAML and the cluster give), without ``copy.deepcopy``'s
    bookkeeping, which costs more than the rest of normalising; other types go through ``deepcopy``."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {key: _copied(item) for key, item in value.items()}
    if kind is list:
        return [_copied(item) for item in value]
    return copy.deepcopy(value)


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def _fold_case(view: View, facts: ServiceFacts) -> None:
    for block, key, case, aliases in facts.rewritten_fields():
        value = view.get(block, {}).get(key)
        if not isinstance(value, str):
            continue
        value = value.lower() if case == "lower" else value.upper() if case == "upper" else value
        view[block][key] = aliases.get(value.lower(), aliases.get(value, value))


def _chunking(chunking: Mapping[str, Any], catalog: Catalog) -> dict[str, Any]:
    if not chunking:
        return dict(catalog.default_chunking)
    result = dict(chunking)
    strategy = str(result.get("strategy", "")).lower()
    result["strategy"] = strategy
    for key, value in CHUNKING_FILLS.get(strategy, {}).items():
        result.setdefault(key, value)
    group = result.pop("separator_group", None)
    if strategy == "recursive" and "separators" not in result:
        result["separators"] = list(SEPARATOR_GROUPS.get(str(group or "plaintext").lower(), []))
    return result


def _drop_empty(view: View) -> View:
    return {block: values for block, values in view.items() if values}


def canonical_service(name: str, catalog: Catalog) -> str:
    facts = catalog.service(name)
    return facts.canonical_name if facts is not None else name
