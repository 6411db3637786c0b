"""`service: elastic` (the Elastic Inference Service) end to end: the real CLI against the sandbox.

With the sandbox connected to EIS (as Elastic Cloud is), validate, plan, apply, drift and import
work for every task type, and the preconfigured EIS `.` endpoints are listed but never touched;
without the connection, or on a release older than a task type, the plan stops before any write
and says why.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import REPO, run_cli, write_requests, write_spec
from tests.sandbox.helpers import plain

EXAMPLES = REPO / "examples" / "services" / "elastic"
EIS_DEFAULTS = {
    ".elser-2-elastic",
    ".rainbow-sprinkles-elastic",
    ".gp-llm-v2-chat_completion",
    ".elastic-rerank-v1",
    ".jina-embeddings-v3",
}


@pytest.fixture()
def cloud() -> Iterator[SandboxServer]:
    """A cluster connected to EIS, like Elastic Cloud or Serverless."""
    with SandboxServer(port=0, eis=True) as server:
        yield server


@pytest.fixture()
def specs(tmp_path: Path) -> Path:
    directory = tmp_path / "endpoints"
    shutil.copytree(EXAMPLES, directory)
    return directory


def cli(cluster: SandboxServer, *args: str) -> Any:
    return run_cli(*args, "--url", cluster.url)


def listing(cluster: SandboxServer) -> dict[str, dict[str, Any]]:
    body = plain.get(f"{cluster.url}/_inference/_all").json()
    return {e["inference_id"]: e for e in body["endpoints"]}


def elastic_spec(task_type: str, **settings: Any) -> dict[str, Any]:
    (document,) = yaml.safe_load_all((EXAMPLES / f"{task_type}.yaml").read_text())
    document["service_settings"].update(settings)
    return dict(document)


def test_validate_accepts_every_task_type_offline(specs: Path) -> None:
    result = run_cli("validate", str(specs))
    assert result.code == 0, result.output


def test_a_spec_may_not_use_a_preconfigured_id(tmp_path: Path) -> None:
    directory = tmp_path / "endpoints"
    spec = {**elastic_spec("sparse_embedding"), "inference_id": ".elser-2-elastic"}
    write_spec(directory, spec, name="elser.yaml")
    result = run_cli("validate", str(directory))
    assert result.code == 1, result.output
    assert "elser.yaml:1:" in result.stderr and "Traceback" not in result.stderr


def test_plan_apply_then_no_changes_and_the_eis_defaults_untouched(
    cloud: SandboxServer, specs: Path
) -> None:
    before = listing(cloud)
    assert EIS_DEFAULTS <= set(before)
    plan = cli(cloud, "plan", str(specs), "--detailed-exitcode")
    assert plan.code == 2, plan.output
    assert "Plan: 6 to create, 0 to update, 0 to replace, 0 to delete." in plan.stdout
    left_alone = plan.stdout.split("Unmanaged endpoints (not in the desired state; left alone):")[1]
    assert all(name in left_alone.splitlines()[0] for name in EIS_DEFAULTS)
    document = json.loads(cli(cloud, "plan", str(specs), "--prune", "--format", "json").stdout)
    assert not any(c["inference_id"].startswith(".") for c in document["changes"])
    applied = cli(cloud, "apply", str(specs), "--auto-approve", "--prune")
    assert applied.code == 0, applied.output
    assert "6 created" in applied.stdout
    after = listing(cloud)
    assert {k: v for k, v in after.items() if k.startswith(".")} == {
        k: v for k, v in before.items() if k.startswith(".")
    }
    # what the server filled in (measured dimensions, default similarity) is not a change
    assert after["elastic-text-embedding"]["service_settings"]["dimensions"] == 1024
    cloud.clear_requests()
    again = cli(cloud, "apply", str(specs), "--auto-approve", "--prune")
    assert again.code == 0 and "No changes." in again.stdout, again.output
    assert write_requests(cloud.requests) == []
    assert all(not r["path"].split("/")[-1].startswith(".") for r in cloud.requests)


def test_drift_then_apply_restores_in_place(cloud: SandboxServer, specs: Path) -> None:
    assert cli(cloud, "apply", str(specs), "--auto-approve").code == 0
    assert cli(cloud, "drift", str(specs)).code == 0
    plain.put(
        f"{cloud.url}/_inference/sparse_embedding/elastic-sparse-embedding/_update",
        json={"service_settings": {"max_batch_size": 8}},
    ).raise_for_status()
    drift = cli(cloud, "drift", str(specs), "--format", "json")
    assert drift.code == 2, drift.output
    changes = {c["inference_id"]: c for c in json.loads(drift.stdout)["changes"]}
    assert changes["elastic-sparse-embedding"]["action"] == "update"
    assert changes["elastic-sparse-embedding"]["paths"] == ["service_settings.max_batch_size"]
    cloud.clear_requests()
    assert cli(cloud, "apply", str(specs), "--auto-approve").code == 0
    assert [
        (r["method"], r["path"])
        for r in write_requests(cloud.requests)
        if "_inference" in r["path"]
    ] == [("PUT", "/_inference/sparse_embedding/elastic-sparse-embedding/_update")]
    assert listing(cloud)["elastic-sparse-embedding"]["service_settings"]["max_batch_size"] == 32
    assert cli(cloud, "drift", str(specs)).code == 0


def test_a_model_change_is_a_replace(cloud: SandboxServer, specs: Path) -> None:
    assert cli(cloud, "apply", str(specs), "--auto-approve").code == 0
    write_spec(specs, elastic_spec("rerank", model_id="jina-reranker-v3"), name="rerank.yaml")
    plan = cli(cloud, "plan", str(specs), "--format", "json")
    changes = {c["inference_id"]: c for c in json.loads(plan.stdout)["changes"]}
    assert changes["elastic-rerank"]["action"] == "replace"
    assert changes["elastic-rerank"]["paths"] == ["service_settings.model_id"]


def test_import_round_trips(cloud: SandboxServer, specs: Path, tmp_path: Path) -> None:
    assert cli(cloud, "apply", str(specs), "--auto-approve").code == 0
    out = tmp_path / "imported"
    imported = cli(cloud, "import", "--out", str(out))
    assert imported.code == 0, imported.output
    names = sorted(p.name for p in out.glob("*.yaml"))
    assert names == sorted(f"elastic-{t}.yaml".replace("_", "-") for t in (
        "chat_completion", "completion", "embedding", "rerank", "sparse_embedding", "text_embedding"
    ))  # fmt: skip
    text_embedding = yaml.safe_load((out / "elastic-text-embedding.yaml").read_text())
    # the state says the spec declared similarity (equal to the server's default): written back
    assert text_embedding["service_settings"] == {
        "model_id": "jina-embeddings-v3",
        "similarity": "cosine",
    }
    # the imported copy declares what the first directory manages: six conflicts, each of which
    # matches its spec (the round trip lost nothing), and never a false "No changes"
    plan = cli(cloud, "plan", str(out), "--detailed-exitcode")
    assert plan.code == 2 and plan.stdout.rstrip().endswith("; 6 conflicts."), plan.output
    conflicts = [line for line in plan.stdout.splitlines() if " is declared here and " in line]
    assert len(conflicts) == 6 and all("(matches this spec)" in c for c in conflicts), conflicts


def test_a_cluster_without_eis_refuses_before_any_write(specs: Path) -> None:
    with SandboxServer(port=0) as cluster:
        result = cli(cluster, "apply", str(specs), "--auto-approve")
        writes = write_requests(cluster.requests)
    assert result.code == 1, result.output
    assert "service 'elastic' is not offered by this cluster" in result.stderr
    assert "Cloud Connect" in result.stderr and "chat_completion.yaml:" in result.stderr
    assert "Traceback" not in result.stderr
    assert writes == []


@pytest.mark.parametrize(
    ("version", "task_type", "needs"),
    [
        ("9.0.0", "rerank", "8.19.0 / 9.1.0"),
        ("8.18.0", "text_embedding", "8.19.0 / 9.1.0"),
        ("9.3.0", "embedding", "9.4.0"),
        ("8.19.0", "embedding", "9.4.0"),
    ],
)
def test_a_task_type_newer_than_the_cluster_is_refused(
    tmp_path: Path, version: str, task_type: str, needs: str
) -> None:
    directory = tmp_path / "endpoints"
    directory.mkdir()
    shutil.copy(EXAMPLES / f"{task_type}.yaml", directory / f"{task_type}.yaml")
    with SandboxServer(port=0, version=version, eis=True) as cluster:
        result = cli(cluster, "plan", str(directory))
        writes = write_requests(cluster.requests)
    assert result.code == 1, result.output
    # the cluster's `_services` decides (it does not list the task type), naming what it
    # offers (`needs`: the catalog's date, which agrees)
    assert "service 'elastic' is offered by this cluster for task types [" in result.stderr
    assert f"not for '{task_type}'" in result.stderr
    assert needs
    lines = (directory / f"{task_type}.yaml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.startswith("task_type:"))
    assert f"{task_type}.yaml:{line}:" in result.stderr
    assert writes == []


def test_plan_asks_services_once_in_four_requests(cloud: SandboxServer, specs: Path) -> None:
    cloud.clear_requests()
    assert cli(cloud, "plan", str(specs)).code == 0
    paths = [r["path"] for r in cloud.requests]
    assert len(paths) == 4 and paths.count("/_inference/_services") == 1, paths
