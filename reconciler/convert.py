"""``reconciler convert``: Dev Tools console requests -> one spec file per endpoint.

Owns turning ``PUT _inference/{task_type}/{inference_id}`` (or
``PUT _inference/{inference_id}`` with ``task_type`` in the body) into the spec
a person would write: the path parts as ``inference_id``/``task_type``, every
secret field of the service (per the catalog) as an ``${env:NAME}`` reference
named like ``import`` names them, the literal kept nowhere (a literal that also
appears elsewhere in the body stops the conversion instead of being written),
old layouts as written unless ``modernise`` (then as ``layouts`` reads them).
Other requests are skipped and named. Reading the console text is
``console``'s; printing is the CLI's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from reconciler.catalog import Catalog
from reconciler.console import ConsoleError, ConsoleRequest, parse_console
from reconciler.diagnostics import Diagnostic
from reconciler.errors import InputError
from reconciler.importer import env_name, refuse_existing, spec_file_text
from reconciler.layouts import current_layout

SPEC_KEYS = ("inference_id", "task_type", "service", "service_settings", "task_settings")
REFERENCE_PREFIXES = ("${env:", "${file:")
# a shorter literal found elsewhere in the body is a coincidence ("abc" in a model id), not a copy
MIN_LITERAL = 6


@dataclass(frozen=True, kw_only=True)
class Converted:
    """One request as a spec, the variables its references name, and what happened to it."""

    inference_id: str
    line: int
    spec: dict[str, Any]
    variables: tuple[str, ...]
    replaced: tuple[str, ...]  # the secret fields whose literal was replaced, dotted
    notes: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Conversion:
    specs: tuple[Converted, ...]
    skipped: tuple[str, ...]  # one sentence per request that is not an endpoint creation


def convert_text(text: str, *, file: str, catalog: Catalog, modernise: bool) -> Conversion:
    """Every ``PUT _inference`` request of console ``text``; problems raise ``InputError``."""
    try:
        requests = parse_console(text)
    except ConsoleError as error:
        problem = Diagnostic(file=file, line=error.line, col=error.col, message=str(error))
        raise InputError(f"{file} is not Dev Tools console text", [problem]) from None
    specs: list[Converted] = []
    skipped: list[str] = []
    problems: list[Diagnostic] = []
    seen: dict[str, int] = {}
    for request in requests:
        reason = _not_a_creation(request)
        if reason:
            skipped.append(
                f"{file}:{request.line}: skipped {request.method} {request.path}: {reason}"
            )
            continue
        try:
            converted = _convert(request, catalog=catalog, modernise=modernise)
        except _Refused as refused:
            problems.append(Diagnostic(file=file, line=refused.line, col=1, message=str(refused)))
            continue
        if converted.inference_id in seen:
            message = (
                f"inference_id '{converted.inference_id}' is created twice: here and at "
                f"{file}:{seen[converted.inference_id]}"
            )
            problems.append(Diagnostic(file=file, line=request.line, col=1, message=message))
            continue
        seen[converted.inference_id] = request.line
        specs.append(converted)
    if problems:
        raise InputError(f"{len(problems)} request(s) of {file} cannot be converted", problems)
    if not specs:
        raise InputError(f"{file} holds no PUT _inference request to convert")
    return Conversion(specs=tuple(specs), skipped=tuple(skipped))


class _Refused(Exception):
    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(message)
        self.line = line


def _parts(path: str) -> list[str]:
    return [part for part in path.strip("/").split("/") if part]


def _not_a_creation(request: ConsoleRequest) -> str:
    parts = _parts(request.path)
    if not parts or parts[0] != "_inference":
        return "not an inference endpoint request"
    if request.method != "PUT":
        return "only PUT requests create endpoints"
    if parts[-1] == "_update":
        return "an update of an existing endpoint, not a creation"
    return ""


def _convert(request: ConsoleRequest, *, catalog: Catalog, modernise: bool) -> Converted:
    parts = _parts(request.path)
    if len(parts) not in (2, 3):
        raise _Refused(
            f"expected PUT _inference/TASK_TYPE/ID or PUT _inference/ID, got {request.path}",
            line=request.line,
        )
    if not isinstance(request.body, Mapping):
        raise _Refused(f"PUT {request.path} has no JSON object body", line=request.line)
    body = dict(request.body)
    inference_id = parts[-1]
    path_task = parts[1] if len(parts) == 3 else None
    body_task = body.pop("task_type", None)
    if path_task and body_task and str(body_task).lower() != path_task.lower():
        raise _Refused(
            f"the path says task type {path_task} and the body says {body_task}; "
            "Elasticsearch refuses the conflict",
            line=request.body_lines.get(("task_type",), request.line),
        )
    task_type = path_task or body_task
    if not task_type:
        raise _Refused(
            f"PUT {request.path} names no task type (in the path or as task_type in the body)",
            line=request.line,
        )
    spec: dict[str, Any] = {"inference_id": inference_id, "task_type": str(task_type).lower()}
    spec.update(body)
    spec = {key: spec[key] for key in SPEC_KEYS if key in spec} | {
        key: value for key, value in spec.items() if key not in SPEC_KEYS
    }
    notes: list[str] = []
    layout = current_layout(spec, catalog, rename_service=modernise)
    for change in layout.changes:
        if modernise and change.applied:
            notes.append(f"modernised: {change.message}")
        elif modernise:
            notes.append(change.message)  # a move Elasticsearch does not make either
        else:
            notes.append(f"old layout kept as written ({change.message})")
    if modernise:
        spec = layout.body
    variables, replaced = _reference_secrets(spec, catalog, request)
    return Converted(
        inference_id=inference_id,
        line=request.line,
        spec=spec,
        variables=tuple(variables),
        replaced=tuple(replaced),
        notes=tuple(notes),
    )


def secret_names(service: Any, catalog: Catalog) -> tuple[str, ...]:
    """The service's secret fields; for a service the catalog does not know, every secret name."""
    facts = catalog.service(service) if isinstance(service, str) else None
    if facts is not None:
        return facts.secret_fields()
    every: set[str] = set()
    for known in catalog.service_names():
        listed = catalog.service(known)
        every.update(listed.secret_fields() if listed else ())
    return tuple(sorted(every))


def _is_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(REFERENCE_PREFIXES) and value.endswith("}")


def _reference_secrets(
    spec: dict[str, Any], catalog: Catalog, request: ConsoleRequest
) -> tuple[list[str], list[str]]:
    """Replace every literal secret of ``spec`` by a reference; (variables, replaced fields)."""
    settings = spec.get("service_settings")
    if not isinstance(settings, dict):
        return [], []
    inference_id = spec["inference_id"]
    variables: list[str] = []
    replaced: list[str] = []
    literals: list[tuple[str, str]] = []
    for name in secret_names(spec.get("service"), catalog):
        if name not in settings:
            continue
        value = settings[name]
        places: list[tuple[dict[str, Any], str, tuple[str, ...]]]
        if isinstance(value, dict):  # a secret map (custom's secret_parameters): each value
            places = [(value, key, (name, key)) for key in value]
        else:
            places = [(settings, name, (name,))]
        for holder, key, path in places:
            literal = holder[key]
            if _is_reference(literal):
                continue
            variable = env_name(inference_id, "_".join(path))
            holder[key] = f"${{env:{variable}}}"
            variables.append(variable)
            replaced.append(".".join(path))
            if isinstance(literal, str | int | float) and len(str(literal)) >= MIN_LITERAL:
                literals.append((".".join(path), str(literal)))
    for field, literal in literals:
        for where in _strings_holding(spec, literal):
            line = request.body_lines.get(tuple(where.split(".")), request.line)
            raise _Refused(
                f"the literal {field} of {inference_id} also appears in {where}; replace it there "
                "by a reference by hand (nothing was written)",
                line=line,
            )
    return variables, replaced


def _strings_holding(value: Any, literal: str, path: str = "") -> Iterator[str]:
    if isinstance(value, str):
        if literal in value:
            yield path or "(body)"
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _strings_holding(inner, literal, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _strings_holding(inner, literal, f"{path}.{index}")


def header_lines(converted: Converted, *, source: str) -> list[str]:
    lines = [f"Converted by `reconciler convert` from {source}:{converted.line}."]
    if converted.variables:
        lines.append(
            f"Set {', '.join(converted.variables)} to the secret value(s) before plan or apply."
        )
    lines.extend(f"Note: {note}." for note in converted.notes)
    return lines


def write_converted(
    conversion: Conversion, out: FsPath, *, source: str, schema_ref: str | None
) -> list[FsPath]:
    """One file per spec in ``out``; nothing is written when any of the files exists."""
    paths = [out / f"{converted.inference_id}.yaml" for converted in conversion.specs]
    refuse_existing(paths)
    out.mkdir(parents=True, exist_ok=True)
    for converted, path in zip(conversion.specs, paths, strict=True):
        text = spec_file_text(
            converted.spec, header_lines(converted, source=source), schema_ref=schema_ref
        )
        with open(path, "x", encoding="utf-8") as handle:  # "x": never replaces a file
            handle.write(text)
    return paths
