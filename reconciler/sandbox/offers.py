"""The "offered services" knob: services and fields the sandbox's own table lacks.

Owns reading an offer: a `GET _inference/_services` entry
(`InferenceServiceConfiguration`: service, name, task_types, configurations,
each configuration a `SettingsConfiguration` with required, sensitive,
updatable, type and supported_task_types), plus, for the sandbox only, the
task settings it takes (`task_settings`, the table's type codes, since
`_services` does not describe task settings). An offer for a service the table
lacks adds the service; one for a service it has adds the fields it lacks. The
sandbox then lists it, creates, shows (sensitive fields hidden), updates
(updatable fields only, as the release it emulates) and deletes it like any
other (`facts.offered_facts`). Built in: `mixedbread`, modelled on
Elasticsearch's own service (docs/sandbox.md has the evidence).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

# MixedbreadService.Configuration (x-pack/plugin/inference/.../services/mixedbread): rerank;
# model_id required, not updatable; api_key (DefaultSecretSettings) required, sensitive,
# updatable; rate_limit.requests_per_minute (RateLimitSettings), default 3000
# (MixedbreadRerankServiceSettings); task settings top_n and return_documents
# (MixedbreadRerankTaskSettings).
MIXEDBREAD: dict[str, Any] = {
    "service": "mixedbread",
    "name": "Mixedbread",
    "task_types": ["rerank"],
    "configurations": {
        "model_id": {
            "description": "The model ID to use for Mixedbread requests.",
            "label": "Model ID",
            "required": True,
            "sensitive": False,
            "updatable": False,
            "type": "str",
            "supported_task_types": ["rerank"],
        },
        "api_key": {
            "description": "API Key for the provider you're connecting to.",
            "label": "API Key",
            "required": True,
            "sensitive": True,
            "updatable": True,
            "type": "str",
            "supported_task_types": ["rerank"],
        },
        "rate_limit.requests_per_minute": {
            "description": "Minimize the number of rate limit errors.",
            "label": "Rate Limit",
            "required": False,
            "sensitive": False,
            "updatable": False,
            "type": "int",
            "default_value": 3000,
            "supported_task_types": ["rerank"],
        },
    },
    "task_settings": {"top_n": "int", "return_documents": "bool"},
}
BUILT_IN = {"mixedbread": MIXEDBREAD}
KEYS = frozenset({"service", "name", "task_types", "configurations", "task_settings"})
FLAGS = frozenset(
    {
        "default_value",
        "description",
        "label",
        "required",
        "sensitive",
        "updatable",
        "type",
        "supported_task_types",
    }
)


def read_offers(offers: Iterable[str | Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Offers by service name: each a built-in name or a `_services` entry; ValueError names
    what is wrong with one."""
    found: dict[str, dict[str, Any]] = {}
    for offer in offers:
        if isinstance(offer, str):
            if offer not in BUILT_IN:
                raise ValueError(f"no built-in offer {offer!r}; built in: {sorted(BUILT_IN)}")
            entry = copy.deepcopy(BUILT_IN[offer])
        else:
            entry = _checked(offer)
        found[entry["service"]] = entry
    return found


def _checked(offer: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(offer, Mapping) or not isinstance(offer.get("service"), str):
        raise ValueError("an offer is a _services entry with a 'service' name")
    unknown = sorted(set(offer) - KEYS)
    if unknown:
        raise ValueError(f"unknown offer keys {unknown}; known: {sorted(KEYS)}")
    tasks = offer.get("task_types") or []
    configurations = offer.get("configurations") or {}
    if not isinstance(tasks, list) or not isinstance(configurations, Mapping):
        raise ValueError("task_types must be a list and configurations an object")
    for name, flags in configurations.items():
        if not isinstance(flags, Mapping) or set(flags) - FLAGS:
            raise ValueError(f"configuration {name!r}: an object with keys from {sorted(FLAGS)}")
    entry = copy.deepcopy(dict(offer))
    entry.setdefault("name", entry["service"])
    entry["task_types"] = list(tasks)
    entry["configurations"] = dict(configurations)
    return entry


def listed(offer: Mapping[str, Any]) -> dict[str, Any]:
    """The offer as `_services` lists it (without the sandbox-only task settings)."""
    return {key: copy.deepcopy(value) for key, value in offer.items() if key != "task_settings"}
