"""Target-agnostic end-to-end tests: the sandbox by default, a real Elasticsearch with RECONCILER_E2E_URL.

Against a real cluster the `openai` service is used with `url` pointing at an OpenAI-compatible
server (RECONCILER_E2E_OPENAI_URL; the e2e-elasticsearch workflow starts one), so endpoint
creation really validates. Credentials: ELASTIC_API_KEY or ELASTICSEARCH_USERNAME/PASSWORD.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli, write_spec

pytestmark = pytest.mark.real_cluster

REAL_URL = os.environ.get("RECONCILER_E2E_URL")
OPENAI_URL = os.environ.get("RECONCILER_E2E_OPENAI_URL", "http://127.0.0.1:9/v1/embeddings")
ENV = {"E2E_OPENAI_KEY": "sk-e2e-0000-distinctive"}
CREDENTIALS = {
    k: v
    for k, v in os.environ.items()
    if k in ("ELASTIC_API_KEY", "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD")
}


@pytest.fixture()
def target() -> Iterator[str]:
    if REAL_URL:
        yield REAL_URL
    else:
        with SandboxServer(port=0) as cluster:
            yield cluster.url


def http(url: str) -> httpx.Client:
    auth = None
    headers = {}
    if CREDENTIALS.get("ELASTIC_API_KEY"):
        headers["Authorization"] = f"ApiKey {CREDENTIALS['ELASTIC_API_KEY']}"
    elif CREDENTIALS.get("ELASTICSEARCH_USERNAME"):
        auth = (
            CREDENTIALS["ELASTICSEARCH_USERNAME"],
            CREDENTIALS.get("ELASTICSEARCH_PASSWORD", ""),
        )
    return httpx.Client(base_url=url, headers=headers, auth=auth, timeout=60)


def embedding(
    inference_id: str, *, model: str = "text-embedding-3-small", user: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inference_id": inference_id,
        "task_type": "text_embedding",
        "service": "openai",
        "service_settings": {
            "model_id": model,
            "url": OPENAI_URL,
            "api_key": "${env:E2E_OPENAI_KEY}",
        },
    }
    if user:
        body["task_settings"] = {"user": user}
    return body


@pytest.fixture()
def ids() -> Iterator[list[str]]:
    suffix = uuid.uuid4().hex[:8]
    made = [f"e2e-{suffix}-a", f"e2e-{suffix}-b"]
    yield made
    if REAL_URL:
        with http(REAL_URL) as client:
            for inference_id in made:
                client.delete(f"/_inference/{inference_id}", params={"force": "true"})


def cli(url: str, *args: str, env: dict[str, str] | None = None) -> Any:
    return run_cli(*args, "--url", url, env={**ENV, **CREDENTIALS, **(env or {})})


def test_lifecycle_create_update_replace_prune(target: str, ids: list[str], tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    state = ("--timeout", "120")
    write_spec(specs, embedding(ids[0]))
    write_spec(specs, embedding(ids[1], user="alice"))
    created = cli(target, "apply", str(specs), "--auto-approve", *state)
    assert created.code == 0, created.output
    clean = cli(target, "plan", str(specs), "--detailed-exitcode")
    assert clean.code == 0 and "No changes." in clean.stdout, clean.output
    write_spec(specs, embedding(ids[1], user="bob"))
    updated = cli(target, "plan", str(specs), "--format", "json")
    change = next(c for c in json.loads(updated.stdout)["changes"] if c["inference_id"] == ids[1])
    assert change["action"] in ("update", "replace")  # update from 8.17; the JSON says which
    assert cli(target, "apply", str(specs), "--auto-approve", *state).code == 0
    write_spec(specs, embedding(ids[0], model="text-embedding-3-large"))
    replaced = cli(target, "plan", str(specs), "--format", "json")
    change = next(c for c in json.loads(replaced.stdout)["changes"] if c["inference_id"] == ids[0])
    assert change["action"] == "replace" and "service_settings.model_id" in change["paths"]
    assert cli(target, "apply", str(specs), "--auto-approve", *state).code == 0
    assert cli(target, "plan", str(specs), "--detailed-exitcode").code == 0
    (specs / f"{ids[1]}.yaml").unlink()
    pruned = cli(target, "apply", str(specs), "--prune", "--auto-approve", *state)
    assert pruned.code == 0 and "1 deleted" in pruned.stdout, pruned.output
    with http(target) as client:
        assert client.get(f"/_inference/{ids[1]}").status_code == 404


def test_drift_after_out_of_band_delete(target: str, ids: list[str], tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    write_spec(specs, embedding(ids[0]))
    assert cli(target, "apply", str(specs), "--auto-approve", "--timeout", "120").code == 0
    assert cli(target, "drift", str(specs)).code == 0
    with http(target) as client:
        client.delete(f"/_inference/text_embedding/{ids[0]}").raise_for_status()
    drift = cli(target, "drift", str(specs))
    assert drift.code == 2 and ids[0] in drift.stdout


def test_import_round_trip(target: str, ids: list[str], tmp_path: Path) -> None:
    with http(target) as client:
        body = embedding(ids[0])
        body["service_settings"]["api_key"] = ENV["E2E_OPENAI_KEY"]
        client.put(
            f"/_inference/text_embedding/{ids[0]}",
            json={k: v for k, v in body.items() if k not in ("inference_id", "task_type")},
        ).raise_for_status()
    out = tmp_path / "imported"
    assert cli(target, "import", "--out", str(out), ids[0]).code == 0
    assert (
        cli(
            target,
            "plan",
            str(out),
            "--detailed-exitcode",
            env={f"{ids[0].upper().replace('-', '_')}_API_KEY": "x"},
        ).code
        == 0
    )


def test_doctor_report(target: str, tmp_path: Path) -> None:
    """The report users paste into an issue: one line per disagreement, 0 against the sandbox.

    Against a real cluster a disagreement is news about the catalog, not a failure of this
    job: the report is written to RECONCILER_E2E_DOCTOR_REPORT (if set) for the job to keep.
    """
    import re

    run = cli(target, "doctor", str(tmp_path))
    report = os.environ.get("RECONCILER_E2E_DOCTOR_REPORT")
    if report:
        Path(report).write_text(run.stdout + run.stderr, encoding="utf-8")
    if not REAL_URL:
        assert (run.code, run.stdout) == (0, ""), run.output
        return
    assert run.code in (0, 2) and "Traceback" not in run.output, run.output
    line = re.compile(r"^[a-z0-9_.\-]+: (service|task_type \S+|field \S+): .+$")
    assert all(line.match(text) for text in run.stdout.splitlines()), run.stdout
