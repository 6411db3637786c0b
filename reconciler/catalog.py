"""Service facts, read from ``schemas/catalog.json`` (packaged as reconciler.schemas).

Owns loading the catalog and answering per endpoint: which fields are secret,
which values the server fills in, which fields ``_update`` may change on a
given cluster version (one service's entry, and the dates it carries, are read
by ``service_facts``). Holds no facts itself: they are data, so the planner has
no per-service branches. Does not validate specs (``schema`` does).

The planner asks once per endpoint: ``Catalog.facts(service, task_type, version)``
answers with one ``EndpointFacts`` value, which normalising and planning take
instead of the catalog.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path as FsPath
from typing import Any

from reconciler.model import FieldPath
from reconciler.service_facts import (  # noqa: F401 (part of the catalog's interface)
    ANY_VALUE,
    ANY_VERSION,
    CREATE_TIMEOUT_SINCE,
    UPDATE_API_SINCE,
    ServiceFacts,
    SinceSpec,
    Version,
    available,
    parse_version,
    since_text,
    since_versions,
)


def schemas_dir() -> FsPath:
    """Where the schemas are: inside the installed package, else the source tree."""
    try:
        packaged = FsPath(str(resources.files("reconciler.schemas")))
        if (packaged / "catalog.json").is_file():
            return packaged
    except (ModuleNotFoundError, TypeError):
        pass
    return FsPath(__file__).resolve().parent.parent / "schemas"


@dataclass(frozen=True, kw_only=True)
class Rewrite:
    """A field whose value the server rewrites: re-cased and/or synonyms folded (cohere int8 -> byte)."""

    block: str
    key: str
    case: str  # "lower", "upper" or ""
    aliases: Mapping[str, str]


@dataclass(frozen=True, kw_only=True)
class EndpointFacts:
    """Everything the catalog says about one endpoint: its service and task type on one cluster version.

    Resolved once per endpoint and handed down, so that normalising and planning never look a
    service up by name again. ``known`` is false for a service the catalog does not have: then
    nothing is secret, filled in or updatable, and only a replace is safe.
    """

    service: str  # as declared
    canonical_service: str  # as the server reports it (elser is shown as elasticsearch)
    task_type: str
    version: Version
    known: bool
    offered: bool = True  # the service and the task type exist in that release
    secret_fields: tuple[str, ...] = ()
    required_service_settings: tuple[str, ...] = ()
    hidden_fields: tuple[str, ...] = ()  # service_settings keys accepted but never shown
    server_filled: Mapping[tuple[str, str], Any] = field(default_factory=dict)  # or ANY_VALUE
    # server-filled fields the server itself changes later (elasticsearch num_allocations under
    # adaptive allocations): never compared with the value recorded at the last apply
    server_managed: frozenset[tuple[str, str]] = frozenset()
    rewrites: tuple[Rewrite, ...] = ()
    echoes: tuple[tuple[str, str, str], ...] = ()  # (block, key, the key the server shows it as)
    chunked: bool = False  # an embedding task type: the server fills in default chunking
    default_chunking: Mapping[str, Any] = field(default_factory=dict)
    task_settings_mode: str = "merge"  # how _update treats task_settings: "merge" or "replace"
    probe_on_replace: bool = True  # a scratch create is cheap (false: it would deploy a model)
    create_timeout: float | None = None  # seconds a create may wait by default (None: the server's)
    open: bool = False  # described by the cluster only: an undeclared setting is the server's
    _service: ServiceFacts | None = field(default=None, compare=False, repr=False)
    # ``baseline_fields`` per set of declared fields (specs alike share one set): asked per
    # endpoint; not an argument, so a copy made with ``replace`` starts empty
    _baseline_fields: dict[frozenset[FieldPath], frozenset[FieldPath]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @property
    def update_api(self) -> bool:
        return self.version >= UPDATE_API_SINCE

    @property
    def create_timeout_api(self) -> bool:
        """Whether this release's create takes the ``timeout`` query parameter."""
        return any(low <= self.version < high for low, high in CREATE_TIMEOUT_SINCE)

    def server_filled_for(
        self, settings: Mapping[str, Mapping[str, Any]]
    ) -> Mapping[tuple[str, str], Any]:
        """``server_filled`` with the defaults that depend on other settings resolved against
        ``settings`` (an endpoint's blocks), for reading one endpoint rather than comparing."""
        if self._service is None:
            return self.server_filled
        filled = self._service.server_filled(
            self.task_type, settings=settings, version=self.version
        )
        return {(path.partition(".")[0], path.partition(".")[2]): v for path, v in filled.items()}

    @cached_property  # asked per endpoint, twice: once per set of facts
    def inner_defaults(self) -> tuple[tuple[str, tuple[str, ...], str, Any], ...]:
        """The defaults the server writes inside a declared object (a dotted server-filled key
        with a known value): (block, the keys of the object's path, the key, the value)."""
        found = []
        for (block, key), value in self.server_filled.items():
            if "." in key and value != ANY_VALUE:
                *parents, leaf = key.split(".")
                found.append((block, tuple(parents), leaf, value))
        return tuple(found)

    def baseline_fields(self, declared: frozenset[FieldPath]) -> frozenset[FieldPath]:
        """The fields compared with the values the server filled in at the last apply: those it
        fills in (top-level keys; chunking settings as one field) that ``declared`` leaves out,
        minus those it changes by itself."""
        found = self._baseline_fields.get(declared)
        if found is None:
            found = self._baseline_fields[declared] = self._unrecorded_fields(declared)
        return found

    def _unrecorded_fields(self, declared: frozenset[FieldPath]) -> frozenset[FieldPath]:
        fields: set[FieldPath] = {
            (block, key)
            for block, key in self.server_filled
            if "." not in key and (block, key) not in self.server_managed
        }
        if self.chunked:
            fields.add(("chunking_settings",))
        return frozenset(fields - declared)

    def updatable(self, path: FieldPath) -> bool:
        """Whether ``_update`` on this cluster changes the field at ``path`` in place."""
        if self._service is None or not path or not self.update_api:
            return False
        block = str(path[0])
        if block not in ("service_settings", "task_settings", "chunking_settings"):
            return False
        key = str(path[1]) if len(path) > 1 and block != "chunking_settings" else ""
        return self._service.updatable(
            task_type=self.task_type, block=block, key=key, version=self.version
        )


@dataclass(frozen=True, kw_only=True)
class Catalog:
    raw: Mapping[str, Any]

    @property
    def embedding_task_types(self) -> tuple[str, ...]:
        return tuple(self.raw.get("embedding_task_types", ()))

    @property
    def default_chunking(self) -> Mapping[str, Any]:
        return self.raw.get("default_chunking", {})

    @property
    def chunking_since(self) -> SinceSpec:
        """When endpoints started to accept ``chunking_settings``."""
        return self.raw.get("chunking_settings_since")

    def update_resets_chunking(self, version: Version) -> bool:
        """Whether ``_update`` on this release rewrites an embedding endpoint's chunking to the
        word/250/100 default whatever it changes (Elasticsearch issue 139574)."""
        bug = self.raw.get("update_resets_chunking") or {}
        return (
            bool(bug)
            and available(bug.get("since"), version)
            and not available(bug.get("until"), version)
        )

    _services: dict[str, ServiceFacts] = field(default_factory=dict, compare=False, repr=False)

    def service(self, name: str) -> ServiceFacts | None:
        if name not in self._services:
            raw = self.raw.get("services", {}).get(name)
            if raw is None:
                return None
            self._services[name] = ServiceFacts(name=name, raw=raw)
        return self._services[name]

    def service_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.raw.get("services", {})))

    _facts: dict[tuple[str, str, Version], EndpointFacts] = field(
        default_factory=dict, compare=False, repr=False
    )

    def facts(self, service: str, task_type: str, version: Version) -> EndpointFacts:
        """The facts of one endpoint (memoised: read-only data asked for per endpoint)."""
        key = (service, task_type, version)
        found = self._facts.get(key)
        if found is None:
            found = self._facts[key] = self._resolve(service, task_type, version)
        return found

    def _resolve(self, service: str, task_type: str, version: Version) -> EndpointFacts:
        facts = self.service(service)
        if facts is None:
            return EndpointFacts(
                service=service,
                canonical_service=service,
                task_type=task_type,
                version=version,
                known=False,
                chunked=task_type in self.embedding_task_types,
                default_chunking=self.default_chunking,
            )
        return EndpointFacts(
            service=service,
            canonical_service=facts.canonical_name,
            task_type=task_type,
            version=version,
            known=True,
            offered=facts.offers(task_type=task_type, version=version),
            secret_fields=facts.secret_fields(),
            required_service_settings=tuple(
                (facts.raw.get("required_service_settings") or {}).get("*", ())
            ),
            hidden_fields=facts.hidden_fields("service_settings"),
            server_filled={
                (dotted.partition(".")[0], dotted.partition(".")[2]): value
                for dotted, value in facts.server_filled(task_type, version=version).items()
            },
            server_managed=frozenset(
                (dotted.partition(".")[0], dotted.partition(".")[2])
                for dotted in facts.raw.get("server_managed") or {}
            ),
            rewrites=tuple(
                Rewrite(block=block, key=key, case=case, aliases=aliases)
                for block, key, case, aliases in facts.rewritten_fields()
            ),
            echoes=facts.echoes(),
            chunked=task_type in self.embedding_task_types,
            default_chunking=self.default_chunking,
            task_settings_mode=facts.task_settings_mode(task_type),
            probe_on_replace=bool(facts.raw.get("probe_on_replace", True)),
            create_timeout=facts.raw.get("create_timeout"),
            open=bool(facts.raw.get("open")),
            _service=facts,
        )


@cache
def load_catalog() -> Catalog:
    with open(schemas_dir() / "catalog.json", encoding="utf-8") as handle:
        return Catalog(raw=json.load(handle))
