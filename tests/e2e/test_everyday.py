"""Terraform's everyday flags through the real CLI: --target, show, apply --format json, progress."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import REPO, run_cli, write_requests, write_spec
from tests.specs import ENV, azure, rerank


def cli(cluster: SandboxServer, *args: str, cwd: Path | None = None) -> Any:
    return run_cli(*args, "--url", cluster.url, env=ENV, cwd=cwd)


def test_target_plans_and_applies_only_its_ids(tmp_path: Path, cluster: SandboxServer) -> None:
    team = tmp_path / "team"
    for name in ("one", "two", "three"):
        write_spec(team, rerank(name))
    plan = json.loads(cli(cluster, "plan", str(team), "--target", "two", "--format", "json").stdout)
    assert [c["inference_id"] for c in plan["changes"]] == ["two"]
    cluster.clear_requests()
    applied = cli(
        cluster, "apply", str(team), "--target", "two", "--target", "three", "--auto-approve"
    )
    assert applied.code == 0, applied.output
    created = sorted(
        r["path"] for r in write_requests(cluster.requests) if r["path"].startswith("/_inference")
    )
    assert created == ["/_inference/rerank/three", "/_inference/rerank/two"]
    unknown = cli(cluster, "plan", str(team), "--target", "nobody")  # #22: an error, not a note
    assert unknown.code == 1, unknown.output
    assert "--target nobody: no endpoint nobody is declared in this directory" in unknown.stderr


def test_show_prints_a_saved_plan_exactly_as_plan_did(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    team = tmp_path / "team"
    write_spec(team, rerank("kept"))
    assert cli(cluster, "apply", str(team), "--auto-approve").code == 0
    write_spec(team, rerank("kept", top_n=9))
    write_spec(team, rerank("new"))
    made = cli(cluster, "plan", str(team), "--out", str(tmp_path / "plan.json"))
    assert made.code == 0, made.output
    shown = run_cli("show", str(tmp_path / "plan.json"))  # offline: no cluster needed
    assert shown.code == 0, shown.output
    assert shown.stdout == made.stdout  # byte for byte
    as_json = json.loads(run_cli("show", str(tmp_path / "plan.json"), "--format", "json").stdout)
    planned = json.loads(cli(cluster, "plan", str(team), "--format", "json").stdout)
    assert [(c["inference_id"], c["action"]) for c in as_json["changes"]] == [
        (c["inference_id"], c["action"]) for c in planned["changes"]
    ]
    markdown = run_cli("show", str(tmp_path / "plan.json"), "--format", "markdown")
    assert markdown.stdout.startswith("<!-- reconciler-plan -->")
    document = json.loads((tmp_path / "plan.json").read_text())
    document["summary"]["create"] = 7
    (tmp_path / "plan.json").write_text(json.dumps(document))
    edited = run_cli("show", str(tmp_path / "plan.json"))
    assert edited.code == 1 and "changed after" in edited.stderr


def test_apply_format_json_reports_each_outcome(tmp_path: Path, cluster: SandboxServer) -> None:
    team = tmp_path / "team"
    write_spec(team, rerank("a"))
    write_spec(team, rerank("b"))
    result = cli(cluster, "apply", str(team), "--auto-approve", "--format", "json")
    assert result.code == 0, result.output
    document = json.loads(result.stdout)  # stdout is one JSON document, nothing else
    assert document["format_version"] == "1" and document["exit_code"] == 0
    assert sorted((o["inference_id"], o["action"], o["ok"]) for o in document["outcomes"]) == [
        ("a", "create", True),
        ("b", "create", True),
    ]
    assert all(o["seconds"] >= 0 for o in document["outcomes"])
    assert document["summary"] == {
        "create": 2,
        "update": 0,
        "replace": 0,
        "delete": 0,
        "failed": 0,
        "lost": 0,
    }
    assert {c["inference_id"] for c in document["plan"]["changes"]} == {"a", "b"}


@pytest.mark.subprocess
def test_a_terminal_sees_one_live_progress_line(tmp_path: Path, cluster: SandboxServer) -> None:
    team = tmp_path / "team"
    for n in range(6):
        write_spec(team, rerank(f"p{n}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC", "RECONCILER"))}
    env.update(ENV, TERM="xterm")
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reconciler",
            "apply",
            str(team),
            "--url",
            cluster.url,
            "--auto-approve",
            "--no-color",
        ],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=REPO,
        env=env,
    )
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=10)
    os.close(controller)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    assert "applying: 6/6 done" in text and "/s" in text
    assert ": created (" not in text  # no line per change on a terminal
    assert "Apply complete: 6 created" in text


def test_a_service_the_cluster_does_not_offer_blocks_only_its_specs(tmp_path: Path) -> None:
    """Before (#22 case 8): a service missing from `_services` (a licence) blocked the plan of
    every other endpoint too. After: its specs are errors (file:line, exit 1, nothing sent for
    them); the others are planned and applied."""
    team = tmp_path / "team"
    write_spec(team, rerank("needs-openshift"))
    write_spec(team, azure("offered"))
    with SandboxServer(port=0, unlisted_services=("openshift_ai",)) as cluster:
        plan = cli(cluster, "plan", str(team))
        assert plan.code == 1, plan.output
        assert "+ text_embedding/offered will be created" in plan.stdout
        assert plan.stdout.rstrip().endswith("; 1 blocked (not offered by this cluster).")
        for result in (plan, cli(cluster, "apply", str(team), "--auto-approve")):
            assert result.code == 1, result.output
            assert "needs-openshift.yaml:3:" in result.stderr
            assert "service 'openshift_ai' is not offered by this cluster" in result.stderr
        written = {r["path"] for r in write_requests(cluster.requests)}
        assert "/_inference/text_embedding/offered" in written
        assert not [path for path in written if "needs-openshift" in path]
    old_team = tmp_path / "old-team"
    write_spec(old_team, azure("on-an-old-cluster"))
    with SandboxServer(port=0, version="8.17.0") as old:  # no _services yet: no answer, no check
        assert cli(old, "plan", str(old_team)).code == 0


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_plan_fails_where_apply_would_for_a_missing_secret(
    tmp_path: Path, cluster: SandboxServer, value: str | None
) -> None:
    team = tmp_path / "team"
    write_spec(team, rerank("needs-a-key"))  # a create: before, plan exited 0 here
    env = {k: v for k, v in ENV.items() if k != "OPENSHIFT_AI_API_KEY"}
    if value is not None:
        env["OPENSHIFT_AI_API_KEY"] = value
    for extra in ((), ("--out", str(tmp_path / "p.json"))):
        cluster.clear_requests()
        result = run_cli("plan", str(team), "--url", cluster.url, *extra, env=env)
        assert result.code == 1, result.output
        assert "needs-a-key.yaml:" in result.stderr and "OPENSHIFT_AI_API_KEY" in result.stderr
        assert cluster.requests == []  # before any request
    assert not (tmp_path / "p.json").exists()
