"""`GET _inference/_services` and `GET _inference/_services/{task_type}`.

Owns the listing Elasticsearch gives of the services a cluster offers
(`InferenceServiceConfiguration`: service, name, task_types, configurations;
each configuration a `SettingsConfiguration`: description, label, required,
sensitive, updatable, type, supported_task_types), built from the sandbox's
own table at the emulated version (a later service, task type or field is
not listed) minus the services the "unlisted" knob hides (a licence or a
serverless project that does not offer them). `elser` is not listed: it is
an alias the create API still reads as the elasticsearch service (and 9.0 hid
`hugging_face_elser` too, PR 116664). The route exists from 8.18 in this
shape (`routes.py`); before that the path reads as an endpoint id.
"""

from __future__ import annotations

from typing import Any

from . import eis
from .cluster import Cluster
from .facts import facts, service_names, task_types_of
from .fields import split_code
from .offers import listed as listed_offer
from .protocol import Request, Response, ok
from .timeline import UPDATE_ADAPTIVE, exists_at, service_exists, task_exists
from .update import CURRENT_GENERATION, EARLY_UPDATE
from .validation import facts_at, parse_task_type

# accepted by the create API, never listed (an alias of the elasticsearch service)
UNLISTED = frozenset({"elser"})
# SettingsConfigurationFieldType names, per sandbox type code
FIELD_TYPES = {"str": "str", "int": "int", "double": "int", "bool": "bool", "map": "map"}


def list_services(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    task_type = parse_task_type(params["task_type"]) if "task_type" in params else "any"
    version = cluster.version
    listed = []
    offers = cluster.offers
    for name in sorted({*service_names(), *offers}):
        if name not in service_names():  # a service only an offer has: listed as offered
            if name not in cluster.unlisted_services and (
                task_type == "any" or task_type in offers[name]["task_types"]
            ):
                listed.append(listed_offer(offers[name]))
            continue
        if name in UNLISTED or name in cluster.unlisted_services:
            continue
        if not service_exists(name, version):
            continue
        tasks = [t for t in task_types_of(name) if task_exists(name, t, version)]
        if name == eis.NAME:  # offered only where the cluster is connected to EIS
            tasks = list(eis.offered_task_types(version, connected=cluster.eis_connected))
            if not tasks:
                continue
        if task_type != "any" and task_type not in tasks:
            continue
        configurations = _configurations(name, tasks, version)
        if name in offers:  # the fields an offer adds to a service the table has
            extra = listed_offer(offers[name])["configurations"]
            configurations = dict(sorted({**extra, **configurations}.items()))
        listed.append(
            {
                "service": name,
                "name": name,
                "task_types": tasks,
                "configurations": configurations,
            }
        )
    return ok(listed)


def _configurations(service: str, tasks: list[str], version: str) -> dict[str, Any]:
    configurations: dict[str, dict[str, Any]] = {}

    def add(key: str, task: str, **flags: Any) -> None:
        # one flag per field: required / updatable only when true for every task type
        entry = configurations.get(key)
        if entry is None:
            label = key.replace("_", " ").title()
            entry = configurations[key] = {"label": label, **flags, "supported_task_types": []}
        for flag in ("required", "updatable"):
            entry[flag] = entry[flag] and flags[flag]
        entry["supported_task_types"].append(task)

    has_update = exists_at(("8.17.0",), version)
    for task in tasks:
        task_facts = facts_at(facts(service, task), version)
        for key, code in task_facts.settings.items():
            kind, required = split_code(code)
            add(
                key,
                task,
                required=required,
                sensitive=False,
                updatable=_updatable(task_facts.output_service, key, task_facts.mutable, version),
                type=_field_type(kind),
            )
        for secret in task_facts.secrets:
            add(
                secret,
                task,
                required=task_facts.secret_rule == "all",
                sensitive=True,
                updatable=has_update,
                type="str",
            )
        if task_facts.rate_limit is not None:
            add(
                "rate_limit.requests_per_minute",
                task,
                description=f"Default number of requests allowed per minute: {task_facts.rate_limit}.",
                required=False,
                sensitive=False,
                updatable=_updatable(
                    task_facts.output_service, "rate_limit", task_facts.mutable, version
                ),
                type="int",
            )
    return dict(sorted(configurations.items()))


def _updatable(service: str, key: str, mutable: tuple[str, ...], version: str) -> bool:
    """As `_update` behaves at `version` (update.py): nothing before 8.17, only the
    elasticsearch allocations in the first generation (adaptive ones from 8.19 / 9.1),
    the mutable list from 9.5."""
    early = EARLY_UPDATE.get(service)
    if exists_at((CURRENT_GENERATION,), version) or (early and exists_at((early,), version)):
        return key in mutable
    if service != "elasticsearch" or not exists_at(("8.17.0",), version):
        return False
    return key == "num_allocations" or (
        key == "adaptive_allocations" and exists_at(UPDATE_ADAPTIVE, version)
    )


def _field_type(kind: str) -> str:
    if kind.lower().startswith("enum:"):
        return "str"
    if kind in ("list", "strlist"):
        return "list"
    return FIELD_TYPES.get(kind, "str")
