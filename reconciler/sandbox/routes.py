"""The route table and Elasticsearch's routing rules.

Owns which (method, path template) reaches which handler, the query
parameters each route accepts (others get ES's "unrecognized parameter"
400), the version a route appears in, and the action name + privileges
used for the optional 403 check. Routing follows `RestController`: routes
with literal segments are tried before wildcard ones, a path known under
other methods answers 405, an unknown path 400 `no handler found`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import documents, indices, inference, region_policy, services_api, update
from .cluster import Cluster
from .errors import bad_request, no_handler, wrong_method
from .knobs import authorize
from .protocol import Request, Response, ok

Handler = Callable[[Cluster, Request, dict[str, str]], Response]
GLOBAL_PARAMS = frozenset(
    {"pretty", "human", "error_trace", "filter_path", "source", "source_content_type"}
)


@dataclass(frozen=True)
class Action:
    handler: Handler
    name: str
    privileges: str
    params: frozenset[str] = frozenset()
    on_index: bool = False


@dataclass(frozen=True)
class Route:
    template: str
    methods: dict[str, Action]
    since: str | None = None
    segments: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(s for s in self.template.split("/") if s))

    def match(self, parts: list[str]) -> dict[str, str] | None:
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for pattern, part in zip(self.segments, parts, strict=True):
            if pattern.startswith("{"):
                params[pattern[1:-1]] = part
            elif pattern != part:
                return None
        return params


def _p(*names: str) -> frozenset[str]:
    return frozenset(names)


INF_READ = "monitor_inference,manage_inference,monitor,manage,all"
INF_WRITE = "manage_inference,manage,all"
PIPE_WRITE = "manage_ingest_pipelines,manage_pipeline,manage,all"
IDX_META = _p(
    "master_timeout",
    "timeout",
    "ignore_unavailable",
    "allow_no_indices",
    "expand_wildcards",
    "local",
    "include_defaults",
    "flat_settings",
    "features",
    "wait_for_active_shards",
)
DOC_WRITE = _p(
    "if_seq_no",
    "if_primary_term",
    "op_type",
    "pipeline",
    "refresh",
    "routing",
    "timeout",
    "version",
    "version_type",
    "wait_for_active_shards",
    "require_alias",
    "require_data_stream",
    "include_source_on_error",
)
DOC_READ = _p(
    "preference",
    "realtime",
    "refresh",
    "routing",
    "_source",
    "_source_excludes",
    "_source_includes",
    "stored_fields",
    "version",
    "version_type",
)


def _info(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    return ok(cluster.info())


def _health(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    return ok(cluster.health())


def _inference_routes() -> list[Route]:
    get = Action(inference.get_endpoints, "cluster:monitor/xpack/inference/get", INF_READ)
    put = Action(
        inference.put_endpoint, "cluster:admin/xpack/inference/put", INF_WRITE, _p("timeout")
    )
    delete = Action(
        inference.delete_endpoint,
        "cluster:admin/xpack/inference/delete",
        INF_WRITE,
        _p("dry_run", "force"),
    )
    post = Action(
        inference.unsupported_inference_call,
        "cluster:monitor/xpack/inference/post",
        INF_READ,
        _p("timeout"),
    )
    services = Action(
        services_api.list_services, "cluster:monitor/xpack/inference/services/get", INF_READ
    )
    upd = Action(
        update.update_endpoint,
        "cluster:admin/xpack/inference/update",
        INF_WRITE,
        _p("master_timeout", "timeout"),
    )
    no_id = Action(
        update.id_missing_in_path,
        "cluster:admin/xpack/inference/update",
        INF_WRITE,
        _p("master_timeout", "timeout"),
    )
    policy = {
        "GET": Action(
            region_policy.get_policy,
            "cluster:monitor/xpack/inference/region_policy/get",
            INF_READ,
        ),
        "PUT": Action(
            region_policy.put_policy,
            "cluster:admin/xpack/inference/region_policy/put",
            INF_WRITE,
            _p("force"),
        ),
        "DELETE": Action(
            region_policy.delete_policy,
            "cluster:admin/xpack/inference/region_policy/delete",
            INF_WRITE,
        ),
    }
    return [
        Route("/_inference", {"GET": get}),
        Route("/_inference/_services", {"GET": services}, since="8.18.0"),
        Route("/_inference/_region_policy", policy, since="9.5.0"),
        Route("/_inference/_services/{task_type}", {"GET": services}, since="8.18.0"),
        Route("/_inference/{inference_id}/_update", {"PUT": no_id}, since="8.17.0"),
        Route("/_inference/{task_type}/{inference_id}/_update", {"PUT": upd}, since="8.17.0"),
        Route(
            "/_inference/{inference_id}", {"GET": get, "PUT": put, "DELETE": delete, "POST": post}
        ),
        Route(
            "/_inference/{task_type}/{inference_id}",
            {"GET": get, "PUT": put, "DELETE": delete, "POST": post},
        ),
    ]


def _index_routes() -> list[Route]:
    def idx(handler: Handler, name: str, privileges: str, params: frozenset[str]) -> Action:
        return Action(handler, name, privileges, params, on_index=True)

    get_doc = idx(documents.get_document, "indices:data/read/get", "read,all", DOC_READ)
    index_doc = idx(
        documents.index_document,
        "indices:data/write/index",
        "create_doc,create,index,write,all",
        DOC_WRITE,
    )
    create_doc = idx(
        documents.create_document,
        "indices:data/write/index",
        "create_doc,create,index,write,all",
        DOC_WRITE,
    )
    delete_doc = idx(
        documents.delete_document, "indices:data/write/delete", "delete,write,all", DOC_WRITE
    )
    search = idx(
        documents.search_documents,
        "indices:data/read/search",
        "read,all",
        _p("size", "from", "seq_no_primary_term", "track_total_hits", "ignore_unavailable"),
    )
    get_index = idx(
        indices.read_index, "indices:admin/get", "view_index_metadata,manage,all", IDX_META
    )
    return [
        Route(
            "/{index}/_doc/{id}",
            {
                "GET": get_doc,
                "HEAD": get_doc,
                "PUT": index_doc,
                "POST": index_doc,
                "DELETE": delete_doc,
            },
        ),
        Route("/{index}/_doc", {"POST": index_doc}),
        Route("/{index}/_search", {"GET": search, "POST": search}),
        Route("/{index}/_create/{id}", {"PUT": create_doc, "POST": create_doc}),
        Route(
            "/{index}/_mapping",
            {
                "GET": idx(
                    indices.read_mapping,
                    "indices:admin/mappings/get",
                    "view_index_metadata,manage,all",
                    IDX_META,
                ),
                "PUT": idx(
                    indices.put_mapping,
                    "indices:admin/mapping/put",
                    "manage,all",
                    IDX_META | _p("write_index_only"),
                ),
            },
        ),
        Route(
            "/{index}/_refresh",
            {
                "GET": idx(
                    documents.refresh_index,
                    "indices:admin/refresh",
                    "maintenance,manage,all",
                    IDX_META,
                ),
                "POST": idx(
                    documents.refresh_index,
                    "indices:admin/refresh",
                    "maintenance,manage,all",
                    IDX_META,
                ),
            },
        ),
        Route(
            "/{index}",
            {
                "GET": get_index,
                "HEAD": get_index,
                "PUT": idx(
                    indices.create_index,
                    "indices:admin/create",
                    "create_index,manage,all",
                    IDX_META,
                ),
                "DELETE": idx(
                    indices.delete_index,
                    "indices:admin/delete",
                    "delete_index,manage,all",
                    IDX_META,
                ),
            },
        ),
    ]


def build_routes() -> list[Route]:
    pipelines_get = Action(
        indices.get_pipelines,
        "cluster:admin/ingest/pipeline/get",
        "read_pipeline,manage_ingest_pipelines,manage_pipeline,manage,all",
        _p("master_timeout", "summary"),
    )
    return [
        Route(
            "/",
            {
                "GET": Action(_info, "cluster:monitor/main", "monitor,manage,all"),
                "HEAD": Action(_info, "cluster:monitor/main", "monitor,manage,all"),
            },
        ),
        Route(
            "/_cluster/health",
            {
                "GET": Action(
                    _health,
                    "cluster:monitor/health",
                    "monitor,manage,all",
                    _p(
                        "level",
                        "local",
                        "master_timeout",
                        "timeout",
                        "wait_for_status",
                        "wait_for_nodes",
                        "wait_for_active_shards",
                        "wait_for_events",
                        "wait_for_no_relocating_shards",
                        "wait_for_no_initializing_shards",
                        "expand_wildcards",
                    ),
                )
            },
        ),
        *_inference_routes(),
        Route("/_ingest/pipeline", {"GET": pipelines_get}),
        Route(
            "/_ingest/pipeline/{id}",
            {
                "GET": pipelines_get,
                "PUT": Action(
                    indices.put_pipeline,
                    "cluster:admin/ingest/pipeline/put",
                    PIPE_WRITE,
                    _p("master_timeout", "timeout", "if_version"),
                ),
                "DELETE": Action(
                    indices.delete_pipeline,
                    "cluster:admin/ingest/pipeline/delete",
                    PIPE_WRITE,
                    _p("master_timeout", "timeout"),
                ),
            },
        ),
        *_index_routes(),
    ]


ROUTES = build_routes()


def dispatch(cluster: Cluster, req: Request, role: str) -> Response:
    """Route one request (authentication has already happened)."""
    parts = [p for p in req.path.split("/") if p]
    allowed: set[str] = set()
    for route in ROUTES:
        if route.since is not None and not cluster.at_least(route.since):
            continue
        params = route.match(parts)
        if params is None:
            continue
        action = route.methods.get(req.method)
        if action is None:
            allowed.update(route.methods)
            continue
        unknown = sorted(set(req.query) - action.params - GLOBAL_PARAMS)
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            listed = ", ".join(f"[{name}]" for name in unknown)
            raise bad_request(
                f"request [{req.path}] contains unrecognized parameter{plural}: {listed}"
            )
        authorize(
            role,
            method=req.method,
            action=action.name,
            privileges=action.privileges,
            index=params.get("index") if action.on_index else None,
        )
        return action.handler(cluster, req, params)
    if allowed:
        raise wrong_method(req.raw_uri, req.method, sorted(allowed))
    raise no_handler(req.raw_uri, req.method)
