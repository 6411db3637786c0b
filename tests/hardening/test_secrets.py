"""No secret value anywhere: every command's output, every file written, the cluster's documents, error echoes.

Distinctive values (the two endpoint secrets, their rotated successors, the cluster's API key and a URL
password) are scanned for in stdout, stderr, the saved plan, imported specs, the state document, the
sandbox's data file and request log, and the debug log. A cluster that echoes what it was sent in an
error (Elasticsearch quotes rejected values) must not get the secret printed either.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.identity import state_id_for
from reconciler.sandbox import Fault, SandboxServer
from reconciler.sandbox.knobs import ECHO_FORMS
from tests.e2e.helpers import Run, run_cli
from tests.hardening.corpus import AZURE, AZURE_SECRET, SHIFT, SHIFT_SECRET
from tests.sandbox.helpers import plain

ROTATED = "azk-ROTATED-5e7a9c1b-distinctive"
ES_KEY = "es-apikey-HARDEN-0d8f6b2a"
URL_PASSWORD = "pw-HARDEN-url-7c3e"
ALL_SECRETS = (AZURE_SECRET, SHIFT_SECRET, ROTATED, ES_KEY, URL_PASSWORD)


def assert_clean(label: str, text: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in text, f"{secret!r} leaked into {label}:\n{text[-2000:]}"


def specs_dir(tmp_path: Path) -> Path:
    """AZURE's key from the environment, SHIFT's from a file next to the spec."""
    root = tmp_path / "specs"
    root.mkdir()
    (root / "azure.yaml").write_text(AZURE, encoding="utf-8")
    (root / "shift.yaml").write_text(
        SHIFT.replace("${env:SHIFT_KEY}", "${file:shift.token}"), encoding="utf-8"
    )
    (root / "shift.token").write_text(SHIFT_SECRET + "\n", encoding="utf-8")
    return root


def test_no_command_prints_or_stores_a_secret(tmp_path: Path) -> None:
    data, log = tmp_path / "cluster" / "sandbox.json", tmp_path / "cluster" / "requests.jsonl"
    data.parent.mkdir()
    specs_dir(tmp_path)
    with SandboxServer(
        port=0, api_key=ES_KEY, data_file=str(data), request_log_file=str(log)
    ) as cluster:
        url = ("--url", cluster.url)
        by_flag = {"AZURE_KEY": AZURE_SECRET}
        # the shell's key goes only to the cluster the shell names
        by_env = {
            "AZURE_KEY": AZURE_SECRET,
            "ELASTIC_API_KEY": ES_KEY,
            "ELASTICSEARCH_URL": cluster.url,
        }
        key = ("--api-key", ES_KEY)
        runs: list[tuple[str, Run]] = []

        def run(*args: str, env: dict[str, str], expect: int = 0) -> Run:
            result = run_cli(*args, env=env, cwd=tmp_path)
            runs.append((" ".join(args), result))
            assert result.code == expect, (args, result.output)
            return result

        run("validate", "specs", env=by_flag)
        run("plan", "specs", *url, *key, env=by_flag)
        run("plan", "specs", *url, "--format", "json", "--out", "plan.json", env=by_env)
        run("plan", "specs", *url, "--format", "markdown", env=by_env)
        run("drift", "specs", *url, env=by_env, expect=2)
        run("--debug", "apply", "--plan", "plan.json", *url, *key, "--auto-approve", env=by_flag)
        run("drift", "specs", *url, "--format", "json", env=by_env)
        run("import", "--out", "imported", *url, env=by_env)
        run("unlock", "specs", *url, env=by_env)
        rotated = {**by_env, "AZURE_KEY": ROTATED}
        for fmt in ("text", "json", "markdown"):
            result = run("plan", "specs", *url, "--format", fmt, env=rotated)
            assert "sensitive value changed" in result.stdout, result.stdout
        run("drift", "specs", *url, env=rotated, expect=2)
        run("--debug", "apply", "specs", *url, "--auto-approve", env=rotated)
        run("--debug", "plan", "specs", *url, "--detailed-exitcode", env=rotated)
        run("unlock", "specs", *url, *key, env=rotated)
        state = plain.get(
            f"{cluster.url}/reconciler-state/_doc/{state_id_for(tmp_path / 'specs', None)}",
            headers={"Authorization": f"ApiKey {ES_KEY}"},
        ).json()
    # the secrets were sent and tracked, by a fingerprint a reader cannot test guesses against
    assert "scrypt-v1:" in json.dumps(state) and "hmac-sha256:" not in json.dumps(state)
    for label, result in runs:
        assert_clean(f"stdout of {label}", result.stdout)
        assert_clean(f"stderr of {label}", result.stderr)
    assert_clean("the saved plan", (tmp_path / "plan.json").read_text())
    imported = sorted((tmp_path / "imported").glob("*.yaml"))
    assert len(imported) == 2
    for path in imported:
        assert_clean(str(path), path.read_text())
    assert_clean("the state document", json.dumps(state))
    assert_clean("the sandbox data file", data.read_text())
    assert_clean("the sandbox request log", log.read_text())


ENDPOINT_PUT = r"^/_inference/rerank/shift-rerank$"
UPDATE_PUT = r"^/_inference/text_embedding/azure-embed/_update$"


@pytest.mark.parametrize(
    ("fault", "rotate"),
    [
        (Fault(method="PUT", path=ENDPOINT_PUT, status=400, echo=True), False),
        (Fault(method="PUT", path=ENDPOINT_PUT, status=500, echo=True), False),
        (
            Fault(
                method="PUT",
                path=ENDPOINT_PUT,
                status=400,
                body={"error": {"type": "x_exception", "reason": f"rejected key [{SHIFT_SECRET}]"}},
            ),
            False,
        ),
        (
            Fault(
                method="PUT",
                path=ENDPOINT_PUT,
                status=400,
                body=f"plain text error with {SHIFT_SECRET} in it",
            ),
            False,
        ),
        (Fault(method="PUT", path=ENDPOINT_PUT, status=409, echo=True), False),
        (Fault(method="PUT", path=UPDATE_PUT, status=400, echo=True), True),
        (
            Fault(
                method="PUT",
                path=UPDATE_PUT,
                status=400,
                body={"error": {"type": f"x_{ROTATED}", "reason": f"bad [{ROTATED}]"}},
            ),
            True,
        ),
        (
            Fault(
                method="GET",
                path=r"^/$",
                status=401,
                body={"error": {"type": "security_exception", "reason": f"bad ApiKey {ES_KEY}"}},
            ),
            False,
        ),
    ],
    ids=[
        "create-400-echo",
        "create-500-echo",
        "create-400-envelope",
        "create-400-text",
        "create-409-echo",
        "update-400-echo",
        "update-400-envelope",
        "auth-401-echoes-api-key",
    ],
)
def test_an_error_that_echoes_a_secret_is_scrubbed(
    tmp_path: Path, fault: Fault, rotate: bool
) -> None:
    root = specs_dir(tmp_path)
    env = {"AZURE_KEY": AZURE_SECRET}
    with SandboxServer(port=0, api_key=ES_KEY) as cluster:
        url = ("--url", cluster.url, "--api-key", ES_KEY)
        if rotate:
            first = run_cli("apply", str(root), *url, "--auto-approve", env=env)
            assert first.code == 0, first.output
            env = {"AZURE_KEY": ROTATED}
        cluster.add_fault(fault)
        result = run_cli("--debug", "apply", str(root), *url, "--auto-approve", env=env)
    assert result.code == 1, result.output
    assert "HTTP" in result.stderr, result.output
    assert_clean("apply's output", result.output)
    if fault.echo:
        assert "sensitive value" in result.stderr, result.stderr  # the echo was there, and masked


def test_a_password_in_the_url_is_never_shown(tmp_path: Path) -> None:
    root = specs_dir(tmp_path)
    with SandboxServer(
        port=0
    ) as cluster:  # plain HTTP: an https:// URL fails the TLS handshake at once
        host = cluster.url.removeprefix("http://")
        result = run_cli(
            "plan",
            str(root),
            "--url",
            f"https://elastic:{URL_PASSWORD}@{host}",
            env={"AZURE_KEY": AZURE_SECRET},
        )
    assert result.code == 1 and "Traceback" not in result.output, result.output
    assert host in result.stderr, result.stderr
    assert_clean("plan's output", result.output)


def test_the_debug_log_never_shows_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: Any
) -> None:
    """Every logger at DEBUG (ours, httpx, httpcore) through retries of errors that echo the secret."""
    from reconciler.cli import main

    root = specs_dir(tmp_path)
    monkeypatch.setenv("AZURE_KEY", AZURE_SECRET)
    monkeypatch.setenv("ELASTIC_API_KEY", ES_KEY)
    with SandboxServer(port=0, api_key=ES_KEY) as cluster:
        monkeypatch.setenv("ELASTICSEARCH_URL", cluster.url)  # the shell's key goes only there
        cluster.add_fault(Fault(method="PUT", path=ENDPOINT_PUT, status=503, echo=True, count=1))
        cluster.add_fault(
            Fault(
                method="PUT",
                path=r"^/_inference/text_embedding/",
                status=429,
                echo=True,
                count=1,
                retry_after=0,
            )
        )
        with caplog.at_level(logging.DEBUG):
            with pytest.raises(SystemExit) as exited:
                main(["--debug", "apply", str(root), "--url", cluster.url, "--auto-approve"])
    output = capsys.readouterr()
    assert exited.value.code == 0, output
    assert "retry" in caplog.text and "sensitive value" in caplog.text, caplog.text
    assert_clean("the debug log", caplog.text)
    assert_clean("the output", output.out + output.err)


def test_debug_shows_http_details(tmp_path: Path) -> None:
    root = specs_dir(tmp_path)
    with SandboxServer(port=0) as cluster:
        result = run_cli(
            "--debug", "plan", str(root), "--url", cluster.url, env={"AZURE_KEY": AZURE_SECRET}
        )
    assert result.code == 0, result.output
    assert "GET /_inference/_all" in result.stderr
    assert_clean("plan --debug", result.output)


# -- secrets in every form: a server quotes what it was sent in its own encoding -----------------

AWKWARD_KEY = 'azk-"quoted"-back\\slash-HARDEN-9d1e'  # JSON escapes both " and \
SERVICE_ACCOUNT = {
    "type": "service_account",
    "project_id": "my-gcp-project",
    "private_key_id": "pkid-HARDEN-4c1f9e7a2b",
    "private_key": (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-HARDEN-line-one\n"
        "bK8e0Zq3xYw2P-HARDEN-line-two-7f3a\n-----END PRIVATE KEY-----\n"
    ),
    "client_email": 'svc-"harden"@my-gcp-project.iam.gserviceaccount.com',
}
VERTEX = """\
inference_id: vertex-embed
task_type: text_embedding
service: googlevertexai
service_settings:
  service_account_json: ${file:vertex.json}
  model_id: text-embedding-005
  project_id: my-gcp-project
  location: us-central1
"""


def apply_with_fault(
    tmp_path: Path, fault: Fault, *, key_file: str, env: dict[str, str]
) -> tuple[Run, list[dict[str, Any]]]:
    """``apply --debug`` of AZURE and VERTEX (its service account file ``key_file``) against a
    sandbox answering with ``fault``: the run and the sandbox's request log."""
    root = tmp_path / "specs"
    root.mkdir()
    (root / "azure.yaml").write_text(AZURE, encoding="utf-8")
    (root / "vertex.yaml").write_text(VERTEX, encoding="utf-8")
    (root / "vertex.json").write_text(key_file, encoding="utf-8")
    with SandboxServer(port=0) as cluster:
        cluster.add_fault(fault)
        result = run_cli(
            "--debug", "apply", str(root), "--url", cluster.url, "--auto-approve", env=env
        )
        return result, cluster.requests


def secret_forms_leaked(text: str) -> list[str]:
    """Which distinctive piece of the two awkward secrets ``text`` still carries, in any form."""
    pieces = ["9d1e", "pkid-HARDEN-4c1f9e7a2b", "HARDEN-line-one", "HARDEN-line-two", "svc-"]
    return [piece for piece in pieces if piece in text]


@pytest.mark.parametrize(
    "fault",
    [
        Fault(method="PUT", path=r"^/_inference/", status=400, echo=True, count=None),
        Fault(
            method="PUT", path=r"^/_inference/", status=503, echo=True, count=None, retry_after=0
        ),
    ],
    ids=["400-echo", "503-echo-retried"],
)
def test_a_secret_echoed_json_escaped_is_scrubbed(tmp_path: Path, fault: Fault) -> None:
    """An API key holding " and \\, and a service account file with quotes and \\n, echoed back
    escaped by the server: no piece of either reaches stdout or stderr (progress, Error:, debug)."""
    result, requests = apply_with_fault(
        tmp_path,
        fault,
        key_file=json.dumps(SERVICE_ACCOUNT, indent=2),
        env={"AZURE_KEY": AWKWARD_KEY, "RECONCILER_RETRY_FOR": "1s"},
    )
    echoed = [r for r in requests if r.get("fault")]
    assert result.code == 1, result.output
    assert echoed, "the fault never fired"
    assert "with body [" in result.stderr and "sensitive value" in result.stderr, result.stderr
    assert secret_forms_leaked(result.output) == [], result.output
    assert AWKWARD_KEY not in result.output


def test_awkward_secrets_are_never_stored_or_printed(tmp_path: Path) -> None:
    """The same two secrets through a whole workflow: nothing of them in any output or file."""
    root = tmp_path / "specs"
    root.mkdir()
    (root / "azure.yaml").write_text(AZURE, encoding="utf-8")
    (root / "vertex.yaml").write_text(VERTEX, encoding="utf-8")
    (root / "vertex.json").write_text(json.dumps(SERVICE_ACCOUNT, indent=2), encoding="utf-8")
    data, log = tmp_path / "cluster" / "sandbox.json", tmp_path / "cluster" / "requests.jsonl"
    data.parent.mkdir()
    env = {"AZURE_KEY": AWKWARD_KEY}
    with SandboxServer(port=0, data_file=str(data), request_log_file=str(log)) as cluster:
        url = ("--url", cluster.url)
        runs = [
            run_cli("plan", str(root), *url, "--out", str(tmp_path / "plan.json"), env=env),
            run_cli(
                "--debug",
                "apply",
                "--plan",
                str(tmp_path / "plan.json"),
                *url,
                "--auto-approve",
                env=env,
            ),
            run_cli("plan", str(root), *url, "--format", "json", "--detailed-exitcode", env=env),
            run_cli("import", "--out", str(tmp_path / "imported"), *url, env=env),
        ]
        state = plain.get(f"{cluster.url}/reconciler-state/_doc/default").json()
    assert [r.code for r in runs] == [0, 0, 0, 0], [r.output for r in runs]
    files = [tmp_path / "plan.json", data, log, *sorted((tmp_path / "imported").glob("*.yaml"))]
    texts = [r.output for r in runs] + [p.read_text() for p in files] + [json.dumps(state)]
    for text in texts:
        assert secret_forms_leaked(text) == [] and AWKWARD_KEY not in text, text[-2000:]


# -- an echo in each form a server may use (issue 24): the sandbox quotes every string it was sent --

ECHO_KEY = "azk-HARDEN-Echo-4b7e19c2d5"
ECHO_FILE = {
    "type": "service_account",
    "project_id": "prj-HRD-77x",  # 11 characters: a short piece of a JSON secret
    "private_key_id": "pkid-HARDEN-echo-5e2f",
    "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEecho-HARDEN-line\n-----END PRIVATE KEY-----\n",
    "client_email": "svc-echo-harden@my-gcp-project.iam.gserviceaccount.com",
}


@pytest.mark.parametrize("form", sorted(ECHO_FORMS))
def test_an_echo_in_any_form_is_scrubbed(tmp_path: Path, form: str) -> None:
    """Before issue 24 a server that quoted the key base64-encoded, hex-encoded, upper- or
    lower-cased or cut short, or quoted a short piece of a JSON key file, printed it."""
    key_file = json.dumps(ECHO_FILE, indent=2)
    fault = Fault(
        method="PUT", path=r"^/_inference/", status=400, echo=True, echo_as=form, count=None
    )
    result, _ = apply_with_fault(tmp_path, fault, key_file=key_file, env={"AZURE_KEY": ECHO_KEY})
    assert result.code == 1, result.output
    assert "with values [" in result.stderr and "sensitive value" in result.stderr, result.stderr
    quote_form = ECHO_FORMS[form]
    # what the server quoted, each as a value of its own (a field name such as
    # service_account_json merely contains the piece "service_account")
    quoted = [ECHO_KEY, *(piece for piece in ECHO_FILE.values() if len(piece) >= 8)]
    if form != "truncated":  # the first characters of a JSON file are its structure: '{ "type'
        quoted.append(key_file)
    leaks = [quote_form(value).removesuffix("...") for value in quoted]
    assert [
        leak for leak in leaks if re.search(rf"(?<!\w){re.escape(leak)}(?!\w)", result.output)
    ] == []
    assert "harden" not in result.output.lower(), result.output
