"""Services, task types and fields the cluster describes and the catalog does not know.

Owns reading ``GET _inference/_services`` as a description of each service
(task types; per service-settings field: required, sensitive, updatable, type
and task types), finding what a spec uses that the catalog lacks
(``catalog_gaps``), checking such a spec against the cluster's description
(``check_described``: file:line, before any write) and extending the catalog
with the description (``extended``), so that planning, secrets and
verification read one catalog and stay free of per-service code. Everything
here is data from the cluster: nothing names a service. Pure: no I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.catalog import Catalog
from reconciler.diagnostics import Diagnostic
from reconciler.model import EndpointSpec, FieldPath
from reconciler.secrets import REFERENCE

BLOCKS = ("service_settings", "task_settings")
LATER = "checked against the cluster at plan time"
# SettingsConfigurationFieldType -> what a value of it is in JSON
TYPES: Mapping[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "bool": (bool,),
    "list": (list,),
    "map": (dict,),
}


@dataclass(frozen=True, kw_only=True)
class FieldDescription:
    """One ``SettingsConfiguration`` of ``_services``."""

    required: bool = False
    sensitive: bool = False
    updatable: bool = False
    type: str = ""
    task_types: frozenset[str] | None = None  # None: every task type of the service

    def for_task(self, task_type: str) -> bool:
        return self.task_types is None or task_type in self.task_types


@dataclass(frozen=True, kw_only=True)
class ServiceDescription:
    """One service as ``_services`` describes it (``InferenceServiceConfiguration``)."""

    task_types: frozenset[str]
    fields: Mapping[str, FieldDescription]  # service_settings key -> description


Described = Mapping[str, ServiceDescription]


def parse_described(body: Any, *, strict: bool = False) -> dict[str, ServiceDescription]:
    """The ``_services`` body (a JSON array) by service name. ``strict``: a shape other than
    Elasticsearch's is a ValueError (doctor), else such entries are skipped."""
    if not isinstance(body, list):
        if strict:
            raise ValueError("GET _inference/_services did not answer a JSON array")
        return {}
    found: dict[str, ServiceDescription] = {}
    for entry in body:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("service"), str):
            if strict:
                raise ValueError("a _services entry without a 'service' name (an older format?)")
            continue
        configurations = entry.get("configurations")
        fields = {
            str(name).partition(".")[0]: _field(flags, nested="." in str(name))
            for name, flags in (
                configurations if isinstance(configurations, Mapping) else {}
            ).items()
            if isinstance(flags, Mapping)
        }
        found[entry["service"]] = ServiceDescription(
            task_types=frozenset(str(t) for t in entry.get("task_types") or ()), fields=fields
        )
    return found


def _field(flags: Mapping[str, Any], *, nested: bool) -> FieldDescription:
    """``nested``: a dotted name (``rate_limit.requests_per_minute``) describes a key inside an
    object: the field is that object."""
    tasks = flags.get("supported_task_types")
    return FieldDescription(
        required=bool(flags.get("required")),
        sensitive=bool(flags.get("sensitive")),
        updatable=bool(flags.get("updatable")),
        type="map" if nested else str(flags.get("type") or ""),
        task_types=frozenset(str(t) for t in tasks) if isinstance(tasks, list) and tasks else None,
    )


# ------------------------------------------------------------------ what the catalog lacks


def catalog_gaps(body: Any, catalog: Catalog) -> tuple[FieldPath, ...]:
    """What a spec body uses that the catalog does not know at all: ``("service",)``, else
    ``("task_type",)`` (a task type of a known service), else each ``("service_settings", key)``
    of a known service (task settings are not described by the cluster: an unknown one stays
    the schema's error). () for a body the catalog knows (or not a mapping)."""
    if not (type(body) is dict or isinstance(body, Mapping)) or not isinstance(
        body.get("service"), str
    ):
        return ()
    facts = catalog.service(body["service"])
    if facts is None:
        return (("service",),)
    task_type = body.get("task_type")
    if task_type not in facts.raw.get("task_types", ()):
        return (("task_type",),) if task_type in _task_types(catalog) else ()
    settings = body.get("service_settings")  # `_services` describes no task settings
    return tuple(
        ("service_settings", key)
        for key in (settings if type(settings) is dict or isinstance(settings, Mapping) else ())
        if str(key) not in facts.raw.get("service_settings", {})
        and f"service_settings.{key}" not in facts.raw.get("response_only", {})
    )


def _task_types(catalog: Catalog) -> frozenset[str]:
    """Every task type some service has: Elasticsearch's task types are a closed set, so a name
    outside it (``chat-completion``) is the schema's error, not something newer."""
    return frozenset(
        t
        for name in catalog.service_names()
        for t in catalog.service(name).raw.get("task_types", ())  # type: ignore[union-attr]
    )


def skipped_paths(gaps: Iterable[FieldPath]) -> frozenset[FieldPath]:
    """The paths whose schema problems a gap stands for: the catalog cannot check them."""
    skipped: set[FieldPath] = set()
    for gap in gaps:
        if gap == ("service",):
            skipped.update({("service",), ("task_type",), *((b,) for b in BLOCKS)})
        elif gap == ("task_type",):
            skipped.update({("task_type",), *((b,) for b in BLOCKS)})
        else:
            skipped.add(gap)
    return frozenset(skipped)


def gap_warnings(
    body: Mapping[str, Any], gaps: Iterable[FieldPath], catalog: Catalog
) -> list[tuple[FieldPath, str]]:
    """Offline, one warning per gap: what could not be checked, with the catalog's nearest name."""
    service = str(body.get("service"))
    facts = catalog.service(service)
    found = []
    for gap in gaps:
        if gap == ("service",):
            near = _near(service, catalog.service_names())
            what = f"service '{service}'"
        elif gap == ("task_type",):
            near = _near(
                str(body.get("task_type")), facts.raw.get("task_types", ()) if facts else ()
            )
            what = f"task type '{body.get('task_type')}' of service '{service}'"
        else:
            block, key = str(gap[0]), str(gap[1])
            near = _near(key, facts.raw.get(block, {}) if facts else ())
            what = f"{block}.{key} of service '{service}'"
        found.append((gap, f"{what} is not in the catalog: {LATER}{near}"))
    return found


def _near(written: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(written, sorted(known), n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


# ------------------------------------------------------------------ the cluster's word


def check_described(
    specs: Iterable[EndpointSpec], catalog: Catalog, described: Described | None
) -> list[Diagnostic]:
    """Each spec that uses what the catalog lacks, checked against the cluster's description:
    what neither knows (with the nearest name either knows), a missing required field, a type
    the description refuses, a sensitive field given literally, a reference in a field that is
    not sensitive. Where the cluster describes nothing (no ``_services``), such a spec cannot be
    checked, and is an error."""
    problems: list[Diagnostic] = []
    for spec in specs:
        gaps = catalog_gaps(spec.body, catalog)
        if not gaps:
            continue
        if described is None:
            problems.append(
                spec.source.problem(
                    gaps[0],
                    f"{_subject(spec, gaps[0])} is not in the catalog, and this cluster does not "
                    "describe its services (no GET _inference/_services): it cannot be checked",
                )
            )
            continue
        problems.extend(_spec_problems(spec, gaps, catalog, described))
    return problems


def _subject(spec: EndpointSpec, gap: FieldPath) -> str:
    if gap == ("service",):
        return f"service '{spec.service}'"
    if gap == ("task_type",):
        return f"task type '{spec.task_type}' of service '{spec.service}'"
    return f"{gap[0]}.{gap[1]} of service '{spec.service}'"


def _spec_problems(
    spec: EndpointSpec, gaps: tuple[FieldPath, ...], catalog: Catalog, described: Described
) -> list[Diagnostic]:
    facts = catalog.service(spec.service)
    name = facts.canonical_name if facts else spec.service
    description = described.get(spec.service) or described.get(name)
    if description is None:
        known = {*catalog.service_names(), *described}
        return [
            spec.source.problem(
                ("service",),
                f"unknown service '{spec.service}': neither in the catalog nor offered by this "
                f"cluster{_near(spec.service, known)}",
            )
        ]
    if spec.task_type not in description.task_types:
        listed = ", ".join(sorted(description.task_types)) or "none"
        return [
            spec.source.problem(
                ("task_type",),
                f"service '{spec.service}' is offered by this cluster for task types [{listed}], "
                f"not for '{spec.task_type}'",
            )
        ]
    settings = spec.block("service_settings")
    problems = []
    whole = gaps[0] in (("service",), ("task_type",))
    fields = {k: f for k, f in description.fields.items() if f.for_task(spec.task_type)}
    checked = list(settings) if whole else [str(g[1]) for g in gaps if g[0] == "service_settings"]
    for key in checked:
        path = ("service_settings", key)
        field = fields.get(key)
        if field is None:
            known = {*fields, *(facts.raw.get("service_settings", {}) if facts else ())}
            problems.append(
                spec.source.problem(
                    path,
                    f"service_settings.{key}: unknown field: neither the catalog nor this "
                    f"cluster's description of '{spec.service}' has it{_near(key, known)}",
                )
            )
            continue
        problems.extend(_value_problems(spec, path, settings[key], field))
    if whole:
        problems.extend(
            spec.source.problem(
                ("service_settings",),
                f"service_settings: missing required field '{key}' (as this cluster describes "
                f"service '{spec.service}')",
            )
            for key, field in sorted(fields.items())
            if field.required and key not in settings
        )
    return problems


def _value_problems(
    spec: EndpointSpec, path: FieldPath, value: Any, field: FieldDescription
) -> list[Diagnostic]:
    where = f"{path[0]}.{path[1]}"
    is_reference = isinstance(value, str) and REFERENCE.fullmatch(value) is not None
    if field.sensitive and not is_reference:
        message = f"{where} is a secret: write a ${{env:NAME}} or ${{file:PATH}} reference, never the value"
        return [spec.source.problem(path, message)]
    if not field.sensitive and is_reference:
        message = (
            f"{where}: a ${{env:}}/${{file:}} reference may stand only in a secret field; this "
            "cluster does not describe this one as sensitive"
        )
        return [spec.source.problem(path, message)]
    wanted = TYPES.get(field.type)
    if wanted and (
        not isinstance(value, wanted) or (bool not in wanted and isinstance(value, bool))
    ):
        return [
            spec.source.problem(
                path, f"{where}: expected {field.type} (as this cluster describes it)"
            )
        ]
    return []


# ------------------------------------------------------------------ the catalog, extended


def extended(catalog: Catalog, described: Described | None, *, version: str) -> Catalog:
    """The catalog with what the cluster describes and the catalog lacks: services (their task
    types, fields, which are secret, required, updatable) and fields of known services. What
    the description says nothing of is the server's: an undeclared value of such a service or
    field is never a change (``open``), and its task settings change only by a replace."""
    if not described:
        return catalog
    services = dict(catalog.raw.get("services", {}))
    changed = False
    for name, description in described.items():
        entry = services.get(name)
        if entry is None:
            if any(s.get("alias_of") == name for s in services.values() if isinstance(s, Mapping)):
                continue
            services[name] = _new_service(description, version)
            changed = True
            continue
        added = {
            key: field
            for key, field in description.fields.items()
            if key not in entry.get("service_settings", {})
            and f"service_settings.{key}" not in entry.get("response_only", {})
        }
        if added:
            services[name] = _with_fields(entry, added, version)
            changed = True
    if not changed:
        return catalog
    return Catalog(raw={**catalog.raw, "services": services})


def _field_entry(field: FieldDescription) -> dict[str, Any]:
    entry: dict[str, Any] = {"described": True}
    if field.sensitive:
        entry["secret"] = True
    if field.task_types is not None:
        entry["task_types"] = sorted(field.task_types)
    return entry


def _new_service(description: ServiceDescription, version: str) -> dict[str, Any]:
    fields = description.fields
    return {
        "described": True,
        "open": True,
        "task_types": sorted(description.task_types),
        "service_settings": {key: _field_entry(field) for key, field in fields.items()},
        "required_service_settings": {
            "*": sorted(
                k
                for k, f in fields.items()
                if f.required and all(f.for_task(t) for t in description.task_types)
            ),
            **{
                task: sorted(k for k, f in fields.items() if f.required and f.for_task(task))
                for task in sorted(description.task_types)
            },
        },
        "server_filled": {
            "*": {
                f"service_settings.{key}": "*"
                for key, field in fields.items()
                if not field.required and not field.sensitive
            }
        },
        "update": {"*": _update_rules(fields, version, secrets=True)},
    }


def _with_fields(
    entry: Mapping[str, Any], added: Mapping[str, FieldDescription], version: str
) -> dict[str, Any]:
    copy = dict(entry)
    copy["service_settings"] = {
        **entry.get("service_settings", {}),
        **{key: _field_entry(field) for key, field in added.items()},
    }
    filled = {
        f"service_settings.{key}": "*"
        for key, field in added.items()
        if not field.required and not field.sensitive
    }
    by_task = dict(entry.get("server_filled", {}))
    by_task["*"] = {**by_task.get("*", {}), **filled}
    copy["server_filled"] = by_task
    extra = _update_rules(added, version, secrets=False)["service_settings"]
    rules = {"*": {}, **entry.get("update", {})}  # a task type's rules replace "*"'s: each
    copy["update"] = {
        task: {**rule, "service_settings": {**rule.get("service_settings", {}), **extra}}
        for task, rule in rules.items()
    }
    return copy


def _update_rules(
    fields: Mapping[str, FieldDescription], version: str, *, secrets: bool
) -> dict[str, Any]:
    """``_update`` rules in the catalog's form: an updatable field changes in place from the
    cluster's own release (the description is this release's word)."""
    rules: dict[str, Any] = {
        "service_settings": {
            key: version for key, field in fields.items() if field.updatable and not field.sensitive
        }
    }
    if secrets and any(f.updatable for f in fields.values() if f.sensitive):
        rules["secrets"] = version
    return rules
