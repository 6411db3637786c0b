"""One service's facts as the catalog holds them, and the dates they carry.

Owns reading a service's entry of ``schemas/catalog.json``: its fields and
which are secret, what the server fills in (also defaults that depend on
another setting), what ``_update`` may change on which version, and since
when the service, each task type and each field exists (``available``: a fact
dated on the 8.x line and the 9.x line, since 8.19 has things 9.0 lacks).
``catalog`` turns these answers into one ``EndpointFacts`` per endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

Version = tuple[int, int, int]
UPDATE_API_SINCE: Version = (8, 17, 0)
# PUT _inference takes ``timeout`` (how long to wait for the endpoint to be created) from 8.19 and
# 9.1 (transport version INFERENCE_ADD_TIMEOUT_PUT_ENDPOINT_8_19); 9.0 is not established, so not
# sent there. Older releases refuse an unknown query parameter (docs/elasticsearch-api.md).
CREATE_TIMEOUT_SINCE: tuple[tuple[Version, Version], ...] = (
    ((8, 19, 0), (9, 0, 0)),
    ((9, 1, 0), (999, 0, 0)),
)
ANY_VERSION: Version = (999, 0, 0)  # for facts that do not depend on the version (secret fields)
ANY_VALUE = "*"  # a server-filled value nobody can predict (measured dimensions ...)


@lru_cache(maxsize=1024)  # asked per spec and field, of a few dozen distinct texts
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
    return _since_versions(since if isinstance(since, str) else tuple(since))


@lru_cache(maxsize=1024)
def _since_versions(since: str | tuple[str, ...]) -> tuple[Version, ...]:
    texts = [since] if isinstance(since, str) else since
    return tuple(sorted(parse_version(text) for text in texts))


def available(since: SinceSpec, version: Version) -> bool:
    """Whether a fact dated ``since`` exists on a cluster of ``version``.

    A line that has its own entry needs that entry's release; a line without one has the
    fact when an earlier line had it (9.x has every 8.x fact unless a 9.x entry says when).
    """
    if since is None:
        return True
    return _available(since if isinstance(since, str) else tuple(since), version)


@lru_cache(maxsize=4096)
def _available(since: str | tuple[str, ...], version: Version) -> bool:
    firsts = _since_versions(since)
    if not firsts:
        return True
    same_line = [first for first in firsts if first[0] == version[0]]
    if same_line:
        return version >= same_line[0]
    return any(first[0] < version[0] for first in firsts)


def since_text(since: SinceSpec) -> str:
    """'8.19.0 / 9.1.0' (how users read a two-line fact)."""
    return " / ".join(".".join(map(str, first)) for first in since_versions(since))


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
