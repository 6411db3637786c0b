"""The real CLI against the sandbox cluster on 127.0.0.1: plan, drift, apply, prune, guards, saved plans."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.calls import probe_id
from reconciler.identity import state_id_for
from reconciler.sandbox import Fault, SandboxServer
from tests.e2e.helpers import run_cli, write_requests, write_spec
from tests.sandbox.helpers import plain
from tests.specs import AZURE_KEY, ENV, SHIFT_KEY, azure, rerank


@pytest.fixture()
def specs(tmp_path: Path) -> Path:
    directory = tmp_path / "endpoints"
    write_spec(directory, azure())
    write_spec(directory, rerank())
    return directory


def cli(cluster: SandboxServer, *args: str, env: dict[str, str] | None = None) -> Any:
    return run_cli(*args, "--url", cluster.url, env={**ENV, **(env or {})})


def applied(cluster: SandboxServer, specs: Path) -> None:
    result = cli(cluster, "apply", str(specs), "--auto-approve")
    assert result.code == 0, result.output


def live(cluster: SandboxServer) -> dict[str, dict[str, Any]]:
    body = plain.get(f"{cluster.url}/_inference/_all").json()
    return {e["inference_id"]: e for e in body["endpoints"]}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert AZURE_KEY not in text and SHIFT_KEY not in text


def test_create_then_nothing_to_do(cluster: SandboxServer, specs: Path) -> None:
    plan = cli(cluster, "plan", str(specs), "--detailed-exitcode")
    assert plan.code == 2, plan.output
    assert "Plan: 2 to create, 0 to update, 0 to replace, 0 to delete." in plan.stdout
    assert "(sensitive value)" in plan.stdout
    first = cli(cluster, "apply", str(specs), "--auto-approve")
    assert first.code == 0, first.output
    assert "Apply complete: 2 created, 0 updated, 0 replaced, 0 deleted, 0 failed." in first.stdout
    assert {"azure-embed", "shift-rerank"} <= set(live(cluster))
    cluster.clear_requests()
    again = cli(cluster, "plan", str(specs), "--detailed-exitcode")
    assert again.code == 0 and "No changes." in again.stdout, again.output
    second = cli(cluster, "apply", str(specs), "--auto-approve")
    assert second.code == 0 and "No changes." in second.stdout
    assert second.stdout.splitlines()[-1] == (
        "Apply complete: 0 created, 0 updated, 0 replaced, 0 deleted, 0 failed."
    )
    assert write_requests(cluster.requests) == []
    assert_no_secret(plan.output, first.output, again.output, second.output)


def test_plan_reads_a_constant_number_of_requests(cluster: SandboxServer, tmp_path: Path) -> None:
    counts = []
    for n in (3, 40):
        directory = tmp_path / f"n{n}"
        for i in range(n):
            write_spec(directory, rerank(f"r-{n}-{i}"))
        cluster.clear_requests()
        assert cli(cluster, "plan", str(directory)).code == 0
        counts.append(len(cluster.requests))
    assert counts[0] == counts[1] <= 4  # GET /, the listing, the state index, _services


def test_drift_after_out_of_band_changes(cluster: SandboxServer, specs: Path) -> None:
    applied(cluster, specs)
    assert cli(cluster, "drift", str(specs)).code == 0
    plain.delete(f"{cluster.url}/_inference/text_embedding/azure-embed").raise_for_status()
    plain.put(
        f"{cluster.url}/_inference/rerank/shift-rerank/_update",
        json={"task_settings": {"top_n": 9, "return_documents": True}},
    ).raise_for_status()
    drift = cli(cluster, "drift", str(specs))
    assert drift.code == 2, drift.output
    assert "Drift detected" in drift.stdout
    assert "rerank/shift-rerank has drifted; apply " in drift.stdout
    assert "text_embedding/azure-embed is missing from the cluster" in drift.stdout
    assert "will be" not in drift.stdout and "Plan:" not in drift.stdout
    assert drift.stdout.splitlines()[-1] == (
        "Drift to correct: 1 to create, 1 to update, 0 to replace, 0 to delete; "
        "1 with drift left alone."
    )
    assert (
        "azure-embed" in drift.stdout
        and "top_n" in drift.stdout
        and "return_documents" in drift.stdout
    )
    document = json.loads(cli(cluster, "drift", str(specs), "--format", "json").stdout)
    actions = {c["inference_id"]: c["action"] for c in document["changes"]}
    assert actions["azure-embed"] == "create"
    # top_n is declared: restored in place. return_documents was added by hand and nobody declares
    # it: only a replace could drop it, so apply leaves it and says so, until --replace asks
    assert actions["shift-rerank"] == "update"
    applied(cluster, specs)
    held = cli(cluster, "drift", str(specs))
    assert held.code == 2, held.output
    assert "has drift only a replace can undo (task_settings.return_documents)" in held.stdout
    assert f"`reconciler apply {specs} --replace rerank/shift-rerank` replaces" in held.stdout
    assert live(cluster)["shift-rerank"]["task_settings"]["top_n"] == 3
    replaced = cli(cluster, "apply", str(specs), "--auto-approve", "--replace", "shift-rerank")
    assert replaced.code == 0, replaced.output
    assert cli(cluster, "drift", str(specs)).code == 0


def test_update_in_place_sends_only_the_change(cluster: SandboxServer, specs: Path) -> None:
    applied(cluster, specs)
    write_spec(specs, rerank(top_n=7))
    plan = cli(cluster, "plan", str(specs))
    assert "~ rerank/shift-rerank" in plan.stdout and "top_n" in plan.stdout
    cluster.clear_requests()
    result = cli(cluster, "apply", str(specs), "--auto-approve")
    assert result.code == 0, result.output
    writes = [
        (r["method"], r["path"])
        for r in write_requests(cluster.requests)
        if r["path"].startswith("/_inference")
    ]
    assert writes == [("PUT", "/_inference/rerank/shift-rerank/_update")]
    assert live(cluster)["shift-rerank"]["task_settings"]["top_n"] == 7


def test_replace_deletes_then_creates(cluster: SandboxServer, specs: Path) -> None:
    applied(cluster, specs)
    write_spec(specs, rerank(model="other-model"))
    plan = cli(cluster, "plan", str(specs))
    assert (
        "-/+ rerank/shift-rerank" in plan.stdout
        and "model_id cannot change in place" in plan.stdout
    )
    cluster.clear_requests()
    assert cli(cluster, "apply", str(specs), "--auto-approve").code == 0
    writes = [
        (r["method"], r["path"])
        for r in write_requests(cluster.requests)
        if r["path"].startswith("/_inference")
    ]
    probe = f"/_inference/rerank/{probe_id('shift-rerank')}"
    assert writes == [
        ("PUT", probe),  # the new configuration is tried under a scratch id first
        ("DELETE", probe),
        ("DELETE", "/_inference/rerank/shift-rerank"),
        ("PUT", "/_inference/rerank/shift-rerank"),
    ]
    assert live(cluster)["shift-rerank"]["service_settings"]["model_id"] == "other-model"


def test_prune_deletes_only_what_we_manage(cluster: SandboxServer, specs: Path) -> None:
    applied(cluster, specs)
    plain.put(
        f"{cluster.url}/_inference/rerank/hand-made",
        json={"service": "openshift_ai", "service_settings": {"url": "https://x", "api_key": "k"}},
    ).raise_for_status()
    (specs / "shift-rerank.yaml").unlink()
    plan = cli(cluster, "plan", str(specs))
    assert "Unmanaged" in plan.stdout and "hand-made" in plan.stdout
    assert "no longer declared (kept; `reconciler apply" in plan.stdout
    assert plan.stdout.rstrip().endswith("0 to delete; 1 no longer declared (kept).")
    result = cli(cluster, "apply", str(specs), "--prune", "--auto-approve")
    assert result.code == 0, result.output
    assert "1 deleted" in result.stdout
    remaining = live(cluster)
    assert (
        "shift-rerank" not in remaining
        and "hand-made" in remaining
        and ".rerank-v1-elasticsearch" in remaining
    )


def test_prune_with_empty_desired_state_is_refused(
    cluster: SandboxServer, specs: Path, tmp_path: Path
) -> None:
    applied(cluster, specs)
    empty = tmp_path / "empty"
    empty.mkdir()
    cluster.clear_requests()
    result = cli(cluster, "apply", str(empty), "--prune", "--auto-approve", "--allow-empty")
    assert result.code == 3, result.output
    assert write_requests(cluster.requests) == []


def test_in_use_guard(cluster: SandboxServer, specs: Path) -> None:
    applied(cluster, specs)
    plain.put(
        f"{cluster.url}/_ingest/pipeline/rerank-pipe",
        json={"processors": [{"inference": {"model_id": "shift-rerank"}}]},
    ).raise_for_status()
    write_spec(specs, rerank(model="other-model"))
    plan = cli(cluster, "plan", str(specs), "--format", "json")
    change = next(
        c for c in json.loads(plan.stdout)["changes"] if c["inference_id"] == "shift-rerank"
    )
    assert change["in_use_by"]["pipelines"] == ["rerank-pipe"]
    cluster.clear_requests()
    refused = cli(cluster, "apply", str(specs), "--auto-approve")
    assert refused.code == 3, refused.output
    assert "rerank-pipe" in refused.stderr and "--allow-destroy-in-use" in refused.stderr
    assert [
        r for r in write_requests(cluster.requests) if r["path"].startswith("/_inference")
    ] == []
    forced = cli(cluster, "apply", str(specs), "--auto-approve", "--allow-destroy-in-use")
    assert forced.code == 0, forced.output
    assert live(cluster)["shift-rerank"]["service_settings"]["model_id"] == "other-model"


def test_saved_plan_applies_and_a_stale_one_is_refused(
    cluster: SandboxServer, specs: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    made = cli(cluster, "plan", str(specs), "--out", str(saved))
    assert made.code == 0 and saved.exists()
    document = json.loads(saved.read_text())
    assert document["format_version"] == "1" and document["summary"]["create"] == 2
    assert_no_secret(saved.read_text())
    # someone creates, by hand, an endpoint the plan would create (an unrelated one would not
    # make the plan stale: tests/e2e/test_gitops.py)
    plain.put(
        f"{cluster.url}/_inference/rerank/{rerank()['inference_id']}",
        json={"service": "openshift_ai", "service_settings": {"url": "https://x", "api_key": "k"}},
    ).raise_for_status()
    cluster.clear_requests()
    stale = cli(cluster, "apply", "--plan", str(saved), "--auto-approve")
    assert stale.code == 1 and "stale" in stale.stderr, stale.output
    assert write_requests(cluster.requests) == []
    plain.delete(f"{cluster.url}/_inference/rerank/{rerank()['inference_id']}").raise_for_status()
    fresh = tmp_path / "fresh.json"
    assert cli(cluster, "plan", str(specs), "--out", str(fresh)).code == 0
    result = cli(cluster, "apply", "--plan", str(fresh), "--auto-approve")
    assert result.code == 0, result.output
    assert {"azure-embed", "shift-rerank"} <= set(live(cluster))


def test_rotated_secret_is_updated_in_place(cluster: SandboxServer, specs: Path) -> None:
    applied(cluster, specs)
    rotated = "azk-rotated-5555-distinctive"
    plan = cli(cluster, "plan", str(specs), env={"AZURE_OPENAI_API_KEY": rotated})
    assert (
        "(sensitive value changed)" in plan.stdout and "~ text_embedding/azure-embed" in plan.stdout
    )
    cluster.clear_requests()
    result = cli(
        cluster, "apply", str(specs), "--auto-approve", env={"AZURE_OPENAI_API_KEY": rotated}
    )
    assert result.code == 0, result.output
    writes = [
        (r["method"], r["path"])
        for r in write_requests(cluster.requests)
        if r["path"].startswith("/_inference")
    ]
    assert writes == [("PUT", "/_inference/text_embedding/azure-embed/_update")]
    after = cli(
        cluster, "plan", str(specs), "--detailed-exitcode", env={"AZURE_OPENAI_API_KEY": rotated}
    )
    assert after.code == 0, after.output
    assert rotated not in plan.output + result.output + after.output


def test_apply_without_terminal_or_approval_refuses(cluster: SandboxServer, specs: Path) -> None:
    result = cli(cluster, "apply", str(specs))
    assert result.code == 1 and "--auto-approve" in result.stderr
    assert live(cluster).keys() == {
        ".elser-2-elasticsearch",
        ".multilingual-e5-small-elasticsearch",
        ".rerank-v1-elasticsearch",
    }


def test_lock_held_by_another_apply(cluster: SandboxServer, specs: Path) -> None:
    plain.put(
        f"{cluster.url}/reconciler-state/_create/{state_id_for(specs, None)}.lock",
        json={"holder": "ci-runner-42", "acquired_at": 1, "expires_at": 4102444800},
    ).raise_for_status()
    blocked = cli(cluster, "apply", str(specs), "--auto-approve")
    assert blocked.code == 1 and "ci-runner-42" in blocked.stderr, blocked.output
    assert [
        r for r in write_requests(cluster.requests) if r["path"].startswith("/_inference")
    ] == []
    refused = cli(cluster, "unlock", str(specs))  # no terminal: a lock goes only by its id
    assert refused.code == 1 and "--lock-id" in refused.stderr, refused.output
    lock = f"{cluster.url}/reconciler-state/_doc/{state_id_for(specs, None)}.lock"
    assert plain.get(lock).status_code == 200, "unlock without --lock-id removed the lock"
    # #22 case 5: the hint was `reconciler unlock --lock-id X`, which, run as printed from
    # elsewhere, answered "No lock was held." and left the lock; each hint now names the directory
    for hint in (blocked.stderr, refused.stderr):
        command = hint.split("`")[1]
        assert command.startswith(f"reconciler unlock {specs} --lock-id "), hint
    other = specs.parent / "elsewhere"
    other.mkdir()
    pasted = run_cli(*command.split()[1:], "--url", cluster.url, cwd=other)
    assert pasted.code == 0 and "removed." in pasted.stdout, pasted.output
    assert plain.get(lock).status_code == 404
    applied(cluster, specs)


def test_expired_lock_is_taken_over(cluster: SandboxServer, specs: Path) -> None:
    plain.put(
        f"{cluster.url}/reconciler-state/_create/{state_id_for(specs, None)}.lock",
        json={"holder": "dead-runner", "acquired_at": 1, "expires_at": 2},
    ).raise_for_status()
    result = cli(cluster, "apply", str(specs), "--auto-approve")
    assert result.code == 0, result.output
    assert "took over an expired lock held by dead-runner" in result.stderr


@pytest.mark.parametrize(
    "fault",
    [
        Fault(method="PUT", path=r"^/_inference/", status=503, count=2),
        Fault(method="PUT", path=r"^/_inference/", status=429, count=2, retry_after=1),
        Fault(method="PUT", path=r"^/_inference/", status=502, count=1),
        Fault(method="PUT", path=r"^/_inference/", drop=True, count=2),
        Fault(method="PUT", path=r"^/_inference/", drop=True, count=2, after=True),
        Fault(method="GET", path=r"^/_inference/_all", status=503, count=2),
        Fault(method="PUT", path=r"^/reconciler-state/", status=503, count=2),
    ],
    ids=["503", "429-retry-after", "502", "drop", "drop-after-doing-it", "get-503", "state-503"],
)
def test_faults_converge_with_each_endpoint_created_once(
    cluster: SandboxServer, specs: Path, fault: Fault
) -> None:
    cluster.add_fault(fault)
    result = cli(cluster, "apply", str(specs), "--auto-approve")
    assert result.code == 0, result.output
    creates = [
        r
        for r in cluster.requests
        if r["method"] == "PUT"
        and r["status"] == 200
        and r["path"]
        in ("/_inference/text_embedding/azure-embed", "/_inference/rerank/shift-rerank")
    ]
    assert len(creates) == 2, creates
    assert cli(cluster, "plan", str(specs), "--detailed-exitcode").code == 0


def test_read_back_difference_exits_4(specs: Path) -> None:
    """Elasticsearch bug #139574: an 8.17-9.4 _update of task settings rewrote chunking settings."""
    with SandboxServer(port=0, version="9.1.0") as old_cluster:
        body = azure()
        body["task_type"] = "text_embedding"
        body["service"] = "azureopenai"
        # declared chunking is compared (undeclared chunking is the server's business)
        body["chunking_settings"] = {"strategy": "word", "max_chunk_size": 120, "overlap": 40}
        write_spec(specs, body)
        (specs / "shift-rerank.yaml").unlink()
        applied(old_cluster, specs)
        plain.put(
            f"{old_cluster.url}/_sandbox/bugs", json={"emulate": ["139574"]}
        ).raise_for_status()
        body["task_settings"] = {"user": "new-user"}
        write_spec(specs, body)
        result = cli(old_cluster, "apply", str(specs), "--auto-approve")
        assert result.code == 4, result.output
        assert "differs from the plan" in result.stderr and "chunking_settings" in result.stderr
        assert result.stdout.splitlines()[-1] == (
            "Apply complete: 0 created, 1 updated, 0 replaced, 0 deleted, 0 failed."
        )


def test_a_cluster_lost_mid_apply_ends_with_the_summary_and_the_lock_named(tmp_path: Path) -> None:
    """Before (#22 case 6): a cluster lost mid-apply ended the run with one error, no summary,
    and a lock left behind without a word. After: the summary (what was done, what failed),
    `Not changed (N): ...`, and the lock's expiry with the command that removes it, which,
    pasted as printed once the cluster is back, does."""
    import threading
    import time

    data = str(tmp_path / "cluster.json")
    team = tmp_path / "team"
    for name in ("lost-a", "lost-b", "lost-c"):
        write_spec(team, rerank(name))
    first = SandboxServer(port=0, data_file=data).start()
    port = first.port
    # the second create is slow, and the cluster goes away while it waits
    first.add_fault(Fault(method="PUT", path="^/_inference/rerank/lost-b$", delay=1.0, status=None))

    def lose_the_cluster() -> None:
        while not any(r["path"] == "/_inference/rerank/lost-a" for r in first.requests):
            time.sleep(0.01)
        time.sleep(0.2)
        first.stop()

    threading.Thread(target=lose_the_cluster, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    flags = ("--parallelism", "1", "--retry-for", "1s", "--timeout", "2")
    lost = run_cli("apply", str(team), "--auto-approve", *flags, "--url", url, env=ENV)
    assert lost.code == 1, lost.output
    assert "Apply complete: 1 created, 0 updated, 0 replaced, 0 deleted, 2 failed." in lost.stdout
    assert "Not changed (2): rerank/lost-b, rerank/lost-c" in lost.stderr
    warning = next(line for line in lost.stderr.splitlines() if "apply lock" in line)
    assert "it expires by " in warning and "UTC (at most " in warning, warning
    command = warning.split("`")[1]
    assert command.startswith(f"reconciler unlock {team} --lock-id ")
    with SandboxServer(port=port, data_file=data):
        unlocked = run_cli(*command.split()[1:], "--url", url)
        assert unlocked.code == 0 and "removed." in unlocked.stdout, unlocked.output
        again = run_cli("apply", str(team), "--auto-approve", "--url", url, env=ENV)
        assert again.code == 0, again.output  # what the lost run did or did not send converges
        listed = plain.get(f"{url}/_inference/_all").json()["endpoints"]
        assert {"lost-a", "lost-b", "lost-c"} <= {e["inference_id"] for e in listed}
