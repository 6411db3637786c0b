"""The cluster a run talks to and the credentials it sends there: the one precedence rule.

Owns ``Connection`` (a description: ``client.Client`` opens it) and ``resolve_connection``: the
URL and its credentials always come from the same place: command-line flags, else the
environment of ``reconciler.yaml`` chosen with ``--env``, else the shell's variables
(``settings.SHELL``). Where two places name different URLs the run stops and names both, so
that a credential is never sent to a cluster it was not given for; a variable that
``api_key_env``/``username_env``/``password_env`` names and that is unset is an error naming it
and its line. Imports no HTTP client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from reconciler.errors import InputError
from reconciler.loader import SETTINGS_FILE
from reconciler.settings import (
    DEFAULT_RETRY_FOR,
    DEFAULT_TIMEOUT,
    SHELL,
    TIMEOUT_RANGE,
    Settings,
    shell_number,
    shell_value,
)

if TYPE_CHECKING:
    from reconciler.retry import WaitReport


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
    retry_for: float = DEFAULT_RETRY_FOR  # seconds of transient failures a run sits out
    # where the retry policy reports a wait ("the cluster answered 429"): a sink, not a setting
    on_wait: WaitReport | None = field(default=None, compare=False)

    def __repr__(self) -> str:  # never show credentials, even in a debugger
        auth = "api_key" if self.api_key else "basic" if self.username else "none"
        return f"Connection(url={display_url(self.url)!r}, auth={auth})"


def display_url(url: str) -> str:
    """The URL without a user:password part."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host.rpartition('@')[2]}{slash}{path}" if sep else url.rpartition("@")[2]


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
    retry_for: float | None = None


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

    Credentials come from the place the URL comes from; when that place names none, from the
    first other place that names them, which names the same URL or none at all (an
    ``ELASTIC_API_KEY`` with ``--url``): two places that name different URLs are an error naming
    both, so nothing can send one cluster's key to another.
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
            url=shell_value(shell, "url"),
            api_key=shell_value(shell, "api_key"),
            username=shell_value(shell, "username"),
            password=shell_value(shell, "password"),
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
    # every place that names a URL names this one (or we stopped above): the URL's own place
    # first, then the others in order of precedence
    credentials = next((p for p in [chosen, *given] if p.has_credentials), chosen)
    return Connection(
        url=chosen.url or "",
        api_key=credentials.api_key or None,
        username=None if credentials.api_key else credentials.username or None,
        password=None if credentials.api_key else credentials.password,
        ca_cert=flags.ca_cert or settings.ca_cert,
        insecure=flags.insecure or settings.insecure,
        timeout=flags.timeout
        if flags.timeout is not None
        else shell_number(
            shell, "timeout", DEFAULT_TIMEOUT, low=TIMEOUT_RANGE[0], high=TIMEOUT_RANGE[1]
        ),
        retry_for=flags.retry_for if flags.retry_for is not None else _retry_for(shell),
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


def _retry_for(shell: Mapping[str, str]) -> float:
    from reconciler.retry import parse_duration

    text = shell_value(shell, "retry_for")
    if text is None:
        return DEFAULT_RETRY_FOR
    try:
        return parse_duration(text)
    except ValueError as error:
        raise InputError(f"{SHELL['retry_for']}: {error}") from None


def _same_cluster(first: str, second: str) -> bool:
    return display_url(first).rstrip("/").lower() == display_url(second).rstrip("/").lower()


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
    retry_for: float | None = None,
    on_wait: WaitReport | None = None,
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
        retry_for=retry_for,
    )
    connection = resolve_connection(settings, flags=flags, shell=os.environ)
    return replace(connection, on_wait=on_wait)  # a sink for messages, not a setting
