"""``reconciler.yaml``: settings of a desired-state directory that are not endpoints.

Owns environments (cluster URL, names of the variables holding credentials,
``${var:NAME}`` values), the state index and state id, and how command-line
flags, environment variables and the file combine into one ``Connection``.
Every value is type-checked and reported at its file and line: a setting that
means something else than it says (``insecure: "no"``) is an error, not a guess.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from reconciler.diagnostics import Diagnostic
from reconciler.errors import InputError
from reconciler.identity import state_id_for
from reconciler.loader import SETTINGS_FILE, display_path, parse_documents, read_text
from reconciler.model import Path, Source

if TYPE_CHECKING:
    from reconciler.client import Connection

DEFAULT_INDEX = (
    "reconciler-state"  # the same as state.DEFAULT_INDEX; not imported, so validate stays offline
)
ENVIRONMENT_KEYS = {
    "url",
    "api_key_env",
    "username_env",
    "password_env",
    "ca_cert",
    "insecure",
    "state_id",
    "variables",
}
TOP_KEYS = {"state_index", "state_id", "environments", "variables"}
STRING_KEYS = {
    "url",
    "api_key_env",
    "username_env",
    "password_env",
    "ca_cert",
    "state_id",
    "state_index",
}
# Elasticsearch index names: lowercase, no \ / * ? " < > | , # : or space, not starting with - _ +
INDEX_NAME = re.compile(r'^(?![-_+.])[^A-Z\\/*?"<>|,# :]{1,255}$')
STATE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")  # goes into a URL path as it is


@dataclass(frozen=True, kw_only=True)
class Settings:
    state_index: str = DEFAULT_INDEX
    state_id: str = "default"
    environment: str | None = None
    url: str | None = None
    api_key_env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    ca_cert: str | None = None
    insecure: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SettingsFile:
    """reconciler.yaml as read: its body (``{}`` when there is none) and every problem in it."""

    file: str
    body: Mapping[str, Any]
    source: Source | None
    diagnostics: tuple[Diagnostic, ...] = ()
    exists: bool = False

    def at(self, path: Path) -> tuple[int, int]:
        return self.source.at(path) if self.source else (1, 1)

    @property
    def environments(self) -> Mapping[str, Any]:
        environments = self.body.get("environments")
        return environments if isinstance(environments, Mapping) else {}

    def variables(self, environment: str | None) -> dict[str, str]:
        chosen = self.environments.get(environment) if environment else None
        top, own = (
            self.body.get("variables"),
            chosen.get("variables") if isinstance(chosen, Mapping) else None,
        )
        return {**_strings(top), **_strings(own)}


def settings_root(directory: FsPath) -> FsPath:
    return directory if directory.is_dir() else directory.parent


def read_settings_file(directory: FsPath) -> SettingsFile:
    """Read and check reconciler.yaml of a desired-state directory (all environments)."""
    path = settings_root(directory) / SETTINGS_FILE
    file = display_path(path)
    if not path.exists() and not path.is_symlink():
        return SettingsFile(file=file, body={}, source=None)
    text, problem = read_text(path, root=None, file=file)
    documents, problems = parse_documents(text or "", file=file) if text is not None else ([], [])
    problems = ([problem] if problem else []) + problems
    if len(documents) > 1:
        line, col = documents[1].source.line, documents[1].source.col
        problems.append(
            Diagnostic(file=file, line=line, col=col, message="settings must be one YAML document")
        )
    body: Any = documents[0].body if documents else {}
    source = documents[0].source if documents else None
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        line, col = source.at(()) if source else (1, 1)
        problems.append(
            Diagnostic(file=file, line=line, col=col, message="settings must be a mapping")
        )
        body = {}
    read = SettingsFile(file=file, body=body, source=source, exists=True)
    problems += _check(read)
    return SettingsFile(
        file=file, body=body, source=source, diagnostics=tuple(problems), exists=True
    )


def _check(settings: SettingsFile) -> list[Diagnostic]:
    problems: list[Diagnostic] = []

    def problem(path: Path, message: str) -> None:
        line, col = settings.at(path)
        problems.append(Diagnostic(file=settings.file, line=line, col=col, message=message))

    body = settings.body
    for key in body:
        if key not in TOP_KEYS:
            problem((key,), f"unknown setting '{key}' (known: {', '.join(sorted(TOP_KEYS))})")
    _check_values(body, (), problem)
    environments = body.get("environments")
    if environments is not None and not isinstance(environments, Mapping):
        problem(
            ("environments",), "environments: expected a mapping of environment names to settings"
        )
        return problems
    for name, chosen in (environments or {}).items():
        where: Path = ("environments", name)
        if chosen is None:
            continue
        if not isinstance(chosen, Mapping):
            problem(
                where,
                f"environments.{name}: expected a mapping (url, api_key_env, ...), got {_kind(chosen)}",
            )
            continue
        for key in chosen:
            if key not in ENVIRONMENT_KEYS:
                problem(
                    where + (key,),
                    f"unknown environment setting '{key}' "
                    f"(known: {', '.join(sorted(ENVIRONMENT_KEYS))})",
                )
        _check_values(chosen, where, problem)
        if "state_id" not in chosen and not STATE_ID.match(str(name)):
            problem(
                where,
                f"environment name '{name}' is used as the state document id: use letters, digits, "
                "'_', '-' and '.', or set state_id",
            )
    return problems


def _check_values(block: Mapping[str, Any], where: Path, problem: Any) -> None:
    prefix = ".".join(str(p) for p in where + ("",))
    for key in STRING_KEYS & set(block):
        value = block[key]
        if not isinstance(value, str) or not value:
            problem(
                where + (key,), f"{prefix}{key}: expected a non-empty string, got {_kind(value)}"
            )
        elif key == "url" and not re.match(r"^https?://[^/\s]+", value):
            problem(where + (key,), f"{prefix}{key}: expected an http:// or https:// URL")
        elif key == "state_index" and not INDEX_NAME.match(value):
            problem(
                where + (key,),
                f"{prefix}{key}: '{value}' is not a valid index name (lowercase; no spaces "
                'or \\ / * ? " < > | , # :; not starting with - _ + .)',
            )
        elif key == "state_id" and not STATE_ID.match(value):
            problem(
                where + (key,),
                f"{prefix}{key}: use letters, digits, '_', '-' and '.' (it goes into a URL)",
            )
    if "insecure" in block and not isinstance(block["insecure"], bool):
        problem(
            where + ("insecure",),
            f"{prefix}insecure: expected true or false, got {_kind(block['insecure'])}",
        )
    variables = block.get("variables")
    if variables is None:
        return
    if not isinstance(variables, Mapping):
        problem(
            where + ("variables",),
            f"{prefix}variables: expected a mapping of names to values, got {_kind(variables)}",
        )
        return
    for name, value in variables.items():
        if isinstance(value, (Mapping, list)) or value is None:
            problem(
                where + ("variables", name),
                f"{prefix}variables.{name}: expected a string or number, got {_kind(value)}",
            )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, (int, float)):
        return f"number {value}"
    return {dict: "a mapping", list: "a list", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _strings(variables: Any) -> dict[str, str]:
    if not isinstance(variables, Mapping):
        return {}
    return {
        str(k): str(v)
        for k, v in variables.items()
        if not isinstance(v, (Mapping, list)) and v is not None
    }


def load_settings(directory: FsPath, environment: str | None) -> Settings:
    read = read_settings_file(directory)
    if not read.exists:
        if environment:
            raise InputError(
                f"--env {environment}: no {SETTINGS_FILE} in {settings_root(directory)} "
                "defines environments"
            )
        return Settings(state_id=state_id_for(settings_root(directory), None))
    if read.diagnostics:
        raise InputError(f"{read.file} is not a valid settings file", read.diagnostics)
    body = read.body
    chosen: Mapping[str, Any] = {}
    if environment:
        if environment not in read.environments:
            known = ", ".join(sorted(map(str, read.environments))) or "none"
            raise InputError(
                f"unknown environment '{environment}' (defined in {read.file}: {known})"
            )
        chosen = read.environments[environment] or {}
        if "state_id" not in chosen and not STATE_ID.match(environment):
            raise InputError(
                f"environment '{environment}' cannot name the state document: set state_id"
            )
    ca_cert = chosen.get("ca_cert")
    if ca_cert and not os.path.isabs(ca_cert):  # like ${file:}: relative to the file that names it
        ca_cert = str(settings_root(directory) / ca_cert)
    return Settings(
        state_index=str(body.get("state_index") or DEFAULT_INDEX),
        state_id=str(
            chosen.get("state_id")
            or body.get("state_id")
            or state_id_for(settings_root(directory), environment)
        ),
        environment=environment,
        url=chosen.get("url"),
        api_key_env=chosen.get("api_key_env"),
        username_env=chosen.get("username_env"),
        password_env=chosen.get("password_env"),
        ca_cert=ca_cert,
        insecure=bool(chosen.get("insecure", False)),
        variables=read.variables(environment),
    )


def connection_for(
    settings: Settings,
    *,
    url: str | None,
    api_key: str | None,
    username: str | None,
    password: str | None,
    ca_cert: str | None,
    insecure: bool,
) -> Connection:
    """Flags win over environment variables, which win over reconciler.yaml."""
    from reconciler.client import Connection

    env = os.environ
    resolved_url = url or env.get("ELASTICSEARCH_URL") or settings.url
    if not resolved_url:
        raise InputError(
            "no cluster given: pass --url, set ELASTICSEARCH_URL, use --env, or try --sandbox"
        )
    key = (
        api_key
        or (env.get(settings.api_key_env) if settings.api_key_env else None)
        or env.get("ELASTIC_API_KEY")
    )
    user = (
        username
        or (env.get(settings.username_env) if settings.username_env else None)
        or env.get("ELASTICSEARCH_USERNAME")
    )
    pw = (
        password
        or (env.get(settings.password_env) if settings.password_env else None)
        or env.get("ELASTICSEARCH_PASSWORD")
    )
    return Connection(
        url=resolved_url,
        api_key=key or None,
        username=user or None,
        password=pw,
        ca_cert=ca_cert or settings.ca_cert,
        insecure=insecure or settings.insecure,
    )
