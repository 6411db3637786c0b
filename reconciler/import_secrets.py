"""Which secret fields an imported spec declares, since ``GET`` never returns them.

Owns the choice of secret fields for ``reconciler import``, and only that: the
state document's record of what apply sent wins; without one, every secret the
service requires (both Amazon keys), one reference per ``custom`` secret
parameter that the templates use, and otherwise the service's usual credential
with a note naming the alternatives. Writing the files is ``importer``'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.catalog import EndpointFacts, ServiceFacts
from reconciler.model import LiveEndpoint

# The custom service fills these template variables itself (from the request being served);
# every other ${name} in its url, headers, request or query parameters comes from
# secret_parameters or task_settings.parameters.
CUSTOM_BUILT_INS = frozenset({"input", "input_type", "query", "top_n", "return_documents"})
TEMPLATE = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")


@dataclass(frozen=True, kw_only=True)
class SecretChoice:
    """The secret paths to write as references, and why, when it was a guess."""

    paths: tuple[tuple[str, ...], ...]  # ("api_key",) or ("secret_parameters", "api_key")
    note: str = ""


def choose_secrets(
    endpoint: LiveEndpoint,
    facts: EndpointFacts,
    service: ServiceFacts | None,
    *,
    sent: tuple[str, ...] = (),
    declared: tuple[str, ...] | None = None,
) -> SecretChoice:
    """The secrets to declare; ``sent`` are the dotted paths the state says apply sent,
    ``declared`` the fields its spec declared (an adopted endpoint has no fingerprints)."""
    if sent:
        return SecretChoice(
            paths=tuple(tuple(dotted.split(".")[1:]) for dotted in sorted(sent)),
        )
    fields = facts.secret_fields
    if declared is not None:
        fields = tuple(name for name in fields if f"service_settings.{name}" in declared)
    if not fields:
        return SecretChoice(paths=())
    settings = endpoint.block("service_settings")
    maps = [
        name
        for name in fields
        if service and service.field("service_settings", name).get("type") == "map"
    ]
    if maps:
        return _secret_map(endpoint, maps[0])
    if declared is not None:
        return SecretChoice(paths=tuple((name,) for name in fields))
    required = [name for name in fields if name in facts.required_service_settings]
    if required:
        return SecretChoice(paths=tuple((name,) for name in required))
    chosen = "client_secret" if "client_secret" in fields and "client_id" in settings else None
    chosen = chosen or ("api_key" if "api_key" in fields else fields[0])
    others = [name for name in fields if name != chosen]
    if others:
        note = (
            f"{chosen}: the cluster does not say which credential this endpoint was made with; "
            f"{endpoint.service} also accepts {', '.join(others)}"
        )
    else:
        note = (
            f"{chosen}: optional for {endpoint.service}, and the cluster does not say whether "
            "this endpoint has one; remove it if not"
        )
    return SecretChoice(paths=((chosen,),), note=note)


def _secret_map(endpoint: LiveEndpoint, name: str) -> SecretChoice:
    settings = endpoint.block("service_settings")
    task_parameters = endpoint.block("task_settings").get("parameters")
    known = set(task_parameters) if isinstance(task_parameters, Mapping) else set()
    keys = sorted(
        {
            found
            for text in _strings(
                [settings.get(part) for part in ("url", "headers", "request", "query_parameters")]
            )
            for found in TEMPLATE.findall(text)
        }
        - CUSTOM_BUILT_INS
        - known
    )
    if not keys:
        return SecretChoice(
            paths=(),
            note=f"{name}: the templates use no secret parameter, so none is written",
        )
    return SecretChoice(
        paths=tuple((name, key) for key in keys),
        note=f"{name}: keys taken from the templates' ${{...}} variables ({', '.join(keys)})",
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for inner in value.values():
            yield from _strings(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _strings(inner)
