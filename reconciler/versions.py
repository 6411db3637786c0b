"""Specs against one cluster: does it have everything they use?

Owns the pure check "specs + catalog + cluster version (+ the cluster's
``_services`` listing and the endpoints it holds) -> diagnostics". The
cluster's word decides first: where ``_services`` answered, a service or task
type it lists is never refused by a catalog date and one it does not list is
refused naming what it offers (``availability``); a service-settings field it
lists is never refused by a date either. The catalog's dates decide the rest
(everything before ``_services`` existed or without the privilege, task
settings, enum values, ``chunking_settings``, offline ``validate --es-version``):
a fact the cluster's release does not have yet, or a field that release still
requires (vertex ``location`` before the global endpoint), named with the
spec's file:line, the release the fact needs and the cluster's. An endpoint
the cluster already holds (same id, service and task type) is never refused:
the cluster plainly offers it. Does not read the cluster nor decide what to send.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace

from reconciler.availability import Offered, listed_as, offer_problem
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
    specs: Iterable[EndpointSpec],
    *,
    catalog: Catalog,
    cluster_version: str,
    offered: Mapping[str, Offered] | None = None,
    held: Iterable[tuple[str, str, str]] = (),
) -> list[Diagnostic]:
    """One diagnostic per thing a spec uses that the cluster lacks: by its ``offered`` listing
    where it gave one, else by the catalog's dates at ``cluster_version``. ``held``: the
    (id, service, task type) of the endpoints the cluster holds."""
    version = parse_version(cluster_version)
    holds = frozenset(held)
    problems: list[Diagnostic] = []
    for spec in specs:
        facts = catalog.service(spec.service)
        if (spec.inference_id, _name(spec, catalog), spec.task_type) in holds:
            continue
        if offered is not None:
            refused = offer_problem(spec, catalog, offered)
            if refused is not None:
                problems.append(_with_date(refused, spec, facts, version, cluster_version))
                continue
        if facts is None:
            continue  # unknown services are the schema's to report
        listing = offered.get(listed_as(spec, facts, offered)) if offered is not None else None
        problems.extend(_spec_problems(spec, facts, catalog, version, cluster_version, listing))
    return problems


def _name(spec: EndpointSpec, catalog: Catalog) -> str:
    """The service name the cluster reports for the spec (elser is listed as elasticsearch)."""
    facts = catalog.service(spec.service)
    return facts.canonical_name if facts else spec.service


def _with_date(
    problem: Diagnostic,
    spec: EndpointSpec,
    facts: ServiceFacts | None,
    version: tuple[int, int, int],
    cluster: str,
) -> Diagnostic:
    """A refusal by the cluster's word, with the catalog's date where that explains it."""
    if facts is None:
        return problem
    for what, since in (
        (f"service '{spec.service}'", facts.since_spec),
        (f"task type '{spec.task_type}'", facts.task_type_since(spec.task_type)),
    ):
        if not available(since, version):
            date = f"; the catalog dates {what} {since_text(since)}, the cluster runs {cluster}"
            return replace(problem, message=problem.message + date)
    return problem


def _spec_problems(
    spec: EndpointSpec,
    facts: ServiceFacts,
    catalog: Catalog,
    version: tuple[int, int, int],
    cluster: str,
    listing: Offered | None,
) -> Iterator[Diagnostic]:
    """By the catalog's dates; a service, task type or service-settings field that the cluster's
    ``listing`` names is taken as offered whatever its date."""

    def needs(path: tuple[str, ...], what: str, since: SinceSpec) -> Diagnostic:
        return spec.source.problem(
            path,
            f"{what} needs Elasticsearch {since_text(since)} or later; the cluster runs {cluster}",
        )

    if listing is None and not available(facts.since_spec, version):
        yield needs(("service",), f"service '{spec.service}'", facts.since_spec)
        return  # everything below would repeat the same news
    task_since = facts.task_type_since(spec.task_type)
    if listing is None and not available(task_since, version):
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
            fields = _listed_fields(listing, spec.task_type) if block == BLOCKS[0] else None
            if fields is not None and key in fields:
                continue
            if facts.removed(block, key, version):
                until = since_text(facts.field(block, key).get("until"))
                yield spec.source.problem(
                    (block, key),
                    f"{block}.{key} ({spec.service}) was removed in Elasticsearch {until}; "
                    f"the cluster runs {cluster}",
                )
                continue
            if not available(since, version):
                problem = needs((block, key), f"{block}.{key} ({spec.service})", since)
                if fields is not None:
                    listed = ", ".join(fields) or "none"
                    message = f"{problem.message} (GET _inference/_services lists: {listed})"
                    problem = replace(problem, message=message)
                yield problem
                continue
            value_since = facts.enum_value_since(block, key, str(value).lower())
            if isinstance(value, str) and not available(value_since, version):
                what = f"{block}.{key}: '{value}' ({spec.service})"
                yield needs((block, key), what, value_since)
    yield from _still_required(spec, facts, version, cluster)


def _listed_fields(listing: Offered | None, task_type: str) -> list[str] | None:
    if listing is None:
        return None
    return sorted(key for key in listing.fields if listing.has_field(key, task_type))


def _still_required(
    spec: EndpointSpec, facts: ServiceFacts, version: tuple[int, int, int], cluster: str
) -> Iterator[Diagnostic]:
    """Fields that became optional in a later release are required on older clusters."""
    for block in BLOCKS:
        for key in facts.raw.get(block, {}):
            if key in spec.block(block) or spec.task_type not in facts.field(block, key).get(
                "task_types", (spec.task_type,)
            ):
                continue
            rule = facts.required_from(block, key)
            if rule is not None and available(rule[0], version) and _matches(spec, block, rule[1]):
                condition = ", ".join(f"{k}: {v}" for k, v in rule[1].items())
                yield spec.source.problem(
                    (block,),
                    f"{block}.{key} ({spec.service}) is required with {condition} from "
                    f"Elasticsearch {since_text(rule[0])}; the cluster runs {cluster}",
                )
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


def _matches(spec: EndpointSpec, block: str, condition: Mapping[str, object]) -> bool:
    settings = spec.block(block)
    return all(str(settings.get(k, "")).lower() == str(v).lower() for k, v in condition.items())
