"""Indices, mappings and ingest pipelines: the two things that use an endpoint.

Owns `PUT/GET/HEAD/DELETE /{index}`, `GET/PUT /{index}/_mapping`,
`PUT/GET/DELETE /_ingest/pipeline/{id}`, and the usage scan DELETE
_inference needs: which pipelines hold an `inference` processor with that
`model_id` (anywhere in the pipeline, so `on_failure` and `foreach` count),
and which indices map a `semantic_text` field to it (nested `properties`
and multi-`fields` included; no `inference_id` means `.elser-2-elasticsearch`).
Document CRUD is in `documents.py`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from .cluster import Cluster
from .errors import EsError
from .protocol import Request, Response, ok
from .store import Index, Store, new_index

DEFAULT_SEMANTIC_ENDPOINT = ".elser-2-elasticsearch"
_FORBIDDEN = ' "*\\<|,>/?#:'


def index_not_found(name: str) -> EsError:
    return EsError(
        404,
        "index_not_found_exception",
        f"no such index [{name}]",
        extra={
            "resource.type": "index_or_alias",
            "resource.id": name,
            "index_uuid": "_na_",
            "index": name,
        },
    )


def check_index_name(name: str) -> None:
    problem = None
    if name != name.lower():
        problem = "must be lowercase"
    elif name.startswith(("_", "-", "+")):
        problem = "must not start with '_', '-', or '+'"
    elif name in (".", ".."):
        problem = "must not be '.' or '..'"
    elif any(c in name for c in _FORBIDDEN):
        problem = 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'
    if problem:
        raise EsError(
            400,
            "invalid_index_name_exception",
            f"Invalid index name [{name}], {problem}",
            extra={"index_uuid": "_na_", "index": name},
        )


def get_index(store: Store, name: str) -> Index:
    index = store.indices.get(name)
    if index is None:
        raise index_not_found(name)
    return index


def ensure_index(store: Store, name: str) -> Index:
    """Writes auto-create the index, as `action.auto_create_index` allows by default."""
    index = store.indices.get(name)
    if index is None:
        check_index_name(name)
        index = store.indices[name] = new_index(name, {}, {})
        store.save(index=name)
    return index


def _flat_settings(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat_settings(value, f"{path}."))
        else:
            flat[path if path.startswith("index.") else f"index.{path}"] = value
    return flat


def _settings_view(index: Index) -> dict[str, Any]:
    view: dict[str, Any] = {
        "creation_date": str(index.creation_date),
        "number_of_shards": "1",
        "number_of_replicas": "1",
        "uuid": index.uuid,
        "provided_name": index.name,
        "version": {"created": "9000000"},
    }
    for key, value in _flat_settings(index.settings).items():
        view[key.removeprefix("index.")] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return {"index": view}


def create_index(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    name = params["index"]
    body = req.json_object(required=False) or {}
    for key in body:
        if key not in ("settings", "mappings", "aliases"):
            raise EsError(400, "parse_exception", f"unknown key [{key}] for create index")
    for key in ("settings", "mappings", "aliases"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise EsError(400, "parse_exception", f"Failed to parse [{key}]: expected an object")
    check_index_name(name)
    with cluster.store.lock:
        existing = cluster.store.indices.get(name)
        if existing is not None:
            raise EsError(
                400,
                "resource_already_exists_exception",
                f"index [{name}/{existing.uuid}] already exists",
                extra={"index_uuid": existing.uuid, "index": name},
            )
        cluster.store.indices[name] = new_index(
            name,
            copy.deepcopy(body.get("settings") or {}),
            copy.deepcopy(body.get("mappings") or {}),
        )
        cluster.store.save(index=name)
    return ok({"acknowledged": True, "shards_acknowledged": True, "index": name})


def read_index(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    with cluster.store.lock:
        index = get_index(cluster.store, params["index"])
        body = {
            index.name: {
                "aliases": {},
                "mappings": copy.deepcopy(index.mappings),
                "settings": _settings_view(index),
            }
        }
    return ok(body)


def delete_index(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    with cluster.store.lock:
        get_index(cluster.store, params["index"])
        del cluster.store.indices[params["index"]]
        cluster.store.save(index=params["index"])
    return ok({"acknowledged": True})


def read_mapping(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    with cluster.store.lock:
        index = get_index(cluster.store, params["index"])
        return ok({index.name: {"mappings": copy.deepcopy(index.mappings)}})


def put_mapping(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    body = req.json_object() or {}
    new_properties = body.get("properties") or {}
    if not isinstance(new_properties, dict):
        raise EsError(400, "mapper_parsing_exception", "Expected map for property [properties]")
    with cluster.store.lock:
        index = get_index(cluster.store, params["index"])
        properties = index.mappings.get("properties")
        if not isinstance(properties, dict):
            properties = index.mappings["properties"] = {}
        properties.update(copy.deepcopy(new_properties))
        cluster.store.save(index=index.name)
    return ok({"acknowledged": True})


# -- ingest pipelines -----------------------------------------------------------


def put_pipeline(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    body = req.json_object()
    assert body is not None
    processors = body.get("processors")
    if processors is None:
        raise EsError(
            400,
            "parse_exception",
            "[processors] required property is missing",
            extra={"property_name": "processors"},
        )
    if not isinstance(processors, list) or not all(
        isinstance(p, dict) and len(p) == 1 for p in processors
    ):
        raise EsError(
            400,
            "parse_exception",
            "[processors] property isn't a list of single-key objects",
            extra={"property_name": "processors"},
        )
    with cluster.store.lock:
        cluster.store.pipelines[params["id"]] = copy.deepcopy(body)
        cluster.store.save(pipelines=True)
    return ok({"acknowledged": True})


def get_pipelines(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    with cluster.store.lock:
        wanted = params.get("id")
        if wanted is None or wanted in ("*", "_all"):
            return ok(copy.deepcopy(cluster.store.pipelines))
        if wanted not in cluster.store.pipelines:
            return Response(status=404, body={})
        return ok({wanted: copy.deepcopy(cluster.store.pipelines[wanted])})


def delete_pipeline(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    with cluster.store.lock:
        if params["id"] not in cluster.store.pipelines:
            raise EsError(
                404, "resource_not_found_exception", f"pipeline [{params['id']}] is missing"
            )
        del cluster.store.pipelines[params["id"]]
        cluster.store.save(pipelines=True)
    return ok({"acknowledged": True})


# -- usage scan --------------------------------------------------------------------


def _inference_model_ids(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if (
                key == "inference"
                and isinstance(value, dict)
                and isinstance(value.get("model_id"), str)
            ):
                yield value["model_id"]
            yield from _inference_model_ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _inference_model_ids(item)


def _semantic_text_ids(properties: Any) -> Iterator[str]:
    if not isinstance(properties, dict):
        return
    for spec in properties.values():
        if not isinstance(spec, dict):
            continue
        if spec.get("type") == "semantic_text":
            yield spec.get("inference_id") or DEFAULT_SEMANTIC_ENDPOINT
            if spec.get("search_inference_id"):  # used at query time: in use as much
                yield spec["search_inference_id"]
        for nested in ("properties", "fields"):
            yield from _semantic_text_ids(spec.get(nested))


def pipelines_using(store: Store, inference_id: str) -> list[str]:
    with store.lock:
        return sorted(
            name
            for name, body in store.pipelines.items()
            if inference_id in set(_inference_model_ids(body))
        )


def indices_using(store: Store, inference_id: str) -> list[str]:
    with store.lock:
        return sorted(
            name
            for name, index in store.indices.items()
            if inference_id in set(_semantic_text_ids(index.mappings.get("properties")))
        )
