"""The third catalog audit, row by row, at its boundaries on both release lines.

Each row of docs/catalog-evidence.md ("Third audit") is checked where the
fact changes: the last release without it (on the 8.x line and on the 9.x
line) and the first release with it. A spec is refused by the catalog's dates
(no `_services` answer) exactly where the cluster would refuse it at PUT time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.catalog import load_catalog, parse_version
from reconciler.model import EndpointSpec, LiveEndpoint
from reconciler.normalize import desired_view, live_view
from reconciler.validate import validate_directory
from reconciler.versions import too_new

CATALOG = load_catalog()
KEY = "${env:KEY}"


def endpoint(service: str, task_type: str, settings: dict[str, Any], **blocks: Any) -> dict:
    return {
        "inference_id": f"{service.replace('_', '-')}-{task_type.replace('_', '-')}",
        "task_type": task_type,
        "service": service,
        "service_settings": settings,
        **blocks,
    }


def load(tmp_path: Path, body: dict[str, Any]) -> EndpointSpec:
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    result = validate_directory(tmp_path, variables={})
    assert result.ok, [str(d) for d in result.diagnostics]
    (spec,) = result.specs
    return spec


OPENAI = {"api_key": KEY, "model_id": "text-embedding-3-small"}
JINA = {"api_key": KEY, "model_id": "jina-embeddings-v3"}
AI_STUDIO = {
    "api_key": KEY,
    "target": "https://x.example",
    "provider": "cohere",
    "endpoint_type": "token",
}
AZURE = {"api_key": KEY, "resource_name": "r", "deployment_id": "d", "api_version": "2024-02-01"}
VERTEX = {
    "service_account_json": KEY,
    "model_id": "llama",
    "project_id": "p",
    "location": "us-central1",
    "provider": "meta",
    "url": "https://vertex.example/v1",
}
SAGEMAKER = {
    "access_key": KEY,
    "secret_key": KEY,
    "region": "us-east-1",
    "endpoint_name": "e5",
    "api": "elastic",
    "element_type": "float",
}

# (spec, last 8.x release without the fact, last 9.x release without it, first release with it)
DATED = {
    "openai embedding 9.5.0": (endpoint("openai", "embedding", OPENAI), "8.19.9", "9.4.9", "9.5.0"),
    "jinaai embedding 9.4.0": (endpoint("jinaai", "embedding", JINA), "8.19.9", "9.3.9", "9.4.0"),
    "jinaai late_chunking 9.3.0": (
        endpoint("jinaai", "text_embedding", JINA, task_settings={"late_chunking": True}),
        "8.19.9",
        "9.2.9",
        "9.3.0",
    ),
    "azureaistudio rerank 9.2.0, no 8.x": (
        endpoint("azureaistudio", "rerank", AI_STUDIO),
        "8.19.9",
        "9.1.9",
        "9.2.0",
    ),
    "azureopenai chat_completion 9.3.0": (
        endpoint("azureopenai", "chat_completion", AZURE),
        "8.19.9",
        "9.2.9",
        "9.3.0",
    ),
    "elastic completion 9.3.0": (
        endpoint("elastic", "completion", {"model_id": "gp-llm-v2"}),
        "8.19.9",
        "9.2.9",
        "9.3.0",
    ),
    "googlevertexai provider meta 9.3.0": (
        endpoint("googlevertexai", "completion", VERTEX),
        "8.19.9",
        "9.2.9",
        "9.3.0",
    ),
    "amazon_sagemaker similarity required with api elastic from 9.4.0": (
        endpoint("amazon_sagemaker", "text_embedding", SAGEMAKER),
        None,  # required from 9.4.0: the older releases accept the spec without it
        None,
        "9.4.0",
    ),
}


@pytest.mark.parametrize("row", sorted(DATED))
def test_each_dated_fact_at_its_boundaries(tmp_path: Path, row: str) -> None:
    body, last_8, last_9, first = DATED[row]
    spec = load(tmp_path, body)

    def refused(version: str) -> bool:
        return bool(too_new([spec], catalog=CATALOG, cluster_version=version))

    if last_8 is None:  # a requirement that starts at `first`: refused from then on
        assert not refused("8.19.9") and not refused("9.3.9")
        assert refused(first) and refused("9.5.0")
        return
    assert refused(last_8), "8.x line"
    assert refused(last_9), "9.x line"
    assert not refused(first)
    problems = too_new([spec], catalog=CATALOG, cluster_version=last_9)
    assert all(p.file.endswith("spec.yaml") and p.line > 0 for p in problems)
    assert all(f"the cluster runs {last_9}" in p.message for p in problems)


@pytest.mark.parametrize(
    ("service", "task_type", "field", "before", "first"),
    [
        ("ai21", "completion", "rate_limit", ["8.19.9", "9.3.9"], "9.4.0"),
        ("alibabacloud-ai-search", "text_embedding", "http_schema", ["8.19.9", "9.3.9"], "9.4.0"),
    ],
)
def test_update_of_service_settings_at_its_boundaries(
    service: str, task_type: str, field: str, before: list[str], first: str
) -> None:
    path = ("service_settings", field)
    for version in before:
        assert not CATALOG.facts(service, task_type, parse_version(version)).updatable(path)
    assert CATALOG.facts(service, task_type, parse_version(first)).updatable(path)


def test_contextualai_url_until_it_was_removed(tmp_path: Path) -> None:
    body = endpoint(
        "contextualai",
        "rerank",
        {"api_key": KEY, "model_id": "ctxl-rerank-v2", "url": "https://c.example"},
    )
    spec = load(tmp_path, body)
    assert not too_new([spec], catalog=CATALOG, cluster_version="9.2.0")
    assert not too_new([spec], catalog=CATALOG, cluster_version="9.4.9")
    (removed,) = too_new([spec], catalog=CATALOG, cluster_version="9.5.0")
    assert (
        "service_settings.url (contextualai) was removed in Elasticsearch 9.5.0" in removed.message
    )
    service = CATALOG.service("contextualai")
    assert service is not None
    assert "url" not in service.fields_at(
        block="service_settings", task_type="rerank", version=(9, 5, 0)
    )


@pytest.mark.parametrize(("api", "required"), [("elastic", True), ("openai", False)])
def test_sagemaker_elastic_payload_requires_element_type(
    tmp_path: Path, api: str, required: bool
) -> None:
    settings = {k: v for k, v in SAGEMAKER.items() if k != "element_type"}
    body = endpoint("amazon_sagemaker", "text_embedding", {**settings, "api": api})
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    result = validate_directory(tmp_path, variables={})
    messages = [d.message for d in result.diagnostics]
    assert any("element_type" in m for m in messages) is required, messages


def test_anthropic_top_k_is_compared_where_the_server_shows_it(tmp_path: Path) -> None:
    body = endpoint(
        "anthropic",
        "completion",
        {"api_key": KEY, "model_id": "claude"},
        task_settings={"max_tokens": 10, "top_k": 5},
    )
    spec = load(tmp_path, body)
    facts = CATALOG.facts("anthropic", "completion", (9, 5, 0))
    shown = LiveEndpoint.from_api(
        {
            "inference_id": spec.inference_id,
            "task_type": "completion",
            "service": "anthropic",
            "service_settings": {"model_id": "claude", "rate_limit": {"requests_per_minute": 50}},
            "task_settings": {"max_tokens": 10, "top_p": 5},
        }
    )
    declared = frozenset({("task_settings", "max_tokens"), ("task_settings", "top_k")})
    assert (
        desired_view(spec, facts)["task_settings"]
        == live_view(shown, facts, keep=declared)["task_settings"]
    )


def test_an_integer_setting_written_as_a_float_is_an_error_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "rerank.yaml").write_text(
        "inference_id: rerank\n"
        "task_type: rerank\n"
        "service: jinaai\n"
        "service_settings:\n"
        "  api_key: ${env:KEY}\n"
        "  model_id: jina-reranker-v2-base-multilingual\n"
        "task_settings:\n"
        "  top_n: 3.0\n",
        encoding="utf-8",
    )
    result = validate_directory(tmp_path, variables={})
    (problem,) = result.diagnostics
    assert (problem.line, problem.message) == (
        8,
        "task_settings.top_n: expected integer, got number",
    )
