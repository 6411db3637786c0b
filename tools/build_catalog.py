"""One-off builder of ``schemas/catalog.json`` from the Elasticsearch reference notes.

``schemas/catalog.json`` is the single source of truth of the reconciler's service
knowledge. This script wrote its first version from two research files that are not
part of the repository (``services.json``: the specification; ``service-behaviour.json``:
what the server source does), then applied the hand decisions listed in ``SERVICES``
below. It is kept so that a future refresh of the reference notes can be merged with
``git diff``; nothing at run time or test time needs it or the reference files.

Usage: python tools/build_catalog.py [REFERENCE_DIR]   (default /work/shared/reference)

Where the specification and the server disagree, the decision and its reason are in the
``doc`` of the field or service concerned (``D:`` prefix), so they travel with the data.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "schemas" / "catalog.json"

TASK_ORDER = [
    "text_embedding",
    "sparse_embedding",
    "embedding",
    "rerank",
    "completion",
    "chat_completion",
]
EMBEDDING = ["text_embedding", "sparse_embedding", "embedding"]
FIRST_GEN = "8.17.0"  # _update exists; secrets, task_settings (merge), ES allocations
NEW_GEN = "9.5.0"  # per-service mutable lists, strict keys, chunking replacement

SIMILARITIES = ["cosine", "dot_product", "l2_norm"]

# --------------------------------------------------------------------------- helpers


def fld(type_: str, doc: str | None = None, **extra: Any) -> dict[str, Any]:
    field: dict[str, Any] = {"type": type_}
    if doc:
        field["doc"] = doc
    field.update(extra)
    return field


def rate_limit(doc: str | None = None) -> dict[str, Any]:
    return fld(
        "rate_limit",
        doc
        or "Client-side cap on requests per minute sent to the provider: {requests_per_minute: N}. "
        "Left out, the server writes the service default (see server_filled).",
    )


def similarity(task_types: list[str] | None, doc: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"enum": SIMILARITIES, "case": "lower"}
    if task_types:
        extra["task_types"] = task_types
    return fld(
        "string",
        doc or "Similarity measure of the embeddings; written lower-case by the server.",
        **extra,
    )


def dimensions(task_types: list[str] | None, doc: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"minimum": 1}
    if task_types:
        extra["task_types"] = task_types
    return fld(
        "integer",
        doc
        or "Embedding size. Left out, the server measures it on creation; if given it must match the model.",
        **extra,
    )


def max_input_tokens(task_types: list[str] | None, doc: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"minimum": 1}
    if task_types:
        extra["task_types"] = task_types
    return fld(
        "integer", doc or "Maximum number of tokens per input before truncation/chunking.", **extra
    )


def secret(doc: str) -> dict[str, Any]:
    return fld("string", doc, secret=True)


def rl_fill(rpm: int) -> dict[str, Any]:
    return {"service_settings.rate_limit": {"requests_per_minute": rpm}}


def emb_fill(sim: Any = "dot_product", dims: Any = "*", **more: Any) -> dict[str, Any]:
    filled = {"service_settings.dimensions": dims}
    if sim is not None:
        filled["service_settings.similarity"] = sim
    for key, value in more.items():
        filled[key] = value
    return filled


def merge(*parts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        out.update(part)
    return out


def upd(
    *,
    ss: tuple[str, ...] = (),
    ss_first_gen: tuple[str, ...] = (),
    ts: str | list[str] | None = "*",
    mode: str | None = "merge",
    chunking: bool = False,
    secrets: bool = True,
    together: bool = False,
) -> dict[str, Any]:
    """An update entry before clamping to the service's `since`."""
    service_settings = {name: FIRST_GEN for name in ss_first_gen}
    service_settings.update({name: NEW_GEN for name in ss})
    if ts is None:
        task_settings: dict[str, str] = {}
        mode = None
    elif ts == "*":
        task_settings = {"*": FIRST_GEN}
    else:
        task_settings = {name: FIRST_GEN for name in ts}
    return {
        "service_settings": service_settings,
        "task_settings": task_settings,
        "task_settings_mode": mode,
        "chunking_settings": NEW_GEN if chunking else None,
        "secrets": FIRST_GEN if secrets else None,
        "secrets_together": together,
    }


DSBU_DOC = (
    "dimensions_set_by_user: stored by the server (true iff dimensions were sent at creation); "
    "not accepted in requests. Not shown by GET in the versions read, listed defensively so a "
    "version that shows it is not reported as drift."
)

# --------------------------------------------------------------------------- services
# Each entry: doc; ss/ts = fields added or replaced (None removes); required; rules;
# required_task_settings; server_filled; hidden; response_only; update (per task type
# or "*"); drop_task_types. Fields not named keep their services.json definition.

SERVICES: dict[str, dict[str, Any]] = {
    "ai21": {
        "doc": "AI21 Labs (Jamba models) chat and completion.",
        "ss": {
            "api_key": secret(
                "AI21 API key; given once at creation, never returned. D: required here although the spec "
                "types it optional: it is the only credential and the creation call fails without it."
            ),
        },
        "required": {"*": ["model_id", "api_key"]},
        "server_filled": {"*": rl_fill(200)},
        "update": {"*": upd(ss=("rate_limit",), ts=None)},
    },
    "alibabacloud-ai-search": {
        "doc": "AlibabaCloud AI Search (OpenSearch) embeddings, sparse embeddings, rerank and completion.",
        "ss": {
            "http_schema": fld(
                "string",
                "http or https for calls to host (server source; not in the spec). Left out when unset.",
                enum=["https", "http"],
            ),
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
        },
        "ts": {
            "input_type": fld(
                "string",
                "Whether input is documents being stored (ingest) or queries (search); written lower-case.",
                enum=["ingest", "search"],
                case="lower",
                task_types=["sparse_embedding", "text_embedding"],
            ),
            "parameters": fld(
                "map",
                "Extra model parameters for completion (server source; not in the spec). Merged key by key on _update; keys cannot be removed in place.",
                values="any",
                task_types=["completion"],
            ),
        },
        "response_only": {
            "service_settings.dimensions": "Measured embedding size; the server overwrites any value, so it is not declarable.",
            "service_settings.similarity": "D: the server FORCES dot_product (AlibabaCloudSearchService.updateModelWithEmbeddingDetails), "
            "overriding a user value, so similarity is not declarable here.",
        },
        "server_filled": {
            "*": rl_fill(1000),
            "text_embedding": merge(rl_fill(1000), emb_fill("dot_product")),
        },
        "update": {
            "text_embedding": upd(
                ss=("rate_limit", "http_schema", "max_input_tokens"), chunking=True
            ),
            "sparse_embedding": upd(ss=("rate_limit", "http_schema"), chunking=True),
            "rerank": upd(ss=("rate_limit", "http_schema"), ts=None),
            "completion": upd(ss=("rate_limit", "http_schema")),
        },
    },
    "amazon_sagemaker": {
        "doc": "Amazon SageMaker real-time endpoints (payload format openai or elastic). No rate_limit.",
        "ss": {
            "similarity": similarity(
                ["text_embedding"],
                "Similarity for text_embedding; needed when api=elastic. Written lower-case.",
            ),
            "element_type": fld(
                "string",
                "Element type of the embeddings (needed when api=elastic, text_embedding); written lower-case.",
                enum=["byte", "float", "bit"],
                case="lower",
                task_types=["text_embedding"],
            ),
            "batch_size": fld(
                "integer",
                "Max inputs per endpoint call during ingest (no default written).",
                minimum=1,
            ),
            "dimensions": dimensions(
                ["text_embedding"],
                "Embedding size; detected by calling the endpoint when left out.",
            ),
        },
        "ts": {
            "user": fld("string", "End-user id; only meaningful with api=openai."),
        },
        "response_only": {
            "service_settings.dimensions_set_by_user": "Exposed by GET with api=elastic and reset to false by the server.",
        },
        "server_filled": {
            "text_embedding": {
                "service_settings.dimensions": "*",
                "service_settings.dimensions_set_by_user": "*",
            },
        },
        "update": {
            "*": upd(ss=("batch_size",), together=True),
            "text_embedding": upd(ss=("batch_size",), together=True, chunking=True),
            "sparse_embedding": upd(ss=("batch_size",), together=True, chunking=True),
        },
    },
    "amazonbedrock": {
        "doc": "Amazon Bedrock foundation models (embeddings, completion, chat). Keys are rotated together in place "
        "(D: the create API text says keys cannot change after creation; the update API and the server source allow "
        "rotating access_key+secret_key together, and we follow the server).",
        "ss": {
            "provider": fld(
                "string",
                "Model provider; each provider supports only some task types. The server writes it UPPER-case "
                "(AMAZONTITAN). D: required here although the spec types it optional (every example sets it).",
                enum=["amazontitan", "anthropic", "ai21labs", "cohere", "meta", "mistral"],
                case="upper",
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity (server source; not in the spec). Cosine when left out.",
            ),
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
        },
        "ts": {
            "temperature": fld(
                "number",
                "Randomness 0.0-1.0; sent as a JSON float.",
                minimum=0,
                maximum=1,
                task_types=["chat_completion", "completion"],
            ),
            "top_p": fld(
                "number",
                "Nucleus sampling 0.0-1.0; sent as a JSON float.",
                minimum=0,
                maximum=1,
                task_types=["chat_completion", "completion"],
            ),
            "top_k": fld(
                "number",
                "Sample from the top-K tokens; only the anthropic, cohere and mistral providers (else 400). Sent as a JSON float.",
                minimum=0,
                task_types=["chat_completion", "completion"],
            ),
            "max_new_tokens": fld(
                "integer",
                "Maximum output tokens (provider default 64, not written by the server).",
                minimum=1,
                task_types=["chat_completion", "completion"],
            ),
            "truncate": fld(
                "string",
                "Truncation of over-long input; cohere provider only (server source; not in the spec). Written lower-case.",
                enum=["end", "none", "start"],
                case="lower",
                task_types=["text_embedding"],
            ),
        },
        "required": {"*": ["access_key", "secret_key", "model", "region", "provider"]},
        "response_only": {
            "service_settings.dimensions": "Measured on creation; the server rejects dimensions in a request (400).",
            "service_settings.dimensions_set_by_user": DSBU_DOC,
        },
        "server_filled": {
            "*": rl_fill(240),
            "text_embedding": merge(rl_fill(240), emb_fill("cosine")),
        },
        "update": {
            "*": upd(ss=("rate_limit",), together=True),
            "text_embedding": upd(
                ss=("rate_limit", "max_input_tokens"), together=True, chunking=True
            ),
        },
    },
    "anthropic": {
        "doc": "Anthropic Claude models (completion; chat_completion streaming only). task_settings.max_tokens is required "
        "and an _update of task_settings REPLACES them (repeat every key).",
        "ss": {
            "url": fld(
                "string",
                "Endpoint URL override (server source; not in the spec); no default is written.",
            ),
        },
        "ts": {
            "max_tokens": fld(
                "integer",
                "Maximum tokens to generate. D: required (spec: non-optional; server: required at PUT).",
                minimum=1,
            ),
            "temperature": fld("number", "Sampling randomness; sent as a JSON float."),
            "top_p": fld("number", "Nucleus sampling (advanced); sent as a JSON float."),
            "top_k": fld(
                "integer",
                "Sample only from the top K tokens (advanced). Note: the newest stored server code writes top_k under "
                "the key top_p in GET output (a server bug), so a declared top_k may read back as top_p.",
                minimum=1,
            ),
        },
        "required_task_settings": {"completion": ["max_tokens"], "chat_completion": ["max_tokens"]},
        "server_filled": {"*": rl_fill(50)},
        "update": {"*": upd(ss=("rate_limit",), mode="replace")},
    },
    "azureaistudio": {
        "doc": "Azure AI Studio / Azure AI Foundry deployments (embeddings, completion, rerank).",
        "ss": {
            "endpoint_type": fld(
                "string",
                "token (pay per token) or realtime (per hour); written lower-case.",
                enum=["token", "realtime"],
                case="lower",
            ),
            "provider": fld(
                "string",
                "Model provider of the deployment; limits the usable task types. Written lower-case.",
                enum=["cohere", "databricks", "meta", "microsoft_phi", "mistral", "openai"],
                case="lower",
            ),
            "dimensions": dimensions(
                ["text_embedding"],
                "Embedding size (server source; not in the spec); must match the model.",
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity (server source; not in the spec); dot_product when left out.",
            ),
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
        },
        "ts": {
            "do_sample": fld(
                "number",
                "Enable sampling (spec types it float); only matters with temperature or top_p.",
                task_types=["completion"],
            ),
            "temperature": fld(
                "number",
                "Sampling temperature 0.0-2.0; not with top_p. Sent as a JSON float.",
                minimum=0,
                maximum=2,
                task_types=["completion"],
            ),
            "top_p": fld(
                "number",
                "Nucleus sampling 0.0-2.0; not with temperature. Sent as a JSON float.",
                minimum=0,
                maximum=2,
                task_types=["completion"],
            ),
            "max_new_tokens": fld(
                "integer",
                "Maximum output tokens; the server writes 64 when left out.",
                minimum=1,
                task_types=["completion"],
            ),
            "top_n": fld(
                "integer",
                "How many top documents to return; defaults to all.",
                minimum=1,
                task_types=["rerank"],
            ),
        },
        "response_only": {"service_settings.dimensions_set_by_user": DSBU_DOC},
        "server_filled": {
            "text_embedding": merge(rl_fill(240), emb_fill("dot_product")),
            "completion": merge(rl_fill(240), {"task_settings.max_new_tokens": 64}),
            "rerank": rl_fill(240),
        },
        "update": {
            "*": upd(ss=("rate_limit",)),
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), chunking=True),
        },
    },
    "azureopenai": {
        "doc": "Azure OpenAI Service (embeddings, completion; chat_completion streaming only). Exactly one credential: "
        "api_key, entra_id, or the OAuth2 client-credentials group.",
        "ss": {
            "api_key": secret(
                "Azure OpenAI API key. Exactly one of api_key, entra_id, client_secret."
            ),
            "entra_id": secret(
                "Microsoft Entra ID token. Exactly one of api_key, entra_id, client_secret."
            ),
            "client_secret": secret(
                "OAuth2 client-credentials secret; counts as the one credential and needs client_id, scopes and tenant_id."
            ),
            "client_id": fld(
                "string",
                "OAuth2 client-credentials application id (with client_secret, scopes, tenant_id).",
            ),
            "scopes": fld(
                "array",
                "OAuth2 scopes, e.g. the resource URI suffixed with /.default.",
                items="string",
                min_items=1,
            ),
            "tenant_id": fld("string", "OAuth2 directory (tenant) id."),
            "dimensions": dimensions(
                ["text_embedding"],
                "Embedding size (text-embedding-3 models). D: declared although the spec does not: the server parses it "
                "and the response example echoes it.",
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity; dot_product when left out. D: declared although the spec does not (server source, response example).",
            ),
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
            "rate_limit": rate_limit(
                "Requests per minute. Defaults: text_embedding 1440, completion/chat_completion 120. D: 1440, not the "
                "1140 of the spec's response example (a typo against the documented default and the server constant)."
            ),
        },
        "ts": {
            "headers": fld(
                "map",
                "Extra HTTP headers sent to Azure (a free-form map of strings); replaced whole on _update.",
                values="string",
            ),
        },
        "rules": [
            {"exactly_one_of": ["api_key", "entra_id", "client_secret"]},
            {"all_or_none": ["client_id", "scopes", "tenant_id", "client_secret"]},
        ],
        "response_only": {"service_settings.dimensions_set_by_user": DSBU_DOC},
        "server_filled": {
            "text_embedding": merge(rl_fill(1440), emb_fill("dot_product")),
            "completion": rl_fill(120),
            "chat_completion": rl_fill(120),
        },
        "update": {
            "*": upd(ss=("rate_limit", "client_id", "scopes", "tenant_id")),
            "text_embedding": upd(
                ss=("rate_limit", "max_input_tokens", "client_id", "scopes", "tenant_id"),
                chunking=True,
            ),
        },
    },
    "cohere": {
        "doc": "Cohere embeddings, rerank and completion.",
        "ss": {
            "embedding_type": fld(
                "string",
                "Embedding element type; float when left out. The server rewrites int8 as byte and binary as bit.",
                enum=["binary", "bit", "byte", "float", "int8"],
                case="lower",
                aliases={"int8": "byte", "binary": "bit"},
                task_types=["text_embedding"],
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity; left out, dot_product for float and cosine for int8/byte embeddings (server_filled '*').",
            ),
            "dimensions": dimensions(
                ["text_embedding"], "Embedding size (server source; not in the spec)."
            ),
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
            "url": fld(
                "string",
                "Endpoint URL override (server source; not in the spec). Stored but not shown by GET in the newest server code (hidden).",
            ),
        },
        "ts": {
            "input_type": fld(
                "string",
                "Purpose of the input text; written lower-case. D: optional here although the spec declares it "
                "non-optional: it is needed only by embed v3+ models and the server does not require it.",
                enum=["classification", "clustering", "ingest", "search"],
                case="lower",
                task_types=["text_embedding"],
            ),
            "truncate": fld(
                "string",
                "Over-long input: drop the end, error, or drop the start. The docs write START/END; the server writes lower-case.",
                enum=["end", "none", "start"],
                case="lower",
                task_types=["text_embedding"],
            ),
            "top_n": fld(
                "integer",
                "How many top documents to return (default: all).",
                minimum=1,
                task_types=["rerank"],
            ),
            "max_chunks_per_doc": fld(
                "integer",
                "Cap on chunks per document (server source; not in the spec).",
                minimum=1,
                task_types=["rerank"],
            ),
        },
        "hidden": ["service_settings.url"],
        "server_filled": {
            "*": rl_fill(10000),
            "text_embedding": merge(
                rl_fill(10000), emb_fill("*", **{"service_settings.embedding_type": "float"})
            ),
        },
        "update": {
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), chunking=True),
            "rerank": upd(ss=("rate_limit",)),
            "completion": upd(ss=("rate_limit",), ts=None),
        },
        "notes_doc": "api_version is not accepted in requests by the newest server (400) and never shown, so it is not a field. "
        "The deprecated `model` alias of model_id is not declared.",
    },
    "contextualai": {
        "doc": "Contextual AI reranker. An _update of task_settings REPLACES them (unsent keys are cleared).",
        "ts": {
            "instruction": fld("string", "Natural-language instruction for the reranker."),
            "top_k": None,
            "top_n": fld(
                "integer",
                "How many top documents to return (default: all). D: the spec names this top_k; the server reads top_n "
                "and would reject top_k as an unknown setting, so top_n is declared.",
                minimum=1,
            ),
            "return_documents": fld(
                "boolean", "Include document text in results (server source; not in the spec)."
            ),
        },
        "server_filled": {"*": rl_fill(1000)},
        "update": {"*": upd(ss=("rate_limit",), mode="replace")},
    },
    "custom": {
        "doc": "Custom HTTP service described by request/response templates; secrets live in secret_parameters.",
        "ss": {
            "headers": fld(
                "map",
                "HTTP headers to send (free-form map of strings; may contain ${...} templates).",
                values="string",
            ),
            "input_type": fld(
                "object",
                "Maps input_type contexts to strings substituted for ${input_type}. The server always writes "
                "{translation: {}, default: ''} when left out. D: follows the field doc and examples "
                "({translation, default}), not the spec's map-keyed-by-input-type typing.",
                properties={
                    "translation": fld(
                        "map",
                        "input type (classification, clustering, ingest, search) -> string; keys are lower-cased and sorted by the server.",
                        values="string",
                    ),
                    "default": fld("string", "Used when the context has no translation."),
                },
            ),
            "query_parameters": fld(
                "array",
                "List of [key, value] string pairs appended to the URL; keys may repeat.",
                items=fld("array", items="string", min_items=2, max_items=2),
            ),
            "request": fld(
                "string",
                "Request body template (a JSON string) with ${...} placeholders. D: a plain string as in the field doc, "
                "every example and the server; the spec's {content: ...} object form is not accepted.",
            ),
            "response": fld(
                "object",
                "How to parse the upstream response.",
                properties={
                    "json_parser": fld(
                        "map",
                        "JSON paths by task type: text_embedding text_embeddings (+ embedding_type float|byte|bit; the "
                        "server writes embedding_type float when left out, so declare it to avoid reported drift), "
                        "sparse_embedding token_path/weight_path, rerank relevance_score (+ reranked_index, document_text), "
                        "completion completion_result.",
                        values="string",
                    ),
                },
                required=["json_parser"],
            ),
            "secret_parameters": fld(
                "map",
                "Secret values usable as ${name} templates; every value must be a ${env:..}/${file:..} reference. "
                "Replaced whole when sent in _update.",
                values="string",
                secret=True,
            ),
            "rate_limit": rate_limit(
                "Requests per minute (server default 10000). D: declared although the spec has no rate_limit for custom; "
                "the server source has one, fills it and lets _update change it."
            ),
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity (server source; not in the spec); dot_product when left out.",
            ),
            "dimensions": dimensions(
                ["text_embedding"], "Embedding size (server source; not in the spec)."
            ),
        },
        "ts": {
            "parameters": fld(
                "map",
                "Extra values (string, number or boolean) usable as ${name} templates; keys must not collide with "
                "secret_parameters. Merged key by key on _update.",
                values="any",
            ),
        },
        "server_filled": {
            "*": merge(
                rl_fill(10000),
                {
                    "service_settings.batch_size": 10,
                    "service_settings.input_type": {"translation": {}, "default": ""},
                },
            ),
            "text_embedding": merge(
                rl_fill(10000),
                {
                    "service_settings.batch_size": 10,
                    "service_settings.input_type": {"translation": {}, "default": ""},
                },
                emb_fill("dot_product"),
            ),
        },
        "update": {
            "*": upd(
                ss=(
                    "url",
                    "headers",
                    "query_parameters",
                    "request",
                    "response",
                    "rate_limit",
                    "batch_size",
                    "input_type",
                )
            ),
            "sparse_embedding": upd(
                ss=(
                    "url",
                    "headers",
                    "query_parameters",
                    "request",
                    "response",
                    "rate_limit",
                    "batch_size",
                    "input_type",
                ),
                chunking=True,
            ),
            "text_embedding": upd(
                ss=(
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
                chunking=True,
            ),
        },
    },
    "deepseek": {
        "doc": "DeepSeek chat and completion. No rate_limit (the server rejects it); only the api_key can change in place.",
        "ss": {
            "url": fld(
                "string",
                "Endpoint URL override; the internal default https://api.deepseek.com/chat/completions is not written.",
            )
        },
        "server_filled": {},
        "update": {"*": upd(ts=None)},
    },
    "elasticsearch": {
        "doc": "Models deployed in the cluster's ML nodes (ELSER, E5, the Elastic reranker, Eland uploads). No secrets, "
        "no rate_limit. Either model_id (+ num_threads) or an existing deployment_id.",
        "ss": {
            "model_id": fld(
                "string",
                "Built-in model id (.elser_model_2, .multilingual-e5-small, .rerank-v1) or an Eland model; must differ "
                "from inference_id. Optional with deployment_id, but the server copies it (and num_threads) from the "
                "deployment and GET shows them, so declare them too to avoid reported drift.",
            ),
            "num_threads": fld(
                "integer",
                "Threads per allocation: a power of 2, at most 32. Needed with model_id; copied from the deployment with deployment_id.",
                enum=[1, 2, 4, 8, 16, 32],
            ),
            "num_allocations": fld(
                "integer",
                "Allocations across ML nodes; leave out with adaptive allocations. GET refreshes it from live stats.",
                minimum=1,
            ),
            "adaptive_allocations": fld(
                "object",
                "Autoscaling of allocations by load; when enabled, do not set num_allocations.",
                properties={
                    "enabled": fld("boolean", "Turns adaptive allocations on."),
                    "min_number_of_allocations": fld("integer", "Lower bound (>= 0).", minimum=0),
                    "max_number_of_allocations": fld(
                        "integer", "Upper bound; >= min_number_of_allocations.", minimum=1
                    ),
                },
            ),
            "long_document_strategy": fld(
                "string",
                "Long-document handling of the Elastic reranker (experimental).",
                enum=["truncate", "chunk"],
                task_types=["rerank"],
            ),
            "max_chunks_per_doc": fld(
                "integer",
                "Cap on chunks per document when chunking (experimental).",
                minimum=1,
                task_types=["rerank"],
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity of a custom (Eland) text embedding model; cosine when left out.",
            ),
            "element_type": fld(
                "string",
                "Element type of a custom (Eland) text embedding model; float when left out.",
                enum=["byte", "float", "bit"],
                case="lower",
                task_types=["text_embedding"],
            ),
        },
        "required": {"*": []},
        "rules": [{"requires": "model_id", "fields": ["num_threads"]}],
        "response_only": {
            "service_settings.dimensions": "Measured for Eland models; not accepted in a request (400).",
        },
        "server_filled": {
            "*": {"service_settings.num_allocations": "*"},
            "text_embedding": {
                "service_settings.num_allocations": "*",
                "service_settings.dimensions": "*",
                "service_settings.similarity": "*",
                "service_settings.element_type": "*",
            },
            "rerank": {
                "service_settings.num_allocations": "*",
                "task_settings.return_documents": True,
            },
        },
        "update": {
            "*": upd(
                ss_first_gen=("num_allocations", "adaptive_allocations"),
                ts=None,
                secrets=False,
                chunking=True,
            ),
            "rerank": upd(ss_first_gen=("num_allocations", "adaptive_allocations"), secrets=False),
        },
        "notes_doc": "num_allocations and adaptive_allocations are not constrained against each other: GET refreshes "
        "num_allocations from live stats even under adaptive allocations, so an imported spec may hold both. On _update "
        "exactly one of them may be sent and the other is cleared.",
    },
    "elser": {
        "doc": "DEPRECATED since 8.16.0: use the elasticsearch service with model_id .elser_model_2. An alias of "
        "elasticsearch: the server stores and returns service 'elasticsearch'.",
        "ss": {
            "num_allocations": fld(
                "integer",
                "Allocations across ML nodes. Exactly one of num_allocations and adaptive_allocations.",
                minimum=1,
            ),
            "num_threads": fld(
                "integer",
                "Threads per allocation: a power of 2, at most 32.",
                enum=[1, 2, 4, 8, 16, 32],
            ),
            "adaptive_allocations": fld(
                "object",
                "Autoscaling of allocations by load. Exactly one of num_allocations and adaptive_allocations.",
                properties={
                    "enabled": fld("boolean", "Turns adaptive allocations on."),
                    "min_number_of_allocations": fld("integer", "Lower bound (>= 0).", minimum=0),
                    "max_number_of_allocations": fld(
                        "integer", "Upper bound; >= min_number_of_allocations.", minimum=1
                    ),
                },
            ),
        },
        "required": {"*": ["num_threads"]},
        "rules": [{"exactly_one_of": ["num_allocations", "adaptive_allocations"]}],
        "response_only": {
            "service_settings.model_id": "The server picks .elser_model_2 or .elser_model_2_linux-x86_64 and returns it.",
        },
        "server_filled": {
            "sparse_embedding": {
                "service_settings.model_id": "*",
                "service_settings.num_allocations": "*",
            },
        },
        "update": {
            "*": upd(
                ss_first_gen=("num_allocations", "adaptive_allocations"),
                ts=None,
                secrets=False,
                chunking=True,
            )
        },
        "chunking_limits": {"max_chunk_size": {"maximum": 300}},
    },
    "fireworksai": {
        "doc": "Fireworks AI embeddings, completion and chat.",
        "ss": {
            "url": fld(
                "string",
                "Endpoint URL override. For text_embedding the server writes https://api.fireworks.ai/inference/v1/embeddings when left out.",
            ),
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
            "similarity": similarity(["text_embedding"], "Similarity; cosine when left out."),
            "dimensions": dimensions(
                ["text_embedding"],
                "Requested embedding size (variable-length embeddings); must match the model.",
            ),
        },
        "ts": {
            "headers": fld(
                "map",
                "Extra HTTP headers (free-form map of strings); replaced whole on _update.",
                values="string",
                task_types=["completion", "chat_completion"],
            ),
        },
        "response_only": {"service_settings.dimensions_set_by_user": DSBU_DOC},
        "server_filled": {
            "*": rl_fill(6000),
            "text_embedding": merge(
                rl_fill(6000),
                emb_fill(
                    "cosine",
                    **{"service_settings.url": "https://api.fireworks.ai/inference/v1/embeddings"},
                ),
            ),
        },
        "update": {
            "*": upd(ss=("rate_limit",)),
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), ts=None, chunking=True),
        },
        "notes_doc": "D: task_settings only for completion/chat_completion as in the spec; one stored server class "
        "had embedding task settings, unverified, not declared.",
    },
    "googleaistudio": {
        "doc": "Google AI Studio (Gemini API) embeddings and completion. No task settings.",
        "ss": {
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
            "dimensions": dimensions(
                ["text_embedding"], "Embedding size (server source; not in the spec)."
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity (server source; not in the spec); dot_product when left out.",
            ),
        },
        "server_filled": {
            "*": rl_fill(360),
            "text_embedding": merge(rl_fill(360), emb_fill("dot_product")),
        },
        "update": {
            "*": upd(ss=("rate_limit",), ts=None),
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), ts=None, chunking=True),
        },
    },
    "googlevertexai": {
        "doc": "Google Vertex AI (embeddings, rerank, completion, chat) and Model Garden third-party providers "
        "(completion/chat only). Authenticates with a service account key JSON.",
        "ss": {
            "provider": fld(
                "string",
                "Leave out or google for Vertex AI; another value selects a Model Garden provider. The server writes it "
                "UPPER-case and fills GOOGLE when left out.",
                enum=["google", "anthropic", "meta", "hugging_face", "mistral", "ai21"],
                case="upper",
                task_types=["completion", "chat_completion"],
            ),
            "location": fld(
                "string",
                "GCP region; leave out for the global endpoint (an empty string is invalid).",
                min_length=1,
            ),
            "model_id": fld(
                "string",
                "Model name. Required for text_embedding; optional for rerank (example omits it); for completion/chat "
                "required with Vertex AI proper and used only by some Model Garden providers.",
            ),
            "project_id": fld(
                "string",
                "GCP project. Required for text_embedding and rerank; for completion/chat required with Vertex AI proper, ignored by Model Garden.",
            ),
            "max_batch_size": fld(
                "integer",
                "Batch size of chunked requests (the server uses 250 when left out and does not write it).",
                minimum=1,
                maximum=250,
                task_types=["text_embedding"],
            ),
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity (server source; not in the spec); dot_product when left out.",
            ),
            "rate_limit": rate_limit(
                "Requests per minute. D: server defaults per task type (text_embedding 30000, rerank 300, completion/chat 1000) "
                "rather than the spec's single 30000."
            ),
        },
        "ts": {
            "input_type": fld(
                "string",
                "Purpose of the input text (server source; not in the spec); written lower-case.",
                enum=["classification", "clustering", "ingest", "search"],
                case="lower",
                task_types=["text_embedding"],
            ),
            "top_n": fld(
                "integer", "How many top documents to return.", minimum=1, task_types=["rerank"]
            ),
            "thinking_config": fld(
                "object",
                "Thinking configuration; replaced whole on _update.",
                properties={"thinking_budget": fld("integer", "Desired thinking token budget.")},
                task_types=["completion", "chat_completion"],
            ),
            "max_tokens": fld(
                "integer",
                "max_tokens for the Model Garden anthropic provider (ignored otherwise). The server writes null when "
                "other task settings are set and this is not (server_filled '*').",
                minimum=1,
                task_types=["completion", "chat_completion"],
            ),
        },
        "required": {
            "*": ["service_account_json"],
            "text_embedding": ["model_id", "project_id"],
            "rerank": ["project_id"],
        },
        "response_only": {"service_settings.dimensions_set_by_user": DSBU_DOC},
        "server_filled": {
            "text_embedding": merge(rl_fill(30000), emb_fill("dot_product")),
            "rerank": rl_fill(300),
            "completion": merge(
                rl_fill(1000),
                {"service_settings.provider": "GOOGLE", "task_settings.max_tokens": "*"},
            ),
            "chat_completion": merge(
                rl_fill(1000),
                {"service_settings.provider": "GOOGLE", "task_settings.max_tokens": "*"},
            ),
        },
        "update": {
            "*": upd(ss=("rate_limit",)),
            "text_embedding": upd(
                ss=("rate_limit", "max_input_tokens", "max_batch_size"), chunking=True
            ),
        },
    },
    "groq": {
        "doc": "Groq chat completion (OpenAI-compatible).",
        "ss": {
            "api_key": secret(
                "Groq API key; never returned. D: required here although the spec types it optional (only credential)."
            ),
            "url": fld(
                "string",
                "Endpoint URL override (server source; not in the spec); written only if given.",
            ),
            "organization_id": fld(
                "string",
                "Groq organization id (server source; not in the spec); an empty string is rejected.",
                min_length=1,
            ),
        },
        "ts": {
            "user": fld("string", "End-user id (server source; not in the spec)."),
            "headers": fld(
                "map",
                "Extra HTTP headers (server source; not in the spec); free-form map of strings.",
                values="string",
            ),
        },
        "required": {"*": ["model_id", "api_key"]},
        "server_filled": {"*": rl_fill(1000)},
        "update": {"*": upd(ss=("rate_limit", "organization_id"))},
        "notes_doc": "D: chat_completion only, as in the spec's task type enum (a model_id doc mentions testing completion, "
        "and a non-mainline server variant had it).",
    },
    "hugging_face": {
        "doc": "Hugging Face Inference Endpoints (embeddings, rerank, completion, chat).",
        "ss": {
            "model_id": fld(
                "string",
                "Model name; only for completion/chat_completion (optional). D: not accepted for text_embedding or rerank "
                "(spec doc and server: rerank uses the url only).",
                task_types=["completion", "chat_completion"],
            ),
            "dimensions": dimensions(
                ["text_embedding"], "Embedding size (server source; not in the spec)."
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity (server source; not in the spec); cosine when left out.",
            ),
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
        },
        "ts": {
            "top_n": fld(
                "integer",
                "How many top documents to return (default: all).",
                minimum=1,
                task_types=["rerank"],
            ),
        },
        "server_filled": {
            "*": rl_fill(3000),
            "text_embedding": merge(rl_fill(3000), emb_fill("cosine")),
        },
        "update": {
            "*": upd(ss=("rate_limit",), ts=None),
            "rerank": upd(ss=("rate_limit",)),
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), ts=None, chunking=True),
        },
        "notes_doc": "D: rerank is supported (spec enum, example and server), though the API description lists only three "
        "task types. The server also has a sparse_embedding (ELSER) task type that the spec does not list; not declared.",
    },
    "jinaai": {
        "doc": "Jina AI embeddings (text and multimodal) and rerank.",
        "ss": {
            "similarity": similarity(
                ["embedding", "text_embedding"],
                "Similarity; left out, dot_product (l2_norm for bit/binary embeddings).",
            ),
            "dimensions": dimensions(
                ["embedding", "text_embedding"], "Output embedding size (default: model standard)."
            ),
            "embedding_type": fld(
                "string",
                "Embedding element type; float when left out. bit and binary are synonyms.",
                enum=["binary", "bit", "float"],
                case="lower",
                task_types=["embedding", "text_embedding"],
            ),
            "max_input_tokens": max_input_tokens(
                ["embedding", "text_embedding"],
                "Maximum tokens per input (server source; not in the spec).",
            ),
        },
        "ts": {
            "input_type": fld(
                "string",
                "Purpose of the input text; written lower-case.",
                enum=["classification", "clustering", "ingest", "search"],
                case="lower",
                task_types=["embedding", "text_embedding"],
            ),
            "top_n": fld(
                "integer",
                "How many top documents to return (default: all).",
                minimum=1,
                task_types=["rerank"],
            ),
        },
        "response_only": {"service_settings.dimensions_set_by_user": DSBU_DOC},
        "server_filled": {
            "*": rl_fill(2000),
            "text_embedding": merge(
                rl_fill(2000), emb_fill("*", **{"service_settings.embedding_type": "float"})
            ),
            "embedding": merge(
                rl_fill(2000),
                emb_fill(
                    "*",
                    **{
                        "service_settings.embedding_type": "float",
                        "service_settings.multimodal_model": True,
                    },
                ),
            ),
        },
        "update": {
            "*": upd(ss=("rate_limit",)),
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), chunking=True),
            "embedding": upd(ss=("rate_limit", "max_input_tokens"), chunking=True),
        },
    },
    "llama": {
        "doc": "Llama Stack (self-hosted) embeddings, completion and chat. No task settings.",
        "ss": {
            "api_key": secret(
                "Optional API key. D: the spec declares no credential; the server accepts an optional api_key. An endpoint "
                "created without one cannot gain one through _update (replace instead)."
            ),
            "dimensions": dimensions(
                ["text_embedding"],
                "Embedding size. D: declared (server source; the spec example sends it though the spec type lacks it).",
            ),
        },
        "required": {"*": ["url", "model_id"]},
        "server_filled": {
            "*": rl_fill(3000),
            "text_embedding": merge(rl_fill(3000), emb_fill("dot_product")),
        },
        "update": {
            "*": upd(ss=("rate_limit",), ts=None),
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), ts=None, chunking=True),
        },
    },
    "mistral": {
        "doc": "Mistral AI embeddings, completion and chat. The model field is `model`, not `model_id`.",
        "ss": {
            "dimensions": dimensions(
                ["text_embedding"], "Embedding size (server source; not in the spec)."
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity (server source; not in the spec); dot_product when left out.",
            ),
        },
        "server_filled": {
            "*": rl_fill(240),
            "text_embedding": merge(rl_fill(240), emb_fill("dot_product")),
        },
        "update": {
            "*": upd(ss=("rate_limit",), ts=None),
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), ts=None, chunking=True),
        },
    },
    "nvidia": {
        "doc": "NVIDIA NIM / API catalog embeddings, rerank, completion and chat (chat_completion streaming only).",
        "ss": {
            "url": fld(
                "string",
                "Endpoint URL; a default per task type is used when left out. D: server_filled '*': one server "
                "version (and the spec's response examples) writes url only when given, a newer one always writes "
                "the default, so an undeclared url is never drift.",
            ),
        },
        "ts": {
            "input_type": fld(
                "string",
                "ingest maps to NVIDIA passage, search to query; written lower-case.",
                enum=["ingest", "search"],
                case="lower",
                task_types=["text_embedding"],
            ),
            "truncate": fld(
                "string",
                "How over-long input is handled. The docs write END/NONE/START; the server writes lower-case.",
                enum=["end", "none", "start"],
                case="lower",
                task_types=["text_embedding"],
            ),
        },
        "response_only": {
            "service_settings.dimensions": "Measured on creation; not accepted in a request (400)."
        },
        "server_filled": {
            "*": merge(rl_fill(3000), {"service_settings.url": "*"}),
            "text_embedding": merge(
                rl_fill(3000), emb_fill("dot_product", **{"service_settings.url": "*"})
            ),
        },
        "update": {
            "*": upd(ss=("rate_limit",), ts=None),
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), chunking=True),
        },
    },
    "openai": {
        "doc": "OpenAI and OpenAI-compatible APIs (embeddings, completion; chat_completion streaming only). Exactly one "
        "credential: api_key or the OAuth2 client-credentials group.",
        "ss": {
            "api_key": secret("OpenAI API key. Exactly one of api_key and client_secret."),
            "client_secret": secret(
                "OAuth2 client-credentials secret; counts as the credential and needs client_id, scopes, token_url."
            ),
            "scopes": fld("array", "OAuth2 scopes.", items="string", min_items=1),
            "max_input_tokens": max_input_tokens(
                None, "Maximum tokens per input (server source; not in the spec)."
            ),
            "rate_limit": rate_limit(
                "Requests per minute. Defaults: text_embedding/embedding 3000, completion/chat_completion 500."
            ),
        },
        "ts": {
            "headers": fld(
                "map",
                "Extra HTTP headers (free-form map of strings); replaced whole on _update.",
                values="string",
            ),
        },
        "rules": [
            {"exactly_one_of": ["api_key", "client_secret"]},
            {"all_or_none": ["client_id", "scopes", "token_url", "client_secret"]},
        ],
        "response_only": {"service_settings.dimensions_set_by_user": DSBU_DOC},
        "server_filled": {
            "text_embedding": merge(rl_fill(3000), emb_fill("dot_product")),
            "embedding": merge(rl_fill(3000), emb_fill("dot_product")),
            "completion": rl_fill(500),
            "chat_completion": rl_fill(500),
        },
        "update": {
            "*": upd(ss=("rate_limit", "organization_id", "max_input_tokens")),
            "text_embedding": upd(
                ss=(
                    "rate_limit",
                    "organization_id",
                    "max_input_tokens",
                    "client_id",
                    "scopes",
                    "token_url",
                ),
                chunking=True,
            ),
            "embedding": upd(
                ss=(
                    "rate_limit",
                    "organization_id",
                    "max_input_tokens",
                    "client_id",
                    "scopes",
                    "token_url",
                ),
                chunking=True,
            ),
        },
        "notes_doc": "D: the `embedding` task type accepts chunking_settings (the server consumes chunking for every "
        "embedding task type; the openai chunking doc names only text_embedding) and is assumed to behave like "
        "text_embedding (defaults, update), which the server notes did not verify.",
    },
    "openshift_ai": {
        "doc": "Red Hat OpenShift AI model serving (embeddings, rerank, completion; chat_completion streaming only).",
        "ss": {
            "dimensions": dimensions(
                ["text_embedding"],
                "Embedding size (server source; not in the spec). GET also shows dimensions_set_by_user.",
            ),
        },
        "response_only": {
            "service_settings.dimensions_set_by_user": "Shown by GET for this service (true iff dimensions were sent); a request containing it gets 400.",
        },
        "server_filled": {
            "*": rl_fill(3000),
            "text_embedding": merge(
                rl_fill(3000),
                emb_fill("dot_product", **{"service_settings.dimensions_set_by_user": "*"}),
            ),
        },
        "update": {
            "*": upd(ss=("rate_limit",), ts=None),
            "rerank": upd(ss=("rate_limit",)),
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), ts=None, chunking=True),
        },
    },
    "voyageai": {
        "doc": "Voyage AI embeddings and rerank.",
        "ss": {
            "api_key": secret(
                "Voyage AI API key. D: declared and required although the spec declares no credential (and its examples "
                "send none): the server stores an api_key secret, lets _update rotate it, and the provider requires one."
            ),
            "embedding_type": fld(
                "string",
                "Embedding data type (Voyage output_dtype); float when left out. byte is accepted as a synonym of int8 "
                "and kept as byte. D: a string enum, not the spec's `float` typing.",
                enum=["bit", "byte", "float", "int8"],
                case="lower",
                task_types=["text_embedding"],
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity (server source; not in the spec); dot_product when left out.",
            ),
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
        },
        "ts": {
            "input_type": fld(
                "string",
                "ingest -> Voyage document, search -> query; written lower-case.",
                enum=["ingest", "search"],
                case="lower",
                task_types=["text_embedding"],
            ),
            "top_k": fld(
                "integer",
                "How many top documents to return (default: all).",
                minimum=1,
                task_types=["rerank"],
            ),
        },
        "required": {"*": ["model_id", "api_key"]},
        "response_only": {"service_settings.dimensions_set_by_user": DSBU_DOC},
        "server_filled": {
            "*": rl_fill(2000),
            "text_embedding": merge(
                rl_fill(2000),
                emb_fill("dot_product", **{"service_settings.embedding_type": "float"}),
            ),
        },
        "update": {
            "*": upd(ss=("rate_limit",)),
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), chunking=True),
        },
        "notes_doc": "The server also has an `embedding` (multimodal) task type that the spec does not list; not declared.",
    },
    "watsonxai": {
        "doc": "IBM watsonx.ai embeddings, rerank, completion and chat.",
        "ss": {
            "max_input_tokens": max_input_tokens(
                ["text_embedding"], "Maximum tokens per input (server source; not in the spec)."
            ),
            "dimensions": dimensions(
                ["text_embedding"], "Embedding size (server source; not in the spec)."
            ),
            "similarity": similarity(
                ["text_embedding"],
                "Similarity (server source; not in the spec); dot_product when left out.",
            ),
        },
        "ts": {
            "top_n": fld(
                "integer", "How many top documents to return.", minimum=1, task_types=["rerank"]
            ),
            "return_documents": fld(
                "boolean", "Include document text in results.", task_types=["rerank"]
            ),
            "truncate_input_tokens": fld(
                "integer",
                "Truncate each input to this many tokens.",
                minimum=1,
                task_types=["rerank"],
            ),
        },
        "server_filled": {
            "*": rl_fill(120),
            "text_embedding": merge(rl_fill(120), emb_fill("dot_product")),
        },
        "update": {
            "*": upd(ss=("rate_limit",), ts=None),
            "rerank": upd(ss=("rate_limit",)),
            "text_embedding": upd(ss=("rate_limit", "max_input_tokens"), ts=None, chunking=True),
        },
        "notes_doc": "D: rerank is supported with task settings top_n, return_documents, truncate_input_tokens (path enum "
        "and server source), although the spec's response task-type enum and body declare no rerank settings.",
    },
}

# --------------------------------------------------------------------------- conversion


def convert_field(spec_field: dict[str, Any], service_task_types: list[str]) -> dict[str, Any]:
    spec_type = spec_field.get("type")
    out: dict[str, Any]
    if spec_field.get("spec_type") == "RateLimitSetting":
        out = {"type": "rate_limit"}
    elif spec_type == "string":
        out = {"type": "string"}
    elif spec_type == "integer":
        out = {"type": "integer"}
    elif spec_type == "float":
        out = {"type": "number"}
    elif spec_type == "boolean":
        out = {"type": "boolean"}
    elif spec_type == "string[]":
        out = {"type": "array", "items": "string"}
    elif spec_type == "map<string,string>":
        out = {"type": "map", "values": "string"}
    elif spec_type == "object":
        out = {"type": "object"}
    else:
        out = {"type": "any"}
    if "enum" in spec_field:
        values = spec_field["enum"]
        if any(v != v.lower() for v in values):
            out["enum"] = sorted(v.lower() for v in values)
            out["case"] = "lower"
        else:
            out["enum"] = list(values)
    if spec_field.get("secret"):
        out["secret"] = True
    task_types = spec_field.get("task_types")
    if task_types and set(task_types) != set(service_task_types):
        out["task_types"] = ordered(task_types)
    if spec_field.get("doc"):
        out["doc"] = spec_field["doc"]
    if spec_field.get("stability") == "experimental":
        out["doc"] = out.get("doc", "") + " (experimental)"
    return out


def ordered(task_types: list[str]) -> list[str]:
    return [t for t in TASK_ORDER if t in task_types]


def apply_fields(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in patch.items():
        if value is None:
            out.pop(name, None)
        elif name in out:
            merged = dict(out[name])
            merged.update(value)
            out[name] = merged
        else:
            out[name] = value
    return dict(sorted(out.items()))


POSITIVE_INTEGERS = {
    "batch_size",
    "dimensions",
    "max_chunks_per_doc",
    "max_input_tokens",
    "max_new_tokens",
    "max_tokens",
    "num_allocations",
    "num_threads",
    "top_k",
    "top_n",
    "truncate_input_tokens",
}


def normalise_field(
    name: str, field: dict[str, Any], service_task_types: list[str]
) -> dict[str, Any]:
    field = dict(field)
    if field.get("type") == "integer" and name in POSITIVE_INTEGERS and "enum" not in field:
        field.setdefault("minimum", 1)
    if "task_types" in field:
        if set(field["task_types"]) >= set(service_task_types):
            del field["task_types"]
        else:
            field["task_types"] = ordered(field["task_types"])
    return field


def clamp(version: str | None, since: str) -> str | None:
    if version is None:
        return None

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("."))

    return version if key(version) >= key(since) else since


def finish_update(
    update: dict[str, Any], service_task_types: list[str], since: str
) -> dict[str, Any]:
    per_task: dict[str, Any] = {}
    for task in service_task_types:
        entry = copy.deepcopy(update.get(task, update.get("*")))
        if entry is None:
            raise SystemExit(f"no update entry for {task}")
        entry["service_settings"] = {
            k: clamp(v, since) for k, v in sorted(entry["service_settings"].items())
        }
        entry["task_settings"] = {
            k: clamp(v, since) for k, v in sorted(entry["task_settings"].items())
        }
        entry["chunking_settings"] = clamp(entry["chunking_settings"], since)
        entry["secrets"] = clamp(entry["secrets"], since)
        per_task[task] = entry
    return collapse(per_task)


def collapse(per_task: dict[str, Any]) -> dict[str, Any]:
    """Use "*" for the most common value; keep only task types that differ."""
    values = list(per_task.values())
    if not values:
        return {}
    counts: list[tuple[int, int]] = []
    for i, value in enumerate(values):
        counts.append((sum(1 for other in values if other == value), -i))
    best_count, best_index = max(counts)
    if best_count < 2 and len(values) > 1:
        return dict(per_task)  # nothing shared: spell every task type out
    best = values[-best_index]
    out: dict[str, Any] = {"*": best}
    for task, value in per_task.items():
        if value != best:
            out[task] = value
    return out


def finish_server_filled(filled: dict[str, Any], service_task_types: list[str]) -> dict[str, Any]:
    """Per task type -> "*" (what every task type shares) plus each task type's full entry where it differs.

    Readers may either take the task-type entry instead of "*" or merge it over "*": both give the same
    result because "*" only holds entries common to all task types.
    """
    if not filled:
        return {}
    per_task = {}
    for task in service_task_types:
        entry = filled.get(task, filled.get("*"))
        per_task[task] = dict(sorted((entry or {}).items()))
    shared = {
        key: value
        for key, value in per_task[service_task_types[0]].items()
        if all(key in other and other[key] == value for other in per_task.values())
    }
    out: dict[str, Any] = {"*": shared} if shared else {}
    for task, entry in per_task.items():
        if entry != shared:
            out[task] = entry
    return out


def build(reference: Path) -> dict[str, Any]:
    spec = json.loads((reference / "services.json").read_text())
    services: dict[str, Any] = {}
    for name in sorted(SERVICES):
        decisions = SERVICES[name]
        source = spec[name]
        task_types = ordered(source["task_types"])
        service_settings = {
            field: convert_field(definition, task_types)
            for field, definition in source["service_settings"].items()
        }
        task_settings = {
            field: convert_field(definition, task_types)
            for field, definition in source["task_settings"].items()
        }
        service_settings = apply_fields(service_settings, decisions.get("ss", {}))
        task_settings = apply_fields(task_settings, decisions.get("ts", {}))
        service_settings = {
            k: normalise_field(k, v, task_types) for k, v in service_settings.items()
        }
        task_settings = {k: normalise_field(k, v, task_types) for k, v in task_settings.items()}
        for field in list(service_settings.values()) + list(task_settings.values()):
            if field["type"] == "rate_limit":
                field.setdefault("doc", rate_limit()["doc"])
        required = decisions.get("required")
        if required is None:
            secrets_by_rule = {
                f for rule in decisions.get("rules", []) for f in rule.get("exactly_one_of", [])
            }
            required = {
                "*": [f for f in source["required_service_settings"] if f not in secrets_by_rule]
            }
        chunking = ordered(
            [t for t in source.get("chunking_settings_allowed_for", []) if t in task_types]
        )
        if name == "openai":
            chunking = ordered(["text_embedding", "embedding"])
        doc = decisions["doc"]
        if decisions.get("notes_doc"):
            doc = doc + " " + decisions["notes_doc"]
        entry: dict[str, Any] = {
            "since": source["since"],
            "deprecated_since": "8.16.0" if name == "elser" else None,
            "alias_of": "elasticsearch" if name == "elser" else None,
            "doc": doc,
            "task_types": task_types,
            "chunking_task_types": chunking,
            "service_settings": service_settings,
            "required_service_settings": {k: sorted(v) for k, v in required.items()},
            "rules": decisions.get("rules", []),
            "task_settings": task_settings,
            "required_task_settings": decisions.get("required_task_settings", {}),
            "server_filled": finish_server_filled(decisions.get("server_filled", {}), task_types),
            "hidden": decisions.get("hidden", []),
            "response_only": dict(sorted(decisions.get("response_only", {}).items())),
            "update": finish_update(decisions["update"], task_types, source["since"]),
        }
        if "chunking_limits" in decisions:
            entry["chunking_limits"] = decisions["chunking_limits"]
        services[name] = entry
    return {
        "format_version": 1,
        "embedding_task_types": EMBEDDING,
        "task_types": TASK_ORDER,
        "default_chunking": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
        "services": services,
    }


def main(argv: list[str]) -> int:
    reference = Path(argv[1]) if len(argv) > 1 else Path("/work/shared/reference")
    catalog = build(reference)
    CATALOG.write_text(json.dumps(catalog, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {CATALOG.relative_to(ROOT)} ({len(catalog['services'])} services)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
