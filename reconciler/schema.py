"""JSON Schema checks of spec documents, reported at their YAML positions.

Owns turning jsonschema's errors into ``Diagnostic``s a person can act on:
one message per problem, pointing at the offending key, never echoing a
secret. Does not know any service: the facts are in ``schemas/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

from reconciler.catalog import load_catalog, schemas_dir
from reconciler.diagnostics import Diagnostic
from reconciler.loader import Document
from reconciler.model import Path

ENDPOINT_SCHEMA = "endpoint.schema.json"
SECRET_HINT = "is a secret: write a ${env:NAME} or ${file:PATH} reference, never the value"


@cache
def endpoint_validator() -> Draft202012Validator:
    """One compiled validator for every spec (building it is the slow part)."""
    root = schemas_dir()
    registry: Registry = Registry()
    endpoint: dict[str, Any] = {}
    for path in sorted(root.rglob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(contents)
        registry = registry.with_resource(contents.get("$id", path.name), resource)
        if path.name == ENDPOINT_SCHEMA and path.parent == root:
            endpoint = contents
    return Draft202012Validator(endpoint, registry=registry)


def check_document(document: Document) -> list[Diagnostic]:
    """Every schema problem of one document, each at its YAML position."""
    validator = endpoint_validator()
    diagnostics = []
    for error in validator.iter_errors(document.body):
        for path, message in _explain(error, document.body):
            line, col = document.source.at(path)
            diagnostics.append(
                Diagnostic(file=document.source.file, line=line, col=col, message=message)
            )
    return diagnostics


def dotted(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path) or "(document)"


def _secret_fields(body: Any) -> frozenset[str]:
    facts = load_catalog().service(str(body.get("service"))) if isinstance(body, Mapping) else None
    return frozenset(facts.secret_fields()) if facts else frozenset()


def _is_secret(path: Path, body: Any) -> bool:
    return len(path) >= 2 and path[0] == "service_settings" and path[1] in _secret_fields(body)


def _explain(error: ValidationError, body: Any) -> list[tuple[Path, str]]:
    path: Path = tuple(error.absolute_path)
    where = dotted(path)
    kind = error.validator
    if kind in ("oneOf", "anyOf") and error.context:
        described = error.schema.get("description") if isinstance(error.schema, Mapping) else None
        if described:
            return [(path, f"{where}: {described}")]
        return _explain(best_match(error.context), body)
    if kind == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        return [(path, f"{where}: missing required field '{name}'") for name in missing]
    if kind in ("additionalProperties", "unevaluatedProperties"):
        known = set(error.schema.get("properties", {}))
        extras = [k for k in (error.instance or {}) if k not in known]
        prefix = f"{where}: " if path else ""
        suffix = f" ({_context(body)})" if len(path) <= 1 else ""
        return [(path + (k,), f"{prefix}unknown field '{k}'{suffix}") for k in extras] or [
            (path, f"{where}: {error.message}")
        ]
    if error.schema is False or kind == "not":
        return [(path, f"{where}: not allowed here ({_context(body)})")]
    if _is_secret(path, body) and kind not in ("required", "additionalProperties"):
        return [(path, f"{where} {SECRET_HINT}")]
    if kind == "pattern":
        return [(path, f"{where}: '{error.instance}' does not match {error.validator_value}")]
    if kind == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return [(path, f"{where}: {error.instance!r} is not one of {allowed}")]
    if kind == "const":
        return [(path, f"{where}: must be {error.validator_value!r}")]
    if kind == "type":
        return [(path, f"{where}: expected {error.validator_value}, got {type_name(error.instance)}")]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        symbol = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
        return [(path, f"{where}: must be {symbol[kind]} {error.validator_value} (got {error.instance})")]
    if kind in ("minItems", "minProperties"):
        return [(path, f"{where}: must not be empty")]
    description = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    return [(path, f"{where}: {description or error.message}")]


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def _context(body: Any) -> str:
    if isinstance(body, Mapping):
        return f"service {body.get('service')!s}, task type {body.get('task_type')!s}"
    return "document"
