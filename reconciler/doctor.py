"""The catalog against a cluster's own word: ``GET _inference/_services``.

Owns comparing, for one cluster version, what the catalog says a cluster of
that release offers (services, task types, service-settings fields, which are
secret, required, updatable) with the ``_services`` listing that cluster
returned, as one ``Disagreement`` per difference, each printable on one line.
Pure: the CLI reads ``GET /`` and ``_services``; nothing here sends a request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reconciler.catalog import Catalog, ServiceFacts, parse_version, since_text
from reconciler.described import FieldDescription, ServiceDescription, parse_described

FLAGS = (("secret", "sensitive"), ("required", "required"), ("updatable", "updatable"))
# what plan and apply do with what only the cluster describes (docs/new-services.md)
USED = "plan and apply use the cluster's description"


@dataclass(frozen=True, kw_only=True, order=True)
class Disagreement:
    service: str
    subject: str  # "service", "task_type rerank", "field api_key"
    message: str

    def __str__(self) -> str:
        return f"{self.service}: {self.subject}: {self.message}"


def compare(
    catalog: Catalog, services_body: Any, *, cluster_version: str
) -> tuple[Disagreement, ...]:
    """Every difference between the catalog at ``cluster_version`` and the cluster's listing."""
    version = parse_version(cluster_version)
    offered = parse_described(services_body, strict=True)
    found: list[Disagreement] = []
    for name in catalog.service_names():
        facts = catalog.service(name)
        assert facts is not None
        if facts.raw.get("alias_of"):
            continue  # an alias (elser) is listed as the service it names
        expected = frozenset(
            t for t in facts.raw.get("task_types", ()) if facts.offers(task_type=t, version=version)
        )
        if not expected:
            if name in offered:
                since = since_text(facts.since_spec)
                message = f"offered by the cluster; the catalog dates it {since}"
                found.append(Disagreement(service=name, subject="service", message=message))
            continue
        if name not in offered:
            if facts.raw.get("requires_cluster_offer"):  # the deployment decides, not the version
                continue
            message = "in the catalog for this version; the cluster does not offer it"
            found.append(Disagreement(service=name, subject="service", message=message))
            continue
        found.extend(_service_differences(facts, expected, offered[name], version))
    for name in sorted(set(offered) - set(catalog.service_names())):
        tasks = ", ".join(sorted(offered[name].task_types)) or "none"
        message = f"offered by the cluster for [{tasks}]; unknown to the catalog: {USED}"
        found.append(Disagreement(service=name, subject="service", message=message))
        found.extend(
            Disagreement(
                service=name,
                subject=f"field {key}",
                message=f"described by the cluster ({_flags(field)}); unknown to the catalog",
            )
            for key, field in sorted(offered[name].fields.items())
        )
    return tuple(found)


def _flags(field: FieldDescription) -> str:
    """``required, sensitive, updatable`` (those that hold), or ``optional``."""
    held = [n for n in ("required", "sensitive", "updatable") if getattr(field, n)]
    return ", ".join(held) or "optional, not updatable"


def _service_differences(
    facts: ServiceFacts,
    expected: frozenset[str],
    offered: ServiceDescription,
    version: tuple[int, int, int],
) -> Iterator[Disagreement]:
    name = facts.name
    for task_type in sorted(expected - offered.task_types):
        yield Disagreement(
            service=name,
            subject=f"task_type {task_type}",
            message="in the catalog for this version; the cluster does not offer it",
        )
    for task_type in sorted(offered.task_types - expected):
        yield Disagreement(
            service=name,
            subject=f"task_type {task_type}",
            message="offered by the cluster; not in the catalog for this version",
        )
    common = sorted(expected & offered.task_types)
    catalog_fields = _catalog_fields(facts, common, version)
    for key in sorted(set(catalog_fields) | set(offered.fields)):
        subject = f"field {key}"
        ours = catalog_fields.get(key)
        theirs = offered.fields.get(key)
        if theirs is None:
            yield Disagreement(service=name, subject=subject, message="not listed by the cluster")
            continue
        if ours is None:
            if f"service_settings.{key}" not in facts.raw.get("response_only", {}):
                message = f"listed by the cluster only ({_flags(theirs)}): {USED}"
                yield Disagreement(service=name, subject=subject, message=message)
            continue  # accepted, but the server overwrites it: the catalog keeps it undeclarable
        their_tasks = set(theirs.task_types or common) & set(common)
        if their_tasks != set(ours["task_types"]):
            yield Disagreement(
                service=name,
                subject=subject,
                message=(
                    f"task types: catalog {', '.join(ours['task_types'])}; "
                    f"cluster {', '.join(sorted(their_tasks))}"
                ),
            )
        for ours_key, theirs_key in FLAGS:
            if getattr(theirs, theirs_key) != ours[ours_key]:
                yield Disagreement(
                    service=name,
                    subject=subject,
                    message=(
                        f"{ours_key}: catalog {_yes(ours[ours_key])}, "
                        f"cluster {_yes(getattr(theirs, theirs_key))}"
                    ),
                )


def _catalog_fields(
    facts: ServiceFacts, task_types: list[str], version: tuple[int, int, int]
) -> dict[str, dict[str, Any]]:
    """Service-settings fields (secrets included) for these task types, with flags.

    A flag is true when it holds for every task type the field has: `_services`
    gives one flag per field, not one per task type.
    """
    secrets = set(facts.secret_fields())
    required_rules = facts.raw.get("required_service_settings", {})
    table: dict[str, dict[str, Any]] = {}
    for task_type in task_types:
        required = {*required_rules.get("*", ()), *required_rules.get(task_type, ())}
        updatable = set(
            facts.updatable_fields(task_type=task_type, block="service_settings", version=version)
        )
        for key in facts.fields_at(block="service_settings", task_type=task_type, version=version):
            if f"service_settings.{key}" in facts.raw.get("response_only", {}):
                continue  # shown by GET, never sent: `_services` does not list it
            entry = table.setdefault(
                key,
                {"task_types": [], "secret": key in secrets, "required": True, "updatable": True},
            )
            entry["task_types"].append(task_type)
            entry["required"] = entry["required"] and key in required
            entry["updatable"] = entry["updatable"] and key in updatable
    return table


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
