"""Ownership and safety through the real CLI: nothing is destroyed that nobody asked to change.

One test per case a new user met (prune across directories, silent adoption, server
defaults planning replaces, half-done replaces, plan and apply disagreeing), plus moving a
spec between directories, racing applies from two directories, forget and --adopt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.identity import state_id_for
from reconciler.sandbox import Fault, SandboxServer
from tests.e2e.helpers import REPO, run_cli, write_requests, write_spec
from tests.sandbox.helpers import plain
from tests.specs import ENV, azure, rerank

STATE = "reconciler-state"


def cli(cluster: SandboxServer, *args: str) -> Any:
    return run_cli(*args, "--url", cluster.url, env=ENV)


def ok(cluster: SandboxServer, *args: str) -> Any:
    result = cli(cluster, *args)
    assert result.code == 0, result.output
    return result


def managed(cluster: SandboxServer, directory: Path) -> set[str]:
    answer = plain.get(f"{cluster.url}/{STATE}/_doc/{state_id_for(directory, None)}").json()
    return set((answer.get("_source") or {}).get("managed") or {})


def live_ids(cluster: SandboxServer) -> set[str]:
    endpoints = plain.get(f"{cluster.url}/_inference/_all").json()["endpoints"]
    return {e["inference_id"] for e in endpoints if not e["inference_id"].startswith(".")}


def owners(cluster: SandboxServer, inference_id: str) -> list[str]:
    """Every state document that lists the endpoint, and the claim's owner if there is one."""
    hits = plain.post(
        f"{cluster.url}/{STATE}/_search", json={"size": 1000, "query": {"match_all": {}}}
    ).json()["hits"]["hits"]
    found = []
    for hit in hits:
        source = hit["_source"]
        if hit["_id"] == f"claim.{inference_id}":
            found.append(f"claim:{source['owner']}")
        elif inference_id in (source.get("managed") or {}):
            found.append(hit["_id"])
    return sorted(found)


def put_by_hand(cluster: SandboxServer, body: dict[str, Any]) -> None:
    settings = {**body["service_settings"]}
    settings["api_key"] = "made-by-hand-key-1234"
    plain.put(
        f"{cluster.url}/_inference/{body['task_type']}/{body['inference_id']}",
        json={
            **{k: v for k, v in body.items() if k not in ("inference_id", "task_type")},
            "service_settings": settings,
        },
    ).raise_for_status()


# -- 1. prune crosses directories ------------------------------------------------------------


def test_prune_never_crosses_directories(tmp_path: Path, cluster: SandboxServer) -> None:
    team_a, team_b = tmp_path / "team-a", tmp_path / "team-b"
    write_spec(team_a, rerank("rerank-a"))
    write_spec(team_b, rerank("rerank-b"))
    ok(cluster, "apply", str(team_a), "--auto-approve")
    ok(cluster, "apply", str(team_b), "--auto-approve")
    assert state_id_for(team_a, None) != state_id_for(team_b, None)
    plan = ok(cluster, "plan", str(team_a), "--prune")
    assert f"State document: {STATE}/{state_id_for(team_a, None)}" in plan.stdout
    assert "No changes" in plan.stdout and "rerank-b" not in plan.stdout.split("Unmanaged")[0]
    pruned = ok(cluster, "apply", str(team_a), "--prune", "--auto-approve")
    assert "deleted" not in pruned.stderr
    assert live_ids(cluster) == {"rerank-a", "rerank-b"}
    assert managed(cluster, team_a) == {"rerank-a"} and managed(cluster, team_b) == {"rerank-b"}


def test_a_spec_moved_between_directories_ends_with_one_owner_and_no_deletion(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    team_a, team_b = _moved(cluster, tmp_path)
    # B declares it, A still owns it: B leaves it alone and names the owner
    plan_b = ok(cluster, "plan", str(team_b))
    assert f"declared here and managed by {state_id_for(team_a, None)}" in plan_b.stdout
    assert f"apply {team_b} --adopt rerank/moving" in plan_b.stdout
    # A no longer declares it: shown as ours and no longer declared, with the --prune hint
    plan_a = ok(cluster, "plan", str(team_a))
    assert (
        f"no longer declared (kept; `reconciler apply {team_a} --prune` deletes them): moving"
        in (plan_a.stdout)
    )
    cluster.clear_requests()
    adopted = ok(cluster, "apply", str(team_b), "--adopt", "moving", "--auto-approve")
    assert "taken over from the state document" in adopted.stdout
    assert [
        r for r in write_requests(cluster.requests) if r["path"].startswith("/_inference")
    ] == []
    ok(cluster, "apply", str(team_a), "--prune", "--auto-approve")
    assert live_ids(cluster) == {"moving", "stays"}
    assert owners(cluster, "moving") == sorted(
        [f"claim:{state_id_for(team_b, None)}", state_id_for(team_b, None)]
    )
    assert "No changes" in ok(cluster, "plan", str(team_b)).stdout


def _moved(cluster: SandboxServer, tmp_path: Path) -> tuple[Path, Path]:
    """team-a manages `moving` and `stays`; then moving.yaml moves to team-b."""
    team_a, team_b = tmp_path / "team-a", tmp_path / "team-b"
    write_spec(team_a, rerank("moving"))
    write_spec(team_a, rerank("stays"))
    ok(cluster, "apply", str(team_a), "--auto-approve")
    team_b.mkdir()
    (team_a / "moving.yaml").rename(team_b / "moving.yaml")
    return team_a, team_b


def _endpoint_writes(cluster: SandboxServer) -> list[tuple[str, str]]:
    return [
        (r["method"], r["path"])
        for r in write_requests(cluster.requests)
        if r["path"].startswith("/_inference")
    ]


def _one_owner(cluster: SandboxServer, directory: Path, inference_id: str) -> None:
    doc_id = state_id_for(directory, None)
    assert owners(cluster, inference_id) in ([doc_id], [f"claim:{doc_id}", doc_id])


def test_moved_spec_receiving_directory_first_then_prune(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    """Before: team-b's apply said "No changes" and left it; team-a's `apply --prune` deleted
    it although team-b declares it. After: team-b's apply records that it declares it (a
    conflict, exit 2 on plan); team-a's plan says it moves to team-b, and its `apply --prune`
    hands it over without a request to the endpoint; team-b then owns it alone."""
    team_a, team_b = _moved(cluster, tmp_path)
    doc_a, doc_b = state_id_for(team_a, None), state_id_for(team_b, None)
    first = cli(cluster, "plan", str(team_b), "--detailed-exitcode")
    assert first.code == 2 and "1 conflict." in first.stdout, first.output
    ok(cluster, "apply", str(team_b), "--auto-approve")  # records: declared here, owned by A
    plan_a = cli(cluster, "plan", str(team_a), "--prune", "--detailed-exitcode")
    assert plan_a.code == 2, plan_a.output
    assert f"rerank/moving moves to {doc_b}, which declares it" in plan_a.stdout
    assert "will be destroyed" not in plan_a.stdout
    assert plan_a.stdout.rstrip().endswith("0 to delete; 1 to hand over.")
    document = json.loads(ok(cluster, "plan", str(team_a), "--prune", "--format", "json").stdout)
    assert document["moves"] == [
        {"inference_id": "moving", "address": "rerank/moving", "to": doc_b}
    ]
    cluster.clear_requests()
    ok(cluster, "apply", str(team_a), "--prune", "--auto-approve")
    assert _endpoint_writes(cluster) == []
    ok(cluster, "apply", str(team_b), "--auto-approve")
    _one_owner(cluster, team_b, "moving")
    for team in (team_a, team_b):
        again = cli(cluster, "plan", str(team), "--prune", "--detailed-exitcode")
        assert again.code == 0 and "No changes" in again.stdout, again.output
    assert doc_a != doc_b


def test_moved_spec_giving_directory_first(cluster: SandboxServer, tmp_path: Path) -> None:
    """Before: whichever way round, the endpoint stayed team-a's until someone passed --adopt,
    and team-b said "No changes". After: team-a's apply records that it no longer declares it;
    team-b's plan says it moves here, its apply takes it over without touching it; team-a's
    `apply --prune` then has nothing of it to delete."""
    team_a, team_b = _moved(cluster, tmp_path)
    doc_a = state_id_for(team_a, None)
    kept = cli(cluster, "plan", str(team_a), "--detailed-exitcode")
    assert kept.code == 2 and "1 no longer declared (kept)." in kept.stdout, kept.output
    ok(cluster, "apply", str(team_a), "--auto-approve")  # records: managed, no longer declared
    plan_b = ok(cluster, "plan", str(team_b))
    assert f"moves here from the state document {doc_a}, which no longer declares it" in (
        plan_b.stdout
    )
    assert "conflict" not in plan_b.stdout
    cluster.clear_requests()
    ok(cluster, "apply", str(team_b), "--auto-approve")
    assert _endpoint_writes(cluster) == []
    _one_owner(cluster, team_b, "moving")
    ok(cluster, "apply", str(team_a), "--prune", "--auto-approve")
    assert live_ids(cluster) == {"moving", "stays"}
    _one_owner(cluster, team_b, "moving")
    for team in (team_a, team_b):
        again = cli(cluster, "plan", str(team), "--prune", "--detailed-exitcode")
        assert again.code == 0 and "No changes" in again.stdout, again.output


def test_forget_stops_managing_without_touching(tmp_path: Path, cluster: SandboxServer) -> None:
    team = tmp_path / "team"
    write_spec(team, rerank("kept"))
    ok(cluster, "apply", str(team), "--auto-approve")
    (team / "kept.yaml").unlink()
    write_spec(team, rerank("other"))
    cluster.clear_requests()
    forgot = ok(cluster, "forget", str(team), "kept")
    assert "Forgot kept" in forgot.stdout
    assert [
        r for r in write_requests(cluster.requests) if r["path"].startswith("/_inference")
    ] == []
    ok(cluster, "apply", str(team), "--prune", "--auto-approve")
    assert "kept" in live_ids(cluster) and "kept" not in managed(cluster, team)
    unknown = cli(cluster, "forget", str(team), "nobody")
    assert unknown.code == 1 and "forget nobody: no endpoint nobody is managed by" in unknown.stderr


def test_forget_takes_the_usage_it_shows(tmp_path: Path, cluster: SandboxServer) -> None:
    """Before (#22 cases 5, 8): `reconciler forget ID` failed although the usage shows DIR as
    optional, and forgetting a still-declared endpoint was silently undone by the next apply.
    After: `forget ID` works from the directory, takes TASK_TYPE/ID, and a declared endpoint is
    refused naming its file:line, nothing changed."""
    team = tmp_path / "team"
    write_spec(team, rerank("kept"))
    write_spec(team, rerank("gone"))
    ok(cluster, "apply", str(team), "--auto-approve")
    declared = run_cli("forget", "rerank/kept", "--url", cluster.url, env=ENV, cwd=team)
    assert declared.code == 1, declared.output
    assert "kept.yaml:1:" in declared.stderr and "the next apply would adopt" in declared.stderr
    assert managed(cluster, team) == {"kept", "gone"}
    (team / "gone.yaml").unlink()
    wrong = cli(cluster, "forget", str(team), "text_embedding/gone")
    assert wrong.code == 1 and "gone is a rerank endpoint" in wrong.stderr, wrong.output
    forgot = run_cli("forget", "rerank/gone", "--url", cluster.url, env=ENV, cwd=team)
    assert forgot.code == 0 and "Forgot gone" in forgot.stdout, forgot.output
    assert managed(cluster, team) == {"kept"} and "gone" in live_ids(cluster)


# -- 2. silent adoption ------------------------------------------------------------------------


def test_an_endpoint_made_by_hand_is_adopted_visibly_and_never_replaced_unasked(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    put_by_hand(cluster, rerank("by-hand", model="old-model"))
    team = tmp_path / "team"
    write_spec(team, rerank("by-hand", model="new-model"))  # model_id cannot change in place
    plan = cli(cluster, "plan", str(team))
    assert plan.code == 3, plan.output
    assert "(adopted: it exists and no state document manages it)" in plan.stdout
    assert "does not manage it yet" in plan.stderr and "--replace by-hand" in plan.stderr
    document = json.loads(cli(cluster, "plan", str(team), "--format", "json").stdout)
    (change,) = [c for c in document["changes"] if c["inference_id"] == "by-hand"]
    assert change["adopt"] is True and change["action"] == "replace"
    markdown = cli(cluster, "plan", str(team), "--format", "markdown").stdout
    assert "adopted" in markdown
    cluster.clear_requests()
    refused = cli(cluster, "apply", str(team), "--auto-approve")
    assert refused.code == 3, refused.output
    assert write_requests(cluster.requests) == []
    replaced = ok(cluster, "apply", str(team), "--replace", "by-hand", "--auto-approve")
    assert "1 replaced" in replaced.stdout
    assert managed(cluster, team) == {"by-hand"}


def test_a_matching_endpoint_is_adopted_without_a_write_to_it(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    put_by_hand(cluster, rerank("by-hand"))
    team = tmp_path / "team"
    write_spec(team, rerank("by-hand"))
    plan = ok(cluster, "plan", str(team))
    assert "adopted" in plan.stdout and "send them once, in place" in plan.stdout
    cluster.clear_requests()
    ok(cluster, "apply", str(team), "--auto-approve")
    assert [
        r for r in write_requests(cluster.requests) if r["path"].startswith("/_inference")
    ] == []
    assert managed(cluster, team) == {"by-hand"}
    # its secret was never sent by us: --send-secrets sends it once, in place
    sent = ok(cluster, "apply", str(team), "--send-secrets", "by-hand", "--auto-approve")
    assert "1 updated" in sent.stdout
    assert "secret not tracked" not in ok(cluster, "plan", str(team)).stdout


def test_untracked_secrets_are_one_line_and_one_command(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    """Before (#22 case 8): one "secret not tracked ... `--send-secrets X`" note per endpoint
    (72 lines for 72) and no way to name them all. After: one note line with a count, and one
    command that, pasted as printed, sends them all once, in place."""
    team = tmp_path / "team"
    names = [f"hand-{i}" for i in range(6)]
    for name in names:
        put_by_hand(cluster, rerank(name))
        write_spec(team, rerank(name))
    ok(cluster, "apply", str(team), "--auto-approve")  # adopts them, nothing sent
    plan = ok(cluster, "plan", str(team))
    notes = [line for line in plan.stdout.splitlines() if "secret not tracked" in line]
    assert len(notes) == 1 and "and 3 more" in notes[0], plan.stdout
    hint = next(line for line in plan.stdout.splitlines() if "never sent by reconciler:" in line)
    assert hint.startswith("# note: 6 endpoints with secrets never sent by reconciler")
    command = hint.split("`")[1]
    assert command == f"reconciler apply {team} --send-secrets UNTRACKED"
    sent = run_cli(*command.split()[1:], "--auto-approve", "--url", cluster.url, env=ENV)
    assert sent.code == 0 and "6 updated" in sent.stdout, sent.output
    assert "not tracked" not in ok(cluster, "plan", str(team)).stdout


# -- 3. server defaults never plan a replace --------------------------------------------------


def test_undeclared_server_defaults_are_never_a_change(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    team = tmp_path / "team"
    write_spec(team, azure())
    # made by hand with a rate limit the catalog does not expect (Azure's 1140 in the
    # specification's response example): a value nobody declared here is never a change ...
    body = {k: v for k, v in azure().items() if k not in ("inference_id", "task_type")}
    body["service_settings"] = {
        **body["service_settings"],
        "api_key": "hand-made-key-value",
        "rate_limit": {"requests_per_minute": 1140},
    }
    plain.put(f"{cluster.url}/_inference/text_embedding/azure-embed", json=body).raise_for_status()
    plan = cli(cluster, "plan", str(team), "--detailed-exitcode")
    assert "will be" not in plan.stdout, plan.output  # adopted as it is: nothing to send
    ok(cluster, "apply", str(team), "--auto-approve")
    # ... and once applied, the cluster's own value is the baseline, not the catalog's guess
    plan = ok(cluster, "plan", str(team), "--detailed-exitcode")
    assert "No changes" in plan.stdout


def test_a_removed_declaration_is_a_declared_change(tmp_path: Path, cluster: SandboxServer) -> None:
    team = tmp_path / "team"
    write_spec(team, azure(rate_limit={"requests_per_minute": 100}))
    ok(cluster, "apply", str(team), "--auto-approve")
    write_spec(team, azure())  # the user removed rate_limit: back to the server's default
    plan = cli(cluster, "plan", str(team), "--detailed-exitcode")
    assert plan.code == 2, plan.output
    assert "service_settings.rate_limit" in plan.stdout


# -- 4. half-done replaces ---------------------------------------------------------------------


def test_a_replace_whose_create_fails_says_the_endpoint_is_gone(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    team = tmp_path / "team"
    write_spec(team, rerank("fragile"))
    ok(cluster, "apply", str(team), "--auto-approve")
    write_spec(team, rerank("fragile", model="new-model"))
    cluster.add_fault(Fault(method="PUT", path="^/_inference/rerank/fragile$", status=400, count=1))
    result = cli(cluster, "apply", str(team), "--auto-approve")
    assert result.code == 1, result.output
    assert "fragile no longer exists" in result.stderr
    assert "1 failed (1 deleted and not re-created: they no longer exist)" in result.stdout
    assert "fragile" not in live_ids(cluster)
    again = ok(cluster, "plan", str(team))
    assert "+ rerank/fragile will be created" in again.stdout.replace("  +", "+")


# -- 5. plan tells what apply refuses ---------------------------------------------------------


def test_plan_exits_3_where_apply_would_refuse(tmp_path: Path, cluster: SandboxServer) -> None:
    team = tmp_path / "team"
    write_spec(team, rerank("only"))
    ok(cluster, "apply", str(team), "--auto-approve")
    (team / "only.yaml").unlink()
    (team / "notes.txt").write_text("no specs here\n")
    # #22 case 8: a directory without a spec is most often the wrong one: an error (exit 1)...
    wrong = cli(cluster, "plan", str(team), "--prune")
    assert wrong.code == 1 and "pass --allow-empty" in wrong.stderr, wrong.output
    assert run_cli("validate", str(team)).code == 1
    assert run_cli("validate", str(team), "--allow-empty").code == 0
    # ... and meant on purpose, pruning everything is still refused
    plan = cli(cluster, "plan", str(team), "--prune", "--allow-empty")
    assert plan.code == 3, plan.output
    assert "empty desired state" in plan.stderr
    apply = cli(cluster, "apply", str(team), "--prune", "--auto-approve", "--allow-empty")
    assert apply.code == 3
    assert "only" in live_ids(cluster)


# -- races ---------------------------------------------------------------------------------------


@pytest.mark.subprocess
def test_two_racing_applies_from_two_directories_never_both_own(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    ids = [f"shared-{i}" for i in range(4)]
    for inference_id in ids:
        put_by_hand(cluster, rerank(inference_id))  # both will want to adopt them
    directories = [tmp_path / "a", tmp_path / "b"]
    for directory in directories:
        for inference_id in ids:
            write_spec(directory, rerank(inference_id))
    cluster.latency_ms = 20
    env = {k: v for k, v in os.environ.items() if not k.startswith("ELASTIC")}
    env.update(ENV)
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "apply",
                str(d),
                "--url",
                cluster.url,
                "--auto-approve",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in directories
    ]
    for process in processes:
        process.communicate(timeout=120)
    for inference_id in ids:
        listed = owners(cluster, inference_id)
        claims = [o for o in listed if o.startswith("claim:")]
        assert len(claims) == 1, listed
        owner = claims[0].removeprefix("claim:")
        assert [o for o in listed if not o.startswith("claim:")] in ([owner], []), listed


def test_a_replace_the_cluster_would_refuse_fails_before_the_delete(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    team = tmp_path / "team"
    write_spec(team, rerank("careful"))
    ok(cluster, "apply", str(team), "--auto-approve")
    write_spec(team, rerank("careful", model="new-model"))
    plan = json.loads(cli(cluster, "plan", str(team), "--format", "json").stdout)
    (change,) = [c for c in plan["changes"] if c["inference_id"] == "careful"]
    assert change["action"] == "replace"
    # the trial create of the new configuration, under a scratch id, is refused
    cluster.add_fault(
        Fault(method="PUT", path="^/_inference/rerank/reconciler-probe-", status=400, count=1)
    )
    cluster.clear_requests()
    result = cli(cluster, "apply", str(team), "--auto-approve")
    assert result.code == 1, result.output
    assert "careful" in live_ids(cluster)  # never deleted
    assert not [
        r
        for r in write_requests(cluster.requests)
        if r["method"] == "DELETE" and r["path"] == "/_inference/rerank/careful"
    ]
    assert ok(cluster, "apply", str(team), "--auto-approve")  # the next apply replaces it
    assert not [i for i in live_ids(cluster) if i.startswith("reconciler-probe-")]


# -- the shared document of earlier releases ---------------------------------------------------


def test_a_shared_legacy_document_hands_each_endpoint_to_the_directory_declaring_it(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    team_a, team_b = tmp_path / "team-a", tmp_path / "team-b"
    write_spec(team_a, rerank("rerank-a"))
    write_spec(team_b, rerank("rerank-b"))
    for name in ("rerank-a", "rerank-b"):
        put_by_hand(cluster, rerank(name))
    # what an earlier release wrote for both directories: one shared document, format 1
    legacy = {
        "format_version": 1,
        "state_id": "default",
        "salt": "0123456789abcdef",
        "managed": {
            name: {"task_type": "rerank", "service": "openshift_ai", "secrets": {}}
            for name in ("rerank-a", "rerank-b")
        },
    }
    plain.put(f"{cluster.url}/{STATE}/_doc/default", json=legacy).raise_for_status()
    plan = ok(cluster, "plan", str(team_a), "--prune")
    assert "move from the shared state document default" in plan.stdout
    assert "rerank-b" not in plan.stdout.split("Unmanaged")[0].split("Warning")[0]
    ok(cluster, "apply", str(team_a), "--prune", "--auto-approve")
    assert live_ids(cluster) == {"rerank-a", "rerank-b"}  # B's endpoint is not pruned by A
    assert managed(cluster, team_a) == {"rerank-a"}
    shared = plain.get(f"{cluster.url}/{STATE}/_doc/default").json()["_source"]["managed"]
    assert set(shared) == {"rerank-b"}  # what A declared left the shared document
    assert "move from the shared" not in ok(cluster, "plan", str(team_a)).stdout  # said once
    ok(cluster, "apply", str(team_b), "--auto-approve")
    assert managed(cluster, team_b) == {"rerank-b"}
    assert plain.get(f"{cluster.url}/{STATE}/_doc/default").json()["_source"]["managed"] == {}


def test_import_never_destroys_work(tmp_path: Path, cluster: SandboxServer) -> None:
    """Before (#22 case 7): `import --out D` overwrote a spec file with local edits, and wrote a
    second spec for an id D already declared in another file (validate then failed). After:
    neither is written (both reported); --force overwrites only the file of the id's own name."""
    for name in ("edited", "elsewhere", "fresh"):
        put_by_hand(cluster, rerank(name))
    out = tmp_path / "imported"
    out.mkdir()
    edited = "# my local edits, not yet a valid spec\ninference_id: edited\n"
    (out / "edited.yaml").write_text(edited, encoding="utf-8")
    write_spec(out, rerank("elsewhere"), name="team.yaml")
    result = cli(cluster, "import", "--out", str(out), "rerank/edited", "elsewhere", "fresh")
    assert result.code == 0, result.output
    assert "Wrote 1 spec file(s)" in result.stdout and (out / "fresh.yaml").exists()
    assert (out / "edited.yaml").read_text(encoding="utf-8") == edited
    assert not (out / "elsewhere.yaml").exists()
    assert "Not written (2)" in result.stderr and "team.yaml:1" in result.stderr
    forced = cli(cluster, "import", "--out", str(out), "--force", "edited", "elsewhere")
    assert forced.code == 0 and "Wrote 1 spec file(s)" in forced.stdout, forced.output
    assert "inference_id: edited" in (out / "edited.yaml").read_text(encoding="utf-8")
    assert not (out / "elsewhere.yaml").exists()
    assert run_cli("validate", str(out)).code == 0
    unknown = cli(cluster, "import", "--out", str(out), "rerank/nobody")
    assert unknown.code == 1 and "import rerank/nobody: no endpoint nobody" in unknown.stderr
