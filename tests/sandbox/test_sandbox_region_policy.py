"""The sandbox's inference region policy: the three APIs, their errors, and the EIS endpoints it denies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.sandbox import SandboxServer
from tests.sandbox.helpers import assert_es_error, client

GEOS = {"region_policy": {"allowed_geos": ["us", "eu"]}}
US_EAST = {"region_policy": {"allowed_regions": [{"csp": "aws", "region": "us-east-1"}]}}
EU_ONLY = {"region_policy": {"allowed_geos": ["eu"]}}


def eis_metadata(es: httpx.Client) -> dict[str, Any]:
    listing = es.get("/_inference/_all").json()["endpoints"]
    return {e["inference_id"]: e["metadata"] for e in listing if e["service"] == "elastic"}


@pytest.fixture
def es(sandbox: SandboxServer) -> httpx.Client:
    connection = client(sandbox)
    assert connection.put("/_sandbox/eis", json={"connected": True}).status_code == 200
    return connection


def test_no_policy_is_a_404_for_get_and_delete(es: httpx.Client) -> None:
    reason = "No region policy is configured for this deployment"
    assert_es_error(
        es.get("/_inference/_region_policy"), 404, "resource_not_found_exception", reason
    )
    assert_es_error(
        es.delete("/_inference/_region_policy"), 404, "resource_not_found_exception", reason
    )


def test_put_get_update_delete_keep_the_audit_fields(es: httpx.Client) -> None:
    created = es.put("/_inference/_region_policy", json=US_EAST).json()
    assert created["region_policy"] == US_EAST["region_policy"]
    assert {"created_at", "created_by"} <= set(created) and "updated_at" not in created
    assert es.get("/_inference/_region_policy").json() == created

    updated = es.put("/_inference/_region_policy", json=GEOS).json()
    assert updated["region_policy"] == GEOS["region_policy"]
    assert updated["created_at"] == created["created_at"]
    assert {"updated_at", "updated_by"} <= set(updated)

    assert es.delete("/_inference/_region_policy").json() == {"acknowledged": True}
    assert es.get("/_inference/_region_policy").status_code == 404


@pytest.mark.parametrize(
    ("body", "reason_part"),
    [
        (
            {"region_policy": {"allowed_geos": ["us"], "allowed_regions": []}},
            "not allowed together",
        ),
        ({"region_policy": {"allowed_zones": ["us"]}}, "unknown field [allowed_zones]"),
        ({"policy": {"allowed_geos": ["us"]}}, "unknown field [policy]"),
        ({"region_policy": {"allowed_regions": [{"csp": "aws"}]}}, "Required [region]"),
    ],
)
def test_bodies_elasticsearch_refuses(es: httpx.Client, body: Any, reason_part: str) -> None:
    reason = assert_es_error(
        es.put("/_inference/_region_policy", json=body), 400, "x_content_parse_exception"
    )
    assert reason_part in reason
    assert es.get("/_inference/_region_policy").status_code == 404


def test_eis_endpoints_report_their_regions_and_denial(es: httpx.Client) -> None:
    before = eis_metadata(es)
    assert before and not any(m["denied_by_region_policy"] for m in before.values())
    assert before[".jina-embeddings-v3"]["regions"][0]["geo"] == "eu"

    es.put("/_inference/_region_policy", json=EU_ONLY)
    denied = {i for i, m in eis_metadata(es).items() if m["denied_by_region_policy"]}
    assert denied == {".rainbow-sprinkles-elastic"}


def test_a_policy_denying_an_endpoint_in_use_is_refused_unless_forced(es: httpx.Client) -> None:
    pipeline = {"processors": [{"inference": {"model_id": ".rainbow-sprinkles-elastic"}}]}
    assert es.put("/_ingest/pipeline/chat", json=pipeline).status_code == 200

    refused = es.put("/_inference/_region_policy", json=EU_ONLY)
    assert_es_error(refused, 409, "status_exception")
    error = refused.json()["error"]
    assert error["denied_endpoint_ids"] == [".rainbow-sprinkles-elastic"]
    assert error["referencing_pipelines"] == [".rainbow-sprinkles-elastic:chat"]
    assert es.get("/_inference/_region_policy").status_code == 404  # nothing written

    forced = es.put("/_inference/_region_policy", params={"force": "true"}, json=EU_ONLY)
    assert forced.status_code == 200
    assert eis_metadata(es)[".rainbow-sprinkles-elastic"]["denied_by_region_policy"] is True


def test_the_regions_knob_moves_a_model(es: httpx.Client) -> None:
    knob = {"models": {"rainbow-sprinkles": [["gcp", "europe-west4", "eu"]]}}
    assert es.put("/_sandbox/eis_regions", json=knob).status_code == 200
    es.put("/_inference/_region_policy", json=EU_ONLY)
    assert not any(m["denied_by_region_policy"] for m in eis_metadata(es).values())


def test_before_9_5_there_is_no_region_policy_api(es: httpx.Client) -> None:
    es.put("/_sandbox/version", json={"version": "9.4.0"})
    assert es.get("/_inference/_region_policy").status_code == 404
    assert "metadata" not in es.get("/_inference/_all").json()["endpoints"][0]


def test_the_policy_survives_a_restart(sandbox_factory: Any, tmp_path: Any) -> None:
    data = tmp_path / "sandbox.json"
    first = sandbox_factory(data_file=str(data))
    with client(first) as es:
        es.put("/_inference/_region_policy", json=GEOS)
    first.stop()
    with client(sandbox_factory(data_file=str(data))) as es:
        assert es.get("/_inference/_region_policy").json()["region_policy"] == GEOS["region_policy"]


EXAMPLES = json.loads(
    (Path(__file__).parents[1] / "data" / "region_policy_examples.json").read_text("utf-8")
)["examples"]


def test_the_specifications_examples_round_trip(es: httpx.Client) -> None:
    """Each official request is accepted and answered in the shape of the official responses."""
    responses = {e["api"]: e["body"] for e in EXAMPLES if e["kind"] == "response"}
    for example in (e for e in EXAMPLES if e["kind"] == "request"):
        answer = es.put("/_inference/_region_policy", json=example["body"]).json()
        assert answer["region_policy"] == example["body"]["region_policy"]
        assert set(responses["put_region_policy"]) <= set(answer)
    # after a second PUT the document carries every audit field of the official GET answer
    assert set(es.get("/_inference/_region_policy").json()) == set(responses["get_region_policy"])
    assert es.delete("/_inference/_region_policy").json() == responses["delete_region_policy"]
