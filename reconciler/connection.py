"""The cluster a run talks to and the credentials it sends there: the one routing rule.

Owns ``Connection`` (a description: ``client.Client`` opens it) and ``resolve_connection``. Three
places can name a cluster and a credential set (an API key, or a user name and password): the
command-line flags, the environment of ``reconciler.yaml`` chosen with ``--env``, the shell's
variables (``settings.SHELL``). The URL comes from the first place that names one; two places
that name different URLs stop the run, naming both. A credential set travels with the URL of its
own place: the shell's credentials go only to the cluster ``ELASTICSEARCH_URL`` names (they may
have been exported for another cluster), while the flags and the environment, which are chosen
for this run, lend theirs to the run's cluster when they name no URL. Credentials held back are
named when the cluster answers 401 (``Connection.unsent``). A credential set is one of an API
key, a bearer token, a user name and password, with or without a client certificate (mTLS); the
extra ``--header``s are not a set of their own but may carry a secret, so they too go only where
their place ``travels_to``. A variable that ``api_key_env``/``username_env``/``password_env``/
``bearer_token_env``/``header_env`` names and that is unset is an error naming it and its line.
The rule is written once for any credential set (``_Place.credentials``), so a new kind of
credential inherits it. Imports no HTTP client. See docs/security.md.
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
    bearer_token: str | None = None
    client_cert: str | None = None  # PEM certificate for mTLS (a credential: travels like one)
    client_key: str | None = None
    ca_cert: str | None = None
    ca_fingerprint: str | None = None  # SHA-256 (hex) of a certificate in the server's chain
    insecure: bool = False
    headers: tuple[tuple[str, str], ...] = ()  # extra headers; they travel like credentials
    timeout: float = DEFAULT_TIMEOUT
    retry_for: float = DEFAULT_RETRY_FOR  # seconds of transient failures a run sits out
    # where the retry policy reports a wait ("the cluster answered 429"): a sink, not a setting
    on_wait: WaitReport | None = field(default=None, compare=False)
    # why no credentials are sent (the places that held theirs back): said on a 401
    unsent: str = field(default="", compare=False)

    def __repr__(self) -> str:  # never show credentials, even in a debugger
        auth = (
            "api_key"
            if self.api_key
            else "bearer"
            if self.bearer_token
            else "basic"
            if self.username
            else "none"
        )
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
    bearer_token: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    ca_cert: str | None = None
    ca_fingerprint: str | None = None
    insecure: bool = False
    headers: tuple[tuple[str, str], ...] = ()
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
    bearer_token: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    # not part of the credential set (they may be sent alongside any), but they may carry a
    # secret (a proxy's token), so they follow the same rule: ``travels_to``
    headers: tuple[tuple[str, str], ...] = ()
    # chosen for this run (flags, --env): credentials without a URL go to the run's cluster.
    # The shell is ambient: its credentials go only to the URL it names itself.
    lends: bool = True

    @property
    def credentials(self) -> bool:
        return bool(self.api_key or self.username or self.bearer_token or self.client_cert)

    def travels_to(self, url: str) -> bool:
        """Whether this place's credentials may be sent to ``url``."""
        return _same_cluster(self.url, url) if self.url else self.lends


def resolve_connection(
    settings: Settings, *, flags: Flags, shell: Mapping[str, str] | None = None
) -> Connection:
    """The cluster and its credentials: flags, else the ``--env`` environment, else the shell.

    The URL comes from the first place that names one, and every other place that names a URL
    must name the same (else an error naming both). The credentials are those of the first place
    in that order whose credentials may travel to that URL (``_Place.travels_to``).
    """
    shell = os.environ if shell is None else shell
    command_line = _Place(
        name="the command line (--url)",
        url=flags.url,
        api_key=flags.api_key,
        username=flags.username,
        password=flags.password,
        bearer_token=flags.bearer_token,
        client_cert=flags.client_cert,
        client_key=flags.client_key,
        headers=flags.headers,
    )
    places = [
        command_line,
        _environment_place(settings, shell, credentials=not command_line.credentials)
        if settings.environment
        else None,
        _Place(
            name=f"the shell ({SHELL['url']})",
            url=shell_value(shell, "url"),
            api_key=shell_value(shell, "api_key"),
            username=shell_value(shell, "username"),
            password=shell_value(shell, "password"),
            bearer_token=shell_value(shell, "bearer_token"),
            lends=False,
        ),
    ]
    given = [place for place in places if place is not None]
    named = [place for place in given if place.url]
    if not named:
        raise InputError(
            "no cluster given: pass --url, set ELASTICSEARCH_URL, use --env, or try --sandbox"
        )
    chosen = named[0]
    url = chosen.url or ""
    for other in named[1:]:
        if not _same_cluster(url, other.url or ""):
            raise InputError(
                f"two different clusters are named: {chosen.name} says {display_url(url)}, "
                f"{other.name} says {display_url(other.url or '')}; a credential is sent only to "
                "the cluster it was given for, so name one cluster (unset one, or drop --env / --url)"
            )
    candidates = [place for place in given if place.credentials]
    credentials = next((place for place in candidates if place.travels_to(url)), None)
    if credentials is not None:
        _one_scheme(credentials)
    headers: dict[str, tuple[str, str]] = {}
    for place in reversed(given):  # flags win over the environment, which wins over the shell
        if place.travels_to(url):
            headers.update({name.lower(): (name, value) for name, value in place.headers})
    basic = credentials is not None and not (credentials.api_key or credentials.bearer_token)
    return Connection(
        url=url,
        api_key=credentials.api_key if credentials else None,
        username=credentials.username if credentials and basic else None,
        password=credentials.password if credentials and basic else None,
        bearer_token=credentials.bearer_token if credentials else None,
        client_cert=credentials.client_cert if credentials else None,
        client_key=credentials.client_key if credentials else None,
        ca_cert=flags.ca_cert or settings.ca_cert,
        ca_fingerprint=_fingerprint(flags.ca_fingerprint, settings),
        insecure=flags.insecure or settings.insecure,
        headers=tuple(headers.values()),
        timeout=flags.timeout
        if flags.timeout is not None
        else shell_number(
            shell, "timeout", DEFAULT_TIMEOUT, low=TIMEOUT_RANGE[0], high=TIMEOUT_RANGE[1]
        ),
        retry_for=flags.retry_for if flags.retry_for is not None else _retry_for(shell),
        unsent="" if credentials else _why_none(chosen, candidates, url),
    )


def _one_scheme(place: _Place) -> None:
    """One ``Authorization`` per request: a place naming two schemes is an error, not a guess."""
    schemes = [
        name
        for name, given in (
            ("an API key", place.api_key),
            ("a bearer token", place.bearer_token),
            ("a user name", place.username),
        )
        if given
    ]
    if len(schemes) > 1:
        raise InputError(
            f"{place.name} gives {' and '.join(schemes)}: name one way to authenticate"
        )
    if place.client_key and not place.client_cert:
        raise InputError(f"{place.name} gives a client key without a client certificate")


def _fingerprint(flag: str | None, settings: Settings) -> str | None:
    """The SHA-256 fingerprint as 64 lower-case hex digits (colons and case as the user wrote)."""
    given = flag or settings.ca_fingerprint
    if not given:
        return None
    digits = given.replace(":", "").strip().lower()
    if len(digits) != 64 or any(c not in "0123456789abcdef" for c in digits):
        where = "--ca-fingerprint" if flag else settings.where.get("ca_fingerprint", SETTINGS_FILE)
        raise InputError(
            f"{where}: {given!r} is not a SHA-256 fingerprint (64 hex digits, colons allowed)"
        )
    return digits


def _why_none(chosen: _Place, held_back: list[_Place], url: str) -> str:
    """Why a run sends no credentials: said when the cluster answers 401. Only a place that
    names no URL and lends nothing (the shell) can hold its credentials back."""
    if held_back:
        shell = held_back[0]
        names = (
            SHELL["api_key"]
            if shell.api_key
            else SHELL["bearer_token"]
            if shell.bearer_token
            else f"{SHELL['username']}/{SHELL['password']}"
        )
        return (
            f"no credentials were sent to {display_url(url)} (named by {chosen.name}): the "
            f"shell's {names} goes only to the cluster {SHELL['url']} names, and the shell names "
            f"none; set {SHELL['url']} to this cluster too, or pass the credentials as flags"
        )
    if chosen.name.startswith("environment"):
        return (
            f"no credentials were sent: {chosen.name} names no credential variables; name them "
            "with api_key_env (or username_env and password_env), or pass --api-key"
        )
    return (
        f"no credentials were sent; pass --api-key or --username/--password (or set "
        f"{SHELL['api_key']} together with {SHELL['url']})"
    )


def refuse_sandbox_with_url(
    settings: Settings, *, flag_url: str | None, shell: Mapping[str, str] | None = None
) -> None:
    """``--sandbox`` names a cluster too: with another URL given anywhere it is an error naming
    both, so a run never silently plans the sandbox for someone who meant a real cluster."""
    shell = os.environ if shell is None else shell
    for name, url in (
        ("the command line (--url)", flag_url),
        (f"environment '{settings.environment}' of {SETTINGS_FILE}", settings.url),
        (f"the shell ({SHELL['url']})", shell_value(shell, "url")),
    ):
        if url:
            raise InputError(
                f"two different clusters are named: --sandbox says the embedded sandbox, {name} "
                f"says {display_url(url)}; name one cluster (drop --sandbox, or unset the other)"
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
        ("bearer_token", settings.bearer_token_env),
    ):
        values[key] = (
            _variable(settings, shell, variable, f"{key}_env", key.replace("_", " "))
            if variable is not None and credentials
            else None
        )
    headers = tuple(
        (name, _variable(settings, shell, variable, "header_env", f"header {name}"))
        for name, variable in settings.header_env.items()
    )
    return _Place(
        name=f"environment '{settings.environment}' of {SETTINGS_FILE}",
        url=settings.url,
        api_key=values["api_key"],
        username=values["username"],
        password=values["password"],
        bearer_token=values["bearer_token"],
        client_cert=settings.client_cert if credentials else None,
        client_key=settings.client_key if credentials else None,
        headers=headers,
    )


def _variable(
    settings: Settings, shell: Mapping[str, str], variable: str, setting: str, what: str
) -> str:
    """The value of a variable an environment names; unset or empty is an error at its line."""
    value = shell.get(variable)
    if not value:
        where = settings.where.get(setting, SETTINGS_FILE)
        state = "is not set" if value is None else "is empty"
        raise InputError(
            f"{where}: environment '{settings.environment}' takes its {what} "
            f"from {variable} ({setting}), which {state}"
        )
    return value


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
    bearer_token: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    ca_fingerprint: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> Connection:
    """``resolve_connection`` for the command line's options."""
    flags = Flags(
        url=url,
        api_key=api_key,
        username=username,
        password=password,
        bearer_token=bearer_token,
        client_cert=client_cert,
        client_key=client_key,
        ca_cert=ca_cert,
        ca_fingerprint=ca_fingerprint,
        insecure=insecure,
        headers=headers,
        timeout=timeout,
        retry_for=retry_for,
    )
    connection = resolve_connection(settings, flags=flags, shell=os.environ)
    return replace(connection, on_wait=on_wait)  # a sink for messages, not a setting
