"""The state document's text: a store that writes it several times in a run (apply) reuses the text
of what did not change, and what it writes is always the document a fresh encoding makes."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from reconciler.baseline import Baseline
from reconciler.state import DocumentText, Intended, Intent, Managed, State


def baseline(n: int) -> Baseline:
    return Baseline(version="9.5.0", values={"service_settings.rate_limit": {"n": n}})


def entry(n: int, *, filled: int | None = None) -> Managed:
    return Managed(
        task_type="rerank",
        service="cohere",
        secrets={"service_settings.api_key": f"hmac-key:k:{n:064x}"},
        declared=("service_settings.api_key", "service_settings.model_id"),
        baseline=None if filled is None else baseline(filled),
    )


def written(text: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    document.pop("updated_at")  # the clock, not the content
    return document


def test_each_write_is_the_document_a_fresh_encoding_makes() -> None:
    managed = {f"e{n}": entry(n, filled=n % 2) for n in range(6)}
    intended = {f"new{n}": Intended(action="update", entry=None) for n in range(3)}
    first = State(
        salt="s", managed=managed, intent=Intent(run="r", started_at=1, endpoints=intended)
    )
    text = DocumentText()
    assert written(text.encode(first, "doc")) == written(DocumentText().encode(first, "doc"))
    # the next write: an entry changed, one gone, one added whose baseline is listed first (every
    # other entry's baseline moves one place), an intent item recorded and gone
    changed = dict(managed)
    changed["e3"] = entry(33, filled=1)
    del changed["e4"]
    changed = {"a-first": entry(9, filled=7), **changed}
    left = {k: v for k, v in intended.items() if k != "new0"}
    second = replace(first, managed=changed, intent=replace(first.intent, endpoints=left))
    document = written(text.encode(second, "doc"))
    assert document == written(DocumentText().encode(second, "doc"))
    assert document["baselines"][document["managed"]["e1"]["baseline"]] == baseline(1).to_json()
    assert document["managed"]["e3"]["secrets"] == dict(entry(33).secrets)
    assert "e4" not in document["managed"] and list(document["intent"]["endpoints"]) == [
        "new1",
        "new2",
    ]
    # read back as written
    read = State.from_source({**document, "updated_at": 1}, seq_no=1, primary_term=1)
    assert read.managed == changed
