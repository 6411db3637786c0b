"""The cluster's own word, ``GET _inference/_services``, and the specs it allows.

Owns parsing ``_services`` (``live`` reads it with the listing, in the same
round trip; absent before the API existed or without the privilege, and then
``None``: no answer, not "nothing") into one ``Offered`` per service, and the verdict
on one spec from it: a service or task type the cluster does not list
(licence, version, serverless; the Elastic Inference Service only where the
cluster is connected to EIS, catalog ``requires_cluster_offer``) is an error
at the spec's file:line naming what the cluster does offer. Where the
cluster answers, its word decides, not the catalog's dates (``versions``
applies the dates only where it is silent). ``doctor`` compares the same
parsed listing with the catalog. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.catalog import Catalog, ServiceFacts
from reconciler.diagnostics import Diagnostic
from reconciler.model import EndpointSpec

# `_services` lists the rate limit by its inner key
RENAMED = {"rate_limit.requests_per_minute": "rate_limit"}


@dataclass(frozen=True, kw_only=True)
class Offered:
    """One service as the cluster lists it: its task types and its service-settings fields
    (name -> the flags of its ``SettingsConfiguration``)."""

    task_types: frozenset[str]
    fields: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def has_field(self, key: str, task_type: str) -> bool:
        """Whether the listing names service_settings.``key`` for ``task_type``."""
        flags = self.fields.get(key)
        if flags is None:
            return False
        supported = flags.get("supported_task_types")
        return not supported or task_type in supported


def parse_services(body: Any) -> dict[str, Offered]:
    """The ``_services`` body (a JSON array) by service name; other shapes give ValueError
    (the connector-protocol shape of the first implementation has no ``service`` key)."""
    if not isinstance(body, list):
        raise ValueError("GET _inference/_services did not answer a JSON array")
    offered: dict[str, Offered] = {}
    for entry in body:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("service"), str):
            raise ValueError("a _services entry without a 'service' name (an older format?)")
        configurations = entry.get("configurations") or {}
        offered[entry["service"]] = Offered(
            task_types=frozenset(str(t) for t in entry.get("task_types") or ()),
            fields={
                RENAMED.get(name, name): flags if isinstance(flags, Mapping) else {}
                for name, flags in configurations.items()
            },
        )
    return offered


def listed_as(spec: EndpointSpec, facts: ServiceFacts | None, offered: Mapping[str, Any]) -> str:
    """The name the listing uses for the spec's service (an alias counts as what it names)."""
    if spec.service in offered or facts is None:
        return spec.service
    return facts.canonical_name


def offer_problem(
    spec: EndpointSpec, catalog: Catalog, offered: Mapping[str, Offered]
) -> Diagnostic | None:
    """The spec's service or task type that ``_services`` does not list, naming what it does."""
    facts = catalog.service(spec.service)
    hint = facts.raw.get("requires_cluster_offer") if facts else None
    service = offered.get(listed_as(spec, facts, offered))
    if service is None:
        names = ", ".join(sorted(offered)) or "none"
        message = (
            f"service '{spec.service}' is not offered by this cluster "
            f"(GET _inference/_services lists: {names})"
        )
        path: tuple[str, ...] = ("service",)
    elif spec.task_type not in service.task_types:
        listed = ", ".join(sorted(service.task_types)) or "none"
        message = (
            f"service '{spec.service}' is offered by this cluster for task types [{listed}], "
            f"not for '{spec.task_type}'"
        )
        path = ("task_type",)
    else:
        return None
    return spec.source.problem(path, f"{message}: {hint}" if isinstance(hint, str) else message)
