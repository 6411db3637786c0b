"""The JSON Schemas compiled to a yes/no predicate: the fast path before jsonschema.

Owns one question, "is this document valid?", answered by closures built
once from the schema files, for the keywords our generated schemas use
(draft 2020-12 semantics, as ``jsonschema`` implements them). Almost every
spec is valid, and jsonschema walks a valid document about twenty times more
slowly; ``schema.check_document`` asks here first and runs jsonschema only
for a document this predicate rejects, so diagnostics come from jsonschema
alone. A schema using any other keyword raises ``Unsupported`` at compile
time and the caller keeps to jsonschema. Pure: no I/O.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# keywords that never decide validity (format is an annotation unless a format checker is given)
ANNOTATIONS = frozenset(
    {
        "$id",
        "$schema",
        "$comment",
        "$defs",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
KEYWORDS = frozenset(
    {
        "$ref",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "properties",
        "additionalProperties",
        "items",
        "type",
        "const",
        "enum",
        "required",
        "dependentRequired",
        "minProperties",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "uniqueItems",
    }
)


# checked together by ``Compiler._object``
OBJECT_KEYWORDS = frozenset(
    {"properties", "required", "additionalProperties", "patternProperties", "propertyNames"}
)


class Unsupported(Exception):
    """The schema uses something this compiler does not model."""


def _accept(instance: Any) -> bool:
    return True


def _reject(instance: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    """An int, never a float: Elasticsearch reads integer settings as integers and refuses
    ``3.0`` (``ServiceUtils.removeAsType``), where JSON Schema would call it an integer."""
    return isinstance(value, int) and not isinstance(value, bool)


TYPES: Mapping[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def equal(one: Any, two: Any) -> bool:
    """JSON equality as jsonschema sees it: True is not 1, lists and objects compare deeply."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, bool) or isinstance(two, bool):
        return False  # the same bool would have been ``is``
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(equal(one[key], two[key]) for key in one)
    return bool(one == two)


class Compiler:
    """Compiles schemas found in ``documents`` (URI -> contents), following ``$ref`` between them."""

    def __init__(self, documents: Mapping[str, Any]) -> None:
        self.documents = documents
        self.by_uri: dict[str, list[Check]] = {}  # one cell per referenced schema (recursion-safe)

    def compile(self, schema: Any, base: str) -> Check:
        if schema is True:
            return _accept
        if schema is False:
            return _reject
        if not isinstance(schema, dict):
            raise Unsupported(f"schema is {type(schema).__name__}")
        if "$id" in schema:
            base = urllib.parse.urljoin(base, schema["$id"])
            declared = schema.get("$schema", DRAFT_2020_12)
            if declared != DRAFT_2020_12:
                raise Unsupported(f"{base}: $schema {declared}")
        names = [
            name
            for name in schema
            if name not in ANNOTATIONS
            and name not in ("then", "else")
            and not name.startswith("x-")  # our own annotations (reconciler.yaml's wording)
        ]
        if OBJECT_KEYWORDS.isdisjoint(names):
            return _all([self._keyword(name, schema[name], schema, base) for name in names])
        typed = schema.get("type") == "object"  # folded into the object check
        checks = [
            self._keyword(name, schema[name], schema, base)
            for name in names
            if name not in OBJECT_KEYWORDS and not (name == "type" and typed)
        ]
        return _all([*checks, self._object(schema, base, typed=typed)])

    def _keyword(self, name: str, value: Any, schema: dict[str, Any], base: str) -> Check:
        if name not in KEYWORDS:
            raise Unsupported(f"keyword {name}")
        check: Check = getattr(self, "_" + name.lstrip("$"))(value, schema, base)
        return check

    # -- references -----------------------------------------------------------------------------

    def _ref(self, reference: str, schema: dict[str, Any], base: str) -> Check:
        uri = urllib.parse.urljoin(base, reference)
        cell = self.by_uri.get(uri)
        if cell is None:
            cell = self.by_uri[uri] = []
            document, _, fragment = uri.partition("#")
            cell.append(self.compile(self._resolve(document, fragment), document))
        if cell:  # compiled: the check itself (only a reference met while compiling its own
            return cell[0]  # target, a recursive schema, goes through the cell)
        return lambda instance: cell[0](instance)

    def _resolve(self, document: str, fragment: str) -> Any:
        if document not in self.documents:
            raise Unsupported(f"unknown schema {document}")
        target = self.documents[document]
        if fragment and not fragment.startswith("/"):
            raise Unsupported(f"anchor #{fragment}")
        for part in fragment.split("/")[1:]:
            part = urllib.parse.unquote(part).replace("~1", "/").replace("~0", "~")
            if isinstance(target, list):
                target = target[int(part)]
            elif isinstance(target, dict) and part in target:
                target = target[part]
            else:
                raise Unsupported(f"{document}#{fragment} does not resolve")
        return target

    # -- applicators ----------------------------------------------------------------------------

    def _allOf(self, value: list[Any], schema: dict[str, Any], base: str) -> Check:
        # "if service is X then X's schema", once per service: look the branch up instead of trying each
        branches: dict[str, dict[str, list[Check]]] = {}
        checks = []
        for sub in value:
            switch = _switch(sub)
            if switch is None:
                checks.append(self.compile(sub, base))
                continue
            key, const = switch
            then = self.compile(sub["then"], base)
            branches.setdefault(key, {}).setdefault(const, []).append(then)
        for key, by_value in branches.items():
            checks.append(_dispatch(key, {const: _all(found) for const, found in by_value.items()}))
        return _all(checks)

    def _anyOf(self, value: list[Any], schema: dict[str, Any], base: str) -> Check:
        checks = [self.compile(sub, base) for sub in value]
        return lambda instance: any(check(instance) for check in checks)

    def _oneOf(self, value: list[Any], schema: dict[str, Any], base: str) -> Check:
        checks = [self.compile(sub, base) for sub in value]
        return lambda instance: sum(1 for check in checks if check(instance)) == 1

    def _not(self, value: Any, schema: dict[str, Any], base: str) -> Check:
        check = self.compile(value, base)
        return lambda instance: not check(instance)

    def _if(self, value: Any, schema: dict[str, Any], base: str) -> Check:
        condition = self.compile(value, base)
        then = self.compile(schema.get("then", True), base)
        otherwise = self.compile(schema.get("else", True), base)
        return lambda instance: then(instance) if condition(instance) else otherwise(instance)

    def _object(self, schema: dict[str, Any], base: str, *, typed: bool) -> Check:
        """``properties``, ``required`` and ``additionalProperties`` (and ``type: object``) of
        one schema as one check: an object is told from other values once, not once per
        keyword (a spec's objects are checked some 40 times a document)."""
        properties = tuple(
            (name, compiled)
            for name, sub in schema.get("properties", {}).items()
            if (compiled := self.compile(sub, base)) is not _accept
        )
        required = frozenset(schema.get("required", ()))
        known = frozenset(schema.get("properties", {}))
        # each key matching a pattern (searched, as jsonschema does) is checked by its schema
        patterns = tuple(
            (re.compile(pattern), self.compile(sub, base))
            for pattern, sub in schema.get("patternProperties", {}).items()
        )
        names = self.compile(schema.get("propertyNames", True), base)
        extra = self.compile(schema.get("additionalProperties", True), base)
        closed = extra is _reject and not patterns  # additionalProperties: false, the common case

        def fields(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return not typed
            if required and not instance.keys() >= required:
                return False
            if closed:
                if not known.issuperset(instance):
                    return False
            elif extra is not _accept or patterns or names is not _accept:
                for key, item in instance.items():
                    if names is not _accept and not names(key):
                        return False
                    matched = False
                    for pattern, sub in patterns:
                        if isinstance(key, str) and pattern.search(key):
                            matched = True
                            if not sub(item):
                                return False
                    if not matched and key not in known and not extra(item):
                        return False
            for name, sub in properties:
                if name in instance and not sub(instance[name]):
                    return False
            return True

        return fields

    def _items(self, value: Any, schema: dict[str, Any], base: str) -> Check:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        check = self.compile(value, base)
        return lambda instance: (
            not isinstance(instance, list) or all(check(item) for item in instance)
        )

    # -- assertions -----------------------------------------------------------------------------

    def _type(self, value: str | list[str], schema: dict[str, Any], base: str) -> Check:
        names = [value] if isinstance(value, str) else list(value)
        if any(name not in TYPES for name in names):
            raise Unsupported(f"type {value}")
        checks = [TYPES[name] for name in names]
        if len(checks) == 1:
            return checks[0]
        return lambda instance: any(check(instance) for check in checks)

    def _const(self, value: Any, schema: dict[str, Any], base: str) -> Check:
        return lambda instance: equal(instance, value)

    def _enum(self, value: list[Any], schema: dict[str, Any], base: str) -> Check:
        strings = frozenset(item for item in value if isinstance(item, str))
        others = [item for item in value if not isinstance(item, str)]

        def enum(instance: Any) -> bool:
            if isinstance(instance, str):
                return instance in strings
            return any(equal(instance, item) for item in others)

        return enum

    def _dependentRequired(
        self, value: dict[str, list[str]], schema: dict[str, Any], base: str
    ) -> Check:
        rules = tuple((name, tuple(needed)) for name, needed in value.items())

        def dependent(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            return all(
                all(n in instance for n in needed) for name, needed in rules if name in instance
            )

        return dependent

    def _minProperties(self, value: int, schema: dict[str, Any], base: str) -> Check:
        return lambda instance: not isinstance(instance, dict) or len(instance) >= value

    def _minimum(self, value: float, schema: dict[str, Any], base: str) -> Check:
        return lambda instance: not _is_number(instance) or instance >= value

    def _maximum(self, value: float, schema: dict[str, Any], base: str) -> Check:
        return lambda instance: not _is_number(instance) or instance <= value

    def _exclusiveMinimum(self, value: float, schema: dict[str, Any], base: str) -> Check:
        return lambda instance: not _is_number(instance) or instance > value

    def _exclusiveMaximum(self, value: float, schema: dict[str, Any], base: str) -> Check:
        return lambda instance: not _is_number(instance) or instance < value

    def _minLength(self, value: int, schema: dict[str, Any], base: str) -> Check:
        return lambda instance: not isinstance(instance, str) or len(instance) >= value

    def _maxLength(self, value: int, schema: dict[str, Any], base: str) -> Check:
        return lambda instance: not isinstance(instance, str) or len(instance) <= value

    def _pattern(self, value: str, schema: dict[str, Any], base: str) -> Check:
        compiled = re.compile(value)
        return lambda instance: (
            not isinstance(instance, str) or compiled.search(instance) is not None
        )

    def _minItems(self, value: int, schema: dict[str, Any], base: str) -> Check:
        return lambda instance: not isinstance(instance, list) or len(instance) >= value

    def _maxItems(self, value: int, schema: dict[str, Any], base: str) -> Check:
        return lambda instance: not isinstance(instance, list) or len(instance) <= value

    def _uniqueItems(self, value: bool, schema: dict[str, Any], base: str) -> Check:
        if not value:
            return _accept
        return lambda instance: (
            not isinstance(instance, list)
            or not any(
                equal(one, two) for i, one in enumerate(instance) for two in instance[i + 1 :]
            )
        )


def _all(checks: list[Check]) -> Check:
    checks = [check for check in checks if check is not _accept]
    if not checks:
        return _accept
    if len(checks) == 1:
        return checks[0]

    def every(instance: Any) -> bool:
        for check in checks:
            if not check(instance):
                return False
        return True

    return every


def _switch(schema: Any) -> tuple[str, str] | None:
    """(key, value) when ``schema`` is exactly ``if: {key: const value (a string), required}, then: ...``."""
    if not isinstance(schema, dict) or set(schema) - ANNOTATIONS != {"if", "then"}:
        return None
    condition = schema["if"]
    # without "type": "object" the condition would hold for any non-object, and dispatch could not say so
    if not isinstance(condition, dict) or set(condition) - ANNOTATIONS != {
        "properties",
        "required",
        "type",
    }:
        return None
    if condition["type"] != "object":
        return None
    properties, required = condition["properties"], condition["required"]
    if (
        not isinstance(properties, dict)
        or len(properties) != 1
        or list(properties) != list(required)
    ):
        return None
    ((key, test),) = properties.items()
    if (
        not isinstance(test, dict)
        or set(test) - ANNOTATIONS != {"const"}
        or not isinstance(test["const"], str)
    ):
        return None
    return key, test["const"]


def _dispatch(key: str, branches: Mapping[str, Check]) -> Check:
    """The branch for ``instance[key]``; an object without a matching string value meets no condition."""

    def dispatch(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        value = instance.get(key)
        if not isinstance(value, str):
            return True
        branch = branches.get(value)
        return branch is None or branch(instance)

    return dispatch


def compile_schema(root: Any, *, uri: str, documents: Mapping[str, Any]) -> Check:
    """A predicate equal to ``schema.endpoint_validator().is_valid``: draft 2020-12 with
    integers that are ints (raises ``Unsupported``)."""
    return Compiler(documents).compile(root, uri)
