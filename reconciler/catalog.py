"""Service facts, read from ``schemas/catalog.json`` (packaged as reconciler.schemas).

Owns the questions the planner asks about a service: which fields are secret,
which values the server fills in, which fields ``_update`` may change on a
given cluster version. Holds no facts itself: they are data, so the planner
has no per-service branches. Does not validate specs (``schema`` does).

The planner asks once per endpoint: ``Catalog.facts(service, task_type, version)``
answers with one ``EndpointFacts`` value, which normalising and planning take
instead of the catalog.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path as FsPath
from typing import Any

from reconciler.model import FieldPath

Version = tuple[int, int, int]
UPDATE_API_SINCE: Version = (8, 17, 0)
ANY_VERSION: Version = (999, 0, 0)  # for facts that do not depend on the version (secret fields)
ANY_VALUE = "*"  # a server-filled value nobody can predict (measured dimensions ...)


def parse_version(text: str | None) -> tuple[int, int, int]:
    """'8.17.0' / '9.1.0-SNAPSHOT' -> (8, 17, 0); unknown parts count as 0."""
    parts: list[int] = []
    for piece in (text or "0").split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    while len(parts) < 3:
        parts.append(0)
    return (parts[0], parts[1], parts[2])


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
class ServiceFacts:
    name: str
    raw: Mapping[str, Any]
    _memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def _remember(self, key: Any, compute: Any) -> Any:
        """Facts are read-only data asked for per endpoint: compute each answer once."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def since(self) -> tuple[int, int, int]:
        return parse_version(self.raw.get("since"))

    @property
    def canonical_name(self) -> str:
        """The service name the server reports (elser is shown as elasticsearch)."""
        return str(self.raw.get("alias_of") or self.name)

    def secret_fields(self) -> tuple[str, ...]:
        fields = self.raw.get("service_settings", {})
        return self._remember(
            "secrets",
            lambda: tuple(sorted(name for name, spec in fields.items() if spec.get("secret"))),
        )

    def field(self, block: str, name: str) -> Mapping[str, Any]:
        return self.raw.get(block, {}).get(name, {})

    def server_filled(self, task_type: str) -> dict[str, Any]:
        """Dotted path -> default value (or ANY_VALUE) the server writes when left out."""
        by_task = self.raw.get("server_filled", {})
        return dict(
            self._remember(
                ("filled", task_type),
                lambda: {**by_task.get("*", {}), **by_task.get(task_type, {})},
            )
        )

    def hidden_fields(self, block: str) -> tuple[str, ...]:
        """Keys of ``block`` the server accepts but never shows (besides secrets)."""
        prefix = block + "."
        return tuple(p[len(prefix) :] for p in self.raw.get("hidden", ()) if p.startswith(prefix))

    def _update_rules(self, task_type: str) -> Mapping[str, Any]:
        rules = self.raw.get("update", {})
        return {**rules.get("*", {}), **rules.get(task_type, {})}

    def updatable(
        self, *, task_type: str, block: str, key: str, version: tuple[int, int, int]
    ) -> bool:
        """Whether ``_update`` on a cluster of ``version`` changes block.key in place."""
        if version < UPDATE_API_SINCE:
            return False
        rules = self._update_rules(task_type)
        if block == "chunking_settings":
            since = rules.get("chunking_settings")
            return since is not None and version >= parse_version(since)
        if block == "service_settings" and key in self.secret_fields():
            since = rules.get("secrets")
            return since is not None and version >= parse_version(since)
        allowed = rules.get(block) or {}
        since = allowed.get(key, allowed.get(ANY_VALUE))
        return since is not None and version >= parse_version(since)

    def task_settings_mode(self, task_type: str) -> str:
        return str(self._update_rules(task_type).get("task_settings_mode") or "merge")

    def rewritten_fields(self) -> tuple[tuple[str, str, str, Mapping[str, str]], ...]:
        """(block, key, case, aliases) for fields whose value the server rewrites:
        re-cased ('lower' / 'upper' / '') and synonyms folded (cohere int8 -> byte)."""
        return self._remember("rewritten", self._rewritten)

    def _rewritten(self) -> tuple[tuple[str, str, str, Mapping[str, str]], ...]:
        found = []
        for block in ("service_settings", "task_settings"):
            for name, spec in self.raw.get(block, {}).items():
                case = spec.get("case") if spec.get("case") in ("lower", "upper") else ""
                aliases = spec.get("aliases") or {}
                if case or aliases:
                    found.append((block, name, case, aliases))
        return tuple(found)


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
    secret_fields: tuple[str, ...] = ()
    required_service_settings: tuple[str, ...] = ()
    hidden_fields: tuple[str, ...] = ()  # service_settings keys accepted but never shown
    server_filled: Mapping[tuple[str, str], Any] = field(default_factory=dict)  # or ANY_VALUE
    rewrites: tuple[Rewrite, ...] = ()
    chunked: bool = False  # an embedding task type: the server fills in default chunking
    default_chunking: Mapping[str, Any] = field(default_factory=dict)
    task_settings_mode: str = "merge"  # how _update treats task_settings: "merge" or "replace"
    _service: ServiceFacts | None = field(default=None, compare=False, repr=False)

    @property
    def update_api(self) -> bool:
        return self.version >= UPDATE_API_SINCE

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
            secret_fields=facts.secret_fields(),
            required_service_settings=tuple(
                (facts.raw.get("required_service_settings") or {}).get("*", ())
            ),
            hidden_fields=facts.hidden_fields("service_settings"),
            server_filled={
                (dotted.partition(".")[0], dotted.partition(".")[2]): value
                for dotted, value in facts.server_filled(task_type).items()
            },
            rewrites=tuple(
                Rewrite(block=block, key=key, case=case, aliases=aliases)
                for block, key, case, aliases in facts.rewritten_fields()
            ),
            chunked=task_type in self.embedding_task_types,
            default_chunking=self.default_chunking,
            task_settings_mode=facts.task_settings_mode(task_type),
            _service=facts,
        )


@cache
def load_catalog() -> Catalog:
    with open(schemas_dir() / "catalog.json", encoding="utf-8") as handle:
        return Catalog(raw=json.load(handle))
