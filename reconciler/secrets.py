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
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path as FsPath
from typing import Any

from reconciler.diagnostics import Diagnostic
from reconciler.errors import SecretError
from reconciler.model import EndpointSpec, FieldPath, SecretRef, copied
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
        if value is None:
            continue
        if type(value) is not str and isinstance(value, Mapping):  # (a string: no ABC check)
            paths.extend(("service_settings", name, key) for key in sorted(value))
        else:
            paths.append(("service_settings", name))
    return paths


def get_path(document: Mapping[str, Any], path: FieldPath) -> Any:
    node: Any = document
    for part in path:
        if not (type(node) is dict or isinstance(node, Mapping)) or part not in node:
            return None
        node = node[part]
    return node


def resolve(reference: str, *, spec: EndpointSpec, path: FieldPath) -> str:
    """The secret a reference of ``spec`` points at; errors name the spec file and line."""
    try:
        return _resolve(reference, file=spec.source.file)
    except _Unresolved as error:
        line, col = spec.source.at(path)  # positions are looked up only for an error
        raise _unresolved(error, file=spec.source.file, line=line, col=col, path=path) from None


def resolve_at(reference: Any, *, file: str, line: int, col: int, path: FieldPath) -> str:
    """The secret a reference written at ``file:line:col`` points at (a ``${file:}`` path is
    relative to ``file``); errors name that place."""
    try:
        return _resolve(reference, file=file)
    except _Unresolved as error:
        raise _unresolved(error, file=file, line=line, col=col, path=path) from None


class _Unresolved(Exception):
    """Why a reference cannot be resolved: the words that follow the field's name."""


def _unresolved(
    error: _Unresolved, *, file: str, line: int, col: int, path: FieldPath
) -> SecretError:
    dotted = ".".join(str(p) for p in path)
    return SecretError(f"{file}:{line}:{col}: {dotted}{error.args[0]}")


def _resolve(reference: Any, *, file: str) -> str:
    match = REFERENCE.match(reference) if isinstance(reference, str) else None
    if match is None:
        raise _Unresolved(" must be a ${env:NAME} or ${file:PATH} reference")
    kind, name = match.groups()
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise _Unresolved(f": environment variable {name} is not set")
        if not value.strip():  # what CI gives for a secret nobody configured
            raise _Unresolved(f": environment variable {name} is empty")
        remember(value)
        return value
    target = FsPath(name)
    if not target.is_absolute():
        target = FsPath(file).resolve().parent / target
    if target.is_dir():
        raise _Unresolved(f": {name} is a directory, not a file")
    try:
        value = target.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as error:
        raise _Unresolved(f": cannot read {name}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise _Unresolved(f": {name} is not UTF-8 text") from None
    if not value.strip():
        raise _Unresolved(f": {name} is empty")
    remember(value)
    return value


class SecretValues:
    """The secrets of one command: each reference resolved once (``fingerprints.fingerprint``
    derives each fingerprint once per process).

    A reference is the same reference wherever it is written (``${env:KEY}`` in a thousand specs
    reads one variable; ``${file:key.txt}`` is one file per directory). The values live in this
    object only, for as long as the command that made it; nothing here is written anywhere.
    """

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        # the keys of the references that mean the same wherever written (``${env:}``, an
        # absolute ``${file:}``): thousands of specs name a few
        self._keys: dict[str, tuple[str, str]] = {}

    def _key(self, reference: Any, file: str) -> tuple[str, str] | None:
        if not isinstance(reference, str):
            return None
        key = self._keys.get(reference)
        if key is None:
            key = _reference_key(reference, file)
            if key is not None and not key[1]:
                self._keys[reference] = key
        return key

    def value(self, reference: Any, *, ref: SecretRef) -> str:
        """The secret ``reference`` (written where ``ref`` says) points at."""
        key = self._key(reference, ref.file)
        with self._lock:
            known = self._values.get(key) if key else None
        if known is not None:
            return known
        line, col = ref.position()  # for an error only
        value = resolve_at(reference, file=ref.file, line=line, col=col, path=ref.path)
        if key:
            with self._lock:
                self._values[key] = value
        return value

    def of_spec(self, spec: EndpointSpec, path: FieldPath) -> str:
        reference = get_path(spec.body, path)
        key = self._key(reference, spec.source.file)
        with self._lock:
            known = self._values.get(key) if key else None
        if known is not None:
            return known
        value = resolve(reference, spec=spec, path=path)  # positions only for an error
        if key:
            with self._lock:
                self._values[key] = value
        return value

    def problems(
        self, wanted: Iterable[tuple[EndpointSpec, Iterable[FieldPath]]]
    ) -> list[Diagnostic]:
        """Every secret reference at the given paths that cannot be resolved here, as diagnostics
        (file:line): for a check before the first write, so that a missing variable is found
        before the lock is taken and other changes are made."""
        problems = []
        for spec, paths in wanted:
            for path in paths:
                try:
                    self.of_spec(spec, path)
                except SecretError as error:
                    problems.append(spec.source.problem(path, _without_place(error, spec)))
        return problems


def _reference_key(reference: Any, file: str) -> tuple[str, str] | None:
    match = REFERENCE.match(reference) if isinstance(reference, str) else None
    if match is None:
        return None
    kind, name = match.groups()
    if kind == "env" or FsPath(name).is_absolute():
        return (reference, "")
    return (reference, str(FsPath(file).resolve().parent))


def _without_place(error: SecretError, spec: EndpointSpec) -> str:
    text = str(error)
    return text.split(": ", 1)[1] if text.startswith(spec.source.file) else text


def unresolvable(wanted: Iterable[tuple[EndpointSpec, Iterable[FieldPath]]]) -> list[Diagnostic]:
    """``SecretValues().problems(wanted)``: for a check that keeps no value."""
    return SecretValues().problems(wanted)


def resolved_body(
    body: Mapping[str, Any], refs: Iterable[SecretRef], *, values: SecretValues
) -> tuple[dict[str, Any], dict[FieldPath, str]]:
    """A copy of a request ``body`` with the reference at each of ``refs`` replaced by its
    secret, and the secrets by path."""
    resolved = copied(body)
    found: dict[FieldPath, str] = {}
    for ref in refs:
        value = values.value(get_path(body, ref.path), ref=ref)
        node = resolved
        for part in ref.path[:-1]:
            node = node[part]
        node[ref.path[-1]] = value
        found[ref.path] = value
    return resolved, found
