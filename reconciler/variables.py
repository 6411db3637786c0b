"""``${var:NAME}`` in spec strings, filled from reconciler.yaml (per environment).

Owns substitution before schema checks, so a variable can stand anywhere a
plain string can. Secrets never come from here (they are ``${env:}`` or
``${file:}`` references, resolved only when sent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from reconciler.diagnostics import Diagnostic
from reconciler.loader import Document
from reconciler.model import Path

VARIABLE = re.compile(r"\$\{var:([A-Za-z_][A-Za-z0-9_.-]*)\}")


def substitute_variables(
    documents: list[Document], variables: Mapping[str, str]
) -> tuple[list[Document], list[Diagnostic]]:
    result, problems = [], []
    for document in documents:
        missing: list[tuple[Path, str]] = []
        body = _walk(document.body, (), variables, missing)
        for path, name in missing:
            line, col = document.source.at(path)
            problems.append(
                Diagnostic(
                    file=document.source.file,
                    line=line,
                    col=col,
                    message=f"undefined variable '{name}' (define it under variables: in reconciler.yaml)",
                )
            )
        result.append(replace(document, body=body) if body is not document.body else document)
    return result, problems


def _walk(
    value: Any, path: Path, variables: Mapping[str, str], missing: list[tuple[Path, str]]
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
