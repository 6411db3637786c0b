"""Sandbox: `_update` in each generation (no route < 8.17, first generation, current generation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SandboxServer
from tests.sandbox.helpers import assert_es_error, client

OPENSHIFT_RERANK = {
    "service": "openshift_ai",
    "service_settings": {"url": "u", "api_key": "old-key"},
    "task_settings": {"return_documents": True, "top_n": 2},
}
OPENAI = {
    "service": "openai",
    "service_settings": {"api_key": "k", "model_id": "text-embedding-3-small"},
}
AZURE = {"resource_name": "r", "deployment_id": "d", "api_version": "2024-02-01"}


def _create(server: SandboxServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with client(server) as es:
        response = es.put(path, json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())


def _fingerprints(server: SandboxServer, inference_id: str) -> dict[str, str]:
    return dict(server.store.endpoints[inference_id].secret_fingerprints)


@pytest.mark.parametrize("version", ["8.13.0", "8.16.3"])
def test_no_update_route_before_8_17(sandbox_factory: Any, version: str) -> None:
    server = sandbox_factory(version=version)
    _create(server, "/_inference/text_embedding/r1", OPENAI)  # openshift_ai is 9.3+
    with client(server) as es:
        response = es.put("/_inference/rerank/r1/_update", json={"task_settings": {"top_n": 3}})
        assert_es_error(
            response,
            400,
            "illegal_argument_exception",
            "no handler found for uri [/_inference/rerank/r1/_update] and method [PUT]",
        )
        # the two-segment form falls through to create, with the id read as a task type
        assert_es_error(
            es.put("/_inference/r1/_update", json={"task_settings": {}}),
            400,
            "status_exception",
            "Unknown task_type [r1]",
        )


# openshift_ai exists from 9.3, so the first generation is tried on 9.3 / 9.4
@pytest.mark.parametrize("version", ["9.3.0", "9.4.9", "9.5.0"])
def test_update_without_task_type_in_path_is_refused(sandbox_factory: Any, version: str) -> None:
    server = sandbox_factory(version=version)
    _create(server, "/_inference/rerank/r1", OPENSHIFT_RERANK)
    with client(server) as es:
        assert_es_error(
            es.put("/_inference/r1/_update", json={"task_settings": {"top_n": 3}}),
            400,
            "status_exception",
            "Inference ID must be provided in the path",
        )


COMMON_ERRORS = [
    ("/_inference/rerank/r1/_update", None, 400, "status_exception", "Request body is empty"),
    ("/_inference/rerank/r1/_update", {}, 400, "status_exception", "Request body is empty"),
    (
        "/_inference/rerank/r1/_update",
        {"service": "openshift_ai", "task_settings": {"top_n": 1}},
        400,
        "status_exception",
        "Request contained fields which cannot be updated, remove these fields and try again "
        "[{service=openshift_ai}]",
    ),
    (
        "/_inference/completion/r1/_update",
        {"task_settings": {"top_n": 1}},
        400,
        "status_exception",
        "Task type must match the task type of the existing endpoint",
    ),
    (
        "/_inference/rerank/r1/_update",
        {"task_type": "completion", "task_settings": {"top_n": 1}},
        400,
        "status_exception",
        "Task type must match the task type of the existing endpoint",
    ),
    (
        "/_inference/rerank/nope/_update",
        {"task_settings": {"top_n": 1}},
        404,
        "resource_not_found_exception",
        "The inference endpoint [nope] does not exist and cannot be updated",
    ),
    (
        "/_inference/rerank/r1/_update",
        {"service_settings": "x"},
        400,
        "status_exception",
        "Unable to parse service settings in the request [x]",
    ),
]


@pytest.mark.parametrize("version", ["9.3.2", "9.5.0"])
@pytest.mark.parametrize(("path", "body", "status", "error_type", "reason"), COMMON_ERRORS)
def test_update_errors_in_both_generations(
    sandbox_factory: Any,
    version: str,
    path: str,
    body: Any,
    status: int,
    error_type: str,
    reason: str,
) -> None:
    server = sandbox_factory(version=version)
    _create(server, "/_inference/rerank/r1", OPENSHIFT_RERANK)
    with client(server) as es:
        response = es.put(path, json=body) if body is not None else es.put(path)
        assert_es_error(response, status, error_type, reason)


# -- first generation (8.17 <= version < 9.5) --------------------------------------


def test_first_generation_needs_the_secret_whenever_service_settings_are_sent(
    sandbox_factory: Any,
) -> None:
    server = sandbox_factory(version="9.3.0")
    created = _create(server, "/_inference/rerank/r1", OPENSHIFT_RERANK)
    before = _fingerprints(server, "r1")
    with client(server) as es:
        response = es.put(
            "/_inference/rerank/r1/_update",
            json={"service_settings": {"rate_limit": {"requests_per_minute": 5}}},
        )
        assert_es_error(
            response,
            400,
            "validation_exception",
            "Validation Failed: 1: [secret_settings] does not contain the required setting [api_key];",
        )
        ignored = es.put(
            "/_inference/rerank/r1/_update",
            json={
                "service_settings": {
                    "api_key": "new-key",
                    "rate_limit": {"requests_per_minute": 5},
                    "url": "other",
                }
            },
        )
        assert ignored.status_code == 200, ignored.text
        assert ignored.json() == created  # rate_limit and url silently ignored
    assert _fingerprints(server, "r1") != before


def test_first_generation_merges_task_settings_and_refuses_chunking(sandbox_factory: Any) -> None:
    server = sandbox_factory(version="9.4.0")
    _create(server, "/_inference/rerank/r1", OPENSHIFT_RERANK)
    _create(server, "/_inference/text_embedding/e1", OPENAI)
    with client(server) as es:
        merged = es.put(
            "/_inference/rerank/r1/_update", json={"task_settings": {"top_n": 7, "unknown": 1}}
        )
        assert merged.status_code == 200, merged.text
        assert merged.json()["task_settings"] == {"return_documents": True, "top_n": 7}
        assert_es_error(
            es.put(
                "/_inference/text_embedding/e1/_update",
                json={"chunking_settings": {"strategy": "none"}},
            ),
            400,
            "status_exception",
            "Request contained fields which cannot be updated, remove these fields and try again "
            "[{chunking_settings={strategy=none}}]",
        )


def test_first_generation_num_allocations_for_elasticsearch(sandbox_factory: Any) -> None:
    server = sandbox_factory(version="8.17.0")
    _create(
        server,
        "/_inference/sparse_embedding/elser",
        {"service": "elser", "service_settings": {"num_allocations": 1, "num_threads": 1}},
    )
    with client(server) as es:
        updated = es.put(
            "/_inference/sparse_embedding/elser/_update",
            json={"service_settings": {"num_allocations": 3, "num_threads": 8}},
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["service_settings"]["num_allocations"] == 3
        assert updated.json()["service_settings"]["num_threads"] == 1


# -- current generation (>= 9.5) ----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "create", "update", "expect_settings"),
    [
        (
            "/_inference/rerank/r1",
            OPENSHIFT_RERANK,
            {"service_settings": {"rate_limit": {"requests_per_minute": 9}}},
            {"url": "u", "rate_limit": {"requests_per_minute": 9}},
        ),
        (
            "/_inference/text_embedding/e1",
            OPENAI,
            {"service_settings": {"max_input_tokens": 512, "organization_id": "org"}},
            {
                "model_id": "text-embedding-3-small",
                "organization_id": "org",
                "max_input_tokens": 512,
                "rate_limit": {"requests_per_minute": 3000},
                "dimensions": 1536,
                "similarity": "dot_product",
            },
        ),
        (
            "/_inference/completion/c1",
            {
                "service": "anthropic",
                "service_settings": {
                    "api_key": "k",
                    "model_id": "m",
                    "rate_limit": {"requests_per_minute": 7},
                },
                "task_settings": {"max_tokens": 9},
            },
            {"service_settings": {"rate_limit": {}}},
            {"model_id": "m", "rate_limit": {"requests_per_minute": 50}},
        ),
    ],
)
def test_current_generation_changes_mutable_fields(
    sandbox: SandboxServer,
    path: str,
    create: dict[str, Any],
    update: dict[str, Any],
    expect_settings: dict[str, Any],
) -> None:
    _create(sandbox, path, create)
    with client(sandbox) as es:
        updated = es.put(f"{path}/_update", json=update)
        assert updated.status_code == 200, updated.text
        assert updated.json()["service_settings"] == expect_settings
        assert es.get(path).json()["endpoints"][0] == updated.json()


@pytest.mark.parametrize(
    ("path", "create", "update", "unknown"),
    [
        ("/_inference/rerank/r1", OPENSHIFT_RERANK, {"service_settings": {"url": "u"}}, "{url=u}"),
        (
            "/_inference/text_embedding/e1",
            OPENAI,
            {"service_settings": {"model_id": "text-embedding-3-small"}},
            "{model_id=text-embedding-3-small}",
        ),
        ("/_inference/rerank/r1", OPENSHIFT_RERANK, {"task_settings": {"top_k": 1}}, "{top_k=1}"),
        (
            "/_inference/completion/a1",
            {"service": "azureopenai", "service_settings": {"api_key": "k", **AZURE}},
            {"service_settings": {"entra_id": "e"}},
            "{entra_id=e}",
        ),
        (
            "/_inference/completion/a1",
            {"service": "azureopenai", "service_settings": {"api_key": "k", **AZURE}},
            {"service_settings": {"tenant_id": "t"}},
            "{tenant_id=t}",
        ),
    ],
)
def test_current_generation_rejects_everything_else(
    sandbox: SandboxServer, path: str, create: dict[str, Any], update: dict[str, Any], unknown: str
) -> None:
    created = _create(sandbox, path, create)
    with client(sandbox) as es:
        assert_es_error(
            es.put(f"{path}/_update", json=update),
            400,
            "status_exception",
            f"Configuration contains settings [{unknown}] unknown to the [{create['service']}] service",
        )
        assert es.get(path).json()["endpoints"][0] == created


def test_current_generation_secrets_are_optional_and_rotate(sandbox: SandboxServer) -> None:
    created = _create(sandbox, "/_inference/rerank/r1", OPENSHIFT_RERANK)
    first = _fingerprints(sandbox, "r1")
    with client(sandbox) as es:
        rotated = es.put(
            "/_inference/rerank/r1/_update", json={"service_settings": {"api_key": "new-key"}}
        )
        assert rotated.status_code == 200 and rotated.json() == created
        assert _fingerprints(sandbox, "r1") != first
        kept = es.put("/_inference/rerank/r1/_update", json={"task_settings": {"top_n": 1}})
        assert kept.json()["task_settings"] == {"return_documents": True, "top_n": 1}
        _create(
            sandbox,
            "/_inference/completion/b1",
            {
                "service": "amazonbedrock",
                "service_settings": {
                    "access_key": "a",
                    "secret_key": "s",
                    "region": "r",
                    "model": "m",
                    "provider": "cohere",
                },
            },
        )
        assert_es_error(
            es.put(
                "/_inference/completion/b1/_update", json={"service_settings": {"access_key": "a2"}}
            ),
            400,
            "validation_exception",
            "Validation Failed: 1: [secret_settings] does not contain the required setting [secret_key];",
        )


def test_current_generation_task_settings_merge_or_replace(sandbox: SandboxServer) -> None:
    _create(
        sandbox,
        "/_inference/completion/c1",
        {
            "service": "anthropic",
            "service_settings": {"api_key": "k", "model_id": "m"},
            "task_settings": {"max_tokens": 9, "temperature": 0.5},
        },
    )
    _create(
        sandbox,
        "/_inference/completion/o1",
        {
            "service": "openai",
            "service_settings": {"api_key": "k", "model_id": "gpt-4o"},
            "task_settings": {"user": "a", "headers": {"h": "1"}},
        },
    )
    with client(sandbox) as es:
        replaced = es.put(
            "/_inference/completion/c1/_update", json={"task_settings": {"max_tokens": 20}}
        )
        assert replaced.json()["task_settings"] == {"max_tokens": 20}
        assert_es_error(
            es.put(
                "/_inference/completion/c1/_update", json={"task_settings": {"temperature": 0.1}}
            ),
            400,
            "validation_exception",
            "Validation Failed: 1: [task_settings] does not contain the required setting [max_tokens];",
        )
        merged = es.put("/_inference/completion/o1/_update", json={"task_settings": {"user": "b"}})
        assert merged.json()["task_settings"] == {"user": "b", "headers": {"h": "1"}}
        cleared = es.put(
            "/_inference/completion/o1/_update", json={"task_settings": {"user": None}}
        )
        assert cleared.json()["task_settings"] == {"headers": {"h": "1"}}


def test_no_release_updates_chunking_in_place(sandbox: SandboxServer) -> None:
    """9.5.0's UpdateInferenceModelAction.Settings has no chunking_settings (PR 149723 adds it
    in a later release): the key is refused like any other the request cannot carry."""
    chunking = {"strategy": "word", "max_chunk_size": 100, "overlap": 20}
    created = _create(
        sandbox, "/_inference/text_embedding/e1", {**OPENAI, "chunking_settings": chunking}
    )
    with client(sandbox) as es:
        refused = es.put(
            "/_inference/text_embedding/e1/_update",
            json={"chunking_settings": {"strategy": "sentence", "max_chunk_size": 50}},
        )
        assert refused.status_code == 400
        assert "Request contained fields which cannot be updated" in refused.text
        assert es.get("/_inference/e1").json()["endpoints"][0] == created


def test_current_generation_no_op_writes_nothing(sandbox_factory: Any, tmp_path: Path) -> None:
    data = tmp_path / "state.json"
    server = sandbox_factory(data_file=str(data))
    _create(server, "/_inference/rerank/r1", OPENSHIFT_RERANK)
    before = data.stat().st_mtime_ns, data.read_text()
    with client(server) as es:
        same = es.put(
            "/_inference/rerank/r1/_update",
            json={
                "service_settings": {"rate_limit": {"requests_per_minute": 3000}},
                "task_settings": {"top_n": 2},
            },
        )
        assert same.status_code == 200
        same_key = es.put(
            "/_inference/rerank/r1/_update", json={"service_settings": {"api_key": "old-key"}}
        )
        assert same_key.status_code == 200
    assert (data.stat().st_mtime_ns, data.read_text()) == before


def test_current_generation_refuses_default_endpoints(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        assert_es_error(
            es.put(
                "/_inference/sparse_embedding/.elser-2-elasticsearch/_update",
                json={"service_settings": {"num_allocations": 2}},
            ),
            400,
            "status_exception",
            "Default endpoint [.elser-2-elasticsearch] cannot be updated",
        )


def test_current_generation_allocations_for_elasticsearch(sandbox: SandboxServer) -> None:
    _create(
        sandbox,
        "/_inference/text_embedding/e5",
        {
            "service": "elasticsearch",
            "service_settings": {
                "model_id": ".multilingual-e5-small",
                "num_allocations": 1,
                "num_threads": 1,
            },
        },
    )
    with client(sandbox) as es:
        adaptive = {"enabled": True, "min_number_of_allocations": 1, "max_number_of_allocations": 4}
        updated = es.put(
            "/_inference/text_embedding/e5/_update",
            json={"service_settings": {"adaptive_allocations": adaptive}},
        )
        assert updated.status_code == 200, updated.text
        settings = updated.json()["service_settings"]
        assert settings["adaptive_allocations"] == adaptive and "num_allocations" not in settings
        assert_es_error(
            es.put(
                "/_inference/text_embedding/e5/_update",
                json={"service_settings": {"num_threads": 2}},
            ),
            400,
            "status_exception",
            "[num_threads] cannot be updated",
        )


def test_version_knob_switches_generation_at_runtime(sandbox: SandboxServer) -> None:
    _create(sandbox, "/_inference/rerank/r1", OPENSHIFT_RERANK)
    with client(sandbox) as es:
        assert es.put("/_sandbox/version", json={"version": "9.0.0"}).status_code == 200
        assert es.get("/").json()["version"]["number"] == "9.0.0"
        ignored = es.put(
            "/_inference/rerank/r1/_update",
            json={"service_settings": {"api_key": "k2", "url": "elsewhere"}},
        )
        assert ignored.json()["service_settings"]["url"] == "u"
        sandbox.version = "9.5.0"
        assert_es_error(
            es.put(
                "/_inference/rerank/r1/_update", json={"service_settings": {"url": "elsewhere"}}
            ),
            400,
            "status_exception",
            "Configuration contains settings [{url=elsewhere}] unknown to the [openshift_ai] service",
        )
