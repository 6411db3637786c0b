"""Sandbox: DELETE _inference with pipelines and semantic_text indices, dry_run, force, defaults."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.sandbox import SandboxServer
from tests.sandbox.helpers import assert_es_error, client

OPENAI = {
    "service": "openai",
    "service_settings": {"api_key": "k", "model_id": "text-embedding-3-small"},
}
PIPELINE_TEXT = (
    "Inference endpoint e1 is referenced by pipelines: {}. Ensure that no pipelines are using this "
    "inference endpoint, or use force to ignore this warning and delete the inference endpoint."
)
INDEX_TEXT = (
    " Inference endpoint e1 is being used in the mapping for indexes: {}. Ensure that no index mappings "
    "are using this inference endpoint, or use force to ignore this warning and delete the inference "
    "endpoint."
)


def _pipeline(model_id: str, where: str) -> dict[str, Any]:
    processor = {
        "inference": {
            "model_id": model_id,
            "input_output": {"input_field": "a", "output_field": "b"},
        }
    }
    if where == "top":
        return {"description": "d", "processors": [processor]}
    if where == "on_failure":
        return {"processors": [{"set": {"field": "x", "value": 1, "on_failure": [processor]}}]}
    return {"processors": [{"foreach": {"field": "items", "processor": processor}}]}


def _mapping(inference_id: str | None, where: str) -> dict[str, Any]:
    field: dict[str, Any] = {"type": "semantic_text"}
    if inference_id is not None:
        field["inference_id"] = inference_id
    if where == "top":
        properties = {"body": field}
    elif where == "nested":
        properties = {"doc": {"properties": {"body": field}}}
    else:
        properties = {"title": {"type": "text", "fields": {"semantic": field}}}
    return {"mappings": {"properties": properties}}


def _setup(
    es: httpx.Client, pipelines: list[tuple[str, str]], indices: list[tuple[str, str]]
) -> None:
    assert es.put("/_inference/text_embedding/e1", json=OPENAI).status_code == 200
    for name, where in pipelines:
        assert es.put(f"/_ingest/pipeline/{name}", json=_pipeline("e1", where)).status_code == 200
    for name, where in indices:
        assert es.put(f"/{name}", json=_mapping("e1", where)).status_code == 200


@pytest.mark.parametrize(
    ("pipelines", "indices", "message"),
    [
        ([("p1", "top")], [], PIPELINE_TEXT.format("[p1]")),
        ([("p2", "on_failure"), ("p1", "foreach")], [], PIPELINE_TEXT.format("[p1, p2]")),
        ([], [("idx", "top")], INDEX_TEXT.format("[idx]")),
        ([], [("b-idx", "nested"), ("a-idx", "multi_field")], INDEX_TEXT.format("[a-idx, b-idx]")),
        (
            [("p1", "top")],
            [("idx", "top")],
            PIPELINE_TEXT.format("[p1]") + INDEX_TEXT.format("[idx]"),
        ),
    ],
)
def test_delete_in_use_is_409_and_dry_run_lists_users(
    sandbox: SandboxServer,
    pipelines: list[tuple[str, str]],
    indices: list[tuple[str, str]],
    message: str,
) -> None:
    with client(sandbox) as es:
        _setup(es, pipelines, indices)
        assert_es_error(es.delete("/_inference/e1"), 409, "status_exception", message)
        assert_es_error(
            es.delete("/_inference/text_embedding/e1"), 409, "status_exception", message
        )
        dry = es.delete("/_inference/text_embedding/e1", params={"dry_run": "true"})
        assert dry.status_code == 200
        assert dry.json() == {
            "acknowledged": False,
            "pipelines": sorted(p for p, _ in pipelines),
            "indexes": sorted(i for i, _ in indices),
            "error_message": message,
        }
        assert es.get("/_inference/e1").status_code == 200
        forced = es.delete("/_inference/e1", params={"force": "true"})
        assert forced.json() == {"acknowledged": True, "pipelines": [], "indexes": []}
        assert es.get("/_inference/e1").status_code == 404
        # force leaves the users pointing at a missing endpoint
        for name, _ in pipelines:
            assert es.get(f"/_ingest/pipeline/{name}").status_code == 200


def test_clean_delete_and_dry_run(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        _setup(es, [], [])
        es.put("/_ingest/pipeline/other", json=_pipeline("someone-else", "top"))
        es.put("/other-idx", json=_mapping("someone-else", "top"))
        dry = es.delete("/_inference/e1?dry_run")
        assert dry.json() == {
            "acknowledged": False,
            "pipelines": [],
            "indexes": [],
            "error_message": "",
        }
        assert es.delete("/_inference/e1").json() == {
            "acknowledged": True,
            "pipelines": [],
            "indexes": [],
        }
        assert_es_error(
            es.delete("/_inference/e1"),
            404,
            "resource_not_found_exception",
            "Inference endpoint not found [e1]",
        )


def test_delete_checks_the_task_type(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        _setup(es, [], [])
        assert_es_error(
            es.delete("/_inference/rerank/e1"),
            400,
            "status_exception",
            "Requested task type [rerank] does not match the inference endpoint's task type "
            "[text_embedding]",
        )


def test_deleting_users_frees_the_endpoint(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        _setup(es, [("p1", "top")], [("idx", "top")])
        assert es.delete("/_ingest/pipeline/p1").json() == {"acknowledged": True}
        assert es.delete("/idx").json() == {"acknowledged": True}
        assert es.delete("/_inference/e1").status_code == 200


def test_semantic_text_without_inference_id_uses_elser(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        assert es.put("/docs", json=_mapping(None, "top")).status_code == 200
        dry = es.delete("/_inference/.elser-2-elasticsearch?dry_run=true").json()
        assert dry["indexes"] == ["docs"]


@pytest.mark.parametrize(
    "inference_id",
    [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch", ".rerank-v1-elasticsearch"],
)
def test_preconfigured_endpoints(sandbox: SandboxServer, inference_id: str) -> None:
    with client(sandbox) as es:
        listed = es.get(f"/_inference/{inference_id}").json()["endpoints"][0]
        assert listed["service"] == "elasticsearch"
        assert listed["service_settings"]["num_threads"] == 1
        assert listed["service_settings"]["adaptive_allocations"] == {
            "enabled": True,
            "min_number_of_allocations": 0,
            "max_number_of_allocations": 32,
        }
        assert_es_error(
            es.delete(f"/_inference/{inference_id}"),
            400,
            "status_exception",
            f"[{inference_id}] is a reserved inference endpoint. Use the force=true query parameter "
            "to delete the inference endpoint.",
        )
        assert es.delete(f"/_inference/{inference_id}?force=true").json()["acknowledged"] is True
        assert es.get(f"/_inference/{inference_id}").status_code == 200  # defaults come back


def test_preconfigured_bodies(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        by_id = {e["inference_id"]: e for e in es.get("/_inference").json()["endpoints"]}
    assert by_id[".elser-2-elasticsearch"]["task_type"] == "sparse_embedding"
    e5 = by_id[".multilingual-e5-small-elasticsearch"]
    assert e5["task_type"] == "text_embedding"
    assert not {"dimensions", "similarity", "element_type"} & set(e5["service_settings"])
    assert by_id[".rerank-v1-elasticsearch"]["task_settings"] == {"return_documents": True}
    assert "chunking_settings" not in by_id[".rerank-v1-elasticsearch"]
    for key in (".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch"):
        assert by_id[key]["chunking_settings"] == {
            "strategy": "sentence",
            "max_chunk_size": 250,
            "sentence_overlap": 1,
        }


@pytest.mark.parametrize(
    ("version", "dry_run", "refused", "deleted"),
    [
        ("8.14.3", None, None, {"acknowledged": True}),
        (
            "8.15.2",
            {"acknowledged": False, "pipelines": ["p1"]},
            "Inference endpoint e1 is referenced by pipelines and cannot be deleted. Use `force` to delete it anyway, "
            "or use `dry_run` to list the pipelines that reference it.",
            {"acknowledged": True, "pipelines": []},
        ),
        (
            "8.16.0",
            {
                "acknowledged": False,
                "pipelines": ["p1"],
                "indexes": [],
                "error_message": PIPELINE_TEXT.format("[p1]"),
            },
            PIPELINE_TEXT.format("[p1]"),
            {"acknowledged": True, "pipelines": [], "indexes": []},
        ),
    ],
)
def test_delete_shapes_by_version(
    sandbox_factory: Any,
    version: str,
    dry_run: dict[str, Any] | None,
    refused: str | None,
    deleted: dict[str, Any],
) -> None:
    server = sandbox_factory(version=version)
    with client(server) as es:
        _setup(es, [("p1", "top")], [])
        if dry_run is None:
            assert_es_error(
                es.delete("/_inference/e1?dry_run=true"),
                400,
                "illegal_argument_exception",
                "request [/_inference/e1] contains unrecognized parameter: [dry_run]",
            )
        else:
            assert es.delete("/_inference/e1?dry_run=true").json() == dry_run
            assert_es_error(es.delete("/_inference/e1"), 409, "status_exception", refused)
        path = "/_inference/e1" if dry_run is None else "/_inference/e1?force=true"
        assert es.delete(path).json() == deleted


def test_reserved_endpoints_cannot_be_deleted_in_8_16(sandbox_factory: Any) -> None:
    server = sandbox_factory(version="8.16.1")
    with client(server) as es:
        assert_es_error(
            es.delete("/_inference/.elser-2-elasticsearch?force=true"),
            400,
            "status_exception",
            "[.elser-2-elasticsearch] is a reserved inference endpoint. Cannot delete a reserved "
            "inference endpoint.",
        )


def test_pipeline_api(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        body = _pipeline("e1", "top")
        assert es.put("/_ingest/pipeline/p1", json=body).json() == {"acknowledged": True}
        assert es.get("/_ingest/pipeline/p1").json() == {"p1": body}
        assert es.get("/_ingest/pipeline").json() == {"p1": body}
        missing = es.get("/_ingest/pipeline/nope")
        assert missing.status_code == 404 and missing.json() == {}
        assert_es_error(
            es.put("/_ingest/pipeline/p2", json={"description": "no processors"}),
            400,
            "parse_exception",
            "[processors] required property is missing",
        )
        assert_es_error(
            es.delete("/_ingest/pipeline/nope"),
            404,
            "resource_not_found_exception",
            "pipeline [nope] is missing",
        )


def test_an_endpoint_used_as_search_inference_id_is_in_use(sandbox: SandboxServer) -> None:
    """A semantic_text field's `search_inference_id` uses the endpoint at query time: deleting it
    is refused like deleting its `inference_id` (Elasticsearch names the index)."""
    with client(sandbox) as es:
        for name in ("ingest", "search"):
            assert es.put(f"/_inference/text_embedding/{name}", json=OPENAI).status_code == 200
        field = {"type": "semantic_text", "inference_id": "ingest", "search_inference_id": "search"}
        assert es.put("/docs", json={"mappings": {"properties": {"body": field}}}).is_success
        dry_run = es.delete("/_inference/search", params={"dry_run": "true"}).json()
        assert dry_run["indexes"] == ["docs"]
        refused = es.delete("/_inference/search")
        assert refused.status_code == 409 and "[docs]" in refused.text
        assert es.delete("/_inference/search", params={"force": "true"}).status_code == 200
