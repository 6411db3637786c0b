"""Every combination of flags, ``--env`` environment and shell, for the URL, an API key, a bearer
token and a user name/password: a credential set reaches only the cluster it was given for.

The rule, as a user reads it in docs/security.md: the URL comes from the first of flags,
environment, shell that names one, and two different URLs stop the run naming both. A credential
set travels with the URL of its own place; the command line and the environment, chosen for this
run, lend theirs to the run's cluster when they name no URL; the shell's go only to the cluster
``ELASTICSEARCH_URL`` names. Among the sets that may go, flags win over the environment, which wins
over the shell. When none may go, the reason is kept for the 401 message.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from reconciler.connection import Flags, resolve_connection
from reconciler.errors import InputError
from reconciler.settings import Settings

A, B = "http://127.0.0.1:9201", "http://127.0.0.1:9202"
URLS = (None, A, B)
KINDS = (None, "key", "basic", "bearer")


@dataclass(frozen=True)
class Place:
    name: str
    url: str | None
    kind: str | None  # which credential set it names: none, an API key, a user and password,
    # a bearer token

    @property
    def token(self) -> str | None:
        return f"t-{self.name}" if self.kind == "bearer" else None

    @property
    def key(self) -> str | None:
        return f"k-{self.name}" if self.kind == "key" else None

    @property
    def user(self) -> tuple[str, str] | None:
        return (f"u-{self.name}", f"p-{self.name}") if self.kind == "basic" else None


def inputs(flags: Place, env: Place | None, shell: Place) -> tuple[Flags, Settings, dict[str, str]]:
    user, password = flags.user or (None, None)
    given = Flags(
        url=flags.url, api_key=flags.key, username=user, password=password, bearer_token=flags.token
    )
    settings = Settings()
    variables: dict[str, str] = {}
    if env is not None:
        settings = Settings(
            environment="other",
            state_id="other",
            url=env.url,
            api_key_env="OTHER_KEY" if env.kind == "key" else None,
            username_env="OTHER_USER" if env.kind == "basic" else None,
            password_env="OTHER_PW" if env.kind == "basic" else None,
            bearer_token_env="OTHER_TOKEN" if env.kind == "bearer" else None,
        )
        variables = {
            "OTHER_KEY": "k-env",
            "OTHER_USER": "u-env",
            "OTHER_PW": "p-env",
            "OTHER_TOKEN": "t-env",
        }
    shell_vars = {**variables, **({"ELASTICSEARCH_URL": shell.url} if shell.url else {})}
    if shell.kind == "key":
        shell_vars["ELASTIC_API_KEY"] = "k-shell"
    elif shell.kind == "basic":
        shell_vars.update(ELASTICSEARCH_USERNAME="u-shell", ELASTICSEARCH_PASSWORD="p-shell")
    elif shell.kind == "bearer":
        shell_vars["ELASTICSEARCH_BEARER_TOKEN"] = "t-shell"
    return given, settings, shell_vars


def places(name: str) -> list[Place]:
    return [Place(name, url, kind) for url, kind in itertools.product(URLS, KINDS)]


COMBINATIONS = [
    (flags, env, shell)
    for flags in places("flag")
    for env in [None, *places("env")]
    for shell in places("shell")
]


def describe(place: Place | None) -> str:
    if place is None:
        return "no-env"
    url = {None: "nourl", A: "A", B: "B"}[place.url]
    return f"{place.name}:{url}:{place.kind or 'none'}"


@pytest.mark.parametrize(
    ("flags", "env", "shell"),
    COMBINATIONS,
    ids=["|".join(describe(p) for p in combo) for combo in COMBINATIONS],
)
def test_a_credential_set_reaches_only_its_own_cluster(
    flags: Place, env: Place | None, shell: Place
) -> None:
    given, settings, shell_vars = inputs(flags, env, shell)
    ordered = [p for p in (flags, env, shell) if p is not None]
    urls = [p.url for p in ordered if p.url]
    if not urls:
        with pytest.raises(InputError, match="no cluster given"):
            resolve_connection(settings, flags=given, shell=shell_vars)
        return
    if len(set(urls)) > 1:
        with pytest.raises(InputError) as raised:
            resolve_connection(settings, flags=given, shell=shell_vars)
        assert A in str(raised.value) and B in str(raised.value)
        assert not any(secret in str(raised.value) for secret in ("k-", "p-", "t-"))
        return
    url = urls[0]
    connection = resolve_connection(settings, flags=given, shell=shell_vars)
    assert connection.url == url

    def may_travel(place: Place) -> bool:
        if place.kind is None:
            return False
        if place is env and flags.kind is not None:
            return False  # credentials on the command line replace the environment's
        return place.url == url if place.url else place.name != "shell"

    sender = next((p for p in ordered if may_travel(p)), None)
    sent = (
        connection.api_key,
        (connection.username, connection.password) if connection.username else None,
        connection.bearer_token,
    )
    assert sent == ((sender.key, sender.user, sender.token) if sender else (None, None, None))
    if sender is None:
        assert connection.unsent.startswith("no credentials were sent")
        if shell.kind is not None:
            assert "ELASTICSEARCH_URL" in connection.unsent
        elif env is not None and env.url == url and flags.url is None:
            assert "names no credential variables" in connection.unsent
    else:
        assert connection.unsent == ""
