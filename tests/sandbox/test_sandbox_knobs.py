"""Sandbox: faults, latency, the request log, the /_sandbox control API, credentials, TLS,
persistence, the `sandbox` command, and the official Elasticsearch client."""

from __future__ import annotations

import json
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.sandbox import Fault, SandboxServer
from reconciler.sandbox.command import parse_fault
from tests.e2e.helpers import run_cli
from tests.sandbox.helpers import assert_es_error, client

REPO = Path(__file__).resolve().parents[2]
OPENAI = {
    "service": "openai",
    "service_settings": {"api_key": "sk-secret-value", "model_id": "text-embedding-3-small"},
}


@pytest.mark.parametrize(
    ("status", "retry_after", "error_type"),
    [
        (503, None, "unavailable_shards_exception"),
        (429, 2, "es_rejected_execution_exception"),
        (502, None, "status_exception"),
        (504, None, "status_exception"),
        (403, None, "security_exception"),
    ],
)
def test_status_faults_hit_the_first_n_matching_requests(
    sandbox: SandboxServer, status: int, retry_after: int | None, error_type: str
) -> None:
    sandbox.add_fault(
        Fault(method="PUT", path=r"^/_inference/", status=status, count=2, retry_after=retry_after)
    )
    with client(sandbox) as es:
        assert es.get("/_inference").status_code == 200  # method does not match
        for _ in range(2):
            response = es.put("/_inference/text_embedding/e1", json=OPENAI)
            assert_es_error(response, status, error_type)
            assert response.headers.get("Retry-After") == (
                str(retry_after) if retry_after else None
            )
        assert es.get("/_inference/e1").status_code == 404  # the faulted requests did nothing
        assert es.put("/_inference/text_embedding/e1", json=OPENAI).status_code == 200
    assert [r["status"] for r in sandbox.requests if r["method"] == "PUT"] == [status, status, 200]


def test_a_fault_window_lasts_seconds_from_its_first_match(sandbox: SandboxServer) -> None:
    sandbox.add_fault(
        Fault(method="PUT", path=r"^/_inference/", status=503, count=None, seconds=0.6)
    )
    with client(sandbox) as es:
        time.sleep(0.8)  # the window has not opened yet: it opens at the first match
        started = time.monotonic()
        answers = []  # (sent, answered: seconds since the loop started, status)
        while time.monotonic() - started < 1.2:
            sent = time.monotonic() - started
            status = es.put("/_inference/text_embedding/e1", json=OPENAI).status_code
            answers.append((sent, time.monotonic() - started, status))
            time.sleep(0.05)
    statuses = [status for _, _, status in answers]
    assert statuses[0] == 503 and 200 in statuses, answers
    ok = statuses.index(200)
    assert set(statuses[:ok]) == {503}, answers
    # timed, not counted, whatever this machine's speed: the window opened between the first
    # request's sending and its answer, and lasted 0.6 s
    opened_by = answers[0][1]
    assert answers[ok][1] >= 0.6 and answers[ok - 1][0] < opened_by + 0.6, answers
    assert set(statuses[ok + 1 :]) == {400}, answers  # then created once: already exists


def test_dropped_connection(sandbox: SandboxServer) -> None:
    sandbox.add_fault(Fault(method="GET", path="^/$", drop=True, count=1))
    with client(sandbox) as es:
        with pytest.raises(httpx.RemoteProtocolError):
            es.get("/")
        assert es.get("/").status_code == 200
    assert sandbox.requests[0]["status"] is None and sandbox.requests[0]["fault"] == "drop"


@pytest.mark.parametrize(
    "fault",
    [
        Fault(method="PUT", path=r"^/_inference/", status=504, count=1, after=True),
        Fault(method="PUT", path=r"^/_inference/", drop=True, count=1, after=True),
    ],
)
def test_after_faults_perform_the_request_and_lose_the_answer(
    sandbox: SandboxServer, fault: Fault
) -> None:
    sandbox.add_fault(fault)
    with client(sandbox) as es:
        if fault.drop:
            with pytest.raises(httpx.RemoteProtocolError):
                es.put("/_inference/text_embedding/e1", json=OPENAI)
        else:
            assert_es_error(
                es.put("/_inference/text_embedding/e1", json=OPENAI), 504, "status_exception"
            )
        assert es.get("/_inference/e1").status_code == 200  # it was created all the same
        assert_es_error(
            es.put("/_inference/text_embedding/e1", json=OPENAI),
            400,
            "resource_already_exists_exception",
        )
    # the log says what the cluster did; `fault` says what the client got instead
    first = sandbox.requests[0]
    assert (first["status"], first["fault"]) == (
        200,
        "drop after" if fault.drop else "status 504 after",
    )


def test_latency_and_request_log(sandbox_factory: Any, tmp_path: Path) -> None:
    log_file = tmp_path / "requests.jsonl"
    server = sandbox_factory(latency_ms=60, request_log_file=str(log_file))
    with client(server) as es:
        started = time.monotonic()
        es.put("/_inference/text_embedding/e1?timeout=30s", json=OPENAI)
        assert time.monotonic() - started >= 0.06
        es.get("/_sandbox/requests")  # control requests are neither delayed nor logged
    entries = server.requests
    assert [(e["method"], e["path"], e["query"], e["status"]) for e in entries] == [
        ("PUT", "/_inference/text_embedding/e1", {"timeout": "30s"}, 200)
    ]
    assert entries[0]["duration_ms"] >= 60 and entries[0]["time"] > 0
    assert [json.loads(line) for line in log_file.read_text().splitlines()] == entries
    assert (
        "sk-secret-value" not in log_file.read_text()
        and "service_settings" not in log_file.read_text()
    )
    server.clear_requests()
    assert server.requests == []


def test_control_api_over_http(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        assert (
            es.post(
                "/_sandbox/faults",
                json={
                    "method": "GET",
                    "path": "^/_inference",
                    "status": 429,
                    "count": 1,
                    "retry_after": 1,
                },
            ).status_code
            == 200
        )
        assert es.get("/_sandbox/faults").json()["faults"][0]["status"] == 429
        assert_es_error(es.get("/_inference"), 429, "es_rejected_execution_exception")
        assert es.get("/_inference").status_code == 200
        assert es.put("/_sandbox/latency", json={"latency_ms": 5}).status_code == 200
        knobs = es.get("/_sandbox/knobs").json()
        assert knobs["latency_ms"] == 5 and knobs["version"] == "9.5.0"
        logged = es.get("/_sandbox/requests").json()["requests"]
        assert [r["status"] for r in logged] == [429, 200]
        assert es.delete("/_sandbox/requests").json() == {"acknowledged": True}
        assert es.get("/_sandbox/requests").json() == {"requests": []}
        assert_es_error(
            es.post("/_sandbox/faults", json={"path": "^/$", "status": "drop"}),
            400,
            "illegal_argument_exception",
        )
        es.post("/_sandbox/faults", json={"method": "GET", "path": "^/$", "drop": True})
        assert es.delete("/_sandbox/faults").status_code == 200
        assert es.get("/").status_code == 200
        es.put("/_inference/text_embedding/e1", json=OPENAI)
        assert es.post("/_sandbox/reset").status_code == 200
        assert es.get("/_inference/e1").status_code == 404
        assert_es_error(
            es.post("/_sandbox/faults", json={"colour": "red"}), 400, "illegal_argument_exception"
        )
        assert_es_error(
            es.put("/_sandbox/version", json={"version": "nine"}), 400, "illegal_argument_exception"
        )


def test_api_key_is_required_when_configured(sandbox_factory: Any) -> None:
    server = sandbox_factory(
        api_key="secret-key", read_only_api_key="ro-key", inference_only_api_key="inf-key"
    )
    with client(server) as es:
        missing = es.get("/_inference/_all")
        assert_es_error(
            missing,
            401,
            "security_exception",
            "missing authentication credentials for REST request [/_inference/_all]",
        )
        assert "ApiKey" in missing.headers["WWW-Authenticate"]
        assert_es_error(
            es.get("/", headers={"Authorization": "ApiKey wrong"}), 401, "security_exception"
        )
        assert es.get("/", headers={"Authorization": "ApiKey secret-key"}).status_code == 200
        assert es.get("/_sandbox/knobs").status_code == 200  # the control API needs no key
        reader = {"Authorization": "ApiKey ro-key"}
        assert es.get("/_inference", headers=reader).status_code == 200
        assert_es_error(
            es.put("/_inference/text_embedding/e1", json=OPENAI, headers=reader),
            403,
            "security_exception",
            "action [cluster:admin/xpack/inference/put] is unauthorized for user [sandbox-reader] with "
            "effective roles [reader], this action is granted by the cluster privileges "
            "[manage_inference,manage,all]",
        )
        admin = {"Authorization": "ApiKey inf-key"}
        assert (
            es.put("/_inference/text_embedding/e1", json=OPENAI, headers=admin).status_code == 200
        )
        reason = assert_es_error(
            es.get("/reconciler-state/_doc/default", headers=admin), 403, "security_exception"
        )
        assert "on indices [reconciler-state]" in reason and "[read,all]" in reason


def test_tls_with_a_self_signed_certificate(sandbox_factory: Any, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    server = sandbox_factory(certfile=str(cert), keyfile=str(key))
    assert server.url.startswith("https://127.0.0.1:")
    with httpx.Client(
        base_url=server.url, verify=ssl.create_default_context(cafile=str(cert)), timeout=10
    ) as es:
        assert es.get("/").json()["tagline"] == "You Know, for Search"
    with (
        httpx.Client(base_url=server.url, timeout=10) as untrusting,
        pytest.raises(httpx.ConnectError),
    ):
        untrusting.get("/")
    with httpx.Client(base_url=server.url.replace("https", "http"), timeout=10) as plain:
        with pytest.raises(httpx.HTTPError):
            plain.get("/")


def test_state_persists_across_servers_and_holds_no_secrets(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    data = tmp_path / ".reconciler" / "sandbox.json"
    first = sandbox_factory(data_file=str(data))
    with client(first) as es:
        es.put("/_inference/text_embedding/e1", json=OPENAI)
        es.put("/_ingest/pipeline/p1", json={"processors": [{"inference": {"model_id": "e1"}}]})
        es.put("/reconciler-state/_doc/default", json={"managed": ["e1"]})
    first.stop()
    assert (data.parent / ".gitignore").read_text() == "*\n"
    assert "sk-secret-value" not in data.read_text()
    second = sandbox_factory(data_file=str(data))
    with client(second) as es:
        assert (
            es.get("/_inference/e1").json()["endpoints"][0]["service_settings"]["model_id"]
            == "text-embedding-3-small"
        )
        assert es.delete("/_inference/e1?dry_run=true").json()["pipelines"] == ["p1"]
        doc = es.get("/reconciler-state/_doc/default").json()
        assert doc["_source"] == {"managed": ["e1"]} and doc["_seq_no"] == 0
        assert es.put("/reconciler-state/_doc/default", json={}).json()["_seq_no"] == 1
    assert second.store.fingerprints({"k": "sk-secret-value"}) == first.store.fingerprints(
        {"k": "sk-secret-value"}
    )


def test_corrupt_data_file_is_a_clear_error(tmp_path: Path) -> None:
    from reconciler.sandbox import SandboxDataError

    data = tmp_path / "broken.json"
    data.write_text("{not json")
    with pytest.raises(SandboxDataError, match="broken.json"):
        SandboxServer(data_file=str(data))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PUT:^/_inference/:503", Fault(method="PUT", path="^/_inference/", status=503, count=1)),
        ("put:^/_inference/:429:3", Fault(method="PUT", path="^/_inference/", status=429, count=3)),
        ("*:/x:y:drop:2", Fault(method=None, path="/x:y", status=None, count=2, drop=True)),
        (
            "PUT:^/_inference/.*:504-after",
            Fault(method="PUT", path="^/_inference/.*", status=504, after=True),
        ),
        ("GET:.*:drop-after:1", Fault(method="GET", path=".*", status=None, drop=True, after=True)),
        (
            "PUT:^/_inference/:503:10s",
            Fault(method="PUT", path="^/_inference/", count=None, seconds=10),
        ),
    ],
)
def test_fault_option_syntax(text: str, expected: Fault) -> None:
    assert parse_fault(text) == expected


@pytest.mark.parametrize(
    "text", ["PUT", "PUT:^/x", "PUT:^/x:teapot", "PUT:([:503", "PUT:^/x:503:0s"]
)
def test_fault_option_errors(text: str) -> None:
    import click

    with pytest.raises(click.BadParameter):
        parse_fault(text)


@pytest.mark.subprocess
def test_sandbox_command_runs_until_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler.sandbox",
            "--port",
            "0",
            "--es-version",
            "8.18.0",
            "--data",
            str(tmp_path / "d.json"),
            "--fault",
            "GET:^/_inference:503:1",
            "--request-log",
            str(log),
            "--require-api-key",
            "k",
            "--latency-ms",
            "1",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("Sandbox cluster listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        with httpx.Client(base_url=url, headers={"Authorization": "ApiKey k"}, timeout=10) as es:
            assert es.get("/").json()["version"]["number"] == "8.18.0"
            assert es.get("/_inference").status_code == 503
            assert es.get("/_inference").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert len(log.read_text().splitlines()) == 3


def test_sandbox_command_reports_a_busy_port(sandbox: SandboxServer) -> None:
    result = run_cli("sandbox", "--port", str(sandbox.port))
    assert result.code == 1
    assert (
        result.stderr.startswith("Error: cannot listen on 127.0.0.1:")
        and "Traceback" not in result.stderr
    )


def test_official_elasticsearch_client(sandbox: SandboxServer) -> None:
    elasticsearch = pytest.importorskip("elasticsearch")
    es = elasticsearch.Elasticsearch(sandbox.url, api_key="unused", request_timeout=10)
    try:
        assert es.info()["version"]["number"] == "9.5.0"
        created = es.inference.put(
            task_type="text_embedding",
            inference_id="py-client",
            inference_config={
                "service": "openai",
                "service_settings": {"api_key": "k", "model_id": "text-embedding-3-small"},
            },
        )
        assert created["inference_id"] == "py-client"
        listed = es.inference.get(inference_id="py-client")
        assert listed["endpoints"][0]["service_settings"]["dimensions"] == 1536
        assert len(es.inference.get()["endpoints"]) == 4
        with pytest.raises(elasticsearch.BadRequestError) as refused:
            es.inference.put(
                task_type="text_embedding",
                inference_id="py-client",
                inference_config={
                    "service": "openai",
                    "service_settings": {"api_key": "k", "model_id": "m"},
                },
            )
        assert refused.value.error == "resource_already_exists_exception"
        assert es.inference.delete(inference_id="py-client")["acknowledged"] is True
        with pytest.raises(elasticsearch.NotFoundError):
            es.inference.get(inference_id="py-client")
        es.index(index="reconciler-state", id="d", document={"a": 1})
        assert es.get(index="reconciler-state", id="d")["_source"] == {"a": 1}
    finally:
        es.close()
