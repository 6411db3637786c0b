"""Frozen values shared by every stage: field paths, endpoint keys, specs, live endpoints, requests.

Owns the shape of an endpoint as the pipeline sees it, and of one HTTP call
that a plan says apply will send. Does not parse YAML (loader), check schemas
(schema) or compare anything (normalize, diff).
"""

from __future__ import annotations

import copy
import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.diagnostics import Diagnostic

# A path into an endpoint body: ("service_settings", "api_key"), ("chunking_settings",) ...
# Logic works on these tuples; dotted text ("service_settings.api_key") is for people and files.
FieldPath = tuple[str | int, ...]


def dotted(path: FieldPath) -> str:
    """``("service_settings", "api_key")`` -> ``"service_settings.api_key"``."""
    return ".".join(map(str, path))


def copied(value: Any) -> Any:
    """A deep copy of JSON-shaped data (what YAML and the cluster give), without ``copy.deepcopy``'s
    bookkeeping, which costs more than the rest of normalising; other types go through ``deepcopy``."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {key: copied(item) for key, item in value.items()}
    if kind is list:
        return [copied(item) for item in value]
    return copy.deepcopy(value)


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def undotted(text: str) -> FieldPath:
    """The inverse of ``dotted`` (the settings keys of Elasticsearch hold no dots)."""
    return tuple(text.split(".")) if text else ()


def content_digest(value: Any) -> str:
    """``sha256:...`` of JSON-shaped data in canonical form (sorted keys, no spaces)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


SETTINGS_BLOCKS = ("service_settings", "task_settings", "chunking_settings")


def _block(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """``body[name]`` when it is a mapping, else an empty one."""
    value = body.get(name)
    # a plain dict first, and no block at all: isinstance against an ABC is slow, and this is
    # asked per field
    if type(value) is dict or (value is not None and isinstance(value, Mapping)):
        return value
    return {}


def settings_blocks(body: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """``_block`` of each settings block, by name."""
    return {name: _block(body, name) for name in SETTINGS_BLOCKS}


@dataclass(frozen=True, kw_only=True, order=True)
class EndpointKey:
    inference_id: str
    task_type: str

    def __str__(self) -> str:
        return f"{self.task_type}/{self.inference_id}"


@dataclass(frozen=True, kw_only=True, slots=True)  # one per endpoint: no __dict__ each
class Source:
    """Where a spec came from: the file, its document, and a position per node."""

    file: str
    line: int = 0
    col: int = 0
    positions: Mapping[FieldPath, tuple[int, int]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def problem(self, path: FieldPath, message: str) -> Diagnostic:
        """A diagnostic at the node of ``path`` (or its nearest ancestor) in this source."""
        line, col = self.at(path)
        return Diagnostic(file=self.file, line=line, col=col, message=message)

    def at(self, path: FieldPath) -> tuple[int, int]:
        """Line and column of the node at ``path``, or of its nearest ancestor."""
        for cut in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:cut]))
            if found:
                return found
        return (self.line, self.col)


@dataclass(frozen=True, kw_only=True, slots=True)  # one per endpoint: no __dict__ each
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
        return _block(self.body, name)


@dataclass(frozen=True, kw_only=True, slots=True)  # one per endpoint: no __dict__ each
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
        return _block(self.body, name)

    @classmethod
    def from_api(cls, document: Mapping[str, Any]) -> LiveEndpoint:
        """One endpoint of a listing. A document already in the current form (an
        ``inference_id``, no ``model_id``) is the body itself: nothing changes a listing once
        read (one copy fewer per endpoint)."""
        # 8.14 and older call the id model_id; later releases inference_id.
        inference_id = document.get("inference_id") or document.get("model_id") or ""
        if inference_id == document.get("inference_id") and "model_id" not in document:
            body = document
        else:
            body = {k: v for k, v in document.items() if k != "model_id"}
            body["inference_id"] = inference_id
        return cls(
            inference_id=str(inference_id),
            task_type=str(document.get("task_type", "")),
            service=str(document.get("service", "")),
            body=body,
        )


class CallKind(enum.Enum):
    """What a request does to an endpoint: the applier's retry and recovery rules depend on it."""

    CREATE = "create"  # PUT /_inference/{task}/{id}
    UPDATE = "update"  # PUT /_inference/{task}/{id}/_update
    DELETE = "delete"  # DELETE /_inference/{task}/{id}
    PROBE = "probe"  # PUT of the new configuration under a scratch id, before a replace deletes
    PROBE_DELETE = "probe_delete"  # DELETE of that scratch endpoint


@dataclass(frozen=True, kw_only=True, eq=False)  # equal: the same place (``position``)
class SecretRef:
    """Where a request carries a secret: the path inside its body (which holds the reference,
    ``${env:NAME}``) and where the user wrote that reference (a ``${file:}`` path is relative to
    that file; every error about it names file:line)."""

    path: FieldPath
    file: str
    line: int = 0
    col: int = 0
    # no line given: the spec's source, which finds it when first asked (an error, a saved
    # plan); a position costs parsing the file again, and a key rotation plans thousands
    source: Source | None = field(default=None, compare=False, repr=False)

    def position(self) -> tuple[int, int]:
        """Line and column where the reference was written."""
        if self.source is not None and not self.line:
            return self.source.at(self.path)
        return (self.line, self.col)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretRef):
            return NotImplemented
        return (self.path, self.file, self.position()) == (other.path, other.file, other.position())

    def __hash__(self) -> int:
        return hash((self.path, self.file, self.position()))

    def to_json(self) -> dict[str, Any]:
        line, col = self.position()
        return {"path": list(self.path), "file": self.file, "line": line, "col": col}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> SecretRef:
        return cls(
            path=tuple(document["path"]),
            file=str(document["file"]),
            line=int(document.get("line") or 0),
            col=int(document.get("col") or 0),
        )


@dataclass(frozen=True, kw_only=True)
class Request:
    """One HTTP call a planned change sends, exactly as apply will send it.

    ``body`` holds secret references (``${env:NAME}``) where a secret goes, never a value;
    ``secrets`` says where inside ``body`` they are (and where each was written): the applier
    resolves them once per command, just before the first write.
    """

    kind: CallKind
    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None
    secrets: tuple[SecretRef, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "method": self.method,
            "path": self.path,
            "params": dict(self.params),
            "body": self.body,
            "secrets": [ref.to_json() for ref in self.secrets],
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Request:
        return cls(
            kind=CallKind(document["kind"]),
            method=str(document["method"]),
            path=str(document["path"]),
            params={str(k): str(v) for k, v in (document.get("params") or {}).items()},
            body=document.get("body"),
            secrets=tuple(SecretRef.from_json(r) for r in document.get("secrets") or ()),
        )
