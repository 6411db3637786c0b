"""A baseline for server-filled values: what the server filled in at the last apply is what a
later plan compares undeclared server-filled fields with (docs/plan-and-apply.md, "Server-filled
values"). A value changed out of band is drift: restored in place where ``_update`` can, else
reported with the ``--replace`` hint and left alone; an endpoint without a baseline keeps the old
rule until its next apply records one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.identity import state_id_for
from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli, spec_folder
from tests.sandbox.helpers import plain

SECRET = "studio-secret-value-distinctive"
ENV = {"STUDIO_KEY": SECRET}
STUDIO = """\
inference_id: studio-rerank
task_type: rerank
service: azureaistudio
service_settings:
  target: https://studio.example.com/rerank
  provider: cohere
  endpoint_type: token
  api_key: ${env:STUDIO_KEY}
"""
ENDPOINT = "/_inference/rerank/studio-rerank"
THROTTLED = {"requests_per_minute": 7}


@pytest.fixture()
def specs(tmp_path: Path) -> Path:
    return spec_folder(tmp_path / "specs", {"studio.yaml": STUDIO})


def cli(cluster: SandboxServer, *args: str) -> Any:
    command, *rest = args
    return run_cli(command, *rest, "--url", cluster.url, env=ENV)


def rate_limit(cluster: SandboxServer) -> Any:
    endpoint = plain.get(cluster.url + ENDPOINT).json()["endpoints"][0]
    return endpoint["service_settings"]["rate_limit"]


def endpoint_writes(cluster: SandboxServer) -> list[str]:
    return [
        f"{r['method']} {r['path']}"
        for r in cluster.requests
        if r["method"] != "GET" and r["path"].startswith("/_inference/")
    ]


def state_text(cluster: SandboxServer, specs: Path) -> str:
    answer = plain.get(f"{cluster.url}/reconciler-state/_doc/{state_id_for(specs, None)}")
    return json.dumps(answer.json()["_source"])


def test_an_out_of_band_rate_limit_is_drift_and_apply_restores_it_in_place(specs: Path) -> None:
    with SandboxServer(port=0, version="9.5.0") as cluster:
        assert cli(cluster, "apply", str(specs), "--auto-approve").code == 0
        state = state_text(cluster, specs)
        assert '"service_settings.rate_limit": {"requests_per_minute": 240}' in state
        assert SECRET not in state and "api_key" not in state.split('"baselines"')[1]
        # someone throttles the endpoint by hand, as a user with curl would
        plain.put(
            cluster.url + ENDPOINT + "/_update",
            json={"service_settings": {"rate_limit": THROTTLED}},
        ).raise_for_status()

        plan = cli(cluster, "plan", str(specs), "--detailed-exitcode")
        assert plan.code == 2, plan.output
        assert "~ service_settings.rate_limit.requests_per_minute: 7 -> 240" in plan.stdout
        drift = cli(cluster, "drift", str(specs))
        assert drift.code == 2 and "has drifted; apply updates it in place" in drift.stdout
        document = json.loads(cli(cluster, "plan", str(specs), "--format", "json").stdout)
        (change,) = [c for c in document["changes"] if c["inference_id"] == "studio-rerank"]
        assert (change["action"], change["paths"]) == ("update", ["service_settings.rate_limit"])
        assert change["before"]["service_settings"]["rate_limit"] == THROTTLED
        assert change["after"]["service_settings"]["rate_limit"] == {"requests_per_minute": 240}

        saved = specs.parent / "plan.json"  # the reviewed plan is what apply carries out
        assert cli(cluster, "plan", str(specs), "--out", str(saved)).code == 0
        cluster.clear_requests()
        applied = cli(cluster, "apply", "--plan", str(saved), "--auto-approve")
        assert applied.code == 0, applied.output
        assert endpoint_writes(cluster) == [f"PUT {ENDPOINT}/_update"]
        assert rate_limit(cluster) == {"requests_per_minute": 240}
        again = cli(cluster, "plan", str(specs), "--detailed-exitcode")
        assert again.code == 0 and "No changes" in again.stdout, again.output


def test_a_value_only_a_replace_restores_is_reported_and_left_alone(specs: Path) -> None:
    # before 9.5 _update cannot change rate_limit: whoever changed it re-created the endpoint
    with SandboxServer(port=0, version="9.3.1") as cluster:
        assert cli(cluster, "apply", str(specs), "--auto-approve").code == 0
        plain.delete(cluster.url + ENDPOINT).raise_for_status()
        by_hand = {
            "service": "azureaistudio",
            "service_settings": {
                "target": "https://studio.example.com/rerank",
                "provider": "cohere",
                "endpoint_type": "token",
                "api_key": "a-key-typed-by-hand",
                "rate_limit": THROTTLED,
            },
        }
        plain.put(cluster.url + ENDPOINT, json=by_hand).raise_for_status()

        plan = cli(cluster, "plan", str(specs), "--detailed-exitcode")
        assert plan.code == 2, plan.output
        assert "has drift only a replace can undo (service_settings.rate_limit)" in plan.stdout
        assert "--replace rerank/studio-rerank" in plan.stdout
        drift = cli(cluster, "drift", str(specs), "--format", "markdown")  # the drift issue
        for report in (plan.stdout, drift.stdout):
            assert '{"requests_per_minute": 7} in the cluster, {"requests_per_minute": 240}' in (
                report
            )
        cluster.clear_requests()
        applied = cli(cluster, "apply", str(specs), "--auto-approve")
        assert applied.code == 0, applied.output
        assert endpoint_writes(cluster) == []  # never a replace nobody asked for
        assert rate_limit(cluster) == THROTTLED
        assert cli(cluster, "plan", str(specs), "--detailed-exitcode").code == 2  # still drift

        replaced = cli(cluster, "apply", str(specs), "--auto-approve", "--replace", "studio-rerank")
        assert replaced.code == 0, replaced.output
        assert rate_limit(cluster) == {"requests_per_minute": 240}
        assert cli(cluster, "plan", str(specs), "--detailed-exitcode").code == 0


def test_an_endpoint_without_a_baseline_gets_one_at_its_next_apply(specs: Path) -> None:
    with SandboxServer(port=0, version="9.5.0") as cluster:
        assert cli(cluster, "apply", str(specs), "--auto-approve").code == 0
        # the state as an older release wrote it: no baseline
        doc = f"{cluster.url}/reconciler-state/_doc/{state_id_for(specs, None)}"
        source = plain.get(doc).json()["_source"]
        source.pop("baselines")
        source["managed"]["studio-rerank"].pop("baseline")
        plain.put(doc, json=source).raise_for_status()

        def throttle(per_minute: int) -> None:
            plain.put(
                cluster.url + ENDPOINT + "/_update",
                json={"service_settings": {"rate_limit": {"requests_per_minute": per_minute}}},
            ).raise_for_status()

        throttle(7)
        plan = cli(cluster, "plan", str(specs), "--detailed-exitcode")
        assert plan.code == 0 and "No changes" in plan.stdout, plan.output  # today's rule
        cluster.clear_requests()
        assert cli(cluster, "apply", str(specs), "--auto-approve").code == 0
        assert endpoint_writes(cluster) == []  # it records the baseline, writing nothing to it
        assert '"service_settings.rate_limit": {"requests_per_minute": 7}' in state_text(
            cluster, specs
        )
        throttle(9)
        plan = cli(cluster, "plan", str(specs), "--detailed-exitcode")
        assert plan.code == 2 and "requests_per_minute: 9 -> 7" in plan.stdout, plan.output

        # a cluster upgrade may change what the server fills in: the baseline is set aside, not
        # compared, and recorded again by the next apply
        cluster.version = "9.5.1"
        plan = cli(cluster, "plan", str(specs), "--detailed-exitcode")
        assert plan.code == 0, plan.output
        assert "recorded on Elasticsearch 9.5.0: not compared on 9.5.1" in plan.stdout
        assert cli(cluster, "apply", str(specs), "--auto-approve").code == 0
        plan = cli(cluster, "plan", str(specs), "--detailed-exitcode")
        assert plan.code == 0 and "not compared" not in plan.stdout, plan.output


COHERE = """\
inference_id: cohere-embed
task_type: text_embedding
service: cohere
service_settings:
  model_id: embed-english-v3.0
  api_key: ${env:STUDIO_KEY}
task_settings:
  input_type: search
"""


def test_an_update_that_rewrites_chunking_leaves_drift_not_a_new_baseline(tmp_path: Path) -> None:
    # Elasticsearch issue 139574 (before 9.4): any _update rewrote chunking to word/250/100
    specs = spec_folder(tmp_path / "specs", {"cohere.yaml": COHERE})
    with SandboxServer(port=0, version="9.3.1") as cluster:
        plain.put(f"{cluster.url}/_sandbox/bugs", json={"emulate": ["139574"]}).raise_for_status()
        assert cli(cluster, "apply", str(specs), "--auto-approve").code == 0
        (specs / "cohere.yaml").write_text(
            COHERE.replace("input_type: search", "input_type: ingest"), encoding="utf-8"
        )
        assert cli(cluster, "apply", str(specs), "--auto-approve").code == 0
        plan = cli(cluster, "plan", str(specs), "--detailed-exitcode")
        assert plan.code == 2, plan.output  # the rewrite is seen, where it used to pass unseen
        assert '"strategy": "word"} in the cluster' in plan.stdout
        assert "drift only a replace can undo (chunking_settings" in plan.stdout
