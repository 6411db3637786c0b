"""Sandbox data file: every change is on disk before its request is answered, also under
concurrency, at a cost proportional to the change."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox.store import read_data_file
from tests.sandbox.helpers import client

OPENAI = {
    "service": "openai",
    "service_settings": {"api_key": "sk-secret-value", "model_id": "text-embedding-3-small"},
}


def _stored(data: Path) -> dict[str, Any]:
    endpoints: dict[str, Any] = read_data_file(data)["endpoints"]
    return endpoints


def test_concurrent_changes_are_each_on_disk_when_answered(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    data = tmp_path / "cluster.json"
    server = sandbox_factory(data_file=str(data))
    names = [f"e{number}" for number in range(60)]

    def create(name: str) -> bool:
        with client(server) as es:
            assert es.put(f"/_inference/text_embedding/{name}", json=OPENAI).status_code == 200
        return name in _stored(data)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(create, names))
    assert set(_stored(data)) == set(names)


def test_the_file_follows_updates_and_deletes(sandbox_factory: Any, tmp_path: Path) -> None:
    data = tmp_path / "cluster.json"
    server = sandbox_factory(data_file=str(data))

    def exact() -> bool:  # the file, its journal replayed, is the whole cluster
        return read_data_file(data) == json.loads(json.dumps(server.store.snapshot()))

    with client(server) as es:
        for name in ("e1", "e2"):
            assert es.put(f"/_inference/text_embedding/{name}", json=OPENAI).status_code == 200
        task_settings = {"user": "someone"}
        assert (
            es.put(
                "/_inference/text_embedding/e1/_update", json={"task_settings": task_settings}
            ).status_code
            == 200
        )
        assert _stored(data)["e1"]["config"]["task_settings"] == task_settings and exact()
        assert (
            es.put("/state/_doc/d1", json={"managed": {"e1": {}}}).status_code in (200, 201)
            and exact()
        )
        assert es.put("/state/_doc/d1", json={"managed": {}}).status_code == 200 and exact()
        assert (
            es.put("/_ingest/pipeline/p1", json={"processors": []}).status_code == 200 and exact()
        )
        assert es.delete("/state/_doc/d1").status_code == 200 and exact()
        assert es.delete("/_inference/text_embedding/e2").status_code == 200
        assert set(_stored(data)) == {"e1"} and exact()
        assert es.post("/_sandbox/reset").status_code == 200
    assert _stored(data) == {} and exact()
    again = sandbox_factory(data_file=str(data))
    with client(again) as es:
        assert es.put("/_inference/text_embedding/e3", json=OPENAI).status_code == 200
    assert set(_stored(data)) == {"e3"}


def test_a_write_costs_the_change_not_the_cluster(sandbox_factory: Any, tmp_path: Path) -> None:
    """One more create appends the same bytes to the file whether it holds 10 endpoints or
    200 (and a large document written again appends that document, not the cluster); the file
    as a killed process leaves it (no folding) is read back whole, and a stopped sandbox leaves
    one JSON document."""
    grown = []
    for count in (10, 200):
        data = tmp_path / f"cluster-{count}.json"
        server = sandbox_factory(data_file=str(data))
        with client(server) as es:
            for number in range(count):
                assert (
                    es.put(f"/_inference/text_embedding/e{number}", json=OPENAI).status_code == 200
                )
            state = {"managed": {f"e{number}": {"secrets": {}} for number in range(count)}}
            assert es.put("/state/_doc/d", json=state).status_code == 201
            before = data.stat().st_size
            assert es.put("/_inference/text_embedding/last", json=OPENAI).status_code == 200
            created = data.stat().st_size - before
            assert es.put("/state/_doc/d", json=state).status_code == 200
            rewritten = data.stat().st_size - before - created
        grown.append(created)
        size = len(json.dumps(state, separators=(",", ":")))
        assert size < rewritten < size + 300
        assert read_data_file(data) == json.loads(json.dumps(server.store.snapshot()))
        with pytest.raises(json.JSONDecodeError):  # a journal follows the document
            json.loads(data.read_text(encoding="utf-8"))
        server.stop()
        assert json.loads(data.read_text(encoding="utf-8")) == read_data_file(data)
    assert grown[0] == grown[1] < 1000  # one endpoint's line, whatever the file holds


def test_a_line_cut_short_by_a_killed_sandbox_is_left_out(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    data = tmp_path / "cluster.json"
    server = sandbox_factory(data_file=str(data))
    with client(server) as es:
        for name in ("e1", "e2"):
            assert es.put(f"/_inference/text_embedding/{name}", json=OPENAI).status_code == 200
    text = data.read_text(encoding="utf-8")
    data.write_text(text + '{"op":"endpoint","id":"e3","val', encoding="utf-8")
    assert set(sandbox_factory(data_file=str(data)).store.endpoints) == {"e1", "e2"}
