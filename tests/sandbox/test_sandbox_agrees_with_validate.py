"""Validate and the sandbox take the same requests and refuse the same ones, for the same reasons.

Each case is a request from Elastic's documentation or notebooks, in a layout Elasticsearch's
parsers still accept (normalised as the server does) or one the server refuses at PUT. It runs
through ``validate`` (as a spec file, the secret as a reference) and through the sandbox's create
(the request as sent, the secret literal), which are written independently (the catalog and the
sandbox's own table). An accepted old layout validates with a note naming the current layout, and
the spec validate produces is the endpoint the sandbox stores; a refusal is named at file:line by
validate and is a 400 from the sandbox. Finally a legacy spec plans clean against the endpoint
the same console request made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.errors import EsError
from reconciler.sandbox.validation import parse_create
from reconciler.validate import validate_directory
from tests.e2e.helpers import run_cli, write_requests
from tests.sandbox.helpers import plain

KEY = "sk-literal-key-0123456789"
ALLOCATED = {"num_allocations": 1, "num_threads": 1}
AZURE = {
    "api_key": KEY,
    "resource_name": "acme",
    "deployment_id": "embeddings",
    "api_version": "2024-02-01",
}

# (case, task type, request body, model id stored or None, note fragment) - accepted
ACCEPTED: list[tuple[str, str, dict[str, Any], str | None, str]] = [
    (
        "openai 8.12 notebook: task_settings.model",
        "text_embedding",
        {
            "service": "openai",
            "service_settings": {"api_key": KEY},
            "task_settings": {"model": "text-embedding-ada-002"},
        },
        "text-embedding-ada-002",
        "the current layout is service_settings.model_id: text-embedding-ada-002",
    ),
    (
        "openai: task_settings.model_id",
        "completion",
        {
            "service": "openai",
            "service_settings": {"api_key": KEY},
            "task_settings": {"model_id": "gpt-4o", "user": "docs"},
        },
        "gpt-4o",
        "reads as service_settings.model_id",
    ),
    (
        "cohere: service_settings.model",
        "text_embedding",
        {"service": "cohere", "service_settings": {"api_key": KEY, "model": "embed-english-v3.0"}},
        "embed-english-v3.0",
        "service_settings.model is an old layout",
    ),
    (
        "cohere: model and model_id both given (model_id wins)",
        "text_embedding",
        {
            "service": "cohere",
            "service_settings": {"api_key": KEY, "model": "old", "model_id": "embed-v4.0"},
        },
        "embed-v4.0",
        "with both given, Elasticsearch ignores service_settings.model",
    ),
    (
        "elser with model_id (8.16+)",
        "sparse_embedding",
        {"service": "elser", "service_settings": {"model_id": ".elser_model_2", **ALLOCATED}},
        ".elser_model_2",
        "service 'elser' is deprecated",
    ),
    (
        "elser without model_id",
        "sparse_embedding",
        {"service": "elser", "service_settings": dict(ALLOCATED)},
        None,
        "service: elasticsearch with service_settings.model_id .elser_model_2",
    ),
    (
        "elasticsearch with deployment_id only",
        "sparse_embedding",
        {"service": "elasticsearch", "service_settings": {"deployment_id": "my-elser-deployment"}},
        None,
        "",
    ),
    (
        "azure openai, current layout",
        "text_embedding",
        {
            "service": "azureopenai",
            "service_settings": dict(AZURE),
        },
        None,
        "",
    ),
    (
        "hugging face with a real url",
        "text_embedding",
        {
            "service": "hugging_face",
            "service_settings": {"api_key": KEY, "url": "https://acme.endpoints.huggingface.cloud"},
        },
        None,
        "",
    ),
]

# (case, task type, request body, what validate says) - refused by Elasticsearch at PUT
REFUSED: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "openai: model in both places",
        "text_embedding",
        {
            "service": "openai",
            "service_settings": {"api_key": KEY, "model_id": "text-embedding-3-small"},
            "task_settings": {"model": "text-embedding-ada-002"},
        },
        "unknown field 'model'",
    ),
    (
        "elasticsearch with neither model_id nor deployment_id",
        "sparse_embedding",
        {"service": "elasticsearch", "service_settings": dict(ALLOCATED)},
        "model_id and num_threads are required unless deployment_id is given",
    ),
    (
        "elasticsearch without allocations",
        "text_embedding",
        {
            "service": "elasticsearch",
            "service_settings": {"model_id": ".multilingual-e5-small", "num_threads": 1},
        },
        "one of num_allocations, adaptive_allocations is required",
    ),
    (
        "hugging face with the docs' <HF-URL>",
        "text_embedding",
        {"service": "hugging_face", "service_settings": {"api_key": KEY, "url": "<HF-URL>"}},
        "service_settings.url: Elasticsearch cannot parse this URL ('<' at index 0",
    ),
    (
        "openai with a <url> placeholder",
        "text_embedding",
        {
            "service": "openai",
            "service_settings": {"api_key": KEY, "model_id": "m", "url": "<url>"},
        },
        "Elasticsearch cannot parse this URL",
    ),
    (
        "azure openai with an enum placeholder",
        "text_embedding",
        {
            "service": "azureopenai",
            "service_settings": {**AZURE, "similarity": "<similarity>"},
        },
        "service_settings.similarity: '<similarity>' is not one of",
    ),
    (
        "cohere without any model",
        "text_embedding",
        {"service": "cohere", "service_settings": {"api_key": KEY}},
        "missing required field 'model_id'",
    ),
]


def as_spec(inference_id: str, task_type: str, body: dict[str, Any]) -> dict[str, Any]:
    spec = {"inference_id": inference_id, "task_type": task_type, **json.loads(json.dumps(body))}
    if "api_key" in spec["service_settings"]:
        spec["service_settings"]["api_key"] = "${env:API_KEY}"
    return spec


def validated(tmp_path: Path, spec: dict[str, Any]) -> Any:
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return validate_directory(tmp_path)


@pytest.mark.parametrize(
    ("case", "task_type", "body", "model_id", "note"), ACCEPTED, ids=[c[0] for c in ACCEPTED]
)
def test_both_accept_and_read_it_the_same_way(
    tmp_path: Path,
    case: str,
    task_type: str,
    body: dict[str, Any],
    model_id: str | None,
    note: str,
) -> None:
    result = validated(tmp_path, as_spec("docs-endpoint", task_type, body))
    assert result.ok, [str(d) for d in result.diagnostics]
    notes = [str(n) for n in result.notes]
    assert any(note in n and n.startswith(str(tmp_path)) for n in notes) if note else not notes
    stored = parse_create("docs-endpoint", task_type, body).config
    (spec,) = result.specs
    if model_id is not None:
        assert spec.body["service_settings"]["model_id"] == model_id
        assert stored["service_settings"]["model_id"] == model_id
    # the spec validate hands to the plan holds nothing the sandbox did not store there
    for block in ("service_settings", "task_settings"):
        declared = {k for k in spec.block(block) if k != "api_key"}
        assert declared <= set(stored.get(block) or {}), (block, declared, stored)


@pytest.mark.parametrize(
    ("case", "task_type", "body", "message"), REFUSED, ids=[c[0] for c in REFUSED]
)
def test_both_refuse_it_before_anything_is_stored(
    tmp_path: Path, case: str, task_type: str, body: dict[str, Any], message: str
) -> None:
    result = validated(tmp_path, as_spec("docs-endpoint", task_type, body))
    assert not result.ok
    found = [str(d) for d in result.diagnostics]
    assert any(message in d and d.startswith(f"{tmp_path}/spec.yaml:") for d in found), found
    assert all(KEY not in d for d in found)
    with pytest.raises(EsError) as refused:
        parse_create("docs-endpoint", task_type, body)
    assert refused.value.status == 400


def test_a_legacy_spec_plans_clean_against_what_the_console_request_made(tmp_path: Path) -> None:
    body = ACCEPTED[0][2]
    specs = tmp_path / "endpoints"
    specs.mkdir()
    spec = as_spec("openai-embeddings", "text_embedding", body)
    (specs / "openai.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    with SandboxServer(port=0) as cluster:
        made = plain.put(
            f"{cluster.url}/_inference/text_embedding/openai-embeddings", json=body, timeout=10
        )
        assert made.status_code == 200, made.text
        before = len(write_requests(cluster.requests))
        plan = run_cli(
            "plan", str(specs), "--url", cluster.url, "--detailed-exitcode", env={"API_KEY": KEY}
        )
        assert len(write_requests(cluster.requests)) == before
    assert plan.code == 0 and "No changes." in plan.stdout, plan.output
    assert "task_settings.model is an old layout" not in plan.stdout  # a note, not a change
    assert "openai.yaml:7:3: note: task_settings.model is an old layout" in plan.stderr
    assert KEY not in plan.output


def test_apply_meets_every_refusal_before_any_request(tmp_path: Path) -> None:
    """What used to pass plan and apply on the sandbox (a <HF-URL>, an elasticsearch endpoint
    without model_id) now stops apply at file:line, with nothing sent to the cluster."""
    specs = tmp_path / "endpoints"
    specs.mkdir()
    for number, (_, task_type, body, _) in enumerate(REFUSED):
        spec = as_spec(f"refused-{number}", task_type, body)
        (specs / f"refused-{number}.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    with SandboxServer(port=0) as cluster:
        run = run_cli(
            "apply", str(specs), "--url", cluster.url, "--auto-approve", env={"API_KEY": KEY}
        )
        sent = [r for r in cluster.requests if not r["path"].startswith("/_sandbox")]
    assert run.code == 1 and "nothing was sent" in run.stderr, run.output
    for number, (_, _, _, message) in enumerate(REFUSED):
        assert any(
            f"refused-{number}.yaml:" in line and message in line
            for line in run.stderr.splitlines()
        ), (message, run.stderr)
    assert sent == [] and KEY not in run.output
