"""Diagnostics: a problem with a source position, collected and then printed.

Owns the ``Diagnostic`` value and its one text form ``file:line:col: message``.
Does not decide what is a problem (loader, schema and cross-file checks do).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, order=True)
class Diagnostic:
    file: str
    line: int = 0
    col: int = 0
    message: str
    warning: bool = False  # what could not be checked here (``--strict`` makes it an error)

    def __str__(self) -> str:
        message = f"warning: {self.message}" if self.warning else self.message
        if self.line:
            return f"{self.file}:{self.line}:{self.col}: {message}"
        return f"{self.file}: {message}"


def sort_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Stable order for printing: by file, then position; duplicates dropped."""
    return sorted(set(diagnostics))
