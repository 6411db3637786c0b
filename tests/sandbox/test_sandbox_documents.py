"""Sandbox: the index and document APIs the reconciler's state document uses."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.sandbox import SandboxServer
from tests.sandbox.helpers import assert_es_error, client

STATE = "reconciler-state"


def test_create_index_with_settings_and_refuse_a_second_time(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        created = es.put(f"/{STATE}", json={"settings": {"index.hidden": True}})
        assert created.json() == {"acknowledged": True, "shards_acknowledged": True, "index": STATE}
        again = es.put(f"/{STATE}", json={"settings": {"index": {"hidden": True}}})
        reason = assert_es_error(again, 400, "resource_already_exists_exception")
        assert reason.startswith(f"index [{STATE}/") and reason.endswith("] already exists")
        assert again.json()["error"]["index"] == STATE
        shown = es.get(f"/{STATE}").json()[STATE]
        assert shown["settings"]["index"]["hidden"] == "true"
        assert es.head(f"/{STATE}").status_code == 200
        assert es.head("/missing").status_code == 404
        assert_es_error(
            es.get("/missing"), 404, "index_not_found_exception", "no such index [missing]"
        )
        assert_es_error(
            es.put("/Bad"),
            400,
            "invalid_index_name_exception",
            "Invalid index name [Bad], must be lowercase",
        )


def test_get_document_found_missing_and_index_missing(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        assert_es_error(
            es.get(f"/{STATE}/_doc/default"),
            404,
            "index_not_found_exception",
            f"no such index [{STATE}]",
        )
        es.put(f"/{STATE}")
        missing = es.get(f"/{STATE}/_doc/default")
        assert missing.status_code == 404
        assert missing.json() == {"_index": STATE, "_id": "default", "found": False}
        written = es.put(
            f"/{STATE}/_doc/default", params={"refresh": "true"}, json={"managed": ["a"]}
        )
        assert written.status_code == 201
        found = es.get(f"/{STATE}/_doc/default").json()
        assert found == {
            "_index": STATE,
            "_id": "default",
            "_version": 1,
            "_seq_no": 0,
            "_primary_term": 1,
            "found": True,
            "_source": {"managed": ["a"]},
        }


def test_writes_auto_create_the_index_and_count_seq_no_per_index(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        first = es.put(f"/{STATE}/_doc/a", json={"n": 1}).json()
        assert (
            first["result"] == "created" and first["_seq_no"] == 0 and first["_primary_term"] == 1
        )
        second = es.post(f"/{STATE}/_doc/b", json={"n": 2}).json()
        third = es.put(f"/{STATE}/_doc/a", json={"n": 3}).json()
        assert (second["_seq_no"], third["_seq_no"]) == (1, 2)
        assert third["result"] == "updated" and third["_version"] == 2
        other = es.put("/other/_doc/a", json={}).json()
        assert other["_seq_no"] == 0
        auto = es.post("/other/_doc", json={"x": 1})
        assert auto.status_code == 201 and auto.json()["_id"]


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({"if_seq_no": "0", "if_primary_term": "1"}, 200, None),
        (
            {"if_seq_no": "7", "if_primary_term": "1"},
            409,
            "[lock]: version conflict, required seqNo [7], primary term [1]. current document has seqNo [0] and "
            "primary term [1]",
        ),
        (
            {"if_seq_no": "0", "if_primary_term": "2"},
            409,
            "[lock]: version conflict, required seqNo [0], primary term [2]. current document has seqNo [0] and "
            "primary term [1]",
        ),
    ],
)
def test_optimistic_concurrency(
    sandbox: SandboxServer, params: dict[str, str], status: int, reason: str | None
) -> None:
    with client(sandbox) as es:
        assert es.put(f"/{STATE}/_doc/lock", json={"holder": "a"}).status_code == 201
        response = es.put(f"/{STATE}/_doc/lock", params=params, json={"holder": "b"})
        if reason is None:
            assert response.status_code == status and response.json()["_seq_no"] == 1
        else:
            assert_es_error(response, 409, "version_conflict_engine_exception", reason)
            assert es.get(f"/{STATE}/_doc/lock").json()["_source"] == {"holder": "a"}


def test_concurrency_on_a_missing_document_and_bad_parameters(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        es.put(f"/{STATE}")
        assert_es_error(
            es.put(f"/{STATE}/_doc/x", params={"if_seq_no": 3, "if_primary_term": 1}, json={}),
            409,
            "version_conflict_engine_exception",
            "[x]: version conflict, required seqNo [3], primary term [1]. but no document was found",
        )
        assert_es_error(
            es.put(f"/{STATE}/_doc/x", params={"if_seq_no": 3}, json={}),
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: ifSeqNo is set, but primary term is [0];",
        )


def test_create_only_document(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        assert es.put(f"/{STATE}/_create/lock", json={"holder": "a"}).status_code == 201
        assert_es_error(
            es.put(f"/{STATE}/_create/lock", json={"holder": "b"}),
            409,
            "version_conflict_engine_exception",
            "[lock]: version conflict, document already exists (current version [1])",
        )
        assert_es_error(
            es.post(f"/{STATE}/_create/lock", json={}), 409, "version_conflict_engine_exception"
        )
        assert_es_error(
            es.put(f"/{STATE}/_doc/lock", params={"op_type": "create"}, json={}),
            409,
            "version_conflict_engine_exception",
        )


def test_delete_document(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        assert_es_error(es.delete(f"/{STATE}/_doc/lock"), 404, "index_not_found_exception")
        written = es.put(f"/{STATE}/_doc/lock", json={"holder": "a"}).json()
        assert_es_error(
            es.delete(f"/{STATE}/_doc/lock", params={"if_seq_no": 9, "if_primary_term": 1}),
            409,
            "version_conflict_engine_exception",
        )
        deleted = es.delete(
            f"/{STATE}/_doc/lock",
            params={"if_seq_no": written["_seq_no"], "if_primary_term": 1, "refresh": "wait_for"},
        )
        assert deleted.status_code == 200 and deleted.json()["result"] == "deleted"
        again = es.delete(f"/{STATE}/_doc/lock")
        assert again.status_code == 404 and again.json()["result"] == "not_found"
        assert es.get(f"/{STATE}/_doc/lock").json()["found"] is False


def test_mapping_api_adds_semantic_text_users(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        es.put("/docs")
        assert (
            es.put(
                "/docs/_mapping",
                json={"properties": {"s": {"type": "semantic_text", "inference_id": "x"}}},
            ).status_code
            == 200
        )
        assert es.get("/docs/_mapping").json() == {
            "docs": {
                "mappings": {"properties": {"s": {"type": "semantic_text", "inference_id": "x"}}}
            }
        }


def test_index_body_rules(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        assert_es_error(
            es.put("/i1", json={"setting": {}}),
            400,
            "parse_exception",
            "unknown key [setting] for create index",
        )
        assert es.delete("/i2").status_code == 404


def test_cluster_health(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        health: dict[str, Any] = es.get("/_cluster/health").json()
    assert health["status"] == "green" and health["cluster_name"] == "reconciler-sandbox"


def test_concurrent_creates_have_exactly_one_winner(sandbox: SandboxServer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    body = {
        "service": "openai",
        "service_settings": {"api_key": "k", "model_id": "text-embedding-3-small"},
    }

    def create_endpoint(_: int) -> int:
        with client(sandbox) as es:
            return es.put("/_inference/text_embedding/race", json=body).status_code

    def take_lock(holder: int) -> int:
        with client(sandbox) as es:
            return es.put(f"/{STATE}/_create/lock", json={"holder": holder}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(create_endpoint, range(8))) == [200] + [400] * 7
        assert sorted(pool.map(take_lock, range(8))) == [201] + [409] * 7
