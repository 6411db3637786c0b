"""Make a desired spec and a live endpoint comparable.

Owns the rules that remove server noise before diffing: defaults the server
fills in (from the catalog), values it re-cases, keys it shows under another
name (anthropic's top_k as top_p), chunking it expands, empty task settings it omits, values it measures (kept only where the user
declared them). Secrets are taken out of both sides: they are compared by
fingerprint, not here. Pure: no I/O, no HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from reconciler.catalog import ANY_VALUE, EndpointFacts
from reconciler.model import (
    SETTINGS_BLOCKS,
    EndpointSpec,
    FieldPath,
    LiveEndpoint,
    copied,
    dotted,
    settings_blocks,
)

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


def declared_fields(spec: EndpointSpec) -> frozenset[FieldPath]:
    """The fields a spec declares: (block, key) of service and task settings, and
    ("chunking_settings",) as one field when chunking is declared at all."""
    fields: set[FieldPath] = {
        (block, key) for block in ("service_settings", "task_settings") for key in spec.block(block)
    }
    if spec.block("chunking_settings"):
        fields.add(("chunking_settings",))
    found = frozenset(fields)
    return _SHARED_FIELDS.setdefault(found, found)  # specs alike share one set


# the distinct sets of declared fields seen in this process (a few dozen, whatever the specs)
_SHARED_FIELDS: dict[frozenset[FieldPath], frozenset[FieldPath]] = {}


@cache
def names_of(fields: frozenset[FieldPath]) -> tuple[str, ...]:
    """Declared fields as the state document records them (sorted dotted names)."""
    return tuple(sorted(dotted(field) for field in fields))


def field_of(path: FieldPath) -> FieldPath:
    """The declared field a changed path belongs to (chunking settings are one field)."""
    return ("chunking_settings",) if path[:1] == ("chunking_settings",) else path[:2]


def desired_view(
    spec: EndpointSpec, facts: EndpointFacts, *, dropped: frozenset[FieldPath] = frozenset()
) -> View:
    """The spec as the server would return it: secrets and hidden fields out, values folded.

    Only what the spec declares is compared; a server default fills in nothing here, except for a
    field in ``dropped`` (declared at the last apply, no longer declared): that field goes back
    to the server's default where the catalog knows it, and is absent otherwise.
    """
    shared = settings_blocks(spec.body)
    view: View = dict(shared)  # type: ignore[arg-type]  # blocks copied when first changed
    for name in facts.secret_fields + facts.hidden_fields:
        if name in view["service_settings"]:
            del _writable(view, shared, "service_settings")[name]
    if dropped:
        for (block, key), value in facts.server_filled.items():
            if (block, key) in dropped and value != ANY_VALUE and key not in view[block]:
                _writable(view, shared, block)[key] = copied(value)
    if facts.inner_defaults:
        _strip_inner_defaults(view, shared, facts)
    _fold_case(view, shared, facts)
    for block, key, shown_as in facts.echoes:  # compared where the server shows it
        if key in view[block]:
            values = _writable(view, shared, block)
            values[shown_as] = values.pop(key)
    if view["chunking_settings"]:
        view["chunking_settings"] = _chunking(view["chunking_settings"], facts)
    elif ("chunking_settings",) in dropped and facts.chunked:
        view["chunking_settings"] = dict(facts.default_chunking)
    return _drop_empty(view)


def with_restored(desired: View, values: Mapping[FieldPath, Any], facts: EndpointFacts) -> View:
    """``desired`` with server-filled values put back as the last apply recorded them (field ->
    value as the server listed it; chunking settings as one field), normalised as the live side
    is, so that only a value that truly moved differs."""
    restored: View = {block: {} for block in SETTINGS_BLOCKS}
    for path, value in values.items():
        if path == ("chunking_settings",):
            restored["chunking_settings"] = copied(value)
        else:
            restored[str(path[0])][str(path[1])] = copied(value)
    _fold_case(restored, {}, facts)  # made here: nothing shared
    if restored["chunking_settings"]:
        restored["chunking_settings"] = _chunking(restored["chunking_settings"], facts)
    view = {block: dict(settings) for block, settings in desired.items()}
    for block, settings in _drop_empty(restored).items():
        view[block] = (
            settings if block == "chunking_settings" else {**view.get(block, {}), **settings}
        )
    return view


def live_view(
    live: LiveEndpoint, facts: EndpointFacts, *, keep: frozenset[FieldPath] | None = None
) -> View:
    """The live endpoint, without what the server filled in for fields nobody declared.

    ``keep`` are the fields compared whatever the catalog says of them (declared now or at the
    last apply); a server-filled field outside it is the server's business, whatever its value:
    the catalog's defaults are guesses, and a guess must never plan a change. ``keep=None``
    keeps everything (to show an endpoint as it is). ``facts`` are those of the spec's service
    when it names the same service as the live one (elser -> elasticsearch), else the live one's.
    """
    shared = settings_blocks(live.body)
    view: View = dict(shared)  # type: ignore[arg-type]  # blocks copied when first changed
    if keep is not None:
        for block, key in facts.server_filled:
            if (block, key) not in keep and key in view[block]:
                del _writable(view, shared, block)[key]
        if facts.open:  # a service only the cluster describes: what it fills in is unknown
            for block in ("service_settings", "task_settings"):
                view[block] = {k: v for k, v in view[block].items() if (block, k) in keep}
        if ("chunking_settings",) not in keep:
            view["chunking_settings"] = {}
        if facts.inner_defaults:
            _strip_inner_defaults(view, shared, facts)
    _fold_case(view, shared, facts)
    if view["chunking_settings"]:
        view["chunking_settings"] = _chunking(view["chunking_settings"], facts)
    return _drop_empty(view)


# A view is made of the spec's or the listing's own mappings until it differs from them: a block
# is copied (one level) when first changed, a nested value only on the path that changes. Nothing
# changes a view once made, so views, specs and the listing share the rest (memory: a plan of
# 50,000 no-op endpoints holds two views of each).


def _writable(view: View, shared: Mapping[str, Mapping[str, Any]], block: str) -> dict[str, Any]:
    """``view[block]``, copied first if it is still the spec's or the listing's mapping."""
    values = view[block]
    if values is shared.get(block):
        values = view[block] = dict(values)
    return values


def _strip_inner_defaults(
    view: View, shared: Mapping[str, Mapping[str, Any]], facts: EndpointFacts
) -> None:
    """A default the server writes inside a declared object (custom's
    ``response.json_parser.embedding_type``, float when left out) counts as absent on both sides:
    written with the default value or not written at all is the same endpoint, on the releases
    that echo it and on those that do not."""
    for block, parents, leaf, value in facts.inner_defaults:
        node: Any = view.get(block)
        for part in parents:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping) and node.get(leaf) == value:
            holder = _writable(view, shared, block)  # copy the path, then cut
            for part in parents:
                holder[part] = dict(holder[part])
                holder = holder[part]
            del holder[leaf]


def _fold_case(view: View, shared: Mapping[str, Mapping[str, Any]], facts: EndpointFacts) -> None:
    for rewrite in facts.rewrites:
        value = view.get(rewrite.block, {}).get(rewrite.key)
        if not isinstance(value, str):
            continue
        case = rewrite.case
        folded = value.lower() if case == "lower" else value.upper() if case == "upper" else value
        aliases = rewrite.aliases
        folded = aliases.get(folded.lower(), aliases.get(folded, folded))
        if folded != value:
            _writable(view, shared, rewrite.block)[rewrite.key] = folded


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
    for block in [block for block, values in view.items() if not values]:
        del view[block]
    return view
