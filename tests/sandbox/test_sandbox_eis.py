"""The sandbox's Elastic Inference Service: the "connected to EIS" knob, versions, and server fills."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import httpx
import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import REPO
from tests.sandbox.helpers import assert_es_error, client

SPARSE = {"service": "elastic", "service_settings": {"model_id": "elser_model_2"}}


def eis_services(es: httpx.Client) -> list[Any]:
    return [s for s in es.get("/_inference/_services").json() if s["service"] == "elastic"]


def test_without_eis_the_service_is_not_offered_and_create_fails(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        assert eis_services(es) == []
        assert not any(e["service"] == "elastic" for e in es.get("/_inference").json()["endpoints"])
        assert_es_error(
            es.put("/_inference/sparse_embedding/mine", json=SPARSE),
            400,
            "status_exception",
            "The [elastic] service does not support task type [sparse_embedding]",
        )


def test_the_knob_connects_over_the_control_api(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        assert es.get("/_sandbox/knobs").json()["eis_connected"] is False
        assert es.put("/_sandbox/eis", json={"connected": "yes"}).status_code == 400
        assert es.put("/_sandbox/eis", json={"connected": True}).json() == {"acknowledged": True}
        listed = {e["inference_id"]: e for e in es.get("/_inference").json()["endpoints"]}
        assert listed[".elser-2-elastic"]["service_settings"] == {"model_id": "elser_model_2"}
        assert listed[".jina-embeddings-v3"]["service_settings"] == {
            "model_id": "jina-embeddings-v3",
            "similarity": "cosine",
            "dimensions": 1024,
        }
        (offered,) = eis_services(es)
        assert offered["task_types"] == [
            "text_embedding", "sparse_embedding", "embedding", "rerank", "completion", "chat_completion",
        ]  # fmt: skip
        assert offered["configurations"]["max_batch_size"]["updatable"] is True
        assert "rate_limit" not in offered["configurations"]
        created = es.put("/_inference/sparse_embedding/mine", json=SPARSE)
        assert created.status_code == 200, created.text
        assert created.json()["chunking_settings"] == {
            "strategy": "sentence",
            "max_chunk_size": 250,
            "sentence_overlap": 1,
        }


def test_preconfigured_eis_endpoints_are_reserved(sandbox_factory: Any) -> None:
    with client(sandbox_factory(eis=True)) as es:
        assert_es_error(
            es.put("/_inference/sparse_embedding/.elser-2-elastic/_update", json={"service_settings": {"max_batch_size": 8}}),
            400,
            "status_exception",
            "Default endpoint [.elser-2-elastic] cannot be updated",
        )  # fmt: skip
        assert es.delete("/_inference/rerank/.elastic-rerank-v1").status_code == 400
        assert es.delete(
            "/_inference/rerank/.elastic-rerank-v1", params={"force": "true"}
        ).is_success
        assert ".elastic-rerank-v1" in {
            e["inference_id"] for e in es.get("/_inference").json()["endpoints"]
        }


@pytest.mark.parametrize(
    ("version", "offered"),
    [
        ("8.17.0", None),
        ("8.18.0", ["sparse_embedding", "chat_completion"]),
        ("8.19.0", ["text_embedding", "sparse_embedding", "rerank", "chat_completion"]),
        ("9.0.0", ["sparse_embedding", "chat_completion"]),
        # completion arrived in 9.3.0 (release notes, PR 137677)
        ("9.2.0", ["text_embedding", "sparse_embedding", "rerank", "chat_completion"]),
        (
            "9.3.0",
            ["text_embedding", "sparse_embedding", "rerank", "completion", "chat_completion"],
        ),
    ],
)
def test_task_types_arrive_release_by_release(
    sandbox_factory: Any, version: str, offered: list[str] | None
) -> None:
    with client(sandbox_factory(eis=True, version=version)) as es:
        if offered is None:
            assert_es_error(
                es.put("/_inference/sparse_embedding/mine", json=SPARSE),
                400,
                "status_exception",
                "Unknown service [elastic]",
            )
            return
        assert eis_services(es)[0]["task_types"] == offered
        assert es.put("/_inference/rerank/r", json={**SPARSE}).is_success == ("rerank" in offered)
        defaults = {
            e["task_type"]
            for e in es.get("/_inference").json()["endpoints"]
            if e["service"] == "elastic"
        }
        assert defaults <= set(offered)  # fmt: skip


def test_request_rules(sandbox_factory: Any) -> None:
    with client(sandbox_factory(eis=True)) as es:
        assert_es_error(
            es.put("/_inference/chat_completion/c", json={"service": "elastic", "service_settings": {"model_id": "m", "rate_limit": {"requests_per_minute": 5}}}),
            400,
            "validation_exception",
            "Validation Failed: 1: [service_settings] rate limit settings are not permitted for service [elastic] and task type [chat_completion];",
        )  # fmt: skip
        assert_es_error(
            es.put("/_inference/rerank/r", json={**SPARSE, "task_settings": {"top_n": 2}}),
            400,
            "status_exception",
            "Configuration contains settings [{top_n=2}] unknown to the [elastic] service",
        )
        assert es.put("/_inference/sparse_embedding/s", json={"service": "elastic", "service_settings": {"model_id": "m", "max_batch_size": 2000}}).status_code == 400  # fmt: skip
        dense = es.put("/_inference/text_embedding/t", json={"service": "elastic", "service_settings": {"model_id": "jina-embeddings-v3"}})  # fmt: skip
        assert dense.json()["service_settings"] == {
            "model_id": "jina-embeddings-v3",
            "dimensions": 1024,
            "similarity": "cosine",
        }
    with client(sandbox_factory(eis=True, version="9.2.0")) as es:
        assert_es_error(
            es.put("/_inference/sparse_embedding/s", json={"service": "elastic", "service_settings": {"model_id": "m", "max_batch_size": 8}}),
            400,
            "status_exception",
            "Configuration contains settings [{max_batch_size=8}] unknown to the [elastic] service",
        )  # fmt: skip


@pytest.mark.subprocess
def test_sandbox_command_eis_flag() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler.sandbox", "--port", "0", "--eis"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        with httpx.Client(base_url=url, timeout=10) as es:
            assert es.get("/_sandbox/knobs").json()["eis_connected"] is True
            assert ".rainbow-sprinkles-elastic" in {
                e["inference_id"] for e in es.get("/_inference").json()["endpoints"]
            }
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
