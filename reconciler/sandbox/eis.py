"""The Elastic Inference Service (`service: elastic`) as the sandbox emulates it.

Owns what sets EIS apart from the other services of `services.py`: it works
only where the cluster is connected to EIS (the "connected to EIS" knob,
off by default, as on a self-managed cluster without Cloud Connect), its
task types arrived release by release, it takes no secret and refuses
`rate_limit`, and a connected cluster lists preconfigured `.` endpoints
hosted by Elastic. Its row of the service table (`ELASTIC_SERVICE`) is
registered by `services.py`; the request checks here run before the generic
body validation of `validation.py`. Facts and their sources are in
docs/services/elastic.md; like the rest of the sandbox's table they are
written independently of the reconciler's catalog.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .chunking import default_chunking
from .errors import status_exception, unknown_settings, validation_failed
from .protocol import at_least
from .services import EMB, SERVICES, ByTask

NAME = "elastic"

# First release of each task type, per line (None: never on that line).
TASK_TYPE_SINCE: dict[str, tuple[str | None, str]] = {
    "sparse_embedding": ("8.18.0", "9.0.0"),
    "chat_completion": ("8.18.0", "9.0.0"),
    "rerank": ("8.19.0", "9.1.0"),
    "text_embedding": ("8.19.0", "9.1.0"),
    "completion": (None, "9.3.0"),  # 9.3.0 notes, PR 137677
    "embedding": (None, "9.4.0"),
}
MAX_BATCH_SIZE_SINCE = "9.3.0"  # PR #141185 (backported to late 9.2.x / 8.19.x patches)
MAX_BATCH_SIZE_LIMIT = 1024

ELASTIC_SERVICE: dict[str, Any] = dict(
    tasks=(
        "text_embedding",
        "sparse_embedding",
        "embedding",
        "rerank",
        "completion",
        "chat_completion",
    ),
    secrets=(),
    settings=ByTask(
        sparse_embedding={"model_id": "str!", "max_input_tokens": "int", "max_batch_size": "int"},
        **{"*": {"model_id": "str!"}},
    ),
    embedding=EMB,
    rate=None,
    similarity="cosine",
    mutable=ByTask(sparse_embedding=("max_batch_size",), **{"*": ()}),
)


def offers(version: str, task_type: str) -> bool:
    """Whether a cluster of `version` implements `task_type` for EIS."""
    since_8, since_9 = TASK_TYPE_SINCE[task_type]
    since = since_8 if version.startswith("8.") else since_9
    return since is not None and at_least(version, since)


def offered_task_types(version: str, *, connected: bool) -> tuple[str, ...]:
    if not connected:
        return ()
    return tuple(t for t in ELASTIC_SERVICE["tasks"] if offers(version, t))


def check_create(*, version: str, connected: bool, url_task: str, body: dict[str, Any]) -> None:
    """Refuse an `elastic` create the way a cluster of this version and connection does."""
    if not at_least(version, "8.18.0"):
        raise status_exception(f"Unknown service [{NAME}]")
    task_type = str(body.get("task_type") or url_task).strip().lower()
    if task_type in TASK_TYPE_SINCE and task_type not in offered_task_types(
        version, connected=connected
    ):
        raise status_exception(f"The [{NAME}] service does not support task type [{task_type}]")
    settings = body.get("service_settings")
    if not isinstance(settings, dict):
        return
    if "rate_limit" in settings:
        raise validation_failed(
            [
                "[service_settings] rate limit settings are not permitted for service "
                f"[{NAME}] and task type [{task_type}]"
            ]
        )
    if "max_batch_size" in settings and task_type == "sparse_embedding":
        if not at_least(version, MAX_BATCH_SIZE_SINCE):
            raise unknown_settings({"max_batch_size": settings["max_batch_size"]}, NAME)
        size = settings["max_batch_size"]
        if isinstance(size, int) and not isinstance(size, bool) and size > MAX_BATCH_SIZE_LIMIT:
            raise validation_failed(
                [
                    f"[service_settings] Invalid value [{size}]. [max_batch_size] must be a "
                    f"less than or equal to [{MAX_BATCH_SIZE_LIMIT}]"
                ]
            )


def _endpoint(inference_id: str, task_type: str, model_id: str, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "inference_id": inference_id,
        "task_type": task_type,
        "service": NAME,
        "service_settings": {"model_id": model_id, **extra},
    }
    if task_type in ("sparse_embedding", "text_embedding", "embedding"):
        config["chunking_settings"] = default_chunking()
    return config


_PRECONFIGURED = (
    _endpoint(".elser-2-elastic", "sparse_embedding", "elser_model_2"),
    _endpoint(".rainbow-sprinkles-elastic", "chat_completion", "rainbow-sprinkles"),
    _endpoint(".gp-llm-v2-chat_completion", "chat_completion", "gp-llm-v2"),
    _endpoint(".elastic-rerank-v1", "rerank", "elastic-rerank-v1"),
    _endpoint(
        ".jina-embeddings-v3",
        "text_embedding",
        "jina-embeddings-v3",
        similarity="cosine",
        dimensions=1024,
    ),
)


def preconfigured(version: str, *, connected: bool) -> dict[str, dict[str, Any]]:
    """The `.` endpoints a cluster connected to EIS lists (fresh copies, by id)."""
    offered = offered_task_types(version, connected=connected)
    return {
        e["inference_id"]: copy.deepcopy(e) for e in _PRECONFIGURED if e["task_type"] in offered
    }


REGION_POLICY_SINCE = "9.5.0"  # metadata.regions and _inference/_region_policy

# Where the sandbox's EIS serves each model: (csp, region, geo). Not Elastic's real placement.
DEFAULT_MODEL_REGIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "elser_model_2": (("aws", "us-east-1", "us"), ("aws", "eu-west-1", "eu")),
    "rainbow-sprinkles": (("aws", "us-east-1", "us"),),
    "gp-llm-v2": (("aws", "us-east-1", "us"), ("gcp", "europe-west4", "eu")),
    "elastic-rerank-v1": (("aws", "us-east-1", "us"), ("aws", "eu-west-1", "eu")),
    "jina-embeddings-v3": (("gcp", "europe-west4", "eu"),),
}


def regions_of(model_regions: Mapping[str, Any], model_id: str) -> list[dict[str, str]]:
    return [
        {"csp": csp, "region": region, "geo": geo}
        for csp, region, geo in model_regions.get(model_id, ())
    ]


def denies(policy: Mapping[str, Any] | None, regions: list[dict[str, str]]) -> bool:
    """A policy denies an endpoint when none of the places it runs is allowed."""
    if not policy:
        return False
    if "allowed_geos" in policy:
        allowed = set(policy["allowed_geos"])
        return not any(r["geo"] in allowed for r in regions)
    if "allowed_regions" in policy:
        pairs = {(r["csp"], r["region"]) for r in policy["allowed_regions"]}
        return not any((r["csp"], r["region"]) in pairs for r in regions)
    return False


SERVICES[NAME] = ELASTIC_SERVICE
