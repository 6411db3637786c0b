"""Credentials travel with their URL: through the real CLI, two sandboxes and their request logs,
and a capturing cluster that records the Authorization header it was sent.

A shell that names one cluster and an ``--env`` environment that names another stop the run before
any request (neither cluster's log holds one); a variable an environment names for its key that is
unset is an error naming it and its line; the environment's key goes to the environment's cluster.
Before issue 24, an environment that named a URL and no credential variables received the shell's
key (and ``--url`` did too); now nothing is sent and the 401 says why. ``--sandbox`` with a URL
from anywhere else is an error naming both.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli
from tests.hardening.corpus import AZURE, SECRET_ENV

STAGING_KEY = "k-staging-HARDEN-51c0"
OTHER_KEY = "k-other-HARDEN-77ad"


@pytest.fixture()
def clusters() -> Iterator[tuple[SandboxServer, SandboxServer]]:
    with (
        SandboxServer(port=0, api_key=STAGING_KEY) as staging,
        SandboxServer(port=0, api_key=OTHER_KEY) as other,
    ):
        yield staging, other


def specs(tmp_path: Path, staging_url: str) -> Path:
    root = tmp_path / "specs"
    root.mkdir()
    (root / "azure.yaml").write_text(AZURE, encoding="utf-8")
    (root / "reconciler.yaml").write_text(
        f"environments:\n  staging:\n    url: {staging_url}\n    api_key_env: STAGING_KEY\n",
        encoding="utf-8",
    )
    return root


@pytest.mark.parametrize("command", ["plan", "apply", "unlock"])
def test_a_shell_url_for_another_cluster_stops_before_any_request(
    tmp_path: Path, clusters: tuple[SandboxServer, SandboxServer], command: str
) -> None:
    staging, other = clusters
    root = specs(tmp_path, staging.url)
    env = {**SECRET_ENV, "STAGING_KEY": STAGING_KEY, "ELASTICSEARCH_URL": other.url}
    extra = ("--auto-approve",) if command == "apply" else ()
    result = run_cli(command, str(root), "--env", "staging", *extra, env=env)
    assert result.code == 1 and "Traceback" not in result.output, result.output
    assert staging.url in result.stderr and other.url in result.stderr, result.stderr
    assert "ELASTICSEARCH_URL" in result.stderr
    assert other.requests == [] and staging.requests == []
    assert STAGING_KEY not in result.output


def test_an_unset_api_key_env_is_named_with_its_line(
    tmp_path: Path, clusters: tuple[SandboxServer, SandboxServer]
) -> None:
    staging, _ = clusters
    root = specs(tmp_path, staging.url)
    result = run_cli(
        "plan", str(root), "--env", "staging", env={**SECRET_ENV, "ELASTIC_API_KEY": OTHER_KEY}
    )
    assert result.code == 1, result.output
    assert "specs/reconciler.yaml:4" in result.stderr and "STAGING_KEY" in result.stderr
    assert "not set" in result.stderr and "401" not in result.stderr, result.stderr
    assert staging.requests == []


def test_the_environment_key_goes_to_the_environment_cluster_only(
    tmp_path: Path, clusters: tuple[SandboxServer, SandboxServer]
) -> None:
    staging, other = clusters
    root = specs(tmp_path, staging.url)
    env = {**SECRET_ENV, "STAGING_KEY": STAGING_KEY, "ELASTIC_API_KEY": OTHER_KEY}
    result = run_cli("apply", str(root), "--env", "staging", "--auto-approve", env=env)
    assert result.code == 0, result.output  # the sandbox answers 401 to any other key
    assert staging.requests and all(r["status"] != 401 for r in staging.requests)
    assert other.requests == []
    same = run_cli(
        "plan",
        str(root),
        "--env",
        "staging",
        "--detailed-exitcode",
        env={**env, "ELASTICSEARCH_URL": staging.url + "/"},
    )
    assert same.code == 0, same.output  # the same cluster named twice is no conflict


class Capture:
    """A cluster that records the Authorization header of every request and answers 401 as
    Elasticsearch does: the witness of which credentials went where."""

    def __init__(self) -> None:
        seen: list[str | None] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                seen.append(self.headers.get("Authorization"))
                body = json.dumps(
                    {
                        "error": {
                            "type": "security_exception",
                            "reason": "missing authentication credentials for REST request [/]",
                        },
                        "status": 401,
                    }
                ).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.seen = seen
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def capture() -> Iterator[Capture]:
    server = Capture()
    yield server
    server.close()


SHELL_KEY = "k-shell-HARDEN-9e21"
SHELL_BASIC = {"ELASTICSEARCH_USERNAME": "shell-user", "ELASTICSEARCH_PASSWORD": "pw-shell-HARDEN"}
BASIC_SHELL = "Basic " + base64.b64encode(b"shell-user:pw-shell-HARDEN").decode()

# (id, reconciler.yaml environment 'other' (None: no --env), flags, shell, header expected)
# URL stands for the capturing cluster's URL. The full table of combinations is a unit test
# (tests/unit/test_routing.py); these rows take the real CLI through each way a credential
# travels or is held back.
ROUTES: list[tuple[str, str | None, tuple[str, ...], dict[str, str], str | None]] = [
    (
        "env url, no variables, shell key: none",
        "url: URL",
        (),
        {"ELASTIC_API_KEY": SHELL_KEY},
        None,
    ),
    ("env url, no variables, shell user: none", "url: URL", (), SHELL_BASIC, None),
    (
        "--url, shell key without a URL: none",
        None,
        ("--url", "URL"),
        {"ELASTIC_API_KEY": SHELL_KEY},
        None,
    ),
    (
        "--url, the shell names the same URL: the shell's key",
        None,
        ("--url", "URL"),
        {"ELASTIC_API_KEY": SHELL_KEY, "ELASTICSEARCH_URL": "URL"},
        f"ApiKey {SHELL_KEY}",
    ),
    (
        "env url, the shell names the same URL: the shell's user",
        "url: URL",
        (),
        {**SHELL_BASIC, "ELASTICSEARCH_URL": "URL/"},
        BASIC_SHELL,
    ),
    (
        "env url with api_key_env: the environment's key, not the shell's",
        "url: URL\n    api_key_env: OTHER_KEY",
        (),
        {"OTHER_KEY": OTHER_KEY, "ELASTIC_API_KEY": SHELL_KEY},
        f"ApiKey {OTHER_KEY}",
    ),
    (
        "env without url lends its key to the shell's URL",
        "api_key_env: OTHER_KEY",
        (),
        {"OTHER_KEY": OTHER_KEY, "ELASTICSEARCH_URL": "URL", "ELASTIC_API_KEY": SHELL_KEY},
        f"ApiKey {OTHER_KEY}",
    ),
    (
        "--api-key goes to the environment's URL",
        "url: URL",
        ("--api-key", "k-flag-HARDEN"),
        {"ELASTIC_API_KEY": SHELL_KEY},
        "ApiKey k-flag-HARDEN",
    ),
    (
        "shell url and key",
        None,
        (),
        {"ELASTIC_API_KEY": SHELL_KEY, "ELASTICSEARCH_URL": "URL"},
        f"ApiKey {SHELL_KEY}",
    ),
]


@pytest.mark.parametrize(
    ("environment", "flags", "shell", "expected"),
    [row[1:] for row in ROUTES],
    ids=[row[0] for row in ROUTES],
)
def test_credentials_reach_only_the_cluster_they_were_given_for(
    tmp_path: Path,
    capture: Capture,
    environment: str | None,
    flags: tuple[str, ...],
    shell: dict[str, str],
    expected: str | None,
) -> None:
    root = tmp_path / "specs"
    root.mkdir()
    (root / "azure.yaml").write_text(AZURE, encoding="utf-8")
    chosen: tuple[str, ...] = ()
    if environment is not None:
        settings = "environments:\n  other:\n    " + environment.replace("URL", capture.url)
        (root / "reconciler.yaml").write_text(settings + "\n", encoding="utf-8")
        chosen = ("--env", "other")
    args = tuple(arg.replace("URL", capture.url) for arg in flags)
    env = {**SECRET_ENV, **{k: v.replace("URL", capture.url) for k, v in shell.items()}}
    result = run_cli("plan", str(root), *chosen, *args, env=env)
    assert result.code == 1 and "Traceback" not in result.output, result.output
    assert capture.seen and set(capture.seen) == {expected}, capture.seen
    assert "401" in result.stderr, result.stderr
    if expected is None:  # said, not left for the user to guess
        assert "no credentials were sent" in result.stderr, result.stderr
        if environment is None or "ELASTIC" in "".join(shell):
            assert "ELASTICSEARCH_URL" in result.stderr, result.stderr
        else:
            assert "names no credential variables" in result.stderr, result.stderr
    for secret in (SHELL_KEY, OTHER_KEY, "pw-shell-HARDEN", "k-flag-HARDEN"):
        assert secret not in result.output


@pytest.mark.parametrize(
    ("environment", "flags", "shell", "named"),
    [
        (None, ("--url", "http://127.0.0.1:9"), {}, "the command line (--url)"),
        ("url: http://127.0.0.1:9", (), {}, "environment 'other'"),
        (None, (), {"ELASTICSEARCH_URL": "http://127.0.0.1:9"}, "the shell (ELASTICSEARCH_URL)"),
    ],
    ids=["flag", "environment", "shell"],
)
def test_sandbox_with_another_url_is_an_error_naming_both(
    tmp_path: Path,
    environment: str | None,
    flags: tuple[str, ...],
    shell: dict[str, str],
    named: str,
) -> None:
    """Before: --sandbox silently won, and a user who meant production planned the sandbox."""
    root = tmp_path / "specs"
    root.mkdir()
    (root / "azure.yaml").write_text(AZURE, encoding="utf-8")
    chosen: tuple[str, ...] = ()
    if environment is not None:
        (root / "reconciler.yaml").write_text(
            f"environments:\n  other:\n    {environment}\n", encoding="utf-8"
        )
        chosen = ("--env", "other")
    result = run_cli("plan", str(root), "--sandbox", *chosen, *flags, env={**SECRET_ENV, **shell})
    assert result.code == 1 and "Traceback" not in result.output, result.output
    assert "--sandbox" in result.stderr and named in result.stderr, result.stderr
    assert "http://127.0.0.1:9" in result.stderr
    assert not (root / ".reconciler").exists()  # no sandbox was started
