"""Whether the cluster can serve what a spec asks for, beyond the service's own version.

Owns one check made after the cluster's version is known and before any
write, for services whose availability depends on the deployment rather
than on the version (catalog ``requires_cluster_offer``: the Elastic
Inference Service is there only where the cluster is connected to EIS):
whether the cluster's own ``GET _inference/_services`` offers the service
and task type. Its diagnostics name the spec's file:line; ``check_offered``
asks the cluster once, and only when some spec needs it. (A service, task
type or field newer than the cluster is ``versions.too_new``'s.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.catalog import Catalog
from reconciler.client import Client
from reconciler.diagnostics import Diagnostic
from reconciler.errors import InputError
from reconciler.model import EndpointSpec

MISSING_SERVICES_API = (400, 403, 404, 405)  # before 8.16, or credentials without monitor_inference


def offer_problems(
    specs: Iterable[EndpointSpec], catalog: Catalog, offered: Mapping[str, frozenset[str]]
) -> list[Diagnostic]:
    """Specs for a deployment-dependent service or task type that ``_services`` does not list."""
    problems = []
    for spec in specs:
        facts = catalog.service(spec.service)
        hint = facts.raw.get("requires_cluster_offer") if facts else None
        if not hint:
            continue
        task_types = offered.get(spec.service)
        if task_types is None:
            message = f"service '{spec.service}' is not offered by this cluster (GET _inference/_services does not list it)"
            path: tuple[str, ...] = ("service",)
        elif spec.task_type not in task_types:
            listed = ", ".join(sorted(task_types)) or "none"
            message = (
                f"service '{spec.service}' is offered by this cluster for task types [{listed}], "
                f"not for '{spec.task_type}'"
            )
            path = ("task_type",)
        else:
            continue
        line, col = spec.source.at(path)
        problems.append(
            Diagnostic(
                file=spec.source.file,
                line=line,
                col=col,
                message=f"{message}: {hint}" if isinstance(hint, str) else message,
            )
        )
    return problems


def parse_offered(body: Any) -> dict[str, frozenset[str]]:
    """``GET _inference/_services`` (a list of configurations) -> service name -> task types."""
    offered: dict[str, frozenset[str]] = {}
    for entry in body if isinstance(body, list) else ():
        if isinstance(entry, Mapping) and isinstance(entry.get("service"), str):
            offered[entry["service"]] = frozenset(str(t) for t in entry.get("task_types") or ())
    return offered


def check_offered(client: Client, specs: tuple[EndpointSpec, ...], catalog: Catalog) -> None:
    """Ask the cluster what it offers when a spec needs it; a missing API means no answer, not no."""
    needed = [
        spec
        for spec in specs
        if (facts := catalog.service(spec.service)) and facts.raw.get("requires_cluster_offer")
    ]
    if not needed:
        return
    answer = client.request("GET", "/_inference/_services", ok=MISSING_SERVICES_API)
    if answer.status in MISSING_SERVICES_API:
        return
    problems = offer_problems(needed, catalog, parse_offered(answer.body))
    if problems:
        raise InputError(
            "the cluster does not offer some specs' services; nothing was sent", problems
        )
