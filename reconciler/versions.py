"""Specs against a cluster version: is anything in them newer than the cluster?

Owns the pure check "specs + catalog + cluster version -> diagnostics": a
service, task type, field, enum value or ``chunking_settings`` the cluster's
release does not have yet, and a field that release still requires (vertex
``location`` before the global endpoint). Each diagnostic names the spec's
file:line, the release the fact needs and the cluster's. Does not read the
cluster (the session gives the version) nor decide what to send.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from reconciler.catalog import (
    Catalog,
    ServiceFacts,
    SinceSpec,
    Version,
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
    offered: Mapping[str, frozenset[str]] | None = None,
    held: Iterable[tuple[str, str, str]] = (),
) -> list[Diagnostic]:
    """One diagnostic per thing a spec uses that a cluster of ``cluster_version`` lacks.

    The cluster's word decides first: where ``offered`` (its ``_services`` listing) lists the
    spec's service and task type, no catalog date refuses them (a service or task type it does
    not list is ``availability.blocked_specs``'s to report); ``held`` endpoints (id, service as
    listed, task type) the cluster already has are never refused.
    """
    version = parse_version(cluster_version)
    holds = frozenset(held)
    problems: list[Diagnostic] = []
    dated: dict[tuple[str, str], _Dates] = {}  # the facts' answers, once per service and task
    for spec in specs:
        facts = catalog.service(spec.service)
        if facts is None:
            continue  # unknown services are the schema's to report
        if (spec.inference_id, facts.canonical_name, spec.task_type) in holds:
            continue
        if offered is not None:
            listed = offered.get(spec.service, offered.get(facts.canonical_name))
            if listed is None or spec.task_type not in listed:
                continue  # refused by the listing (blocked_specs), not by a date
        dates = dated.get((spec.service, spec.task_type))
        if dates is None:
            dates = _Dates(facts, spec.task_type, catalog, version, offered is not None)
            dated[(spec.service, spec.task_type)] = dates
        problems.extend(_spec_problems(spec, dates, cluster_version))
    return problems


class _Dates:
    """What a cluster of ``version`` lacks of one service and task type, asked per field once."""

    def __init__(
        self,
        facts: ServiceFacts,
        task_type: str,
        catalog: Catalog,
        version: Version,
        listed: bool = False,  # the cluster's _services lists the service and task type
    ) -> None:
        self.facts = facts
        self.task_type = task_type
        self.version = version
        self.listed = listed
        offered = listed or available(facts.since_spec, version)
        self.service_since = None if offered else facts.since_spec
        task_since = facts.task_type_since(task_type)
        self.task_since = None if listed or available(task_since, version) else task_since
        chunking = catalog.chunking_since
        self.chunking_since = None if available(chunking, version) else chunking
        self.still_required = [  # (block, key, until) the cluster requires
            (block, key, until)
            for block in BLOCKS
            for key in facts.raw.get(block, {})
            if (until := facts.required_until(block, key)) is not None
            and not available(until, version)
        ]
        self._fields: dict[tuple[str, str], SinceSpec | bool] = {}
        self._values: dict[tuple[str, str, str], SinceSpec] = {}

    def field(self, block: str, key: str) -> SinceSpec | bool:
        """False: not a catalog field; True: there; else the release it needs."""
        found = self._fields.get((block, key))
        if found is None:
            if not self.facts.field(block, key):
                found = False
            else:
                # a field without its own date is as old as the service, which a listing offers
                own = self.facts.field(block, key).get("since")
                since = own if self.listed else self.facts.field_since(block, key, self.task_type)
                found = True if available(since, self.version) else since
            self._fields[(block, key)] = found
        return found

    def value(self, block: str, key: str, value: str) -> SinceSpec:
        """None when the cluster has this value of an enum field, else the release it needs."""
        memo = (block, key, value)
        if memo not in self._values:
            since = self.facts.enum_value_since(block, key, value.lower())
            self._values[memo] = None if available(since, self.version) else since
        return self._values[memo]


def _spec_problems(spec: EndpointSpec, dates: _Dates, cluster: str) -> Iterator[Diagnostic]:
    def needs(path: tuple[str, ...], what: str, since: SinceSpec) -> Diagnostic:
        return spec.source.problem(
            path,
            f"{what} needs Elasticsearch {since_text(since)} or later; the cluster runs {cluster}",
        )

    if dates.service_since is not None:
        yield needs(("service",), f"service '{spec.service}'", dates.service_since)
        return  # everything below would repeat the same news
    if dates.task_since is not None:
        what = f"task type '{spec.task_type}' of service '{spec.service}'"
        yield needs(("task_type",), what, dates.task_since)
        return
    if dates.chunking_since is not None and spec.block("chunking_settings"):
        yield needs(("chunking_settings",), "chunking_settings", dates.chunking_since)
    for block in BLOCKS:
        for key, value in spec.block(block).items():
            since = dates.field(block, key)
            if since is False:
                continue  # not a catalog field: the schema reports it
            if dates.facts.removed(block, key, dates.version):
                removed_in = since_text(dates.facts.field(block, key).get("until"))
                yield spec.source.problem(
                    (block, key),
                    f"{block}.{key} ({spec.service}) was removed in Elasticsearch {removed_in}; "
                    f"the cluster runs {cluster}",
                )
                continue
            if since is not True:
                yield needs((block, key), f"{block}.{key} ({spec.service})", since)
                continue
            value_since = dates.value(block, key, value) if isinstance(value, str) else None
            if value_since is not None:
                what = f"{block}.{key}: '{value}' ({spec.service})"
                yield needs((block, key), what, value_since)
    for block in BLOCKS:
        for key in dates.facts.raw.get(block, {}):
            rule = dates.facts.required_from(block, key)
            if rule is None or key in spec.block(block) or not available(rule[0], dates.version):
                continue
            if spec.task_type not in dates.facts.field(block, key).get(
                "task_types", (spec.task_type,)
            ):
                continue
            if _matches(spec, block, rule[1]):
                condition = ", ".join(f"{k}: {v}" for k, v in rule[1].items())
                yield spec.source.problem(
                    (block,),
                    f"{block}.{key} ({spec.service}) is required with {condition} from "
                    f"Elasticsearch {since_text(rule[0])}; the cluster runs {cluster}",
                )
    for block, key, until in dates.still_required:
        if key not in spec.block(block):
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
