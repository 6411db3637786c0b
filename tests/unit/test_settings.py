"""The one precedence rule for a cluster and its credentials, as a table; reconciler.yaml's schema.

Each row: what the command line says, the ``--env`` environment (its url and the variables it
names), the shell; then the URL and credentials that result, or the error. A credential set
travels with the URL of its own place; two places naming different clusters stop the run. Every
combination of the three places is checked against the rule in tests/unit/test_routing.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.catalog import schemas_dir
from reconciler.connection import Flags, resolve_connection
from reconciler.errors import InputError
from reconciler.settings import DEFAULT_TIMEOUT, Settings, load_settings

A, B = "http://127.0.0.1:9201", "http://127.0.0.1:9202"
STAGING = Settings(environment="staging", url=A, api_key_env="STAGING_KEY", state_id="staging")
BASIC = Settings(
    environment="staging", url=A, username_env="STAGING_USER", password_env="STAGING_PW"
)
NO_URL = Settings(environment="staging", api_key_env="STAGING_KEY")
NONE = Settings()

# (id, flags, settings, shell, expected (url, api_key, username, password) or an error fragment)
TABLE: list[tuple[str, Flags, Settings, dict[str, str], Any]] = [
    ("flags only", Flags(url=A, api_key="k-flag"), NONE, {}, (A, "k-flag", None, None)),
    (
        "flags win over the shell's key without a URL",
        Flags(url=A, api_key="k-flag"),
        NONE,
        {"ELASTIC_API_KEY": "k-shell"},
        (A, "k-flag", None, None),
    ),
    (
        "a shell key without a shell URL never goes to --url's cluster",
        Flags(url=A),
        NONE,
        {"ELASTIC_API_KEY": "k-shell"},
        (A, None, None, None),
    ),
    (
        "an environment with a URL and no credential variables sends none of the shell's",
        Flags(),
        Settings(environment="other", url=A, state_id="other"),
        {
            "ELASTIC_API_KEY": "k-shell",
            "ELASTICSEARCH_USERNAME": "u",
            "ELASTICSEARCH_PASSWORD": "p",
        },
        (A, None, None, None),
    ),
    (
        "--url and the same URL in the shell, with its key",
        Flags(url=A),
        NONE,
        {"ELASTICSEARCH_URL": A, "ELASTIC_API_KEY": "k-shell"},
        (A, "k-shell", None, None),
    ),
    (
        "shell only",
        Flags(),
        NONE,
        {"ELASTICSEARCH_URL": A, "ELASTIC_API_KEY": "k-shell"},
        (A, "k-shell", None, None),
    ),
    (
        "shell basic auth",
        Flags(),
        NONE,
        {"ELASTICSEARCH_URL": A, "ELASTICSEARCH_USERNAME": "u", "ELASTICSEARCH_PASSWORD": "p"},
        (A, None, "u", "p"),
    ),
    (
        "--env: its url with its key",
        Flags(),
        STAGING,
        {"STAGING_KEY": "k-staging", "ELASTIC_API_KEY": "k-shell"},
        (A, "k-staging", None, None),
    ),
    (
        "--env and the same URL in the shell",
        Flags(),
        STAGING,
        {"STAGING_KEY": "k-staging", "ELASTICSEARCH_URL": A + "/"},
        (A, "k-staging", None, None),
    ),
    (
        "--env basic auth",
        Flags(),
        BASIC,
        {"STAGING_USER": "su", "STAGING_PW": "sp"},
        (A, None, "su", "sp"),
    ),
    (
        "--env naming only the key variable: the shell's URL",
        Flags(),
        NO_URL,
        {"STAGING_KEY": "k-staging", "ELASTICSEARCH_URL": B},
        (B, "k-staging", None, None),
    ),
    (
        "flags override --env's credentials for the same URL",
        Flags(url=A, api_key="k-flag"),
        STAGING,
        {},
        (A, "k-flag", None, None),
    ),
    (
        "--env and another URL in the shell",
        Flags(),
        STAGING,
        {"STAGING_KEY": "k-staging", "ELASTICSEARCH_URL": B},
        f"environment 'staging' of reconciler.yaml says {A}, the shell (ELASTICSEARCH_URL) says {B}",
    ),
    (
        "--url and another URL in the shell",
        Flags(url=A),
        NONE,
        {"ELASTICSEARCH_URL": B, "ELASTIC_API_KEY": "k-shell"},
        f"the command line (--url) says {A}, the shell (ELASTICSEARCH_URL) says {B}",
    ),
    (
        "--url and another URL in --env",
        Flags(url=B),
        STAGING,
        {"STAGING_KEY": "k-staging"},
        f"the command line (--url) says {B}, environment 'staging' of reconciler.yaml says {A}",
    ),
    (
        "api_key_env unset",
        Flags(),
        STAGING,
        {"ELASTIC_API_KEY": "k-shell"},
        "takes its api key from STAGING_KEY (api_key_env), which is not set",
    ),
    (
        "api_key_env empty",
        Flags(),
        STAGING,
        {"STAGING_KEY": ""},
        "STAGING_KEY (api_key_env), which is empty",
    ),
    (
        "password_env unset",
        Flags(),
        BASIC,
        {"STAGING_USER": "su"},
        "STAGING_PW (password_env), which is not set",
    ),
    ("no cluster at all", Flags(), NONE, {"ELASTIC_API_KEY": "k"}, "no cluster given"),
    (
        "a password in the URL is not shown",
        Flags(url="http://elastic:pw-secret@127.0.0.1:9201"),
        NONE,
        {"ELASTICSEARCH_URL": B},
        "says http://127.0.0.1:9201,",
    ),
]


@pytest.mark.parametrize(
    ("flags", "settings", "shell", "expected"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_the_connection_precedence_table(
    flags: Flags, settings: Settings, shell: dict[str, str], expected: Any
) -> None:
    if isinstance(expected, str):
        with pytest.raises(InputError) as raised:
            resolve_connection(settings, flags=flags, shell=shell)
        assert expected in str(raised.value), str(raised.value)
        assert "pw-secret" not in str(raised.value) and "k-" not in str(raised.value)
        return
    connection = resolve_connection(settings, flags=flags, shell=shell)
    got = (connection.url, connection.api_key, connection.username, connection.password)
    assert got == expected


@pytest.mark.parametrize(
    ("flag", "shell", "expected"),
    [
        (None, {}, DEFAULT_TIMEOUT),
        (None, {"RECONCILER_TIMEOUT": "7.5"}, 7.5),
        (2.0, {"RECONCILER_TIMEOUT": "7.5"}, 2.0),
        (None, {"RECONCILER_TIMEOUT": "soon"}, "RECONCILER_TIMEOUT='soon'"),
        (None, {"RECONCILER_TIMEOUT": "0"}, "between 0.1 and 600"),
    ],
)
def test_timeout_has_one_default_and_one_precedence(
    flag: float | None, shell: dict[str, str], expected: Any
) -> None:
    flags = Flags(url=A, timeout=flag)
    if isinstance(expected, str):
        with pytest.raises(InputError, match=expected.replace("(", r"\(")):
            resolve_connection(NONE, flags=flags, shell=shell)
    else:
        assert resolve_connection(NONE, flags=flags, shell=shell).timeout == expected


@pytest.mark.parametrize(
    ("flag", "shell", "expected"),
    [
        (None, {}, 300.0),
        (None, {"RECONCILER_RETRY_FOR": "90s"}, 90.0),
        (10.0, {"RECONCILER_RETRY_FOR": "90s"}, 10.0),
        (None, {"RECONCILER_RETRY_FOR": "forever"}, "RECONCILER_RETRY_FOR: 'forever' is not"),
    ],
)
def test_retry_for_has_one_default_and_one_precedence(
    flag: float | None, shell: dict[str, str], expected: Any
) -> None:
    flags = Flags(url=A, retry_for=flag)
    if isinstance(expected, str):
        with pytest.raises(InputError, match=expected):
            resolve_connection(NONE, flags=flags, shell=shell)
    else:
        assert resolve_connection(NONE, flags=flags, shell=shell).retry_for == expected


def test_an_unset_api_key_env_names_its_line_in_reconciler_yaml(tmp_path: Path) -> None:
    (tmp_path / "reconciler.yaml").write_text(
        f"environments:\n  staging:\n    url: {A}\n    api_key_env: STAGING_KEY\n",
        encoding="utf-8",
    )
    settings = load_settings(tmp_path, "staging", shell={})
    with pytest.raises(InputError, match=r"reconciler\.yaml:4: environment 'staging'"):
        resolve_connection(settings, flags=Flags(), shell={})


def test_lock_ttl_comes_from_the_shell_or_its_default(tmp_path: Path) -> None:
    assert load_settings(tmp_path, None, shell={}).lock_ttl == 900
    assert load_settings(tmp_path, None, shell={"RECONCILER_LOCK_TTL": "3"}).lock_ttl == 3


def test_the_settings_schema_is_published_for_editors() -> None:
    schema = json.loads((schemas_dir() / "reconciler.schema.json").read_text(encoding="utf-8"))
    environment = schema["$defs"]["environment"]["properties"]
    assert {"url", "api_key_env", "username_env", "password_env", "ca_cert", "insecure"} <= set(
        environment
    )
    assert all("description" in spec for spec in environment.values())
