"""Sandbox data file: every change is on disk before its request is answered, also under concurrency."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.sandbox.helpers import client

OPENAI = {
    "service": "openai",
    "service_settings": {"api_key": "sk-secret-value", "model_id": "text-embedding-3-small"},
}


def _stored(data: Path) -> dict[str, Any]:
    endpoints: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))["endpoints"]
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

    def exact() -> (
        bool
    ):  # parts of the file are kept between writes; the whole must still be the snapshot
        return data.read_text(encoding="utf-8") == json.dumps(
            server.store.snapshot(), separators=(",", ":")
        )

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
