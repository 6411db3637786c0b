"""The inference region policy end to end: the real CLI against the sandbox connected to EIS.

Declared in a directory, planned, applied and re-planned clean; edited by hand (drift); a change
that would deny an EIS endpoint in use refused (exit 3) until --allow-destroy-in-use, then sent
with force=true; pruned only with --prune; refused on 9.4.0; a saved plan made stale by a hand
edit; a second directory declaring it is a conflict; import writes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli, write_requests
from tests.sandbox.helpers import plain

POLICY = "/_inference/_region_policy"
BOTH = {"allowed_geos": ["us", "eu"]}
EU_ONLY = {"allowed_geos": ["eu"]}


@pytest.fixture()
def cloud() -> Iterator[SandboxServer]:
    with SandboxServer(port=0, eis=True) as server:
        yield server


def declare(directory: Path, policy: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "region-policy.yaml"
    path.write_text(yaml.safe_dump({"region_policy": policy}), encoding="utf-8")
    return path


def cli(cluster: SandboxServer, *args: str) -> Any:
    return run_cli(*args, "--url", cluster.url)


def plan_json(cluster: SandboxServer, directory: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = cli(cluster, "plan", str(directory), "--format", "json", "--detailed-exitcode", *extra)
    assert result.code in (0, 2, 3), result.output
    return result.code, json.loads(result.stdout)


def live_policy(cluster: SandboxServer) -> Any:
    answer = plain.get(cluster.url + POLICY)
    return answer.json()["region_policy"] if answer.status_code == 200 else None


def test_declare_plan_apply_then_no_changes(cloud: SandboxServer, tmp_path: Path) -> None:
    directory = tmp_path / "team"
    declare(directory, BOTH)
    assert run_cli("validate", str(directory)).code == 0

    code, document = plan_json(cloud, directory)
    assert code == 2 and document["has_changes"] is True
    assert document["region_policy"]["action"] == "create"
    assert live_policy(cloud) is None  # plan writes nothing

    applied = cli(cloud, "apply", str(directory), "--auto-approve")
    assert applied.code == 0, applied.output
    assert "the region policy created" in applied.stdout
    assert live_policy(cloud) == {"allowed_geos": ["eu", "us"]}

    code, document = plan_json(cloud, directory)
    assert code == 0 and document["has_changes"] is False, document
    assert document["region_policy"]["action"] == "no-op"
    again = cli(cloud, "apply", str(directory), "--auto-approve")
    assert again.code == 0 and "the region policy" not in again.stdout


def test_a_hand_edit_is_drift_and_apply_restores_it(cloud: SandboxServer, tmp_path: Path) -> None:
    directory = tmp_path / "team"
    declare(directory, BOTH)
    assert cli(cloud, "apply", str(directory), "--auto-approve").code == 0
    plain.put(cloud.url + POLICY, json={"region_policy": {"allowed_geos": ["us"]}})

    drift = cli(cloud, "drift", str(directory))
    assert drift.code == 2, drift.output
    assert "region policy" in drift.stdout
    code, document = plan_json(cloud, directory)
    assert code == 2 and document["region_policy"]["drift"] is True

    assert cli(cloud, "apply", str(directory), "--auto-approve").code == 0
    assert sorted(live_policy(cloud)["allowed_geos"]) == ["eu", "us"]
    assert cli(cloud, "drift", str(directory)).code == 0


def test_denying_an_endpoint_in_use_is_refused_until_allowed(
    cloud: SandboxServer, tmp_path: Path
) -> None:
    directory = tmp_path / "team"
    declare(directory, BOTH)
    assert cli(cloud, "apply", str(directory), "--auto-approve").code == 0
    pipeline = {"processors": [{"inference": {"model_id": ".rainbow-sprinkles-elastic"}}]}
    assert plain.put(cloud.url + "/_ingest/pipeline/chat", json=pipeline).status_code == 200
    declare(directory, EU_ONLY)  # the sandbox's EIS runs rainbow-sprinkles in the us only

    planned = cli(cloud, "plan", str(directory))
    assert planned.code == 3, planned.output
    assert ".rainbow-sprinkles-elastic" in planned.output and "pipeline chat" in planned.output
    code, document = plan_json(cloud, directory)
    assert code == 3
    assert document["region_policy"]["denies"] == [".rainbow-sprinkles-elastic"]

    cloud.clear_requests()
    refused = cli(cloud, "apply", str(directory), "--auto-approve")
    assert refused.code == 3, refused.output
    assert write_requests(cloud.requests) == []
    assert sorted(live_policy(cloud)["allowed_geos"]) == ["eu", "us"]

    cloud.clear_requests()
    forced = cli(cloud, "apply", str(directory), "--auto-approve", "--allow-destroy-in-use")
    assert forced.code == 0, forced.output
    puts = [r for r in cloud.requests if r["method"] == "PUT" and r["path"] == POLICY]
    assert len(puts) == 1 and "force" in str(puts[0]["query"])
    assert live_policy(cloud) == EU_ONLY


def test_only_prune_deletes_it_and_only_ours(cloud: SandboxServer, tmp_path: Path) -> None:
    directory = tmp_path / "team"
    path = declare(directory, BOTH)
    assert cli(cloud, "apply", str(directory), "--auto-approve").code == 0
    path.unlink()
    (directory / "placeholder.yaml").write_text(
        yaml.safe_dump(
            {
                "inference_id": "keep-me",
                "task_type": "sparse_embedding",
                "service": "elastic",
                "service_settings": {"model_id": "elser_model_2"},
            }
        ),
        encoding="utf-8",
    )

    kept = cli(cloud, "apply", str(directory), "--auto-approve")
    assert kept.code == 0, kept.output
    assert "apply --prune deletes it" in kept.stdout
    assert live_policy(cloud) is not None

    pruned = cli(cloud, "apply", str(directory), "--auto-approve", "--prune")
    assert pruned.code == 0, pruned.output
    assert "the region policy deleted" in pruned.stdout
    assert live_policy(cloud) is None

    # a policy nobody here declared or applied is not ours: prune leaves it
    plain.put(cloud.url + POLICY, json={"region_policy": BOTH})
    assert cli(cloud, "apply", str(directory), "--auto-approve", "--prune").code == 0
    assert live_policy(cloud) is not None


def test_a_cluster_older_than_9_5_is_refused_at_the_line(tmp_path: Path) -> None:
    directory = tmp_path / "team"
    declare(directory, BOTH)
    with SandboxServer(port=0, eis=True, version="9.4.0") as old:
        result = cli(old, "plan", str(directory))
        assert result.code == 1, result.output
        assert "region-policy.yaml:1" in result.stderr
        assert "9.5.0" in result.stderr and "9.4.0" in result.stderr
        assert write_requests(old.requests) == []


def test_a_saved_plan_is_stale_after_a_hand_edit(cloud: SandboxServer, tmp_path: Path) -> None:
    directory = tmp_path / "team"
    declare(directory, BOTH)
    saved = tmp_path / "plan.json"
    assert cli(cloud, "plan", str(directory), "--out", str(saved)).code == 0
    plain.put(cloud.url + POLICY, json={"region_policy": {"allowed_geos": ["us"]}})

    stale = cli(cloud, "apply", "--plan", str(saved), "--auto-approve")
    assert stale.code == 1, stale.output
    assert "region policy" in stale.stderr
    assert live_policy(cloud) == {"allowed_geos": ["us"]}


def test_a_saved_plan_applies_the_policy(cloud: SandboxServer, tmp_path: Path) -> None:
    directory = tmp_path / "team"
    declare(directory, BOTH)
    saved = tmp_path / "plan.json"
    assert cli(cloud, "plan", str(directory), "--out", str(saved)).code == 0
    applied = cli(cloud, "apply", "--plan", str(saved), "--auto-approve")
    assert applied.code == 0, applied.output
    assert live_policy(cloud) == {"allowed_geos": ["eu", "us"]}
    code, _ = plan_json(cloud, directory)
    assert code == 0


def test_a_second_directory_declaring_it_is_a_conflict(
    cloud: SandboxServer, tmp_path: Path
) -> None:
    team_a, team_b = tmp_path / "team-a", tmp_path / "team-b"
    declare(team_a, BOTH)
    declare(team_b, EU_ONLY)
    assert cli(cloud, "apply", str(team_a), "--auto-approve").code == 0

    code, document = plan_json(cloud, team_b)
    assert code != 0 and document["region_policy"]["action"] == "conflict"
    assert document["region_policy"]["owner"]
    applied = cli(cloud, "apply", str(team_b), "--auto-approve")
    assert applied.code == 0, applied.output
    assert "managed by" in applied.stdout
    assert sorted(live_policy(cloud)["allowed_geos"]) == ["eu", "us"]


def test_import_writes_the_policy_and_it_plans_clean(cloud: SandboxServer, tmp_path: Path) -> None:
    plain.put(
        cloud.url + POLICY,
        json={
            "region_policy": {
                "allowed_regions": [
                    {"csp": "aws", "region": "us-east-1"},
                    {"csp": "aws", "region": "eu-west-1"},
                ]
            }
        },
    )
    out = tmp_path / "imported"
    result = cli(cloud, "import", "--out", str(out))
    assert result.code == 0, result.output
    written = yaml.safe_load((out / "region-policy.yaml").read_text())
    assert set(written) == {"region_policy"}  # no audit fields
    code, document = plan_json(cloud, out)
    assert code == 0 and document["region_policy"]["adopt"] is True
    assert cli(cloud, "import", "--out", str(out), "region_policy").code == 1  # never overwrites
