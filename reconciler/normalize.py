"""Make a desired spec and a live endpoint comparable.

Owns the rules that remove server noise before diffing: defaults the server
fills in (from the catalog), values it re-cases, chunking it expands, empty
task settings it omits, values it measures (kept only where the user
declared them). Secrets are taken out of both sides: they are compared by
fingerprint, not here. Pure: no I/O, no HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.catalog import ANY_VALUE, EndpointFacts
from reconciler.model import SETTINGS_BLOCKS, EndpointSpec, LiveEndpoint, copied

# What the server returns for a recursive separator_group (docs/elasticsearch-api.md §8).
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


def desired_view(spec: EndpointSpec, facts: EndpointFacts) -> View:
    """The spec as the server would return it: secrets out, defaults in."""
    view: View = {block: copied(spec.block(block)) for block in SETTINGS_BLOCKS}
    for name in facts.secret_fields + facts.hidden_fields:
        view["service_settings"].pop(name, None)
    for (block, key), value in facts.server_filled.items():
        if value != ANY_VALUE and block in view and key not in view[block]:
            view[block][key] = copied(value)
    _fold_case(view, facts)
    if facts.chunked:
        view["chunking_settings"] = _chunking(view["chunking_settings"], facts)
    return _drop_empty(view)


def live_view(live: LiveEndpoint, facts: EndpointFacts, declared: View | None) -> View:
    """The live endpoint with unpredictable server-filled values the user did not declare removed.

    ``facts`` are those of the spec's service when it names the same service as the live one
    (elser -> elasticsearch), else the live endpoint's own.
    """
    view: View = {block: copied(live.block(block)) for block in SETTINGS_BLOCKS}
    for (block, key), value in facts.server_filled.items():
        user_declared = declared is not None and key in declared.get(block, {})
        if value == ANY_VALUE and not user_declared and block in view:
            view[block].pop(key, None)
    _fold_case(view, facts)
    if view["chunking_settings"]:
        view["chunking_settings"] = _chunking(view["chunking_settings"], facts)
    return _drop_empty(view)


def _fold_case(view: View, facts: EndpointFacts) -> None:
    for rewrite in facts.rewrites:
        value = view.get(rewrite.block, {}).get(rewrite.key)
        if not isinstance(value, str):
            continue
        case = rewrite.case
        value = value.lower() if case == "lower" else value.upper() if case == "upper" else value
        aliases = rewrite.aliases
        view[rewrite.block][rewrite.key] = aliases.get(value.lower(), aliases.get(value, value))


def _chunking(chunking: Mapping[str, Any], facts: EndpointFacts) -> dict[str, Any]:
    if not chunking:
        return dict(facts.default_chunking)
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
