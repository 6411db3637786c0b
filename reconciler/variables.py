"""``${var:NAME}`` in spec strings, filled from reconciler.yaml (per environment).

Owns substitution before schema checks, so a variable can stand anywhere a
plain string can, and the rule for where each kind of reference may stand:
``${env:}``/``${file:}`` only as the whole value of a secret field, ``${var:NAME}``
anywhere else, and no other text with ``${`` (an unterminated ``${var:x``, a
``${env:X}`` in ``url``), so that nothing is ever sent as a literal ``${...}``.
Secrets never come from here (they are resolved only when sent).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path as FsPath
from typing import Any

from reconciler.catalog import load_catalog
from reconciler.diagnostics import Diagnostic
from reconciler.loader import Document
from reconciler.model import FieldPath
from reconciler.secrets import REFERENCE

VARIABLE = re.compile(r"\$\{var:([A-Za-z_][A-Za-z0-9_.-]*)\}")
SECRET_KIND = re.compile(r"\$\{(env|file):")
# the custom service's own placeholders (${input}, ${api_key}), filled by Elasticsearch when it
# calls the upstream service; allowed only in the fields the catalog marks "templates"
TEMPLATE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_.]*\}")


class Strings:
    """Each body's strings holding ``${``, found in one walk and asked by every check (the
    misplaced references, the ``${file:}`` fences, variable substitution in each environment)."""

    def __init__(self) -> None:
        self._found: dict[int, tuple[Any, list[tuple[FieldPath, str]]]] = {}

    def of(self, body: Any) -> list[tuple[FieldPath, str]]:
        seen = self._found.get(id(body))
        if seen is None or seen[0] is not body:
            seen = self._found[id(body)] = (body, _strings(body, ()))  # the body kept: id stays
        return seen[1]


def misplaced_references(
    documents: list[Document], strings: Strings | None = None
) -> list[Diagnostic]:
    """Every ``${`` that is not a whole reference in a place where that reference may stand."""
    strings = strings or Strings()
    problems = []
    rules: dict[str, tuple[frozenset[str], ...] | None] = {}  # per service, asked once
    for document in documents:
        if not isinstance(document.body, Mapping):
            continue
        service = str(document.body.get("service"))
        if service not in rules:
            rules[service] = _service_rules(service)
        known = rules[service]
        if known is None:  # an unknown service: the schema names it (with a did-you-mean);
            continue  # which fields are secret is unknown, so no reference is misplaced
        secret_fields, templates, fields = known
        for path, text in strings.of(document.body):
            field = path[1] if len(path) >= 2 and path[0] == "service_settings" else None
            if field in secret_fields:
                continue  # a secret must be a reference; the schema says so without quoting it
            if field is not None and field not in fields:
                continue  # not in the catalog: the cluster's description says at plan time
            if field in templates:
                text = TEMPLATE.sub("", text)
            message = _misplaced(text, secret_fields)
            if message:
                where = ".".join(map(str, path))
                problems.append(document.source.problem(path, f"{where}: {message}"))
    return problems


def file_references_outside(
    documents: Iterable[Document],
    *,
    root: FsPath,
    allowed: Iterable[FsPath] = (),
    strings: Strings | None = None,
) -> list[Diagnostic]:
    """Every ``${file:PATH}`` that leads out of the desired-state directory ``root`` (after
    resolving ``..`` and symbolic links) and is under none of the ``allowed`` roots
    (``secret_file_roots``): a spec could otherwise send any file on the runner as a secret."""
    fences = [FsPath(os.path.realpath(folder)) for folder in (root, *allowed)]
    strings = strings or Strings()
    problems = []
    for document in documents:
        for path, text in strings.of(document.body):
            match = REFERENCE.match(text)
            if match is None or match.group(1) != "file":
                continue
            name = match.group(2)
            target = FsPath(os.path.realpath(FsPath(document.source.file).parent / name))
            if any(target.is_relative_to(fence) for fence in fences):
                continue
            dotted = ".".join(map(str, path))
            problems.append(
                document.source.problem(
                    path,
                    f"{dotted}: ${{file:{name}}} leads out of the desired-state directory (to "
                    f"{target}); a secret file must be inside {root} or under a folder listed in "
                    "secret_file_roots of reconciler.yaml",
                )
            )
    return problems


def _service_rules(service: str) -> tuple[frozenset[str], ...] | None:
    """The service's secret fields, its fields that may hold the service's own ``${...}``, and
    all its service settings (None for a service the catalog does not know)."""
    facts = load_catalog().service(service)
    if facts is None:
        return None
    secret_fields = frozenset(facts.secret_fields())
    templates = frozenset(
        name
        for name, field in facts.raw.get("service_settings", {}).items()
        if field.get("templates")
    )
    return secret_fields, templates, frozenset(facts.raw.get("service_settings", {}))


def _misplaced(text: str, secret_fields: frozenset[str]) -> str:
    rest = VARIABLE.sub("", text)
    if "${" not in rest:
        return ""
    kind = SECRET_KIND.search(rest)
    if kind:
        where = ", ".join(f"service_settings.{name}" for name in sorted(secret_fields))
        return (
            f"${{{kind.group(1)}:...}} may stand only as the whole value of a secret field "
            f"({where or 'this service has none'}); write ${{var:NAME}} here"
        )
    shown = rest[rest.index("${") :][:40]
    return (
        f"'{shown}' is not a reference: only a whole ${{var:NAME}} may stand here "
        "(is a '}' missing?)"
    )


def _strings(value: Any, path: FieldPath) -> list[tuple[FieldPath, str]]:
    """Every string holding ``${`` (no other can be misplaced), with its path."""
    found: list[tuple[FieldPath, str]] = []
    _collect(value, path, found)
    return found


def _collect(value: Any, path: FieldPath, found: list[tuple[FieldPath, str]]) -> None:
    if isinstance(value, str):
        if "${" in value:
            found.append((path, value))
        return
    items: Iterable[tuple[Any, Any]]
    if type(value) is dict or (type(value) is not list and isinstance(value, Mapping)):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        if type(item) is str:  # most values: looked at here, without a call or a path
            if "${" in item:
                found.append((path + (key,), item))
        elif not isinstance(item, (int, float, bool)) and item is not None:
            _collect(item, path + (key,), found)


def substitute_variables(
    documents: list[Document], variables: Mapping[str, str], strings: Strings | None = None
) -> tuple[list[Document], list[Diagnostic]]:
    strings = strings or Strings()
    result, problems = [], []
    for document in documents:
        texts = strings.of(document.body)
        if not texts or not any("${var:" in text for _, text in texts):
            result.append(document)  # nothing to fill: the body as it is
            continue
        missing: list[tuple[FieldPath, str]] = []
        body = _walk(document.body, (), variables, missing)
        for path, name in missing:
            problems.append(
                document.source.problem(
                    path,
                    f"undefined variable '{name}' (define it under variables: in reconciler.yaml)",
                )
            )
        result.append(replace(document, body=body) if body is not document.body else document)
    return result, problems


def _walk(
    value: Any, path: FieldPath, variables: Mapping[str, str], missing: list[tuple[FieldPath, str]]
) -> Any:
    if isinstance(value, str):
        if "${var:" not in value:
            return value

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in variables:
                missing.append((path, name))
                return match.group(0)
            return variables[name]

        return VARIABLE.sub(fill, value)
    if isinstance(value, dict):
        changed = {k: _walk(v, path + (k,), variables, missing) for k, v in value.items()}
        return changed if any(changed[k] is not value[k] for k in value) else value
    if isinstance(value, list):
        items = [_walk(v, path + (i,), variables, missing) for i, v in enumerate(value)]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value
