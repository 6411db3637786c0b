"""The sandbox's own table of inference service facts.

Written by hand from Elasticsearch's source and specification (the API
shape, what the server fills in, what `_update` may change). It is
deliberately NOT derived from the reconciler's catalog (`schemas/`), so
that a mistake in one is caught by the other in the end-to-end tests and
by `reconciler doctor`. When each service, task type and field appeared is
`timeline.py`.

Owns: per service and task type, the accepted service/task settings with a
small type code, required fields, secret fields, rate-limit defaults,
similarity defaults, other server fills, and the fields the current
`_update` generation may change. The per-task view of it is `facts.py`;
parsing and filling live in `validation.py`.

Type codes: `str`, `int` (positive integer), `double` (JSON float only),
`bool`, `map`, `list`, `strlist`, `any`, `enum:a,b` (case-insensitive,
written lowercase), `ENUM:a,b` (written uppercase). A trailing `!` marks a
required field.
"""

from __future__ import annotations

from typing import Any

TASK_TYPES = (
    "text_embedding",
    "sparse_embedding",
    "rerank",
    "completion",
    "chat_completion",
    "embedding",
)
CHUNKED_TASKS = frozenset({"text_embedding", "sparse_embedding", "embedding"})
DENSE_TASKS = frozenset({"text_embedding", "embedding"})


class ByTask(dict):  # type: ignore[type-arg]
    """A value that differs per task type; key `*` is the fallback."""

    def pick(self, task_type: str) -> Any:
        return self.get(task_type, self.get("*"))


SIM = "enum:cosine,dot_product,l2_norm"
EMB = {"dimensions": "int", "similarity": SIM, "max_input_tokens": "int"}
NO_DIMS = {"similarity": SIM, "max_input_tokens": "int"}
INPUT4 = "enum:classification,clustering,ingest,search"
INPUT2 = "enum:ingest,search"
TRUNC = "enum:end,none,start"
RERANK_TS = {"return_documents": "bool", "top_n": "int"}
OPENAI_TS = {"user": "str", "headers": "map"}
DENSE_MUTABLE = ("rate_limit", "max_input_tokens")

# One entry per `service` value. Keys: tasks, secrets, secret_rule (all | one_of |
# optional), settings, embedding (extra settings for dense tasks), task_settings,
# required_task_settings, rate (requests per minute, None = no rate_limit field),
# similarity (dense default), fills / task_fills (written when absent), hidden
# (accepted and stored but never shown), mutable
# (current-generation `_update` service_settings keys besides secrets),
# task_update (merge | replace).
SERVICES: dict[str, dict[str, Any]] = {
    "ai21": dict(
        tasks=("completion", "chat_completion"),
        secrets=("api_key",),
        settings={"model_id": "str!"},
        rate=200,
        mutable=("rate_limit",),
    ),
    "alibabacloud-ai-search": dict(
        tasks=("completion", "rerank", "sparse_embedding", "text_embedding"),
        secrets=("api_key",),
        settings={
            "service_id": "str!",
            "host": "str!",
            "workspace": "str!",
            "http_schema": "enum:https,http",
        },
        task_settings=ByTask(
            text_embedding={"input_type": INPUT2},
            sparse_embedding={"input_type": INPUT2, "return_token": "bool"},
            completion={"parameters": "map"},
            rerank={},
        ),
        rate=1000,
        force_similarity="dot_product",
        mutable=ByTask(
            text_embedding=("http_schema", "rate_limit", "max_input_tokens"),
            **{"*": ("http_schema", "rate_limit")},
        ),
    ),
    "amazon_sagemaker": dict(
        tasks=("text_embedding", "completion", "chat_completion", "sparse_embedding", "rerank"),
        secrets=("access_key", "secret_key"),
        settings={
            "endpoint_name": "str!",
            "api": "enum:openai,elastic!",
            "region": "str!",
            "target_model": "str",
            "target_container_hostname": "str",
            "inference_component_name": "str",
            "batch_size": "int",
        },
        embedding={"dimensions": "int", "similarity": SIM, "element_type": "enum:byte,float,bit"},
        task_settings={
            "custom_attributes": "str",
            "enable_explanations": "str",
            "inference_id": "str",
            "session_id": "str",
            "target_variant": "str",
            "user": "str",
        },
        rate=None,
        mutable=("batch_size",),
        similarity=None,
        fills=ByTask(text_embedding={"dimensions_set_by_user": False}),
    ),
    "amazonbedrock": dict(
        tasks=("chat_completion", "completion", "text_embedding"),
        secrets=("access_key", "secret_key"),
        settings={
            "region": "str!",
            "model": "str!",
            "provider": "ENUM:amazontitan,anthropic,ai21labs,cohere,meta,mistral!",
        },
        embedding=NO_DIMS,
        task_settings=ByTask(
            text_embedding={"truncate": TRUNC},
            **{
                "*": {
                    "max_new_tokens": "int",
                    "temperature": "double",
                    "top_k": "double",
                    "top_p": "double",
                }
            },
        ),
        rate=240,
        similarity="cosine",
    ),
    "anthropic": dict(
        tasks=("completion", "chat_completion"),
        secrets=("api_key",),
        settings={"model_id": "str!", "url": "str"},
        task_settings={
            "max_tokens": "int!",
            "temperature": "double",
            "top_k": "int",
            "top_p": "double",
        },
        rate=50,
        mutable=("rate_limit",),
        task_update="replace",
    ),
    "azureaistudio": dict(
        tasks=("text_embedding", "completion", "rerank"),
        secrets=("api_key",),
        settings={
            "target": "str!",
            "provider": "enum:cohere,databricks,meta,microsoft_phi,mistral,openai!",
            "endpoint_type": "enum:token,realtime!",
        },
        task_settings=ByTask(
            text_embedding={"user": "str"},
            rerank=RERANK_TS,
            completion={
                "do_sample": "any",
                "max_new_tokens": "int",
                "temperature": "double",
                "top_p": "double",
            },
        ),
        rate=240,
        task_fills=ByTask(completion={"max_new_tokens": 64}),
    ),
    "azureopenai": dict(
        tasks=("text_embedding", "completion", "chat_completion"),
        secrets=("api_key", "entra_id", "client_secret"),
        secret_rule="one_of",
        settings={
            "resource_name": "str!",
            "deployment_id": "str!",
            "api_version": "str!",
            "client_id": "str",
            "scopes": "strlist",
            "tenant_id": "str",
        },
        oauth=("client_id", "scopes", "tenant_id"),
        task_settings=OPENAI_TS,
        rate=ByTask(text_embedding=1440, **{"*": 120}),
        mutable=ByTask(
            text_embedding=(*DENSE_MUTABLE, "client_id", "scopes", "tenant_id"),
            **{"*": ("rate_limit", "client_id", "scopes", "tenant_id")},
        ),
    ),
    "cohere": dict(
        tasks=("text_embedding", "rerank", "completion"),
        secrets=("api_key",),
        settings={"model_id": "str!", "url": "str"},
        hidden=("url",),
        embedding={**EMB, "embedding_type": "enum:byte,float,int8,binary,bit"},
        task_settings=ByTask(
            text_embedding={"input_type": INPUT4, "truncate": TRUNC},
            rerank={**RERANK_TS, "max_chunks_per_doc": "int"},
            completion={},
        ),
        rate=10000,
        fills=ByTask(text_embedding={"embedding_type": "float"}),
    ),
    "contextualai": dict(
        tasks=("rerank",),
        secrets=("api_key",),
        settings={"model_id": "str!"},
        task_settings={"instruction": "str", **RERANK_TS},
        rate=1000,
        task_update="replace",
    ),
    "custom": dict(
        tasks=("text_embedding", "sparse_embedding", "rerank", "completion"),
        secrets=("secret_parameters",),
        settings={
            "url": "str",
            "headers": "map",
            "query_parameters": "list",
            "request": "str!",
            "response": "map!",
            "input_type": "map",
            "batch_size": "int",
        },
        task_settings={"parameters": "map"},
        rate=10000,
        fills={"batch_size": 10, "input_type": {"translation": {}, "default": ""}},
        mutable=ByTask(
            text_embedding=(
                "url",
                "headers",
                "query_parameters",
                "request",
                "response",
                "rate_limit",
                "batch_size",
                "input_type",
                "max_input_tokens",
            ),
            **{
                "*": (
                    "url",
                    "headers",
                    "query_parameters",
                    "request",
                    "response",
                    "rate_limit",
                    "batch_size",
                    "input_type",
                )
            },
        ),
    ),
    "deepseek": dict(
        tasks=("completion", "chat_completion"),
        secrets=("api_key",),
        settings={"model_id": "str!", "url": "str"},
        rate=None,
        mutable=(),
    ),
    "elasticsearch": dict(
        tasks=("sparse_embedding", "text_embedding", "rerank"),
        secrets=(),
        settings=ByTask(
            rerank={
                "model_id": "str",
                "deployment_id": "str",
                "num_allocations": "int",
                "num_threads": "int",
                "adaptive_allocations": "map",
                "long_document_strategy": "enum:truncate,chunk",
                "max_chunks_per_doc": "int",
            },
            **{
                "*": {
                    "model_id": "str",
                    "deployment_id": "str",
                    "num_allocations": "int",
                    "num_threads": "int",
                    "adaptive_allocations": "map",
                }
            },
        ),
        embedding={"similarity": SIM, "element_type": "enum:byte,float,bit"},
        similarity="cosine",
        task_settings=ByTask(rerank={"return_documents": "bool"}, **{"*": {}}),
        rate=None,
        mutable=("num_allocations", "adaptive_allocations"),
        fills=ByTask(text_embedding={"element_type": "float"}),
        task_fills=ByTask(rerank={"return_documents": True}),
    ),
    "elser": dict(
        tasks=("sparse_embedding",),
        secrets=(),
        alias_of="elasticsearch",
        settings={
            "model_id": "str",
            "num_allocations": "int",
            "num_threads": "int!",
            "adaptive_allocations": "map",
        },
        rate=None,
        mutable=("num_allocations", "adaptive_allocations"),
        fills={"model_id": ".elser_model_2_linux-x86_64"},
    ),
    "fireworksai": dict(
        tasks=("chat_completion", "completion", "text_embedding"),
        secrets=("api_key",),
        settings={"model_id": "str!", "url": "str"},
        task_settings=ByTask(text_embedding={}, **{"*": OPENAI_TS}),
        rate=6000,
        similarity="cosine",
        fills=ByTask(text_embedding={"url": "https://api.fireworks.ai/inference/v1/embeddings"}),
    ),
    "googleaistudio": dict(
        tasks=("completion", "text_embedding"),
        secrets=("api_key",),
        settings={"model_id": "str!"},
        rate=360,
    ),
    "googlevertexai": dict(
        tasks=("chat_completion", "completion", "text_embedding", "rerank"),
        secrets=("service_account_json",),
        settings=ByTask(
            text_embedding={
                "location": "str",
                "project_id": "str!",
                "model_id": "str!",
                "max_batch_size": "int",
            },
            rerank={"location": "str", "project_id": "str!", "model_id": "str"},
            **{
                "*": {
                    "provider": "ENUM:google,anthropic,meta,hugging_face,mistral,ai21",
                    "location": "str",
                    "project_id": "str",
                    "model_id": "str",
                    "url": "str",
                    "streaming_url": "str",
                }
            },
        ),
        task_settings=ByTask(
            text_embedding={"auto_truncate": "bool", "input_type": INPUT4},
            rerank={"top_n": "int"},
            **{"*": {"thinking_config": "map", "max_tokens": "int"}},
        ),
        rate=ByTask(text_embedding=30000, rerank=300, **{"*": 1000}),
        fills=ByTask(chat_completion={"provider": "GOOGLE"}, completion={"provider": "GOOGLE"}),
        mutable=ByTask(text_embedding=(*DENSE_MUTABLE, "max_batch_size"), **{"*": ("rate_limit",)}),
    ),
    "groq": dict(
        tasks=("chat_completion",),
        secrets=("api_key",),
        settings={"model_id": "str!", "url": "str", "organization_id": "str"},
        task_settings=OPENAI_TS,
        rate=1000,
        mutable=("rate_limit", "organization_id"),
    ),
    "hugging_face": dict(
        tasks=("chat_completion", "completion", "rerank", "text_embedding"),
        secrets=("api_key",),
        settings=ByTask(
            chat_completion={"url": "str!", "model_id": "str"},
            completion={"url": "str!", "model_id": "str"},
            **{"*": {"url": "str!"}},
        ),
        task_settings=ByTask(rerank=RERANK_TS, **{"*": {}}),
        rate=3000,
        similarity="cosine",
    ),
    "jinaai": dict(
        tasks=("embedding", "rerank", "text_embedding"),
        secrets=("api_key",),
        settings={"model_id": "str!"},
        embedding=ByTask(
            embedding={
                **EMB,
                "embedding_type": "enum:float,bit,binary",
                "multimodal_model": "bool",
            },
            **{"*": {**EMB, "embedding_type": "enum:float,bit,binary"}},
        ),
        task_settings=ByTask(
            rerank=RERANK_TS, **{"*": {"input_type": INPUT4, "late_chunking": "bool"}}
        ),
        rate=2000,
        fills=ByTask(
            text_embedding={"embedding_type": "float"},
            embedding={"embedding_type": "float", "multimodal_model": True},
        ),
    ),
    "llama": dict(
        tasks=("text_embedding", "chat_completion", "completion"),
        secrets=("api_key",),
        secret_rule="optional",
        settings={"url": "str!", "model_id": "str!"},
        rate=3000,
    ),
    "mistral": dict(
        tasks=("text_embedding", "chat_completion", "completion"),
        secrets=("api_key",),
        settings={"model": "str!"},  # max_input_tokens: embeddings only (EMB)
        rate=240,
    ),
    "nvidia": dict(
        tasks=("chat_completion", "completion", "rerank", "text_embedding"),
        secrets=("api_key",),
        settings={"model_id": "str!", "url": "str"},
        embedding=NO_DIMS,
        task_settings=ByTask(text_embedding={"input_type": INPUT2, "truncate": TRUNC}, **{"*": {}}),
        rate=3000,
        fills=ByTask(
            text_embedding={"url": "https://integrate.api.nvidia.com/v1/embeddings"},
            rerank={"url": "https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking"},
            **{"*": {"url": "https://integrate.api.nvidia.com/v1/chat/completions"}},
        ),
    ),
    "openai": dict(
        tasks=("chat_completion", "completion", "text_embedding", "embedding"),
        secrets=("api_key", "client_secret"),
        secret_rule="one_of",
        settings={
            "model_id": "str!",
            "organization_id": "str",
            "url": "str",
            "client_id": "str",
            "scopes": "strlist",
            "token_url": "str",
            "max_input_tokens": "int",
        },
        oauth=("client_id", "scopes", "token_url"),
        task_settings=OPENAI_TS,
        rate=ByTask(text_embedding=3000, embedding=3000, **{"*": 500}),
        mutable=ByTask(
            completion=("organization_id", "max_input_tokens", "rate_limit"),
            chat_completion=("organization_id", "max_input_tokens", "rate_limit"),
            **{
                "*": (
                    "organization_id",
                    "max_input_tokens",
                    "rate_limit",
                    "client_id",
                    "scopes",
                    "token_url",
                )
            },
        ),
    ),
    "openshift_ai": dict(
        tasks=("text_embedding", "chat_completion", "completion", "rerank"),
        secrets=("api_key",),
        settings={"model_id": "str", "url": "str!"},
        task_settings=ByTask(rerank=RERANK_TS, **{"*": {}}),
        rate=3000,
    ),
    "voyageai": dict(
        tasks=("text_embedding", "rerank"),
        secrets=("api_key",),
        settings={"model_id": "str!"},
        embedding={**EMB, "embedding_type": "enum:float,int8,byte,bit,binary"},
        task_settings=ByTask(
            text_embedding={"input_type": INPUT2, "truncation": "bool"},
            rerank={"return_documents": "bool", "top_k": "int", "truncation": "bool"},
        ),
        rate=2000,
        fills=ByTask(text_embedding={"embedding_type": "float"}),
    ),
    "watsonxai": dict(
        tasks=("text_embedding", "rerank", "chat_completion", "completion"),
        secrets=("api_key",),
        settings={"url": "str!", "api_version": "str!", "model_id": "str!", "project_id": "str!"},
        task_settings=ByTask(rerank={**RERANK_TS, "truncate_input_tokens": "int"}, **{"*": {}}),
        rate=120,
    ),
}

# "Measured" embedding sizes: the sandbox calls no provider, so known models
# get their real size and anything else a stable default.
MEASURED_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "gritlm-7b": 4096,
    "embed-english-v3.0": 1024,
    "embed-multilingual-v3.0": 1024,
    "embed-english-light-v3.0": 384,
    "embed-v4.0": 1536,
    "jina-embeddings-v3": 1024,
    "jina-embeddings-v4": 2048,
    "jina-clip-v2": 1024,
    "mistral-embed": 1024,
    "text-embedding-004": 768,
    "text-embedding-005": 768,
    "gemini-embedding-001": 3072,
    "voyage-3": 1024,
    "voyage-3-large": 1024,
    "voyage-3.5": 1024,
    "voyage-3-lite": 512,
    "amazon.titan-embed-text-v1": 1536,
    "amazon.titan-embed-text-v2:0": 1024,
    "nvidia/llama-3.2-nv-embedqa-1b-v2": 2048,
    "nvidia/nv-embedqa-e5-v5": 1024,
    "ops-text-embedding-001": 1536,
    "ibm/slate-30m-english-rtrvr": 384,
    "nomic-ai/nomic-embed-text-v1.5": 768,
    ".multilingual-e5-small": 384,
    ".multilingual-e5-small_linux-x86_64": 384,
    "all-minilm-l6-v2": 384,
}
DEFAULT_DIMENSIONS = 1536
# Old layouts the server still reads as service_settings.model_id, in the order it looks:
# OpenAiService.moveModelFromTaskToServiceSettings takes task_settings.model, else
# task_settings.model_id, when service_settings has no model_id; CohereServiceSettings.fromMap
# reads service_settings.model and lets model_id win when both are given.
LEGACY_MODEL_KEYS = {
    "openai": (("task_settings", "model"), ("task_settings", "model_id")),
    "cohere": (("service_settings", "model"),),
}
# Settings read through ServiceUtils.createUri (java.net.URI); custom's url is a template.
URL_SETTINGS = ("url", "streaming_url")
MODEL_KEYS = ("model_id", "model", "deployment_id", "target", "service_id", "endpoint_name", "url")

# EIS has its own module (knob-gated, versioned task types, preconfigured endpoints); importing
# it adds its row to SERVICES, whichever of the two modules is imported first.
from . import eis as _eis  # noqa: E402,F401
