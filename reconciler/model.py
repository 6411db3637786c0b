"""Frozen values shared by every stage: endpoint keys, desired specs, live endpoints.

Owns the shape of an endpoint as the pipeline sees it. Does not parse YAML
(loader), check schemas (schema) or compare anything (normalize, diff).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# A path into an endpoint body: ("service_settings", "api_key"), ("chunking_settings",) ...
Path = tuple[str | int, ...]

SETTINGS_BLOCKS = ("service_settings", "task_settings", "chunking_settings")


@dataclass(frozen=True, kw_only=True, order=True)
class EndpointKey:
    inference_id: str
    task_type: str

    def __str__(self) -> str:
        return f"{self.task_type}/{self.inference_id}"


@dataclass(frozen=True, kw_only=True)
class Source:
    """Where a spec came from: the file, its document, and a position per node."""

    file: str
    line: int = 0
    col: int = 0
    positions: Mapping[Path, tuple[int, int]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def at(self, path: Path) -> tuple[int, int]:
        """Line and column of the node at ``path``, or of its nearest ancestor."""
        for cut in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:cut]))
            if found:
                return found
        return (self.line, self.col)


@dataclass(frozen=True, kw_only=True)
class EndpointSpec:
    """One desired endpoint as written: secret references left unresolved."""

    inference_id: str
    task_type: str
    service: str
    body: Mapping[str, Any]  # the whole document, as in PUT plus its two path parts
    source: Source

    @property
    def key(self) -> EndpointKey:
        return EndpointKey(inference_id=self.inference_id, task_type=self.task_type)

    def block(self, name: str) -> Mapping[str, Any]:
        value = self.body.get(name)
        return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, kw_only=True)
class LiveEndpoint:
    """One endpoint as ``GET _inference/_all`` returns it (no secrets)."""

    inference_id: str
    task_type: str
    service: str
    body: Mapping[str, Any]

    @property
    def key(self) -> EndpointKey:
        return EndpointKey(inference_id=self.inference_id, task_type=self.task_type)

    @property
    def preconfigured(self) -> bool:
        return self.inference_id.startswith(".")

    def block(self, name: str) -> Mapping[str, Any]:
        value = self.body.get(name)
        return value if isinstance(value, Mapping) else {}

    @classmethod
    def from_api(cls, document: Mapping[str, Any]) -> LiveEndpoint:
        # 8.14 and older call the id model_id; later releases inference_id.
        inference_id = document.get("inference_id") or document.get("model_id") or ""
        body = {k: v for k, v in document.items() if k != "model_id"}
        body["inference_id"] = inference_id
        return cls(
            inference_id=str(inference_id),
            task_type=str(document.get("task_type", "")),
            service=str(document.get("service", "")),
            body=body,
        )
