"""Whether the cluster can serve what a spec asks for, beyond the service's own version.

Owns reading the cluster's own word, ``GET _inference/_services`` (read with
the listing, in the same round trip; absent before the API existed or without
the privilege, and then no check is made), and the check made before any
write: a spec for a service or task type the cluster does not list (licence,
version, serverless; the Elastic Inference Service only where the cluster is
connected to EIS, catalog ``requires_cluster_offer``) is an error naming the
spec's file:line. (A service, task type or field newer than the cluster by
the catalog's dates is ``versions.too_new``'s.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.catalog import Catalog
from reconciler.client import Client
from reconciler.described import Described, parse_described
from reconciler.diagnostics import Diagnostic
from reconciler.model import EndpointSpec

MISSING_SERVICES_API = (400, 403, 404, 405)  # before 8.16, or credentials without monitor_inference


def offer_problems(
    specs: Iterable[EndpointSpec], catalog: Catalog, offered: Mapping[str, frozenset[str]]
) -> list[Diagnostic]:
    """Specs for a service or task type that ``_services`` does not list (licence, version,
    serverless, or a deployment without EIS). An alias counts as the service it names."""
    problems = []
    for spec in specs:
        facts = catalog.service(spec.service)
        hint = facts.raw.get("requires_cluster_offer") if facts else None
        listed_as = (
            spec.service
            if spec.service in offered
            else (facts.canonical_name if facts else spec.service)
        )
        task_types = offered.get(listed_as)
        if task_types is None:
            names = ", ".join(sorted(offered)) or "none"
            message = (
                f"service '{spec.service}' is not offered by this cluster "
                f"(GET _inference/_services lists: {names})"
            )
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
        problems.append(
            spec.source.problem(
                path,
                f"{message}: {hint}" if isinstance(hint, str) else message,
            )
        )
    return problems


def parse_offered(body: Any) -> dict[str, frozenset[str]]:
    """``GET _inference/_services`` (a list of configurations) -> service name -> task types."""
    return {name: service.task_types for name, service in parse_described(body).items()}


def read_services(client: Client) -> Described | None:
    """What the cluster says it offers, and how it describes each service; None where it
    cannot say (before the API, or without the privilege to ask): no answer, not "nothing"."""
    answer = client.request("GET", "/_inference/_services", ok=MISSING_SERVICES_API)
    if answer.status in MISSING_SERVICES_API or not isinstance(answer.body, list):
        return None
    return parse_described(answer.body)


def blocked_specs(
    specs: Iterable[EndpointSpec],
    catalog: Catalog,
    offered: Mapping[str, frozenset[str]] | None,
    *,
    live_ids: frozenset[str],
) -> dict[str, Diagnostic]:
    """Specs the cluster cannot serve, by id, each with why (file:line). Only those: the plan of
    every other spec goes on. An endpoint the cluster already holds is never refused."""
    if offered is None:
        return {}
    wanted = [spec for spec in specs if spec.inference_id not in live_ids]
    return {
        spec.inference_id: problem
        for spec in wanted
        for problem in offer_problems([spec], catalog, offered)
    }
