"""Renderings of one ``Plan``: text (terminals, logs), json (scripts), markdown (pull requests).

Owns the choice of rendering by name. Every renderer only reads the plan and
returns a string; printing and writing files belong to the ``cli`` package. Secrets
appear only as the masks the planner already put in the plan. The package
imports neither click nor httpx: colour is written as plain ANSI codes.
"""

from __future__ import annotations

from reconciler.plan import Plan
from reconciler.render.json import render_json, to_document
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text

FORMATS = ("text", "json", "markdown")
__all__ = ["FORMATS", "render", "render_json", "render_markdown", "render_text", "to_document"]


def render(
    plan: Plan, fmt: str, *, color: bool = False, drift: bool = False, verbose: bool = False
) -> str:
    """The plan in format ``fmt``.

    ``color`` affects text only; ``drift`` (wording) and ``verbose`` (list unchanged endpoints
    instead of counting them) affect text and markdown. JSON always has one entry per endpoint.
    """
    if fmt == "text":
        return render_text(plan, color=color, drift=drift, verbose=verbose)
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan, drift=drift, verbose=verbose)
    raise ValueError(f"unknown plan format {fmt!r}; expected one of {', '.join(FORMATS)}")
