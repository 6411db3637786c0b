"""JSON Schema checks of spec documents, reported at their YAML positions.

Owns turning jsonschema's errors into ``Diagnostic``s a person can act on:
one message per problem, pointing at the offending key, never echoing a
secret. Does not know any service: the facts are in ``schemas/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from reconciler.catalog import load_catalog, schemas_dir
from reconciler.compiled_schema import Check, Unsupported, compile_schema
from reconciler.described import skipped_paths
from reconciler.diagnostics import Diagnostic
from reconciler.loader import Document
from reconciler.model import FieldPath

if TYPE_CHECKING:  # jsonschema is imported when a document needs explaining: most runs never do
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

ENDPOINT_SCHEMA = "endpoint.schema.json"
SETTINGS_SCHEMA = "reconciler.schema.json"
REGION_POLICY_SCHEMA = "region-policy.schema.json"
SECRET_HINT = "is a secret: write a ${env:NAME} or ${file:PATH} reference, never the value"
# The regular expression would also reject a leading '.', but would not say why.
RESERVED_ID = (
    "is reserved for Elasticsearch's preconfigured endpoints (ids beginning with '.'); "
    "use an id without the leading '.'"
)


# The schema files carry no `$id` (their relative `$ref`s resolve against where each file is,
# for editors too); in memory each is given one under this base, from its path in schemas/.
BASE_URI = "https://reconciler.invalid/schemas/"


@cache
def _schema_files() -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The endpoint schema's URI, its contents, and every schema file by URI."""
    root = schemas_dir()
    documents: dict[str, Any] = {}
    uri, endpoint = BASE_URI + ENDPOINT_SCHEMA, {}
    for path in sorted(root.rglob("*.schema.json")):
        if path.name == SETTINGS_SCHEMA:  # reconciler.yaml's schema: settings.py reads it
            continue
        address = BASE_URI + path.relative_to(root).as_posix()
        contents = {"$id": address, **json.loads(path.read_text(encoding="utf-8"))}
        documents[address] = contents
        if path.name == ENDPOINT_SCHEMA and path.parent == root:
            uri, endpoint = address, contents
    return uri, endpoint, documents


@cache
def endpoint_validator() -> Draft202012Validator:
    """One compiled validator for every spec (building it is the slow part)."""
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    # Elasticsearch reads integer settings as integers: `top_n: 3.0` is a 400 at PUT time
    # (ServiceUtils.removeAsType), though JSON Schema counts 3.0 as an integer. The schemas are
    # read without their `$schema`, or jsonschema would check each referenced schema with the
    # stock draft 2020-12 validator its `$schema` names instead of this one.
    strict = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    validator = extend(Draft202012Validator, type_checker=strict)

    def unmarked(contents: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in contents.items() if key != "$schema"}

    _, endpoint, documents = _schema_files()
    registry: Registry = Registry().with_resources(
        (uri, DRAFT202012.create_resource(unmarked(contents)))
        for uri, contents in documents.items()
    )
    return validator(unmarked(endpoint), registry=registry)


@cache
def _quick_check() -> Check | None:
    """A fast yes/no for the common case (a valid spec); None if the schemas outgrow it."""
    uri, endpoint, documents = _schema_files()
    try:
        return compile_schema(endpoint, uri=uri, documents=documents)
    except Unsupported:
        return None


@cache
def _generic_check() -> Check | None:
    """The fast yes/no of what every spec must be whatever its service (id, task type, service
    settings an object, chunking): for a service or task type the catalog lacks."""
    uri, endpoint, documents = _schema_files()
    base = {k: v for k, v in endpoint.items() if k not in ("allOf", "if", "then", "else")}
    base["properties"] = {**base.get("properties", {}), "service": {"type": "string"}}
    try:
        return compile_schema(
            {"allOf": [base, endpoint.get("else", {})]}, uri=uri, documents=documents
        )
    except Unsupported:
        return None


def check_document(document: Document, *, deferred: tuple[FieldPath, ...] = ()) -> list[Diagnostic]:
    """Every schema problem of one document, each at its YAML position. ``deferred``: what the
    catalog does not know (``described.catalog_gaps``), which the cluster checks at plan time:
    no problem is reported at or under those paths."""
    if _passes(document.body, deferred):
        return []  # jsonschema would find nothing; it runs only to explain a rejection
    skip = skipped_paths(deferred)
    validator = endpoint_validator()
    diagnostics = []
    for error in validator.iter_errors(document.body):
        for path, message in _explain(error, document.body):
            if not any(path[: len(skipped)] == skipped for skipped in skip):
                diagnostics.append(document.source.problem(path, message))
    return diagnostics


def _passes(body: Any, deferred: tuple[FieldPath, ...]) -> bool:
    """The fast path: the document is valid apart from what is deferred."""
    if not deferred:
        quick = _quick_check()
        return quick is not None and quick(body)
    if ("service",) in deferred or ("task_type",) in deferred:
        generic = _generic_check()
        return generic is not None and generic(body)
    quick = _quick_check()
    settings = body.get("service_settings") or {}
    known = {k: v for k, v in settings.items() if ("service_settings", k) not in deferred}
    return quick is not None and quick({**body, "service_settings": known})


@cache
def _region_policy_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    path = schemas_dir() / REGION_POLICY_SCHEMA
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def check_region_policy(document: Document) -> list[Diagnostic]:
    """Every schema problem of a region policy document, each at its YAML position."""
    return [
        document.source.problem(path, message)
        for error in _region_policy_validator().iter_errors(document.body)
        for path, message in _explain(error, document.body)
    ]


def dotted(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path) or "(document)"


def _secret_fields(body: Any) -> frozenset[str]:
    facts = load_catalog().service(str(body.get("service"))) if isinstance(body, Mapping) else None
    return frozenset(facts.secret_fields()) if facts else frozenset()


def _is_secret(path: FieldPath, body: Any) -> bool:
    return len(path) >= 2 and path[0] == "service_settings" and path[1] in _secret_fields(body)


def _did_you_mean(written: str, known: Iterable[str]) -> str:
    """`` (did you mean 'model_id'?)`` for a near miss among ``known`` ("" when none is near)."""
    import difflib

    close = difflib.get_close_matches(written, sorted(known), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _explain(error: ValidationError, body: Any) -> list[tuple[FieldPath, str]]:
    path: FieldPath = tuple(error.absolute_path)
    where = dotted(path)
    kind = error.validator
    if kind in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match

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
        return [
            (path + (k,), f"{prefix}unknown field '{k}'{_did_you_mean(k, known)}{suffix}")
            for k in extras
        ] or [(path, f"{where}: {error.message}")]
    if error.schema is False or kind == "not":
        return [(path, f"{where}: not allowed here ({_context(body)})")]
    if _is_secret(path, body) and kind not in ("required", "additionalProperties"):
        return [(path, f"{where} {SECRET_HINT}")]
    if kind == "pattern" and path == ("inference_id",) and str(error.instance).startswith("."):
        return [(path, f"{where}: '{error.instance}' {RESERVED_ID}")]
    if kind == "pattern":
        return [(path, f"{where}: '{error.instance}' does not match {error.validator_value}")]
    if kind == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        guess = _did_you_mean(str(error.instance), [str(v) for v in error.validator_value])
        return [(path, f"{where}: {error.instance!r} is not one of {allowed}{guess}")]
    if kind == "const":
        return [(path, f"{where}: must be {error.validator_value!r}")]
    if kind == "type":
        return [
            (path, f"{where}: expected {error.validator_value}, got {type_name(error.instance)}")
        ]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        symbol = {
            "minimum": ">=",
            "maximum": "<=",
            "exclusiveMinimum": ">",
            "exclusiveMaximum": "<",
        }
        return [
            (
                path,
                f"{where}: must be {symbol[kind]} {error.validator_value} (got {error.instance})",
            )
        ]
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
