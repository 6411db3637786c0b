"""What the GitOps workflows rely on, from the command line: targets, saved plans per
directory, a read-only plan key, and the cluster URL that only CI's configuration gives."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli, write_spec
from tests.e2e.test_plan_apply import ENV, rerank
from tests.sandbox.helpers import plain

WRITE_KEY, READ_KEY = "write-key-gitops-1", "read-key-gitops-2"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


def test_targets_lists_the_pairs_a_change_touches(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "search").mkdir(parents=True)
    (repo / "teams" / "rerank").mkdir(parents=True)
    (repo / "search" / "reconciler.yaml").write_text(
        "environments:\n  staging: {}\n  production: {}\n"
    )
    (repo / "teams" / "rerank" / "reconciler.yaml").write_text("state_index: reconciler-state\n")
    (repo / ".hidden").mkdir()
    (repo / ".hidden" / "reconciler.yaml").write_text("environments:\n  x: {}\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    everything = run_cli("targets", "--root", str(repo), "--format", "json")
    assert everything.code == 0, everything.output
    assert [(t["directory"], t["label"], t["slug"]) for t in json.loads(everything.stdout)] == [
        ("search", "staging", "search.staging"),
        ("search", "production", "search.production"),
        ("teams/rerank", "default", "teams-rerank.default"),
    ]
    write_spec(repo / "teams" / "rerank" / "nested", rerank())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two")
    changed = run_cli(
        "targets", "--root", str(repo), "--changed-since", "HEAD~1", "--format", "github-matrix"
    )
    assert changed.code == 0, changed.output
    matrix = json.loads(changed.stdout)
    assert [t["name"] for t in matrix["include"]] == ["teams/rerank (default)"]
    assert run_cli("targets", "--root", str(repo), "--changed-since", "HEAD").stdout == (
        "No directory changed.\n"
    )
    unknown = run_cli("targets", "--root", str(repo), "--changed-since", "no-such-commit")
    assert unknown.code == 1 and "--changed-since no-such-commit" in unknown.stderr
    (repo / "search" / "reconciler.yaml").write_text("environmentz: {}\n")
    broken = run_cli("targets", "--root", str(repo))
    assert broken.code == 1 and "search/reconciler.yaml:1:1" in broken.stderr, broken.output


def test_saved_plans_of_two_directories_in_one_cluster_both_apply(tmp_path: Path) -> None:
    """Another directory's apply does not make a saved plan stale; a change to its own does."""
    first, second = tmp_path / "first", tmp_path / "second"
    write_spec(first, rerank() | {"inference_id": "first-rerank"})
    write_spec(second, rerank() | {"inference_id": "second-rerank"})
    with SandboxServer(port=0) as cluster:
        connection = ["--url", cluster.url]
        for directory in (first, second):
            saved = run_cli(
                "plan", str(directory), *connection, "--out", str(directory / "plan.json"), env=ENV
            )
            assert saved.code == 0, saved.output
        for directory in (first, second):
            applied = run_cli(
                "apply", "--plan", str(directory / "plan.json"), "--auto-approve", *connection,
                env=ENV,
            )  # fmt: skip
            assert applied.code == 0, applied.output
        write_spec(
            second, rerank() | {"inference_id": "second-rerank", "task_settings": {"top_n": 3}}
        )
        changed = run_cli(
            "plan", str(second), *connection, "--out", str(second / "plan.json"), env=ENV
        )
        assert changed.code == 0, changed.output
        by_hand = plain.put(
            f"{cluster.url}/_inference/rerank/second-rerank/_update",
            json={"task_settings": {"top_n": 9}},
        )
        assert by_hand.status_code == 200, by_hand.text
        stale = run_cli(
            "apply", "--plan", str(second / "plan.json"), "--auto-approve", *connection, env=ENV
        )
        assert stale.code == 1 and "stale" in stale.stderr, stale.output


def test_plan_works_with_a_read_only_key_and_apply_needs_the_write_key(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    write_spec(specs, rerank())
    with SandboxServer(port=0, api_key=WRITE_KEY, read_only_api_key=READ_KEY) as cluster:
        url = {"ELASTICSEARCH_URL": cluster.url}
        applied = run_cli(
            "apply", str(specs), "--auto-approve", env={**ENV, **url, "ELASTIC_API_KEY": WRITE_KEY}
        )
        assert applied.code == 0, applied.output
        write_spec(specs, rerank() | {"task_settings": {"top_n": 4}})
        read_only = {**ENV, **url, "ELASTIC_API_KEY": READ_KEY}
        cluster.clear_requests()
        planned = run_cli(
            "plan", str(specs), "--detailed-exitcode", "--out", str(tmp_path / "p.json"),
            env=read_only,
        )  # fmt: skip
        assert planned.code == 2 and "1 to update" in planned.stdout, planned.output
        assert not [
            r for r in cluster.requests if r["method"] != "GET" and "dry_run" not in str(r)
        ], "plan wrote nothing"
        refused = run_cli(
            "apply", "--plan", str(tmp_path / "p.json"), "--auto-approve", env=read_only
        )
        assert refused.code == 1 and "403" in refused.stderr, refused.output
        for text in (planned.output, refused.output):
            assert READ_KEY not in text and WRITE_KEY not in text


def test_a_reconciler_yaml_url_other_than_ci_s_stops_before_any_request(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    write_spec(specs, rerank())
    with SandboxServer(port=0) as trusted, SandboxServer(port=0) as foreign:
        (specs / "reconciler.yaml").write_text(
            f"environments:\n  staging:\n    url: {foreign.url}\n"
        )
        result = run_cli(
            "plan", str(specs), "--env", "staging",
            env={**ENV, "ELASTICSEARCH_URL": trusted.url, "ELASTIC_API_KEY": "ci-key-for-trusted"},
        )  # fmt: skip
        assert result.code == 1, result.output
        assert trusted.url in result.stderr and foreign.url in result.stderr
        assert foreign.requests == [] and trusted.requests == []
