"""Sandbox: creating endpoints. Seed services in the official examples' request styles, one
endpoint per other service, the values the server fills in, and secrets never coming back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.store import read_data_file
from tests.sandbox.helpers import client

DEFAULT_CHUNKING = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
AZURE = {
    "resource_name": "Resource-name",
    "deployment_id": "Deployment-id",
    "api_version": "2024-02-01",
}

# (path, body, expected response) in the style of the elasticsearch-specification examples
SEED_CASES = [
    pytest.param(
        "/_inference/text_embedding/azure_openai_embeddings",
        {"service": "azureopenai", "service_settings": {"api_key": "Api-Key", **AZURE}},
        {
            "inference_id": "azure_openai_embeddings",
            "task_type": "text_embedding",
            "service": "azureopenai",
            "service_settings": {
                **AZURE,
                "rate_limit": {"requests_per_minute": 1440},
                "dimensions": 1536,
                "similarity": "dot_product",
            },
            "chunking_settings": DEFAULT_CHUNKING,
        },
        id="azureopenai-text_embedding-api_key",
    ),
    pytest.param(
        "/_inference/completion/azure_openai_completion",
        {"service": "azureopenai", "service_settings": {"api_key": "Api-Key", **AZURE}},
        {
            "inference_id": "azure_openai_completion",
            "task_type": "completion",
            "service": "azureopenai",
            "service_settings": {**AZURE, "rate_limit": {"requests_per_minute": 120}},
        },
        id="azureopenai-completion",
    ),
    pytest.param(
        "/_inference/chat_completion/azure_openai_chat_completion",
        {"service": "azureopenai", "service_settings": {"entra_id": "Entra-Id", **AZURE}},
        {
            "inference_id": "azure_openai_chat_completion",
            "task_type": "chat_completion",
            "service": "azureopenai",
            "service_settings": {**AZURE, "rate_limit": {"requests_per_minute": 120}},
        },
        id="azureopenai-chat_completion-entra_id",
    ),
    pytest.param(
        "/_inference/text_embedding/azure_openai_oauth",
        {
            "service": "azureopenai",
            "service_settings": {
                "api_version": "2023-05-15",
                "client_id": "12345",
                "client_secret": "secret",
                "deployment_id": "Deployment-id",
                "resource_name": "Resource-name",
                "scopes": ["Scope-1", "Scope-2"],
                "tenant_id": "tenant id",
            },
            "task_settings": {"headers": {"Custom-Header-Key": "Custom header value"}},
        },
        {
            "inference_id": "azure_openai_oauth",
            "task_type": "text_embedding",
            "service": "azureopenai",
            "service_settings": {
                "api_version": "2023-05-15",
                "client_id": "12345",
                "deployment_id": "Deployment-id",
                "resource_name": "Resource-name",
                "scopes": ["Scope-1", "Scope-2"],
                "tenant_id": "tenant id",
                "rate_limit": {"requests_per_minute": 1440},
                "dimensions": 1536,
                "similarity": "dot_product",
            },
            "task_settings": {"headers": {"Custom-Header-Key": "Custom header value"}},
            "chunking_settings": DEFAULT_CHUNKING,
        },
        id="azureopenai-text_embedding-oauth2",
    ),
    pytest.param(
        "/_inference/text_embedding/openshift-ai-text-embedding",
        {
            "service": "openshift_ai",
            "service_settings": {
                "url": "openshift-ai-embeddings-url",
                "api_key": "openshift-ai-embeddings-token",
                "model_id": "gritlm-7b",
            },
        },
        {
            "inference_id": "openshift-ai-text-embedding",
            "task_type": "text_embedding",
            "service": "openshift_ai",
            "service_settings": {
                "model_id": "gritlm-7b",
                "url": "openshift-ai-embeddings-url",
                "rate_limit": {"requests_per_minute": 3000},
                "dimensions": 4096,
                "similarity": "dot_product",
                "dimensions_set_by_user": False,
            },
            "chunking_settings": DEFAULT_CHUNKING,
        },
        id="openshift_ai-text_embedding",
    ),
    pytest.param(
        "/_inference/completion/openshift-ai-completion",
        {
            "service": "openshift_ai",
            "service_settings": {
                "url": "openshift-ai-completion-url",
                "api_key": "tok",
                "model_id": "llama-31-8b-instruct",
            },
        },
        {
            "inference_id": "openshift-ai-completion",
            "task_type": "completion",
            "service": "openshift_ai",
            "service_settings": {
                "model_id": "llama-31-8b-instruct",
                "url": "openshift-ai-completion-url",
                "rate_limit": {"requests_per_minute": 3000},
            },
        },
        id="openshift_ai-completion",
    ),
    pytest.param(
        "/_inference/chat_completion/openshift-ai-chat-completion",
        {
            "service": "openshift_ai",
            "service_settings": {
                "url": "openshift-ai-chat-completion-url",
                "api_key": "tok",
                "model_id": "llama-31-8b-instruct",
            },
        },
        {
            "inference_id": "openshift-ai-chat-completion",
            "task_type": "chat_completion",
            "service": "openshift_ai",
            "service_settings": {
                "model_id": "llama-31-8b-instruct",
                "url": "openshift-ai-chat-completion-url",
                "rate_limit": {"requests_per_minute": 3000},
            },
        },
        id="openshift_ai-chat_completion",
    ),
    pytest.param(
        "/_inference/rerank/openshift-ai-rerank",
        {
            "service": "openshift_ai",
            "service_settings": {"url": "openshift-ai-rerank-url", "api_key": "tok"},
            "task_settings": {"return_documents": True, "top_n": 2},
        },
        {
            "inference_id": "openshift-ai-rerank",
            "task_type": "rerank",
            "service": "openshift_ai",
            "service_settings": {
                "url": "openshift-ai-rerank-url",
                "rate_limit": {"requests_per_minute": 3000},
            },
            "task_settings": {"return_documents": True, "top_n": 2},
        },
        id="openshift_ai-rerank-without-model_id",
    ),
]


@pytest.mark.parametrize(("path", "body", "expected"), SEED_CASES)
def test_seed_services_create_like_the_official_examples(
    sandbox: SandboxServer, path: str, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    with client(sandbox) as es:
        created = es.put(path, json=body)
        assert created.status_code == 200, created.text
        assert created.json() == expected
        assert list(created.json()) == list(expected)  # key order: id, task, service, settings...
        listed = es.get(f"/_inference/{expected['inference_id']}").json()
        assert listed == {"endpoints": [expected]}


def _settings(**extra: Any) -> dict[str, Any]:
    return extra


# (service, task type, service_settings, task_settings, fragments the response must contain)
OTHER_SERVICES = [
    (
        "ai21",
        "chat_completion",
        _settings(model_id="jamba-large", api_key="k"),
        None,
        {"rate_limit": {"requests_per_minute": 200}},
    ),
    (
        "alibabacloud-ai-search",
        "text_embedding",
        _settings(
            api_key="k",
            service_id="ops-text-embedding-001",
            host="h.example",
            workspace="default",
            similarity="cosine",
        ),
        {"input_type": "INGEST"},
        {
            "similarity": "dot_product",
            "dimensions": 1536,
            "rate_limit": {"requests_per_minute": 1000},
        },
    ),
    (
        "amazon_sagemaker",
        "text_embedding",
        _settings(
            access_key="a",
            secret_key="s",
            endpoint_name="e",
            api="elastic",
            region="us-east-1",
            dimensions=384,
            similarity="COSINE",
            element_type="Float",
        ),
        None,
        {
            "dimensions": 384,
            "similarity": "cosine",
            "element_type": "float",
            "dimensions_set_by_user": False,
        },
    ),
    (
        "amazonbedrock",
        "text_embedding",
        _settings(
            access_key="a",
            secret_key="s",
            region="us-east-1",
            model="amazon.titan-embed-text-v2:0",
            provider="amazontitan",
        ),
        None,
        {
            "provider": "AMAZONTITAN",
            "similarity": "cosine",
            "dimensions": 1024,
            "rate_limit": {"requests_per_minute": 240},
        },
    ),
    (
        "anthropic",
        "completion",
        _settings(api_key="k", model_id="claude-sonnet-4-0"),
        {"max_tokens": 1024},
        {"rate_limit": {"requests_per_minute": 50}},
    ),
    (
        "azureaistudio",
        "completion",
        _settings(
            api_key="k", target="https://t.example", provider="OpenAI", endpoint_type="token"
        ),
        None,
        {"provider": "openai", "rate_limit": {"requests_per_minute": 240}},
    ),
    (
        "cohere",
        "text_embedding",
        _settings(api_key="k", model_id="embed-english-v3.0"),
        {"input_type": "INGEST", "truncate": "END"},
        {
            "embedding_type": "float",
            "similarity": "dot_product",
            "dimensions": 1024,
            "rate_limit": {"requests_per_minute": 10000},
        },
    ),
    (
        "contextualai",
        "rerank",
        _settings(api_key="k", model_id="ctxl-rerank-v2-instruct-multilingual"),
        {"top_n": 5},
        {"rate_limit": {"requests_per_minute": 1000}},
    ),
    (
        "custom",
        "text_embedding",
        _settings(
            secret_parameters={"api_key": "k"},
            url="https://c.example/embed",
            request='{"input": ${input}}',
            response={"json_parser": {"text_embeddings": "$.data[*].embedding[*]"}},
        ),
        None,
        {
            "batch_size": 10,
            "input_type": {"translation": {}, "default": ""},
            "response": {
                "json_parser": {
                    "text_embeddings": "$.data[*].embedding[*]",
                    "embedding_type": "float",
                }
            },
            "rate_limit": {"requests_per_minute": 10000},
        },
    ),
    (
        "deepseek",
        "chat_completion",
        _settings(api_key="k", model_id="deepseek-chat"),
        None,
        {"model_id": "deepseek-chat"},
    ),
    (
        "elasticsearch",
        "text_embedding",
        _settings(model_id=".multilingual-e5-small", num_allocations=1, num_threads=1),
        None,
        {"similarity": "cosine", "dimensions": 384, "element_type": "float"},
    ),
    (
        "elser",
        "sparse_embedding",
        _settings(num_allocations=1, num_threads=1),
        None,
        {"model_id": ".elser_model_2_linux-x86_64"},
    ),
    (
        "fireworksai",
        "text_embedding",
        _settings(api_key="k", model_id="nomic-ai/nomic-embed-text-v1.5"),
        None,
        {
            "url": "https://api.fireworks.ai/inference/v1/embeddings",
            "similarity": "cosine",
            "dimensions": 768,
            "rate_limit": {"requests_per_minute": 6000},
        },
    ),
    (
        "googleaistudio",
        "completion",
        _settings(api_key="k", model_id="gemini-2.5-flash"),
        None,
        {"rate_limit": {"requests_per_minute": 360}},
    ),
    (
        "googlevertexai",
        "chat_completion",
        _settings(
            service_account_json="{}",
            model_id="gemini-2.5-flash",
            project_id="p",
            location="us-central1",
        ),
        None,
        {"provider": "GOOGLE", "rate_limit": {"requests_per_minute": 1000}},
    ),
    (
        "groq",
        "chat_completion",
        _settings(api_key="k", model_id="llama-3.3-70b-versatile"),
        None,
        {"rate_limit": {"requests_per_minute": 1000}},
    ),
    (
        "hugging_face",
        "text_embedding",
        _settings(api_key="k", url="https://hf.example"),
        None,
        {"similarity": "cosine", "rate_limit": {"requests_per_minute": 3000}},
    ),
    (
        "jinaai",
        "embedding",
        _settings(api_key="k", model_id="jina-embeddings-v4"),
        None,
        {
            "embedding_type": "float",
            "multimodal_model": True,
            "similarity": "dot_product",
            "dimensions": 2048,
        },
    ),
    (
        "llama",
        "text_embedding",
        _settings(url="http://localhost:8321/v1/embeddings", model_id="all-MiniLM-L6-v2"),
        None,
        {"dimensions": 384, "rate_limit": {"requests_per_minute": 3000}},
    ),
    (
        "mistral",
        "text_embedding",
        _settings(api_key="k", model="mistral-embed"),
        None,
        {
            "dimensions": 1024,
            "similarity": "dot_product",
            "rate_limit": {"requests_per_minute": 240},
        },
    ),
    (
        "nvidia",
        "rerank",
        _settings(api_key="k", model_id="nv-rerank-qa-mistral-4b:1"),
        None,
        {
            "url": "https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking",
            "rate_limit": {"requests_per_minute": 3000},
        },
    ),
    (
        "openai",
        "text_embedding",
        _settings(api_key="k", model_id="text-embedding-3-small", dimensions=512),
        None,
        {
            "dimensions": 512,
            "similarity": "dot_product",
            "rate_limit": {"requests_per_minute": 3000},
        },
    ),
    (
        "voyageai",
        "rerank",
        _settings(api_key="k", model_id="rerank-2"),
        None,
        {"rate_limit": {"requests_per_minute": 2000}},
    ),
    (
        "watsonxai",
        "completion",
        _settings(
            api_key="k",
            url="https://w.example",
            api_version="2024-05-02",
            model_id="ibm/granite-13b",
            project_id="p",
        ),
        None,
        {"rate_limit": {"requests_per_minute": 120}},
    ),
]
NO_RATE_LIMIT = {"amazon_sagemaker", "deepseek", "elasticsearch", "elser"}


@pytest.mark.parametrize(
    ("service", "task_type", "settings", "task_settings", "filled"),
    OTHER_SERVICES,
    ids=[case[0] for case in OTHER_SERVICES],
)
def test_one_endpoint_per_other_service(
    sandbox: SandboxServer,
    service: str,
    task_type: str,
    settings: dict[str, Any],
    task_settings: dict[str, Any] | None,
    filled: dict[str, Any],
) -> None:
    body: dict[str, Any] = {"service": service, "service_settings": settings}
    if task_settings is not None:
        body["task_settings"] = task_settings
    with client(sandbox) as es:
        created = es.put(f"/_inference/{task_type}/my-{service.replace('_', '-')}", json=body)
        assert created.status_code == 200, created.text
        endpoint = created.json()
    assert endpoint["service"] == ("elasticsearch" if service == "elser" else service)
    assert {k: endpoint["service_settings"].get(k) for k in filled} == filled
    assert ("rate_limit" in endpoint["service_settings"]) == (service not in NO_RATE_LIMIT)
    assert ("chunking_settings" in endpoint) == (
        task_type in ("text_embedding", "sparse_embedding", "embedding")
    )
    for secret in (
        "api_key",
        "access_key",
        "secret_key",
        "service_account_json",
        "secret_parameters",
    ):
        assert secret not in endpoint["service_settings"]


@pytest.mark.parametrize(
    ("task_settings", "expected"),
    [
        ({"input_type": "INGEST", "truncate": "END"}, {"input_type": "ingest", "truncate": "end"}),
        ({}, None),
    ],
)
def test_enum_values_are_lowercased_and_empty_task_settings_omitted(
    sandbox: SandboxServer, task_settings: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    body = {
        "service": "cohere",
        "service_settings": {
            "api_key": "k",
            "model_id": "embed-english-v3.0",
            "embedding_type": "INT8",
            "similarity": "L2_NORM",
        },
        "task_settings": task_settings,
    }
    with client(sandbox) as es:
        endpoint = es.put("/_inference/text_embedding/co", json=body).json()
    assert endpoint.get("task_settings") == expected
    assert endpoint["service_settings"]["embedding_type"] == "byte"
    assert endpoint["service_settings"]["similarity"] == "l2_norm"


def test_server_fills_that_depend_on_the_task(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        studio = es.put(
            "/_inference/completion/studio",
            json={
                "service": "azureaistudio",
                "service_settings": {
                    "api_key": "k",
                    "target": "https://t",
                    "provider": "openai",
                    "endpoint_type": "token",
                },
            },
        ).json()
        rerank = es.put(
            "/_inference/rerank/es-rerank",
            json={
                "service": "elasticsearch",
                "service_settings": {
                    "model_id": ".rerank-v1",
                    "num_allocations": 1,
                    "num_threads": 1,
                },
            },
        ).json()
        nvidia = es.put(
            "/_inference/text_embedding/nv",
            json={
                "service": "nvidia",
                "service_settings": {
                    "api_key": "k",
                    "model_id": "nvidia/llama-3.2-nv-embedqa-1b-v2",
                },
            },
        ).json()
        vertex = es.put(
            "/_inference/rerank/vx",
            json={
                "service": "googlevertexai",
                "service_settings": {"service_account_json": "{}", "project_id": "p"},
            },
        ).json()
    assert studio["task_settings"] == {"max_new_tokens": 64}
    assert rerank["task_settings"] == {"return_documents": True}
    assert nvidia["service_settings"]["url"] == "https://integrate.api.nvidia.com/v1/embeddings"
    assert nvidia["service_settings"]["dimensions"] == 2048
    assert vertex["service_settings"]["rate_limit"] == {"requests_per_minute": 300}


def test_hidden_settings_are_accepted_but_not_shown(sandbox: SandboxServer) -> None:
    body = {
        "service": "cohere",
        "service_settings": {
            "api_key": "k",
            "model_id": "rerank-v3.5",
            "url": "https://cohere.example",
        },
    }
    with client(sandbox) as es:
        created = es.put("/_inference/rerank/co", json=body).json()
    assert created["service_settings"] == {
        "model_id": "rerank-v3.5",
        "rate_limit": {"requests_per_minute": 10000},
    }
    assert sandbox.store.endpoints["co"].hidden["url"] == "https://cohere.example"


def test_openshift_keeps_the_users_dimensions(sandbox: SandboxServer) -> None:
    body = {
        "service": "openshift_ai",
        "service_settings": {
            "url": "u",
            "api_key": "k",
            "dimensions": 1024,
            "rate_limit": {"requests_per_minute": 10},
        },
    }
    with client(sandbox) as es:
        settings = es.put("/_inference/text_embedding/os", json=body).json()["service_settings"]
    assert settings["dimensions"] == 1024
    assert settings["dimensions_set_by_user"] is True
    assert settings["rate_limit"] == {"requests_per_minute": 10}


SECRET_VALUES = [
    "sk-do-not-leak-1",
    "entra-do-not-leak-2",
    "aws-access-do-not-leak",
    "aws-secret-do-not-leak",
    "custom-do-not-leak",
]


def test_secrets_are_never_returned_nor_written_to_disk(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    data = tmp_path / "cluster.json"
    server = sandbox_factory(data_file=str(data), request_log_file=str(tmp_path / "log.jsonl"))
    bodies = [
        (
            "text_embedding/a",
            {"service": "azureopenai", "service_settings": {"api_key": SECRET_VALUES[0], **AZURE}},
        ),
        (
            "completion/b",
            {"service": "azureopenai", "service_settings": {"entra_id": SECRET_VALUES[1], **AZURE}},
        ),
        (
            "completion/c",
            {
                "service": "amazonbedrock",
                "service_settings": {
                    "access_key": SECRET_VALUES[2],
                    "secret_key": SECRET_VALUES[3],
                    "region": "r",
                    "model": "m",
                    "provider": "anthropic",
                },
            },
        ),
        (
            "rerank/d",
            {
                "service": "custom",
                "service_settings": {
                    "secret_parameters": {"token": SECRET_VALUES[4]},
                    "request": "x",
                    "response": {},
                },
            },
        ),
    ]
    seen = []
    with client(server) as es:
        for path, body in bodies:
            created = es.put(f"/_inference/{path}", json=body)
            assert created.status_code == 200, created.text
            seen.append(created.text)
        seen.append(es.get("/_inference/_all").text)
        seen.append(es.get("/_inference/a").text)
        seen.append(
            es.put(
                "/_inference/text_embedding/a/_update",
                json={"service_settings": {"api_key": "sk-rotated-do-not-leak"}},
            ).text
        )
    on_disk = data.read_text() + (tmp_path / "log.jsonl").read_text() + json.dumps(server.requests)
    for secret in [*SECRET_VALUES, "sk-rotated-do-not-leak"]:
        assert all(secret not in text for text in seen), secret
        assert secret not in on_disk, secret
    stored = read_data_file(data)["endpoints"]["c"]["secret_fingerprints"]
    assert set(stored) == {"access_key", "secret_key"}
    assert all(value.startswith("hmac-sha256:") for value in stored.values())


def test_every_task_type_of_every_service_can_be_created(sandbox: SandboxServer) -> None:
    from reconciler.sandbox.services import SERVICES

    base: dict[str, dict[str, Any]] = {
        "ai21": {"model_id": "m", "api_key": "k"},
        "alibabacloud-ai-search": {
            "api_key": "k",
            "service_id": "s",
            "host": "h",
            "workspace": "w",
        },
        "amazon_sagemaker": {
            "access_key": "a",
            "secret_key": "s",
            "endpoint_name": "e",
            "api": "openai",
            "region": "r",
        },
        "amazonbedrock": {
            "access_key": "a",
            "secret_key": "s",
            "region": "r",
            "model": "m",
            "provider": "meta",
        },
        "anthropic": {"api_key": "k", "model_id": "m"},
        "azureaistudio": {
            "api_key": "k",
            "target": "t",
            "provider": "openai",
            "endpoint_type": "token",
        },
        "azureopenai": {"api_key": "k", **AZURE},
        "cohere": {"api_key": "k", "model_id": "m"},
        "contextualai": {"api_key": "k", "model_id": "m"},
        "custom": {"secret_parameters": {"k": "v"}, "request": "r", "response": {}},
        "deepseek": {"api_key": "k", "model_id": "m"},
        "elastic": {"model_id": "m"},
        "elasticsearch": {"model_id": "m", "num_threads": 1, "num_allocations": 1},
        "elser": {"num_threads": 1, "num_allocations": 1},
        "fireworksai": {"api_key": "k", "model_id": "m"},
        "googleaistudio": {"api_key": "k", "model_id": "m"},
        "googlevertexai": {"service_account_json": "{}", "model_id": "m", "project_id": "p"},
        "groq": {"api_key": "k", "model_id": "m"},
        "hugging_face": {"api_key": "k", "url": "u"},
        "jinaai": {"api_key": "k", "model_id": "m"},
        "llama": {"url": "u", "model_id": "m"},
        "mistral": {"api_key": "k", "model": "m"},
        "nvidia": {"api_key": "k", "model_id": "m"},
        "openai": {"api_key": "k", "model_id": "m"},
        "openshift_ai": {"api_key": "k", "url": "u"},
        "voyageai": {"api_key": "k", "model_id": "m"},
        "watsonxai": {
            "api_key": "k",
            "url": "u",
            "api_version": "v",
            "model_id": "m",
            "project_id": "p",
        },
    }
    assert set(base) == set(SERVICES)
    created = 0
    sandbox.eis = True  # service elastic works only on a cluster connected to EIS
    with client(sandbox) as es:
        for service, spec in SERVICES.items():
            for task_type in spec["tasks"]:
                body: dict[str, Any] = {"service": service, "service_settings": base[service]}
                if service == "anthropic":
                    body["task_settings"] = {"max_tokens": 10}
                response = es.put(f"/_inference/{task_type}/e{created}", json=body)
                assert response.status_code == 200, (service, task_type, response.text)
                created += 1
        listed = es.get("/_inference").json()["endpoints"]
        assert len([e for e in listed if not e["inference_id"].startswith(".")]) == created
        assert len(listed) == created + 3 + 5  # in-cluster and EIS preconfigured endpoints
