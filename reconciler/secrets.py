"""Secret references: ``${env:NAME}`` / ``${file:PATH}``, resolved only when sent or compared.

Owns recognising a reference, resolving it (only when a value must be sent or fingerprinted)
and the masks shown in plans. A secret value never leaves this module except to be sent or
fingerprinted (``fingerprints.py``). Every value resolved here is remembered (in memory only)
by ``scrub.py``, the one scrubber, which masks it in any form a server may echo. Where a
``${file:}`` may point is checked at validate (``variables.file_references_outside``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path as FsPath
from typing import Any

from reconciler.diagnostics import Diagnostic
from reconciler.errors import SecretError
from reconciler.model import EndpointSpec, FieldPath, copied
from reconciler.scrub import SENSITIVE as SENSITIVE  # the mask, also for renderers
from reconciler.scrub import remember

REFERENCE = re.compile(r"^\$\{(env|file):([^}]+)\}$")
SENSITIVE_CHANGED = "(sensitive value changed)"


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and REFERENCE.match(value) is not None


def secret_paths(spec: EndpointSpec, secret_fields: tuple[str, ...]) -> list[FieldPath]:
    """Paths of every secret the spec declares (a secret map yields one path per key)."""
    settings = spec.block("service_settings")
    paths: list[FieldPath] = []
    for name in secret_fields:
        value = settings.get(name)
        if isinstance(value, Mapping):
            paths.extend(("service_settings", name, key) for key in sorted(value))
        elif value is not None:
            paths.append(("service_settings", name))
    return paths


def get_path(document: Mapping[str, Any], path: FieldPath) -> Any:
    node: Any = document
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def resolve(reference: str, *, spec: EndpointSpec, path: FieldPath) -> str:
    """The secret a reference points at; errors name the spec file and line."""
    line, col = spec.source.at(path)
    where = f"{spec.source.file}:{line}:{col}"
    dotted = ".".join(str(p) for p in path)
    match = REFERENCE.match(reference) if isinstance(reference, str) else None
    if match is None:
        raise SecretError(f"{where}: {dotted} must be a ${{env:NAME}} or ${{file:PATH}} reference")
    kind, name = match.groups()
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise SecretError(f"{where}: {dotted}: environment variable {name} is not set")
        if not value.strip():  # what CI gives for a secret nobody configured
            raise SecretError(f"{where}: {dotted}: environment variable {name} is empty")
        remember(value)
        return value
    target = FsPath(name)
    if not target.is_absolute():
        target = FsPath(spec.source.file).resolve().parent / target
    if target.is_dir():
        raise SecretError(f"{where}: {dotted}: {name} is a directory, not a file")
    try:
        value = target.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as error:
        raise SecretError(
            f"{where}: {dotted}: cannot read {name}: {error.strerror or error}"
        ) from None
    except UnicodeDecodeError:
        raise SecretError(f"{where}: {dotted}: {name} is not UTF-8 text") from None
    if not value.strip():
        raise SecretError(f"{where}: {dotted}: {name} is empty")
    remember(value)
    return value


def unresolvable(wanted: Iterable[tuple[EndpointSpec, Iterable[FieldPath]]]) -> list[Diagnostic]:
    """Every secret reference at the given paths that cannot be resolved here, as diagnostics
    (file:line): for a check before the first write, so that a missing variable is found before
    the lock is taken and other changes are made."""
    problems = []
    for spec, paths in wanted:
        for path in paths:
            try:
                resolve(get_path(spec.body, path), spec=spec, path=path)
            except SecretError as error:
                message = (
                    str(error).split(": ", 1)[1]
                    if str(error).startswith(spec.source.file)
                    else str(error)
                )
                problems.append(spec.source.problem(path, message))
    return problems


def resolved_body(
    body: Mapping[str, Any], paths: Iterable[FieldPath], *, spec: EndpointSpec
) -> tuple[dict[str, Any], dict[FieldPath, str]]:
    """A copy of a request ``body`` with the reference at each path replaced by its secret, and
    the secrets by path. Request bodies keep the spec's own paths (service_settings.api_key), so
    errors can name the spec's file and line."""
    resolved = copied(body)
    values: dict[FieldPath, str] = {}
    for path in paths:
        value = resolve(get_path(body, path), spec=spec, path=path)
        node = resolved
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        values[path] = value
    return resolved, values
