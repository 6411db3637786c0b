"""Service facts, read from ``schemas/catalog.json`` (packaged as reconciler.schemas).

Owns the questions the planner asks about a service: which fields are secret,
which values the server fills in, which fields ``_update`` may change on a
given cluster version, and since when a service, task type or field exists
(``available``: a fact dated on the 8.x line and the 9.x line). Holds no facts itself: they are data, so the planner
has no per-service branches. Does not validate specs (``schema`` does).

The planner asks once per endpoint: ``Catalog.facts(service, task_type, version)``
answers with one ``EndpointFacts`` value, which normalising and planning take
instead of the catalog.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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


# When a fact arrived: one version ("8.15.0": from then on, on every later line), a list
# with the first release per major line (["8.19.0", "9.1.0"]: 8.19 carries a backport that
# 9.0 lacks), or None (as old as what holds it).
SinceSpec = str | Sequence[str] | None


def since_versions(since: SinceSpec) -> tuple[Version, ...]:
    if since is None:
        return ()
    texts = [since] if isinstance(since, str) else list(since)
    return tuple(sorted(parse_version(text) for text in texts))


def available(since: SinceSpec, version: Version) -> bool:
    """Whether a fact dated ``since`` exists on a cluster of ``version``.

    A line that has its own entry needs that entry's release; a line without one has the
    fact when an earlier line had it (9.x has every 8.x fact unless a 9.x entry says when).
    """
    firsts = since_versions(since)
    if not firsts:
        return True
    same_line = [first for first in firsts if first[0] == version[0]]
    if same_line:
        return version >= same_line[0]
    return any(first[0] < version[0] for first in firsts)


def since_text(since: SinceSpec) -> str:
    """'8.19.0 / 9.1.0' (how users read a two-line fact)."""
    return " / ".join(".".join(map(str, first)) for first in since_versions(since))


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
        """The earliest release with the service (``since_spec`` tells the lines apart)."""
        firsts = since_versions(self.raw.get("since"))
        return firsts[0] if firsts else (0, 0, 0)

    # ------------------------------------------------------------------ time
    # Per (service, task type, version): is it offered, which fields exist and since
    # when. A task type or field without its own date is as old as what holds it.

    @property
    def since_spec(self) -> SinceSpec:
        return self.raw.get("since")

    def task_type_since(self, task_type: str) -> SinceSpec:
        return self.raw.get("task_type_since", {}).get(task_type, self.since_spec)

    def field_since(self, block: str, key: str, task_type: str) -> SinceSpec:
        """When block.key arrived for task_type (the later of its own date and the task type's)."""
        own = self.field(block, key).get("since")
        if own is None:
            return self.task_type_since(task_type)
        return own

    def offers(self, *, task_type: str, version: Version) -> bool:
        """Whether a cluster of ``version`` has this service with this task type."""
        return (
            task_type in self.raw.get("task_types", ())
            and available(self.since_spec, version)
            and available(self.task_type_since(task_type), version)
        )

    def fields_at(self, *, block: str, task_type: str, version: Version) -> tuple[str, ...]:
        """Keys of ``block`` a cluster of ``version`` accepts for ``task_type``."""
        return tuple(
            sorted(
                name
                for name, spec in self.raw.get(block, {}).items()
                if task_type in spec.get("task_types", (task_type,))
                and available(self.field_since(block, name, task_type), version)
            )
        )

    def enum_value_since(self, block: str, key: str, value: str) -> SinceSpec:
        """When one value of an enum field arrived (cohere embedding_type bit ...)."""
        return self.field(block, key).get("enum_since", {}).get(value)

    def required_until(self, block: str, key: str) -> SinceSpec:
        """Release from which an optional field stopped being required (vertex location)."""
        return self.field(block, key).get("required_before")

    def evidence(self, fact: str) -> str:
        """Where a dated fact comes from (``since``, ``task_type_since.X``, ``block.key``)."""
        return str(self.raw.get("evidence", {}).get(fact, ""))

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

    def server_filled(
        self,
        task_type: str,
        *,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        version: Version | None = None,
    ) -> dict[str, Any]:
        """Dotted path -> default value (or ANY_VALUE) the server writes when left out.

        A default that depends on another setting (bedrock similarity on the provider) is
        resolved from ``settings`` (block -> mapping); without them it is ANY_VALUE, so
        nothing is compared against a guess. With ``version``, defaults of fields that
        cluster does not have yet are left out (no rate_limit before 8.15).
        """
        by_task = self.raw.get("server_filled", {})
        merged = self._remember(
            ("filled", task_type),
            lambda: {**by_task.get("*", {}), **by_task.get(task_type, {})},
        )
        filled: dict[str, Any] = {}
        for dotted, value in merged.items():
            block, _, key = dotted.partition(".")
            if version is not None and not available(
                self.field_since(block, key, task_type), version
            ):
                continue
            resolved = _resolve_default(value, settings)
            if resolved is not None:
                filled[dotted] = resolved
        return filled

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
        elif block == "service_settings" and key in self.secret_fields():
            since = rules.get("secrets")
        else:
            allowed = rules.get(block) or {}
            since = allowed.get(key, allowed.get(ANY_VALUE))
        return since is not None and available(since, version)

    def updatable_fields(self, *, task_type: str, block: str, version: Version) -> tuple[str, ...]:
        """The keys of ``block`` that ``_update`` changes in place on that cluster."""
        return tuple(
            name
            for name in self.fields_at(block=block, task_type=task_type, version=version)
            if self.updatable(task_type=task_type, block=block, key=name, version=version)
        )

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
    offered: bool = True  # the service and the task type exist in that release
    secret_fields: tuple[str, ...] = ()
    required_service_settings: tuple[str, ...] = ()
    hidden_fields: tuple[str, ...] = ()  # service_settings keys accepted but never shown
    server_filled: Mapping[tuple[str, str], Any] = field(default_factory=dict)  # or ANY_VALUE
    rewrites: tuple[Rewrite, ...] = ()
    chunked: bool = False  # an embedding task type: the server fills in default chunking
    default_chunking: Mapping[str, Any] = field(default_factory=dict)
    task_settings_mode: str = "merge"  # how _update treats task_settings: "merge" or "replace"
    probe_on_replace: bool = True  # a scratch create is cheap (false: it would deploy a model)
    _service: ServiceFacts | None = field(default=None, compare=False, repr=False)

    @property
    def update_api(self) -> bool:
        return self.version >= UPDATE_API_SINCE

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


def _resolve_default(value: Any, settings: Mapping[str, Mapping[str, Any]] | None) -> Any:
    """A conditional default {"depends_on": "block.key", "cases": {...}, "otherwise": v}.

    ``"absent": v`` is the default when the other key is not set at all; ``None`` there means
    the server fills nothing then (model_id is copied from a deployment only with deployment_id).
    """
    if not (isinstance(value, Mapping) and "depends_on" in value):
        return value
    if settings is None:
        return ANY_VALUE
    block, _, key = str(value["depends_on"]).partition(".")
    chosen = settings.get(block, {}).get(key)
    if chosen is None and "absent" in value:
        return value["absent"]
    cases = value.get("cases", {})
    if isinstance(chosen, str):
        for case, default in cases.items():
            if case.lower() == chosen.lower():
                return default
    return value.get("otherwise", ANY_VALUE)


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
            rewrites=tuple(
                Rewrite(block=block, key=key, case=case, aliases=aliases)
                for block, key, case, aliases in facts.rewritten_fields()
            ),
            chunked=task_type in self.embedding_task_types,
            default_chunking=self.default_chunking,
            task_settings_mode=facts.task_settings_mode(task_type),
            probe_on_replace=bool(facts.raw.get("probe_on_replace", True)),
            _service=facts,
        )


@cache
def load_catalog() -> Catalog:
    with open(schemas_dir() / "catalog.json", encoding="utf-8") as handle:
        return Catalog(raw=json.load(handle))
