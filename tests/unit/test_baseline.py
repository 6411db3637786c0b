"""The server-filled baseline as the state document stores it, and what apply records."""

from __future__ import annotations

from reconciler import scrub
from reconciler.baseline import Baseline, taken
from reconciler.model import LiveEndpoint
from reconciler.state import Managed, State

FILLED = Baseline(
    version="9.5.0", values={"service_settings.rate_limit": {"requests_per_minute": 240}}
)


def test_equal_baselines_are_written_once_and_read_back_for_each_entry() -> None:
    entries = {
        f"e{n}": Managed(task_type="rerank", service="cohere", baseline=FILLED) for n in range(3)
    }
    entries["other"] = Managed(
        task_type="rerank", service="cohere", baseline=Baseline(version="9.5.0", values={})
    )
    entries["none"] = Managed(task_type="rerank", service="cohere")
    source = State(salt="s", managed=entries).to_source("doc")
    assert len(source["baselines"]) == 2
    source["managed"]["broken"] = {"task_type": "rerank", "service": "cohere", "baseline": 7}
    read = State.from_source(source, seq_no=1, primary_term=1).managed
    assert [read[f"e{n}"].baseline for n in range(3)] == [FILLED] * 3
    assert read["other"].baseline == Baseline(version="9.5.0", values={})
    assert read["none"].baseline is None and read["broken"].baseline is None


def test_apply_records_undeclared_values_and_never_a_secret() -> None:
    live = LiveEndpoint.from_api(
        {
            "inference_id": "x",
            "task_type": "text_embedding",
            "service": "custom",
            "service_settings": {
                "url": "https://e.example",
                "rate_limit": {"requests_per_minute": 240},
                "headers": {"Authorization": "Bearer leaked-secret-value"},
            },
            "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250},
        }
    )
    scrub.remember("leaked-secret-value")  # as apply does for each secret it resolves
    expected = {
        "service_settings.rate_limit": {"requests_per_minute": 240},
        "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250},
    }
    recorded = taken(live, declared=("service_settings.url",), version="9.5.0")
    assert recorded.values == expected
    # apply's read-back takes thousands, remembering by identity what it checked: endpoints of
    # one listing share their values, the secret one too, and each answer stays the same
    checked: dict[int, tuple[object, bool]] = {}
    alike = LiveEndpoint.from_api({**live.body, "inference_id": "y"})
    for endpoint in (live, alike, live):
        found = taken(
            endpoint, declared=("service_settings.url",), version="9.5.0", checked=checked
        )
        assert found.values == expected
    assert sorted(found for _, found in checked.values()) == [False, False, True]
