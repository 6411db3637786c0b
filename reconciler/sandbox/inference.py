"""GET, PUT and DELETE of inference endpoints (docs/elasticsearch-api.md §1-§4, §6).

Owns listing (sorted by id, task-type filters, `_all`/`*`), create-only PUT
(the "already exists" check runs after validation, as in Elasticsearch),
DELETE with `dry_run`/`force` and the version-dependent response shapes and
409 texts. `GET _inference/_services` is `services_api.py`; body validation is
`validation.py`; `_update` is `update.py`.
"""

from __future__ import annotations

from typing import Any

from . import eis
from .cluster import Cluster
from .errors import EsError, bad_request, java_str, status_exception
from .indices import indices_using, pipelines_using
from .protocol import Request, Response, ok
from .services import as_shown
from .store import StoredEndpoint
from .validation import check_inference_id, parse_create, parse_task_type


def not_found(inference_id: str) -> EsError:
    return EsError(
        404, "resource_not_found_exception", f"Inference endpoint not found [{inference_id}]"
    )


def check_task_type(requested: str, stored: str) -> None:
    if requested not in ("any", stored):
        raise status_exception(
            f"Requested task type [{requested}] does not match the inference endpoint's task type [{stored}]"
        )


def get_endpoints(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    task_type = parse_task_type(params["task_type"]) if "task_type" in params else "any"
    inference_id = params.get("inference_id", "_all")
    if inference_id in ("_all", "*"):
        endpoints = [
            as_shown(ep) for ep in cluster.all_endpoints() if task_type in ("any", ep["task_type"])
        ]
        return ok({"endpoints": endpoints})
    stored = cluster.lookup(inference_id)
    if stored is None:
        raise not_found(inference_id)
    check_task_type(task_type, stored.config["task_type"])
    return ok({"endpoints": [as_shown(stored.config)]})


def put_endpoint(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    url_task = parse_task_type(params["task_type"]) if "task_type" in params else "any"
    inference_id = params["inference_id"]
    # ES order: the REST layer wants a body, request validation checks the id, then the body is parsed
    if not req.has_body:
        raise EsError(400, "parse_exception", "request body is required")
    check_inference_id(inference_id)
    body = req.json_object()
    assert body is not None
    if body.get("service") == eis.NAME:
        eis.check_create(
            version=cluster.version, connected=cluster.eis_connected, url_task=url_task, body=body
        )
    parsed = parse_create(
        inference_id, url_task, body, version=cluster.version, offers=cluster.offers
    )
    with cluster.store.lock:
        if cluster.lookup(inference_id) is not None:
            raise EsError(
                400,
                "resource_already_exists_exception",
                f"Inference endpoint [{inference_id}] already exists",
            )
        cluster.store.endpoints[inference_id] = StoredEndpoint(
            config=parsed.config,
            secret_fingerprints=cluster.store.fingerprints(parsed.secrets),
            hidden=parsed.hidden,
        )
        cluster.store.save(endpoint=inference_id)
    return ok(as_shown(parsed.config))


def usage_message(
    inference_id: str, pipelines: list[str], indexes: list[str], *, v815: bool
) -> str:
    if v815:
        if not pipelines:
            return ""
        return (
            f"Inference endpoint {inference_id} is referenced by pipelines and cannot be deleted. "
            "Use `force` to delete it anyway, or use `dry_run` to list the pipelines that reference it."
        )
    message = ""
    if pipelines:
        message += (
            f"Inference endpoint {inference_id} is referenced by pipelines: {java_str(pipelines)}. "
            "Ensure that no pipelines are using this inference endpoint, or use force to ignore this "
            "warning and delete the inference endpoint."
        )
    if indexes:
        message += (
            f" Inference endpoint {inference_id} is being used in the mapping for indexes: "
            f"{java_str(indexes)}. Ensure that no index mappings are using this inference endpoint, "
            "or use force to ignore this warning and delete the inference endpoint."
        )
    return message


def delete_endpoint(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    task_type = parse_task_type(params["task_type"]) if "task_type" in params else "any"
    inference_id = params["inference_id"]
    has_flags = cluster.at_least("8.15.0")
    if not has_flags:
        for name in ("dry_run", "force"):
            if name in req.query:
                raise bad_request(f"request [{req.path}] contains unrecognized parameter: [{name}]")
    dry_run, force = req.flag("dry_run"), req.flag("force")
    v815 = not cluster.at_least("8.16.0")
    with cluster.store.lock:
        stored = cluster.lookup(inference_id)
        if stored is None:
            raise not_found(inference_id)
        check_task_type(task_type, stored.config["task_type"])
        pipelines = pipelines_using(cluster.store, inference_id) if has_flags else []
        indexes = [] if v815 or not has_flags else indices_using(cluster.store, inference_id)
        message = usage_message(inference_id, pipelines, indexes, v815=v815)
        if dry_run:
            body: dict[str, Any] = {"acknowledged": False, "pipelines": pipelines}
            if not v815:
                body.update(indexes=indexes, error_message=message)
            return ok(body)
        if message and not force:
            raise status_exception(message, 409)
        if cluster.is_preconfigured(inference_id):
            if not cluster.at_least("8.17.0"):
                raise status_exception(
                    f"[{inference_id}] is a reserved inference endpoint. Cannot delete a reserved inference endpoint."
                )
            if not force:
                raise status_exception(
                    f"[{inference_id}] is a reserved inference endpoint. Use the force=true query "
                    "parameter to delete the inference endpoint."
                )
        if cluster.store.endpoints.pop(inference_id, None) is not None:
            cluster.store.save(endpoint=inference_id)
    if not has_flags:
        return ok({"acknowledged": True})
    if v815:
        return ok({"acknowledged": True, "pipelines": []})
    return ok({"acknowledged": True, "pipelines": [], "indexes": []})


def unsupported_inference_call(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    raise bad_request(
        "The sandbox cluster emulates inference endpoint management only; it does not perform inference."
    )
