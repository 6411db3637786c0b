"""The one decision whether text output is coloured.

Owns the precedence users expect from other tools: an explicit ``--color`` or
``--no-color`` wins; otherwise a non-empty ``NO_COLOR`` turns colour off
(https://no-color.org), as does ``TERM=dumb``; otherwise colour follows
whether the output is a terminal. Pure: the caller passes the environment and
whether the stream is a terminal, so that the rule is testable without one.
"""

from __future__ import annotations

from collections.abc import Mapping


def use_color(choice: bool | None, *, isatty: bool, environ: Mapping[str, str]) -> bool:
    """Whether to colour text output; ``choice`` is ``--color`` (True), ``--no-color`` (False) or None."""
    if choice is not None:
        return choice
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    return isatty
