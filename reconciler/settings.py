"""Every setting of a run, where it comes from, and ``reconciler.yaml`` (checked against its schema).

Owns the one configuration model: each setting has ONE default (the constants below) and ONE
rule of precedence, ``resolve_connection``: the cluster URL and its credentials always come from
the same place: command-line flags, else the environment of ``reconciler.yaml`` chosen with
``--env``, else the shell's variables (``SHELL``). Where two places name different URLs the run
stops and names both, so that a credential is never sent to a cluster it was not given for; a
variable that ``api_key_env``/``username_env``/``password_env`` names and that is unset is an
error naming it. ``reconciler.yaml`` is validated against ``schemas/reconciler.schema.json``
(published for editors), every problem at its file and line. Describes a connection
(``Connection``); opening one is the client's job, so this module imports no HTTP client.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from reconciler.diagnostics import Diagnostic
from reconciler.errors import InputError
from reconciler.loader import SETTINGS_FILE, display_path, parse_documents, read_text
from reconciler.model import Path, Source

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = "reconciler.schema.json"
# one default per setting
DEFAULT_INDEX = "reconciler-state"
DEFAULT_STATE_ID = "default"
DEFAULT_TIMEOUT = 30.0  # seconds to wait for each HTTP answer
TIMEOUT_RANGE = (0.1, 600.0)
LOCK_TTL_SECONDS = 15 * 60  # a lock outlives a dead apply this long; a live one renews it
# the shell's variables for each setting
SHELL = {
    "url": "ELASTICSEARCH_URL",
    "api_key": "ELASTIC_API_KEY",
    "username": "ELASTICSEARCH_USERNAME",
    "password": "ELASTICSEARCH_PASSWORD",
    "timeout": "RECONCILER_TIMEOUT",
    "lock_ttl": "RECONCILER_LOCK_TTL",
}
STATE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")  # goes into a URL path as it is


@dataclass(frozen=True, kw_only=True)
class Connection:
    """How to reach one cluster (opened by ``client.Client``)."""

    url: str
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    ca_cert: str | None = None
    insecure: bool = False
    timeout: float = DEFAULT_TIMEOUT
    retries: int = 5
    backoff: float = 0.25  # seconds before the first retry; doubles each time
    max_backoff: float = 8.0

    def __repr__(self) -> str:  # never show credentials, even in a debugger
        auth = "api_key" if self.api_key else "basic" if self.username else "none"
        return f"Connection(url={display_url(self.url)!r}, auth={auth})"


def display_url(url: str) -> str:
    """The URL without a user:password part."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host.rpartition('@')[2]}{slash}{path}" if sep else url.rpartition("@")[2]


@dataclass(frozen=True, kw_only=True)
class Settings:
    state_index: str = DEFAULT_INDEX
    state_id: str = DEFAULT_STATE_ID
    environment: str | None = None
    url: str | None = None
    api_key_env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    ca_cert: str | None = None
    insecure: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)
    lock_ttl: float = LOCK_TTL_SECONDS
    where: Mapping[str, str] = field(default_factory=dict)  # setting -> "file:line" it is set at


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
    read = SettingsFile(file=file, body={} if body is None else body, source=source, exists=True)
    problems += _check(read)
    return SettingsFile(
        file=file,
        body=read.body if isinstance(read.body, Mapping) else {},
        source=source,
        diagnostics=tuple(problems),
        exists=True,
    )


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    from reconciler.catalog import schemas_dir

    schema = json.loads((schemas_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _check(settings: SettingsFile) -> list[Diagnostic]:
    """Every problem the schema finds, each at its line, worded by the schema's x- annotations."""
    problems = []
    for error in _validator().iter_errors(settings.body):
        for path, message in _explain(error):
            line, col = settings.at(path)
            problems.append(Diagnostic(file=settings.file, line=line, col=col, message=message))
    return problems


def _explain(error: ValidationError) -> list[tuple[Path, str]]:
    path: Path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    prefix = "".join(f"{part}." for part in path)
    if error.validator == "additionalProperties":
        known = ", ".join(sorted(schema.get("properties", {})))
        return [
            (
                path + (key,),
                f"{schema.get('x-unknown', 'unknown setting')} '{key}' (known: {known})",
            )
            for key in error.instance
            if key not in schema.get("properties", {})
        ]
    where = prefix.rstrip(".") or "settings"
    if error.validator == "required":
        return [(path, f"{where}: {schema.get('x-missing', error.message)}")]
    expected = schema.get("x-expected")
    if expected is None:  # a keyword deeper than the annotated node: word it by the node's schema
        return [(path, f"{where}: {error.message}")]
    return [(path, f"{where}: expected {expected}, got {_kind(error.instance)}")]


def load_settings(
    directory: FsPath, environment: str | None, *, shell: Mapping[str, str] | None = None
) -> Settings:
    """The settings of ``directory`` for ``environment`` (None: no --env)."""
    shell = os.environ if shell is None else shell
    lock_ttl = _shell_number(shell, "lock_ttl", LOCK_TTL_SECONDS, low=1.0, high=86400.0)
    read = read_settings_file(directory)
    if not read.exists:
        if environment:
            raise InputError(
                f"--env {environment}: no {SETTINGS_FILE} in {settings_root(directory)} "
                "defines environments"
            )
        return Settings(lock_ttl=lock_ttl)
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
    where = {
        key: "{}:{}".format(read.file, read.at(("environments", str(environment), key))[0])
        for key in chosen
    }
    return Settings(
        state_index=str(body.get("state_index") or DEFAULT_INDEX),
        state_id=str(
            chosen.get("state_id") or body.get("state_id") or environment or DEFAULT_STATE_ID
        ),
        environment=environment,
        url=chosen.get("url"),
        api_key_env=chosen.get("api_key_env"),
        username_env=chosen.get("username_env"),
        password_env=chosen.get("password_env"),
        ca_cert=ca_cert,
        insecure=bool(chosen.get("insecure", False)),
        variables=read.variables(environment),
        lock_ttl=lock_ttl,
        where=where,
    )


# -- the one precedence rule ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Flags:
    """What the command line says about the connection (None: not given)."""

    url: str | None = None
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    ca_cert: str | None = None
    insecure: bool = False
    timeout: float | None = None


@dataclass(frozen=True, kw_only=True)
class _Place:
    """One place a cluster and its credentials can be given: flags, an environment, the shell."""

    name: str
    url: str | None
    api_key: str | None = None
    username: str | None = None
    password: str | None = None

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key or self.username)


def resolve_connection(
    settings: Settings, *, flags: Flags, shell: Mapping[str, str] | None = None
) -> Connection:
    """The cluster and its credentials: flags, else the ``--env`` environment, else the shell.

    Credentials come from the place the URL comes from; when that place names none, from a place
    that names no URL at all (an ``ELASTIC_API_KEY`` with ``--url``). Two places that name
    different URLs are an error naming both: nothing can send one cluster's key to another.
    """
    shell = os.environ if shell is None else shell
    places = [
        _Place(
            name="the command line (--url)",
            url=flags.url,
            api_key=flags.api_key,
            username=flags.username,
            password=flags.password,
        ),
        _environment_place(settings, shell, credentials=not (flags.api_key or flags.username))
        if settings.environment
        else None,
        _Place(
            name=f"the shell ({SHELL['url']})",
            url=_shell(shell, "url"),
            api_key=_shell(shell, "api_key"),
            username=_shell(shell, "username"),
            password=_shell(shell, "password"),
        ),
    ]
    given = [place for place in places if place is not None]
    named = [place for place in given if place.url]
    if not named:
        raise InputError(
            "no cluster given: pass --url, set ELASTICSEARCH_URL, use --env, or try --sandbox"
        )
    chosen = named[0]
    for other in named[1:]:
        if _same_cluster(chosen.url or "", other.url or ""):
            continue
        raise InputError(
            f"two different clusters are named: {chosen.name} says {display_url(chosen.url or '')}"
            f", {other.name} says {display_url(other.url or '')}; a credential is sent only to the "
            "cluster it was given for, so name one cluster (unset one, or drop --env / --url)"
        )
    credentials = next(
        (p for p in [chosen, *given] if p.has_credentials and (p is chosen or not p.url)), chosen
    )
    return Connection(
        url=chosen.url or "",
        api_key=credentials.api_key or None,
        username=None if credentials.api_key else credentials.username or None,
        password=None if credentials.api_key else credentials.password,
        ca_cert=flags.ca_cert or settings.ca_cert,
        insecure=flags.insecure or settings.insecure,
        timeout=flags.timeout
        if flags.timeout is not None
        else _shell_number(
            shell, "timeout", DEFAULT_TIMEOUT, low=TIMEOUT_RANGE[0], high=TIMEOUT_RANGE[1]
        ),
    )


def _environment_place(
    settings: Settings, shell: Mapping[str, str], *, credentials: bool
) -> _Place:
    """The ``--env`` environment, its credential variables read (each must be set) unless the
    command line gives the credentials."""
    values: dict[str, str | None] = {}
    for key, variable in (
        ("api_key", settings.api_key_env),
        ("username", settings.username_env),
        ("password", settings.password_env),
    ):
        if variable is None or not credentials:
            values[key] = None
            continue
        value = shell.get(variable)
        if not value:
            where = settings.where.get(f"{key}_env", SETTINGS_FILE)
            state = "is not set" if value is None else "is empty"
            raise InputError(
                f"{where}: environment '{settings.environment}' takes its {key.replace('_', ' ')} "
                f"from {variable} ({key}_env), which {state}"
            )
        values[key] = value
    return _Place(
        name=f"environment '{settings.environment}' of {SETTINGS_FILE}",
        url=settings.url,
        **values,
    )


def _same_cluster(first: str, second: str) -> bool:
    return display_url(first).rstrip("/").lower() == display_url(second).rstrip("/").lower()


def _shell(shell: Mapping[str, str], setting: str) -> str | None:
    return shell.get(SHELL[setting]) or None  # an empty variable is an unset one


def _shell_number(
    shell: Mapping[str, str], setting: str, default: float, *, low: float, high: float
) -> float:
    text = _shell(shell, setting)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise InputError(
            f"{SHELL[setting]}={text!r}: expected seconds between {low:g} and {high:g}"
        )
    return value


def connection_for(
    settings: Settings,
    *,
    url: str | None,
    api_key: str | None,
    username: str | None,
    password: str | None,
    ca_cert: str | None,
    insecure: bool,
    timeout: float | None = None,
) -> Connection:
    """``resolve_connection`` for the command line's options."""
    flags = Flags(
        url=url,
        api_key=api_key,
        username=username,
        password=password,
        ca_cert=ca_cert,
        insecure=insecure,
        timeout=timeout,
    )
    return resolve_connection(settings, flags=flags, shell=os.environ)


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
