"""Document APIs the reconciler's state document needs (docs/state-document.md).

Owns `GET/HEAD/PUT/POST/DELETE /{index}/_doc/{id}`, `POST /{index}/_doc`
and `PUT/POST /{index}/_create/{id}`, with optimistic concurrency
(`if_seq_no` + `if_primary_term`) and Elasticsearch's 409
`version_conflict_engine_exception` texts. `_seq_no` grows by one per write
to an index, `_primary_term` is always 1. Writes auto-create the index;
`refresh` and the other usual parameters are accepted and have no effect.
"""

from __future__ import annotations

import secrets
from typing import Any

from .cluster import Cluster
from .errors import EsError, bad_request
from .indices import ensure_index, get_index
from .protocol import Request, Response, ok
from .store import Document, Index

_SHARDS = {"total": 2, "successful": 1, "failed": 0}


def _long_param(req: Request, name: str) -> int | None:
    raw = req.query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise bad_request(f"Failed to parse long parameter [{name}] with value [{raw}]") from None


def _conflict(index: Index, doc_id: str, detail: str) -> EsError:
    return EsError(
        409,
        "version_conflict_engine_exception",
        f"[{doc_id}]: version conflict, {detail}",
        extra={"index_uuid": index.uuid, "shard": "0", "index": index.name},
    )


def _write_result(index: Index, doc_id: str, doc: Document, result: str) -> dict[str, Any]:
    return {
        "_index": index.name,
        "_id": doc_id,
        "_version": doc.version,
        "result": result,
        "_shards": dict(_SHARDS),
        "_seq_no": doc.seq_no,
        "_primary_term": doc.primary_term,
    }


def _check_concurrency(
    index: Index, doc_id: str, if_seq_no: int | None, if_term: int | None
) -> None:
    if if_seq_no is None:
        return
    current = index.docs.get(doc_id)
    required = f"required seqNo [{if_seq_no}], primary term [{if_term}]"
    if current is None:
        raise _conflict(index, doc_id, f"{required}. but no document was found")
    if current.seq_no != if_seq_no or current.primary_term != if_term:
        raise _conflict(
            index,
            doc_id,
            f"{required}. current document has seqNo [{current.seq_no}] and primary term [{current.primary_term}]",
        )


def _cas_params(req: Request, *, create: bool) -> tuple[int | None, int | None]:
    if_seq_no = _long_param(req, "if_seq_no")
    if_term = _long_param(req, "if_primary_term")
    problems = []
    if if_seq_no is not None and if_term is None:
        problems.append("ifSeqNo is set, but primary term is [0]")
    if if_term is not None and if_seq_no is None:
        problems.append("ifPrimaryTerm is set, but seqNo is [-2]")
    if create and if_seq_no is not None:
        problems.append("create operations do not support compare and set. use index instead")
    if problems:
        text = "".join(f"{i}: {p};" for i, p in enumerate(problems, start=1))
        raise EsError(400, "action_request_validation_exception", f"Validation Failed: {text}")
    return if_seq_no, if_term


def index_document(
    cluster: Cluster, req: Request, params: dict[str, str], *, create: bool = False
) -> Response:
    op_type = req.query.get("op_type", "create" if create else "index")
    if op_type not in ("create", "index"):
        raise bad_request(f"opType must be 'create' or 'index', found: [{op_type}]")
    create = op_type == "create"
    if_seq_no, if_term = _cas_params(req, create=create)
    source = req.json_object()
    doc_id = params.get("id") or secrets.token_urlsafe(15)[:20]
    with cluster.store.lock:
        index = ensure_index(cluster.store, params["index"])
        current = index.docs.get(doc_id)
        if create and current is not None:
            raise _conflict(
                index, doc_id, f"document already exists (current version [{current.version}])"
            )
        _check_concurrency(index, doc_id, if_seq_no, if_term)
        doc = Document(
            # parsed for this request alone: no copy (a state document is megabytes). A stored
            # source is replaced whole, never changed in place, so answers hand it out as is
            source=source,
            version=current.version + 1 if current else 1,
            seq_no=index.take_seq_no(),
        )
        index.docs[doc_id] = doc
        cluster.store.save(document=(index.name, doc_id))
        body = _write_result(index, doc_id, doc, "updated" if current else "created")
    response = ok(body, 200 if current else 201)
    if not current:
        response.headers["Location"] = f"/{index.name}/_doc/{doc_id}"
    return response


def create_document(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    return index_document(cluster, req, params, create=True)


def get_document(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    doc_id = params["id"]
    with cluster.store.lock:
        index = get_index(cluster.store, params["index"])
        doc = index.docs.get(doc_id)
        if doc is None:
            return Response(status=404, body={"_index": index.name, "_id": doc_id, "found": False})
        return ok(
            {
                "_index": index.name,
                "_id": doc_id,
                "_version": doc.version,
                "_seq_no": doc.seq_no,
                "_primary_term": doc.primary_term,
                "found": True,
                "_source": doc.source,  # never changed in place (see ``index_document``)
            }
        )


def delete_document(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    doc_id = params["id"]
    if_seq_no, if_term = _cas_params(req, create=False)
    with cluster.store.lock:
        index = get_index(cluster.store, params["index"])
        _check_concurrency(index, doc_id, if_seq_no, if_term)
        current = index.docs.pop(doc_id, None)
        tombstone = Document(
            source=None, version=current.version + 1 if current else 1, seq_no=index.take_seq_no()
        )
        cluster.store.save(document=(index.name, doc_id))
        body = _write_result(index, doc_id, tombstone, "deleted" if current else "not_found")
    return ok(body, 200 if current else 404)


def refresh_index(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    with cluster.store.lock:
        get_index(cluster.store, params["index"])
    return ok({"_shards": {"total": 2, "successful": 1, "failed": 0}})


MAX_RESULT_WINDOW = 10_000  # index.max_result_window's default


def search_documents(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    """`GET|POST /{index}/_search`: match_all, `ids` or `term` on a top-level keyword field,
    with `size`/`from` and `seq_no_primary_term` (query string or body), hits in `_id` order."""
    body = req.json_object(required=False) or {}
    size = _long_param(req, "size")
    start = _long_param(req, "from")
    size = int(body.get("size", 10 if size is None else size))
    start = int(body.get("from", 0 if start is None else start))
    if start + size > MAX_RESULT_WINDOW:
        raise bad_request(
            f"Result window is too large, from + size must be less than or equal to: "
            f"[{MAX_RESULT_WINDOW}] but was [{start + size}]. See the scroll api for a more "
            "efficient way to request large data sets."
        )
    with_seq = body.get("seq_no_primary_term") is True or req.query.get("seq_no_primary_term") in (
        "true",
        "",
    )
    matches = _matcher(body.get("query") or {"match_all": {}})
    with cluster.store.lock:
        index = get_index(cluster.store, params["index"])
        found = [
            (doc_id, doc)
            for doc_id, doc in sorted(index.docs.items())
            if doc.source is not None and matches(doc_id, doc.source)
        ]
        hits = []
        for doc_id, doc in found[start : start + size]:
            hit: dict[str, Any] = {"_index": index.name, "_id": doc_id, "_score": 1.0}
            if with_seq:
                hit.update(_seq_no=doc.seq_no, _primary_term=doc.primary_term)
            hit["_source"] = doc.source  # never changed in place: no copy of megabytes
            hits.append(hit)
    return ok(
        {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": len(found), "relation": "eq"},
                "max_score": 1.0 if hits else None,
                "hits": hits,
            },
        }
    )


def _matcher(query: Any) -> Any:
    if not isinstance(query, dict) or len(query) != 1:
        raise bad_request("[query] malformed query, expected exactly one query clause")
    ((kind, clause),) = query.items()
    if kind == "match_all":
        return lambda doc_id, source: True
    if kind == "ids" and isinstance(clause, dict):
        wanted = set(clause.get("values") or ())
        return lambda doc_id, source: doc_id in wanted
    if kind == "term" and isinstance(clause, dict) and len(clause) == 1:
        ((name, value),) = clause.items()
        value = value.get("value") if isinstance(value, dict) else value
        return lambda doc_id, source: isinstance(source, dict) and source.get(name) == value
    raise bad_request(f"unknown query [{kind}] (the sandbox knows match_all, ids and term)")
