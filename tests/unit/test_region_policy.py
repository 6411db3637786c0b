"""The region policy's pure parts: which EIS endpoints a policy denies, and the one change a run plans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.model import LiveEndpoint, Source
from reconciler.region_policy import (
    LivePolicy,
    PolicyAction,
    RegionPolicySpec,
    canonical,
    denied_by,
    plan_policy,
)
from reconciler.validate import validate_directory

US = {"allowed_geos": ["us"]}
EU = {"allowed_geos": ["eu"]}
BOTH = {"allowed_geos": ["us", "eu"]}


def eis(inference_id: str, *places: tuple[str, str, str]) -> LiveEndpoint:
    regions = [{"csp": c, "region": r, "geo": g} for c, r, g in places]
    return LiveEndpoint.from_api(
        {
            "inference_id": inference_id,
            "task_type": "chat_completion",
            "service": "elastic",
            "service_settings": {"model_id": "m"},
            "metadata": {"regions": regions, "denied_by_region_policy": False},
        }
    )


ENDPOINTS = (
    eis(".us-only", ("aws", "us-east-1", "us")),
    eis(".eu-only", ("gcp", "europe-west4", "eu")),
    eis(".both", ("aws", "us-east-1", "us"), ("aws", "eu-west-1", "eu")),
    LiveEndpoint.from_api({"inference_id": "mine", "task_type": "rerank", "service": "cohere"}),
)


def spec(policy: dict[str, Any]) -> RegionPolicySpec:
    return RegionPolicySpec(policy=policy, source=Source(file="policy.yaml", line=1, col=1))


@pytest.mark.parametrize(
    ("policy", "denied"),
    [
        (US, {".eu-only"}),
        (EU, {".us-only"}),
        (BOTH, set()),
        ({"allowed_regions": [{"csp": "aws", "region": "eu-west-1"}]}, {".us-only", ".eu-only"}),
        ({"allowed_regions": [{"csp": "gcp", "region": "europe-west4"}]}, {".us-only", ".both"}),
        (None, set()),
    ],
)
def test_denied_endpoints_follow_the_places_the_cluster_reports(
    policy: dict[str, Any] | None, denied: set[str]
) -> None:
    # an endpoint whose places the cluster does not report ("mine") is never counted
    assert denied_by(policy, ENDPOINTS) == denied


def test_order_of_an_allow_list_is_not_a_change() -> None:
    assert canonical({"allowed_geos": ["us", "eu"]}) == canonical({"allowed_geos": ["eu", "us"]})
    live = LivePolicy.from_api({"region_policy": {"allowed_geos": ["eu", "us"]}, "created_by": "x"})
    change = plan_policy(
        desired=spec(BOTH),
        live=live,
        recorded=BOTH,
        managed=True,
        other_owner=None,
        prune=False,
        endpoints=ENDPOINTS,
    )
    assert change is not None and change.action is PolicyAction.NOOP


def plan(**kwargs: Any) -> Any:
    defaults: dict[str, Any] = dict(
        recorded=None, managed=False, other_owner=None, prune=False, endpoints=ENDPOINTS
    )
    return plan_policy(**{**defaults, **kwargs})


def test_create_names_the_endpoints_it_would_deny() -> None:
    change = plan(desired=spec(US), live=None)
    assert change.action is PolicyAction.CREATE
    assert change.newly_denied == (".eu-only",)
    method, path, body, query = change.request(force=False)
    assert (method, path, body, query) == (
        "PUT",
        "/_inference/_region_policy",
        {"region_policy": {"allowed_geos": ["us"]}},
        {},
    )
    assert change.request(force=True)[3] == {"force": "true"}


def test_a_hand_edit_of_a_managed_policy_is_drift_and_a_spec_edit_is_a_declared_change() -> None:
    live = LivePolicy(policy=EU)
    drift = plan(desired=spec(BOTH), live=live, recorded=BOTH, managed=True)
    assert (drift.action, drift.drift) == (PolicyAction.UPDATE, True)
    declared = plan(desired=spec(US), live=LivePolicy(policy=BOTH), recorded=BOTH, managed=True)
    assert (declared.action, declared.drift) == (PolicyAction.UPDATE, False)
    assert declared.newly_denied == (".eu-only",)


def test_only_a_managed_policy_is_deleted_and_only_with_prune() -> None:
    live = LivePolicy(policy=US)
    assert plan(desired=None, live=live, managed=False, prune=True) is None
    assert plan(desired=None, live=live, managed=True).action is PolicyAction.KEEP
    delete = plan(desired=None, live=live, managed=True, prune=True)
    assert delete.action is PolicyAction.DELETE
    assert delete.request(force=False)[:3] == ("DELETE", "/_inference/_region_policy", None)


def test_another_directorys_policy_is_a_conflict_never_a_write() -> None:
    change = plan(desired=spec(US), live=LivePolicy(policy=EU), other_owner="team-a")
    assert change.action is PolicyAction.CONFLICT and not change.action.writes


def test_an_unmanaged_live_policy_is_adopted() -> None:
    change = plan(desired=spec(US), live=LivePolicy(policy=US))
    assert (change.action, change.adopt) == (PolicyAction.NOOP, True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region_policy: {}\n", "Exactly one of allowed_geos and allowed_regions"),
        (
            "region_policy:\n  allowed_geos: [us]\n  allowed_regions: [{csp: aws, region: x}]\n",
            "Exactly one of",
        ),
        ("region_policy:\n  allowed_zones: [us]\n", "unknown field 'allowed_zones'"),
        ("region_policy:\n  allowed_regions:\n    - csp: aws\n", "missing required field 'region'"),
        ("region_policy:\n  allowed_geos: []\n", "must not be empty"),
    ],
)
def test_validate_refuses_a_bad_policy_at_its_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "policy.yaml").write_text(text, encoding="utf-8")
    result = validate_directory(tmp_path)
    assert not result.ok
    assert any(message in d.message and d.file.endswith("policy.yaml") for d in result.diagnostics)


def test_one_policy_per_directory(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text("region_policy: {allowed_geos: [us]}\n", encoding="utf-8")
    result = validate_directory(tmp_path)
    assert [d.message for d in result.diagnostics if "declared twice" in d.message]


EXAMPLES = json.loads(
    (Path(__file__).parents[1] / "data" / "region_policy_examples.json").read_text("utf-8")
)["examples"]
REQUESTS = [e for e in EXAMPLES if e["api"] == "put_region_policy" and e["kind"] == "request"]
POLICY_RESPONSES = [e for e in EXAMPLES if e["kind"] == "response" and "region_policy" in e["body"]]


@pytest.mark.parametrize("example", REQUESTS, ids=lambda e: e["name"])
def test_the_specifications_requests_validate(tmp_path: Path, example: dict[str, Any]) -> None:
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(example["body"]), encoding="utf-8")
    result = validate_directory(tmp_path)
    assert result.ok, result.diagnostics
    assert result.region_policy is not None


@pytest.mark.parametrize("response", POLICY_RESPONSES, ids=lambda e: e["name"])
def test_the_specifications_responses_plan_clean_against_their_request(
    response: dict[str, Any],
) -> None:
    live = LivePolicy.from_api(response["body"])
    assert set(live.audit) >= {"created_at", "created_by"}
    request = next(
        r for r in REQUESTS if canonical(r["body"]["region_policy"]) == canonical(live.policy)
    )
    change = plan(desired=spec(request["body"]["region_policy"]), live=live, managed=True)
    assert change.action is PolicyAction.NOOP
