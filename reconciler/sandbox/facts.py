"""The per-task view of the service table: `facts(service, task_type)`.

Owns resolving the `ByTask` values and defaults of `services.py` into one
frozen `TaskFacts` per service and task type, and the deterministic
"measured" embedding size. It adds no knowledge of its own.
"""

from __future__ import annotations

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
    spec = SERVICES[service]
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
