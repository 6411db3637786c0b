"""What a plan says is what is: exit code, JSON and text summary agree, and conflicts are shown.

Issue #22, cases 1, 3 and 4: a conflict with another directory read "No changes" (exit 0); a
managed spec removed without --prune exited 2 while the text said "No changes" and JSON
``has_changes: false``; replace-only drift under ``--target`` printed "No changes" and exited 2;
endpoints other directories manage were listed as "Unmanaged"; ``--target rerank/x`` and
``--replace rerank/x`` (the plan's own address form) were a warning and a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.identity import state_id_for
from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli, write_requests, write_spec
from tests.e2e.test_ownership import cli, ok
from tests.sandbox.helpers import plain
from tests.specs import ENV, rerank

# -- the verdict table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[SandboxServer, Path], tuple[Path, tuple[str, ...]]]  # -> directory, flags
    differs: bool
    summary: str  # the text summary's words for this kind of plan


def _team(cluster: SandboxServer, tmp_path: Path, *ids: str) -> Path:
    team = tmp_path / "team"
    for inference_id in ids:
        write_spec(team, rerank(inference_id))
    ok(cluster, "apply", str(team), "--auto-approve")
    return team


def _nothing(cluster: SandboxServer, tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    return _team(cluster, tmp_path, "a"), ()


def _create(cluster: SandboxServer, tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    team = _team(cluster, tmp_path, "a")
    write_spec(team, rerank("b"))
    return team, ()


def _update(cluster: SandboxServer, tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    team = _team(cluster, tmp_path, "a")
    write_spec(team, rerank("a", top_n=7))
    return team, ()


def _replace(cluster: SandboxServer, tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    team = _team(cluster, tmp_path, "a")
    write_spec(team, rerank("a", model="other-model"))
    return team, ()


def _delete(cluster: SandboxServer, tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    team = _team(cluster, tmp_path, "a", "b")
    (team / "b.yaml").unlink()
    return team, ("--prune",)


def _kept(cluster: SandboxServer, tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    team = _team(cluster, tmp_path, "a", "b")
    (team / "b.yaml").unlink()
    return team, ()


def _conflict(cluster: SandboxServer, tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    _team(cluster, tmp_path, "shared")
    other = tmp_path / "other"
    write_spec(other, rerank("shared", top_n=10, model="other-model"))
    return other, ()


def _held_drift(cluster: SandboxServer, tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    team = _team(cluster, tmp_path, "a", "b")
    _add_return_documents(cluster, "a")
    return team, ()


def _targeted_held_drift(cluster: SandboxServer, tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    team, _ = _held_drift(cluster, tmp_path)
    return team, ("--target", "rerank/a")


def _targeted_elsewhere(cluster: SandboxServer, tmp_path: Path) -> tuple[Path, tuple[str, ...]]:
    team = _team(cluster, tmp_path, "a", "b")
    write_spec(team, rerank("b", top_n=9))  # a change, but not in the target
    return team, ("--target", "a")


def _add_return_documents(cluster: SandboxServer, inference_id: str) -> None:
    """Set by hand a task setting nobody declares: only a replace could drop it again."""
    plain.put(
        f"{cluster.url}/_inference/rerank/{inference_id}/_update",
        json={"task_settings": {"return_documents": True}},
    ).raise_for_status()


CASES = [
    Case("nothing", _nothing, False, "No changes. The cluster matches the desired state"),
    Case("create", _create, True, "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete."),
    Case("update", _update, True, "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."),
    Case("replace", _replace, True, "Plan: 0 to create, 0 to update, 1 to replace, 0 to delete."),
    Case("delete", _delete, True, "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete."),
    Case("kept orphan", _kept, True, "to delete; 1 no longer declared (kept)."),
    Case("conflict", _conflict, True, "to delete; 1 conflict."),
    Case("replace-only drift", _held_drift, True, "to delete; 1 with drift left alone."),
    Case("targeted drift", _targeted_held_drift, True, "to delete; 1 with drift left alone."),
    Case("targeted clean", _targeted_elsewhere, False, "No changes."),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_exit_code_json_and_text_agree(cluster: SandboxServer, tmp_path: Path, case: Case) -> None:
    directory, flags = case.build(cluster, tmp_path)
    text = cli(cluster, "plan", str(directory), "--detailed-exitcode", *flags)
    document = json.loads(ok(cluster, "plan", str(directory), "--format", "json", *flags).stdout)
    drift = cli(cluster, "drift", str(directory), *flags)
    expected = 2 if case.differs else 0
    assert (text.code, drift.code) == (expected, expected), text.output + drift.output
    assert document["has_changes"] is case.differs
    assert document["verdict"]["differs"] is case.differs
    summary = text.stdout.rstrip().splitlines()[-1]
    assert case.summary in summary, text.stdout
    assert ("No changes" in summary) is (not case.differs)
    assert ("No drift" in drift.stdout) is (not case.differs)
    # plan without --detailed-exitcode says the same and exits 0
    plain = ok(cluster, "plan", str(directory), *flags)
    assert plain.stdout.rstrip().splitlines()[-1] == summary


# -- 1. a conflict is shown, counted, and never "No changes" --------------------------------------


def test_a_conflict_is_its_own_line_and_counted(cluster: SandboxServer, tmp_path: Path) -> None:
    """Before: team-b's plan said "No changes" and exited 0, drift said "No drift"; after --adopt,
    team-a got the same false all-clear. After: a `!` line naming the owner, the fields that
    differ and the command that takes it over (run as printed, it does); exit 2; JSON lists it."""
    team_a, team_b = tmp_path / "team-a", tmp_path / "team-b"
    write_spec(team_a, rerank("shared", top_n=3))
    ok(cluster, "apply", str(team_a), "--auto-approve")
    write_spec(team_b, rerank("shared", top_n=10, model="other-model"))
    owner_a = f"reconciler-state/{state_id_for(team_a, None)}".split("/")[1]
    plan = cli(cluster, "plan", str(team_b), "--detailed-exitcode")
    assert plan.code == 2, plan.output
    line = next(x for x in plan.stdout.splitlines() if "rerank/shared" in x)
    assert line.startswith("! rerank/shared is declared here and managed by " + owner_a)
    assert "(differs: model_id, top_n); apply leaves it" in line
    assert plan.stdout.rstrip().endswith("1 conflict.")
    assert "No changes" not in plan.stdout
    drift = cli(cluster, "drift", str(team_b))
    assert drift.code == 2 and "No drift" not in drift.stdout, drift.output
    document = json.loads(ok(cluster, "plan", str(team_b), "--format", "json").stdout)
    assert document["conflicts"] == [
        {"inference_id": "shared", "address": "rerank/shared", "owner": owner_a}
    ]
    assert document["verdict"]["conflict"] == 1 and document["has_changes"] is True
    # the suggested command, pasted as printed, takes it over
    suggested = line.split("`")[1]
    assert suggested == (
        f"reconciler apply {team_b} --adopt rerank/shared --replace rerank/shared"
    )  # model_id cannot change in place: taking it over is a replace, and the hint says so
    adopted = run_cli(*suggested.split()[1:], "--auto-approve", "--url", cluster.url, env=ENV)
    assert adopted.code == 0 and "1 replaced" in adopted.stdout, adopted.output
    assert "No changes" in ok(cluster, "plan", str(team_b)).stdout
    # now team-a is the one in conflict: no false all-clear there either
    after = cli(cluster, "plan", str(team_a), "--detailed-exitcode")
    assert after.code == 2 and "1 conflict." in after.stdout, after.output


def test_endpoints_of_other_directories_are_not_called_unmanaged(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    """Before: team-b's plan listed team-a's endpoints as "Unmanaged". After: their own line."""
    team_a, team_b = tmp_path / "team-a", tmp_path / "team-b"
    write_spec(team_a, rerank("of-a"))
    write_spec(team_b, rerank("of-b"))
    ok(cluster, "apply", str(team_a), "--auto-approve")
    ok(cluster, "apply", str(team_b), "--auto-approve")
    plain.put(
        f"{cluster.url}/_inference/rerank/by-hand",
        json={
            "service": "openshift_ai",
            "service_settings": {"url": "https://x.example", "model_id": "m", "api_key": "k-1"},
        },
    ).raise_for_status()
    plan = ok(cluster, "plan", str(team_b))
    assert "Managed by other directories (not declared here; left alone): of-a" in plan.stdout
    unmanaged = next(x for x in plan.stdout.splitlines() if x.startswith("Unmanaged"))
    assert "by-hand" in unmanaged and "of-a" not in unmanaged
    document = json.loads(ok(cluster, "plan", str(team_b), "--format", "json").stdout)
    assert document["managed_elsewhere"] == ["of-a"] and "of-a" not in document["unmanaged"]


# -- 4. addresses --------------------------------------------------------------------------------


def test_the_plans_own_address_form_is_accepted(cluster: SandboxServer, tmp_path: Path) -> None:
    """Before: `--target rerank/x` and `--replace rerank/x` were a warning and a no-op (exit 0).
    After: ID and TASK_TYPE/ID both work; an unknown one is an error, exit 1, nothing sent."""
    team = _team(cluster, tmp_path, "x", "y")
    write_spec(team, rerank("y", top_n=5))
    targeted = cli(cluster, "plan", str(team), "--target", "rerank/x", "--detailed-exitcode")
    assert targeted.code == 0 and "No changes" in targeted.stdout, targeted.output
    other = cli(cluster, "plan", str(team), "--target", "rerank/y", "--detailed-exitcode")
    assert other.code == 2 and "~ rerank/y" in other.stdout, other.output
    replaced = cli(cluster, "plan", str(team), "--replace", "rerank/x")
    assert "-/+ rerank/x" in replaced.stdout and "Warning" not in replaced.output
    cluster.clear_requests()
    done = ok(cluster, "apply", str(team), "--replace", "rerank/x", "--auto-approve")
    assert "1 replaced" in done.stdout
    assert any(
        r["method"] == "DELETE" and r["path"] == "/_inference/rerank/x"
        for r in write_requests(cluster.requests)
    )
    for flag in ("--target", "--replace", "--adopt", "--send-secrets"):
        for address in ("rerank/nobody", "text_embedding/x"):
            cluster.clear_requests()
            wrong = cli(cluster, "apply", str(team), flag, address, "--auto-approve")
            assert wrong.code == 1, (flag, address, wrong.output)
            assert f"{flag} {address}: " in wrong.stderr and "Traceback" not in wrong.output
            assert write_requests(cluster.requests) == []


# -- 8. noise and traps --------------------------------------------------------------------------


def test_upper_case_extensions_are_read_and_debug_goes_anywhere(tmp_path: Path) -> None:
    """Before: `.YAML` files were skipped silently (a directory of them validated green with no
    spec), and `--debug` worked only before the subcommand. After: `.YAML`/`.YML` are specs, and
    `--debug` after the subcommand shows the traceback as before it."""
    team = tmp_path / "team"
    write_spec(team, rerank("upper"), name="upper.YAML")
    write_spec(team, rerank("short"), name="short.YML")
    checked = run_cli("validate", str(team))
    assert checked.code == 0 and "2 endpoint specs valid" in checked.stdout, checked.output
    write_spec(team, {**rerank("bad"), "colour": "red"}, name="bad.Yaml")
    failed = run_cli("validate", str(team), "--debug")
    assert failed.code == 1 and "bad.Yaml:" in failed.stderr
    assert "Traceback (most recent call last)" in failed.stderr, failed.output


def test_unknown_names_get_a_did_you_mean(tmp_path: Path) -> None:
    """Before: an unknown service or field got a hint about `${env:}` references. After: the
    nearest name the catalog knows, and no word about references where the service is unknown."""
    team = tmp_path / "team"
    misspelt = rerank("typos")
    misspelt["service"] = "openshift_aii"
    write_spec(team, misspelt)
    other = rerank("fields")
    other["task_type"] = "rerankk"
    other["service_settings"]["modle_id"] = other["service_settings"].pop("model_id")
    write_spec(team, other)
    result = run_cli("validate", str(team))
    assert result.code == 1, result.output
    # a service the catalog does not know may be newer than it: a warning, the cluster decides
    assert "warning: service 'openshift_aii' is not in the catalog" in result.stderr
    assert "(did you mean 'openshift_ai'?)" in result.stderr
    assert "(did you mean 'rerank'?)" in result.stderr
    assert "unknown field 'modle_id' (did you mean 'model_id'?)" in result.stderr
    assert "${env:" not in result.stderr


def test_the_hook_skips_yaml_that_is_not_a_spec_and_says_so(tmp_path: Path) -> None:
    """Before: the pre-commit hook's default directory (the repository root) validated every YAML
    file as a spec: a docker-compose.yml failed the commit. After: the hook's `--only-specs`
    skips files with no key of an endpoint spec and names them; specs are checked as before."""
    import yaml

    repository = tmp_path / "repository"
    write_spec(repository / "endpoints", rerank("hooked"))
    compose = {"services": {"es": {"image": "elasticsearch:9.1.0"}}}
    (repository / "docker-compose.yml").write_text(yaml.safe_dump(compose), encoding="utf-8")
    hooks = yaml.safe_load((Path(__file__).parents[2] / ".pre-commit-hooks.yaml").read_text())
    entry = hooks[0]["entry"].split()[1:]  # the hook's command, as pre-commit runs it
    plain = run_cli("validate", str(repository))
    assert plain.code == 1 and "docker-compose.yml" in plain.stderr
    hooked = run_cli(*entry, str(repository))
    assert hooked.code == 0 and "1 endpoint spec valid" in hooked.stdout, hooked.output
    assert "Skipped 1 YAML file(s) that are not endpoint specs" in hooked.stderr
    assert "docker-compose.yml" in hooked.stderr
    write_spec(repository / "endpoints", {**rerank("broken"), "colour": "red"})
    assert run_cli(*entry, str(repository)).code == 1
