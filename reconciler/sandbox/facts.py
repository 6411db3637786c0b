"""The per-task view of the service table: `facts(service, task_type)`.

Owns resolving the `ByTask` values and defaults of `services.py` into one
frozen `TaskFacts` per service and task type, and the deterministic
"measured" embedding size. It adds no knowledge of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from .services import (
    CHUNKED_TASKS,
    DEFAULT_DIMENSIONS,
    DENSE_MUTABLE,
    DENSE_TASKS,
    EMB,
    MEASURED_DIMENSIONS,
    MODEL_KEYS,
    SERVICES,
    ByTask,
)


def _pick(value: Any, task_type: str) -> Any:
    return value.pick(task_type) if isinstance(value, ByTask) else value


@dataclass(frozen=True, kw_only=True)
class TaskFacts:
    """Everything the sandbox knows about one service for one task type."""

    service: str
    output_service: str
    task_type: str
    settings: dict[str, str]
    task_settings: dict[str, str]
    secrets: tuple[str, ...]
    secret_rule: str
    oauth: tuple[str, ...]
    rate_limit: int | None
    similarity: str | None
    force_similarity: str | None
    fills: dict[str, Any]
    hidden: tuple[str, ...]
    task_fills: dict[str, Any]
    mutable: tuple[str, ...]
    task_update: str

    @property
    def chunked(self) -> bool:
        return self.task_type in CHUNKED_TASKS

    @property
    def dense(self) -> bool:
        return self.task_type in DENSE_TASKS


def service_names() -> list[str]:
    return sorted(SERVICES)


def task_types_of(service: str) -> tuple[str, ...]:
    return tuple(SERVICES[service]["tasks"])


@cache
def facts(service: str, task_type: str) -> TaskFacts:
    return _facts(SERVICES[service], service, task_type)


def _facts(spec: dict[str, Any], service: str, task_type: str) -> TaskFacts:
    dense = task_type in DENSE_TASKS
    settings = dict(_pick(spec.get("settings", {}), task_type))
    if dense:
        settings.update(_pick(spec.get("embedding", EMB), task_type))
    mutable = _pick(spec.get("mutable"), task_type)
    if mutable is None:
        mutable = DENSE_MUTABLE if dense else ("rate_limit",)
    return TaskFacts(
        service=service,
        output_service=spec.get("alias_of", service),
        task_type=task_type,
        settings=settings,
        task_settings=dict(_pick(spec.get("task_settings", {}), task_type) or {}),
        secrets=tuple(spec.get("secrets", ())),
        secret_rule=spec.get("secret_rule", "all"),
        oauth=tuple(spec.get("oauth", ())),
        rate_limit=_pick(spec.get("rate"), task_type),
        similarity=spec.get("similarity", "dot_product") if dense else None,
        force_similarity=spec.get("force_similarity") if dense else None,
        fills=dict(_pick(spec.get("fills", {}), task_type) or {}),
        hidden=tuple(spec.get("hidden", ())),
        task_fills=dict(_pick(spec.get("task_fills", {}), task_type) or {}),
        mutable=tuple(mutable),
        task_update=spec.get("task_update", "merge"),
    )


def measured_dimensions(service_settings: dict[str, Any]) -> int:
    """A deterministic stand-in for the size the provider's first embedding would have."""
    for key in MODEL_KEYS:
        model = service_settings.get(key)
        if isinstance(model, str) and model.lower() in MEASURED_DIMENSIONS:
            return MEASURED_DIMENSIONS[model.lower()]
    return DEFAULT_DIMENSIONS


# -- services and fields the "offered services" knob adds (offers.py) -------------------


def known_service(service: str, offers: Mapping[str, Mapping[str, Any]]) -> bool:
    return service in SERVICES or service in offers


def task_types_with(service: str, offers: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The service's task types, with those an offer adds."""
    own = task_types_of(service) if service in SERVICES else ()
    offered = tuple((offers.get(service) or {}).get("task_types") or ())
    return own + tuple(t for t in offered if t not in own)


def offered_facts(
    service: str, task_type: str, offers: Mapping[str, Mapping[str, Any]]
) -> TaskFacts:
    """``facts`` with what an offer (a `_services` entry) adds: a whole service the table lacks,
    or fields of a service it has. Its configurations say which are required, sensitive and
    updatable; its sandbox-only ``task_settings`` (type codes) which task settings it takes."""
    offer = offers.get(service)
    known = service in SERVICES and task_type in task_types_of(service)
    if offer is None:
        return facts(service, task_type)
    base = (
        facts(service, task_type)
        if known
        else _facts({"tasks": (task_type,), "secrets": (), "mutable": ()}, service, task_type)
    )
    settings, secrets, mutable = dict(base.settings), list(base.secrets), list(base.mutable)
    rate = base.rate_limit
    for name, flags in (offer.get("configurations") or {}).items():
        supported = flags.get("supported_task_types")
        if supported and task_type not in supported:
            continue
        if name == RATE_CONFIGURATION:
            if rate is None:
                rate = int(flags.get("default_value") or OFFER_DEFAULT_RATE)
            key = "rate_limit"
        elif flags.get("sensitive"):
            if name not in secrets:
                secrets.append(name)
            continue
        else:
            key = name
            if name not in settings:
                code = OFFER_TYPES.get(str(flags.get("type")), "any")
                settings[name] = code + ("!" if flags.get("required") else "")
        if flags.get("updatable") and key not in mutable:
            mutable.append(key)
    task_settings = {**base.task_settings, **(offer.get("task_settings") or {})}
    return dataclasses.replace(
        base,
        settings=settings,
        secrets=tuple(secrets),
        rate_limit=rate,
        mutable=tuple(mutable),
        task_settings=task_settings,
    )


RATE_CONFIGURATION = "rate_limit.requests_per_minute"
OFFER_DEFAULT_RATE = 3000
# SettingsConfigurationFieldType -> the table's type code
OFFER_TYPES = {"str": "str", "int": "int", "bool": "bool", "list": "list", "map": "map"}
