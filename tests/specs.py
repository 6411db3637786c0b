"""The specs the tests share: spec texts with known line numbers and spec bodies.

Data, not tests: test modules import from here (and from the helpers beside it), never from
each other.

- ``AZURE`` and ``SHIFT``: the two seed-service specs as YAML text (a test names the line a
  problem is on), with ``VALID`` and ``INVALID`` variants (text, line, message fragment);
- ``azure()`` and ``rerank()``: the same services as bodies for ``write_spec``, with ``ENV``
  holding the values their ``${env:...}`` references resolve to;
- ``EMBED`` and ``RERANK``: the bodies the in-process stage tests (tests/integration) load,
  ``write_specs`` writes and loads them, ``writes`` lists what a sandbox was asked to write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from reconciler.model import EndpointSpec
from reconciler.sandbox import SandboxServer
from reconciler.session import load_specs
from reconciler.settings import Settings

AZURE = """\
inference_id: azure-embed
task_type: text_embedding
service: azureopenai
service_settings:
  resource_name: acme
  deployment_id: text-embedding-3-large
  api_version: "2024-02-01"
  api_key: ${env:AZURE_KEY}
"""
SHIFT = """\
inference_id: shift-rerank
task_type: rerank
service: openshift_ai
service_settings:
  url: https://rerank.example/v1
  model_id: bge-reranker-v2-m3
  api_key: ${env:SHIFT_KEY}
task_settings:
  top_n: 3
  return_documents: true
"""
VALID = [
    AZURE,
    AZURE.replace("api_key: ${env:AZURE_KEY}", "entra_id: ${file:entra.token}"),
    AZURE.replace(
        "  api_key: ${env:AZURE_KEY}\n",
        "  client_id: app\n  scopes: [api://x/.default]\n"
        "  tenant_id: t1\n  client_secret: ${env:AZURE_SECRET}\n",
    ),
    AZURE.replace("text_embedding", "completion") + "task_settings:\n  user: alice\n",
    AZURE.replace("text_embedding", "chat_completion"),
    AZURE + "chunking_settings:\n  strategy: word\n  max_chunk_size: 100\n  overlap: 50\n",
    AZURE
    + "chunking_settings:\n  strategy: recursive\n  max_chunk_size: 100\n  separator_group: markdown\n",
    AZURE + "chunking_settings:\n  strategy: none\n",
    AZURE.replace(
        '  api_version: "2024-02-01"\n',
        '  api_version: "2024-02-01"\n  dimensions: 1024\n'
        "  rate_limit:\n    requests_per_minute: 100\n",
    ),
    SHIFT,
    SHIFT.replace("task_type: rerank", "task_type: text_embedding").split("task_settings")[0]
    + "chunking_settings:\n  strategy: sentence\n  max_chunk_size: 20\n  sentence_overlap: 0\n",
    SHIFT.replace("task_type: rerank", "task_type: completion").split("task_settings")[0],
    SHIFT.replace("task_type: rerank", "task_type: chat_completion").split("task_settings")[0],
]

# (spec text, expected line, expected message fragment)
INVALID = [
    (AZURE.replace("${env:AZURE_KEY}", "sk-literal-key"), 8, "is a secret"),
    (AZURE + "  entra_id: ${env:E}\n", 4, "service_settings"),
    (
        AZURE.replace(
            "  api_key: ${env:AZURE_KEY}\n", "  client_id: app\n  client_secret: ${env:S}\n"
        ),
        4,
        "service_settings",
    ),
    (AZURE.replace('  api_version: "2024-02-01"\n', ""), 4, "missing required field 'api_version'"),
    (AZURE.replace("  resource_name: acme\n", ""), 4, "missing required field 'resource_name'"),
    (SHIFT.replace("https://rerank.example/v1", "${env:HFURL}"), 5, "secret field"),
    (SHIFT.replace("https://rerank.example/v1", "https://${file:host}/v1"), 5, "secret field"),
    (SHIFT.replace("bge-reranker-v2-m3", "${var:nope"), 6, "'${var:nope' is not a reference"),
    (SHIFT.replace("bge-reranker-v2-m3", "x-${var:}"), 6, "is not a reference"),
    (SHIFT.replace("bge-reranker-v2-m3", "${{var:x}}"), 6, "is not a reference"),
    (AZURE + "task_settings:\n  user: ${env:USER}\n", 10, "may stand only"),
    (SHIFT.replace("bge-reranker-v2-m3", "${input}"), 6, "is not a reference"),  # custom only
    (AZURE + "extra_top: 1\n", 9, "unknown field 'extra_top'"),
    (AZURE + "task_settings:\n  top_n: 3\n", 10, "top_n"),
    (
        AZURE.replace("text_embedding", "completion") + "chunking_settings:\n  strategy: none\n",
        9,
        "chunking_settings",
    ),
    (
        AZURE + "chunking_settings:\n  strategy: sentence\n  max_chunk_size: 19\n",
        11,
        "must be >= 20",
    ),
    (
        AZURE + "chunking_settings:\n  strategy: word\n  max_chunk_size: 5\n  overlap: 1\n",
        11,
        "must be >= 10",
    ),
    (
        AZURE + "chunking_settings:\n  strategy: word\n  max_chunk_size: 100\n  overlap: 60\n",
        12,
        "at most half of max_chunk_size",
    ),
    (
        AZURE + "chunking_settings:\n  strategy: sentence\n  max_chunk_size: 100\n  overlap: 10\n",
        12,
        "overlap",
    ),
    (
        AZURE
        + "chunking_settings:\n  strategy: sentence\n  max_chunk_size: 100\n  sentence_overlap: 2\n",
        12,
        "sentence_overlap",
    ),
    (
        AZURE + "chunking_settings:\n  strategy: recursive\n  max_chunk_size: 100\n",
        9,
        "chunking_settings",
    ),
    (
        AZURE
        + "chunking_settings:\n  strategy: recursive\n  max_chunk_size: 100\n  separator_group: markdown\n"
        "  separators: [a]\n",
        9,
        "chunking_settings",
    ),
    (AZURE + "chunking_settings:\n  strategy: paragraph\n", 10, "strategy"),
    (AZURE.replace("azure-embed", "Azure-Embed"), 1, "inference_id"),
    (AZURE.replace("azure-embed", ".azure-embed"), 1, "inference_id"),
    (AZURE.replace("azure-embed", "_all"), 1, "inference_id"),
    (AZURE.replace("azure-embed", "ends-with-dash-"), 1, "inference_id"),
    (AZURE.replace('"2024-02-01"', "[1, 2]"), 7, "expected string, got array"),
    (AZURE + "  dimensions: many\n", 9, "expected integer, got string"),
    (
        AZURE + "  rate_limit:\n    requests_per_minute: 10\n    burst: 5\n",
        11,
        "unknown field 'burst'",
    ),
    (AZURE + "  rate_limit:\n    requests_per_minute: 0\n", 10, "requests_per_minute"),
    (SHIFT.replace("  url: https://rerank.example/v1\n", ""), 4, "missing required field 'url'"),
    (SHIFT.replace("  api_key: ${env:SHIFT_KEY}\n", ""), 4, "missing required field 'api_key'"),
    (SHIFT.replace("top_n: 3", "top_n: three"), 9, "expected integer"),
    (
        SHIFT.replace("return_documents: true", "return_documents: sometimes"),
        10,
        "expected boolean",
    ),
    (SHIFT.replace("task_type: rerank", "task_type: text_embedding"), 9, "top_n"),
    (SHIFT + "  similarity: manhattan\n", 11, "similarity"),
    (SHIFT.replace("task_settings:", "task_settings:\n  user: bob"), 9, "user"),
    (SHIFT.replace("${env:SHIFT_KEY}", "${vault:SHIFT_KEY}"), 7, "is a secret"),
    (SHIFT.replace("inference_id: shift-rerank\n", ""), 1, "missing required field 'inference_id'"),
    (SHIFT.replace("service: openshift_ai\n", ""), 1, "missing required field 'service'"),
]


AZURE_KEY = "azk-0123456789-distinctive"
SHIFT_KEY = "osk-9876543210-distinctive"
ENV = {"AZURE_OPENAI_API_KEY": AZURE_KEY, "OPENSHIFT_AI_API_KEY": SHIFT_KEY}


def azure(inference_id: str = "azure-embed", **settings: Any) -> dict[str, Any]:
    return {
        "inference_id": inference_id,
        "task_type": "text_embedding",
        "service": "azureopenai",
        "service_settings": {
            "resource_name": "acme",
            "deployment_id": "text-embedding-3-large",
            "api_version": "2024-02-01",
            "api_key": "${env:AZURE_OPENAI_API_KEY}",
            **settings,
        },
    }


def rerank(
    inference_id: str = "shift-rerank", top_n: int = 3, model: str = "bge-reranker-v2-m3"
) -> dict[str, Any]:
    return {
        "inference_id": inference_id,
        "task_type": "rerank",
        "service": "openshift_ai",
        "service_settings": {
            "url": "https://rerank.example/v1",
            "model_id": model,
            "api_key": "${env:OPENSHIFT_AI_API_KEY}",
        },
        "task_settings": {"top_n": top_n},
    }


RERANK = {
    "inference_id": "team-rerank",
    "task_type": "rerank",
    "service": "openshift_ai",
    "service_settings": {
        "url": "https://rerank.example/v1",
        "api_key": "${env:RERANK_KEY}",
        "model_id": "bge-reranker",
    },
    "task_settings": {"top_n": 3},
}
EMBED = {
    "inference_id": "team-embed",
    "task_type": "text_embedding",
    "service": "openai",
    "service_settings": {"api_key": "${env:OPENAI_KEY}", "model_id": "text-embedding-3-small"},
}


def write_specs(directory: Path, *bodies: dict[str, Any]) -> tuple[EndpointSpec, ...]:
    """Write one spec file per body into ``directory`` and load them as the CLI would."""
    directory.mkdir(parents=True, exist_ok=True)
    for body in bodies:
        (directory / f"{body['inference_id']}.yaml").write_text(
            yaml.safe_dump(body, sort_keys=False), encoding="utf-8"
        )
    return load_specs(directory, Settings()).specs


def writes(server: SandboxServer) -> list[str]:
    """``METHOD path`` of every request that wrote to the cluster (dry runs are reads)."""
    return [
        f"{r['method']} {r['path']}"
        for r in server.requests
        if r["method"] in ("PUT", "POST", "DELETE") and "dry_run" not in str(r.get("query", ""))
    ]


def recorded_writes(server: SandboxServer) -> list[str]:
    """``writes`` without the apply lock's own (apply takes the lock before it reads anything,
    as Terraform does, so even a run that changes nothing takes and releases it)."""
    return [
        w
        for w in writes(server)
        if not w.endswith(".lock") and w.split()[1].strip("/").count("/") > 0
    ]


# What the catalog does not know, which the cluster may (a newer service, task type or
# service-settings field): a warning offline, naming the catalog's nearest name; the cluster's
# GET _inference/_services decides at plan time. (spec text, line, message fragment)
DEFERRED = [
    (
        AZURE + "  colour: blue\n",
        9,
        "service_settings.colour of service 'azureopenai' is not in the catalog",
    ),
    (
        AZURE.replace("service: azureopenai", "service: azure_openai"),
        3,
        "service 'azure_openai' is not in the catalog: checked against the cluster at plan time "
        "(did you mean 'azureopenai'?)",
    ),
    (
        AZURE.replace("task_type: text_embedding", "task_type: rerank"),
        2,
        "task type 'rerank' of service 'azureopenai' is not in the catalog",
    ),
    (
        AZURE + "  dimensons: 256\n",
        9,
        "service_settings.dimensons of service 'azureopenai' is not in the catalog: checked "
        "against the cluster at plan time (did you mean 'dimensions'?)",
    ),
]
