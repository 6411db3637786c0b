"""Specs against a cluster version: is anything in them newer than the cluster?

Owns the pure check "specs + catalog + cluster version -> diagnostics": a
service, task type, field, enum value or ``chunking_settings`` the cluster's
release does not have yet, and a field that release still requires (vertex
``location`` before the global endpoint). Each diagnostic names the spec's
file:line, the release the fact needs and the cluster's. Does not read the
cluster (the session gives the version) nor decide what to send.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from reconciler.catalog import (
    Catalog,
    ServiceFacts,
    SinceSpec,
    available,
    parse_version,
    since_text,
)
from reconciler.diagnostics import Diagnostic
from reconciler.model import EndpointSpec

BLOCKS = ("service_settings", "task_settings")


def too_new(
    specs: Iterable[EndpointSpec], *, catalog: Catalog, cluster_version: str
) -> list[Diagnostic]:
    """One diagnostic per thing a spec uses that a cluster of ``cluster_version`` lacks."""
    version = parse_version(cluster_version)
    problems: list[Diagnostic] = []
    for spec in specs:
        facts = catalog.service(spec.service)
        if facts is None:
            continue  # unknown services are the schema's to report
        problems.extend(_spec_problems(spec, facts, catalog, version, cluster_version))
    return problems


def _spec_problems(
    spec: EndpointSpec,
    facts: ServiceFacts,
    catalog: Catalog,
    version: tuple[int, int, int],
    cluster: str,
) -> Iterator[Diagnostic]:
    def needs(path: tuple[str, ...], what: str, since: SinceSpec) -> Diagnostic:
        return spec.source.problem(
            path,
            f"{what} needs Elasticsearch {since_text(since)} or later; the cluster runs {cluster}",
        )

    if not available(facts.since_spec, version):
        yield needs(("service",), f"service '{spec.service}'", facts.since_spec)
        return  # everything below would repeat the same news
    task_since = facts.task_type_since(spec.task_type)
    if not available(task_since, version):
        what = f"task type '{spec.task_type}' of service '{spec.service}'"
        yield needs(("task_type",), what, task_since)
        return
    if spec.block("chunking_settings") and not available(catalog.chunking_since, version):
        yield needs(("chunking_settings",), "chunking_settings", catalog.chunking_since)
    for block in BLOCKS:
        for key, value in spec.block(block).items():
            if not facts.field(block, key):
                continue  # not a catalog field: the schema reports it
            since = facts.field_since(block, key, spec.task_type)
            if not available(since, version):
                yield needs((block, key), f"{block}.{key} ({spec.service})", since)
                continue
            value_since = facts.enum_value_since(block, key, str(value).lower())
            if isinstance(value, str) and not available(value_since, version):
                what = f"{block}.{key}: '{value}' ({spec.service})"
                yield needs((block, key), what, value_since)
    yield from _still_required(spec, facts, version, cluster)


def _still_required(
    spec: EndpointSpec, facts: ServiceFacts, version: tuple[int, int, int], cluster: str
) -> Iterator[Diagnostic]:
    """Fields that became optional in a later release are required on older clusters."""
    for block in BLOCKS:
        for key in facts.raw.get(block, {}):
            until = facts.required_until(block, key)
            if until is None or available(until, version) or key in spec.block(block):
                continue
            yield spec.source.problem(
                (block,),
                (
                    f"{block}.{key} ({spec.service}) is required before Elasticsearch "
                    f"{since_text(until)}; the cluster runs {cluster}"
                ),
            )
