"""The apply sequence (``run.apply_specs``) in process, against the sandbox on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import InputError, SafetyError
from reconciler.model import CallKind
from reconciler.plan import Action, Plan
from reconciler.run import ApplyHooks, ApplyOptions, apply_specs, make_plan
from reconciler.sandbox import SandboxServer
from tests.sandbox.helpers import plain
from tests.specs import EMBED, RERANK, recorded_writes, write_specs, writes

pytestmark = pytest.mark.usefixtures("secret_variables")


class Stop(Exception):
    pass


def test_apply_creates_records_ownership_and_a_second_run_changes_nothing(
    tmp_path: Path, server: SandboxServer, connect: Any
) -> None:
    specs = write_specs(tmp_path / "specs", RERANK, EMBED)
    shown: list[Plan] = []
    with connect() as session:
        applied = apply_specs(
            session, specs, options=ApplyOptions(), hooks=ApplyHooks(show=shown.append)
        )
        assert [o.change.action for o in applied.result.outcomes] == [Action.CREATE] * 2
        assert shown == [applied.plan]  # the plan shown is the plan carried out
        again = make_plan(session, specs, prune=False)
    assert not again.plan.has_changes
    assert set(again.snapshot.state.managed) == {"team-rerank", "team-embed"}
    server.clear_requests()
    with connect() as session:
        second = apply_specs(session, specs, options=ApplyOptions(), hooks=ApplyHooks())
    assert second.result.outcomes == ()
    assert recorded_writes(server) == []


def test_the_requests_sent_are_the_requests_planned(
    tmp_path: Path, server: SandboxServer, connect: Any
) -> None:
    specs = write_specs(tmp_path / "specs", RERANK)
    with connect() as session:
        apply_specs(session, specs, options=ApplyOptions(), hooks=ApplyHooks())
    changed = write_specs(tmp_path / "specs", {**RERANK, "task_settings": {"top_n": 7}})
    with connect() as session:
        planned = make_plan(session, changed, prune=False).plan
        (change,) = planned.changes
        (request,) = change.requests
        assert (change.action, request.kind, request.method) == (
            Action.UPDATE,
            CallKind.UPDATE,
            "PUT",
        )
        assert request.body == {"task_settings": {"top_n": 7}}  # only what changes
        server.clear_requests()
        apply_specs(session, changed, options=ApplyOptions(), hooks=ApplyHooks())
    inference_writes = [w for w in writes(server) if w.split()[1].startswith("/_inference")]
    assert inference_writes == [f"PUT {request.path}"]


def test_a_refused_confirmation_writes_nothing(
    tmp_path: Path, server: SandboxServer, connect: Any
) -> None:
    specs = write_specs(tmp_path / "specs", RERANK)

    def refuse(plan: Plan) -> None:
        raise Stop

    with connect() as session, pytest.raises(Stop):
        apply_specs(session, specs, options=ApplyOptions(), hooks=ApplyHooks(confirm=refuse))
    # the lock was taken and released; no endpoint was created
    assert not [w for w in writes(server) if "/_inference/" in w]


def test_a_destructive_change_of_an_endpoint_in_use_is_refused_before_the_lock(
    tmp_path: Path, server: SandboxServer, connect: Any
) -> None:
    specs = write_specs(tmp_path / "specs", RERANK)
    with connect() as session:
        apply_specs(session, specs, options=ApplyOptions(), hooks=ApplyHooks())

    plain.put(
        f"{server.url}/_ingest/pipeline/uses-rerank",
        json={"processors": [{"inference": {"model_id": "team-rerank"}}]},
    ).raise_for_status()
    moved = write_specs(
        tmp_path / "specs",
        {**RERANK, "service_settings": {**RERANK["service_settings"], "model_id": "bge-m3"}},
    )
    server.clear_requests()
    with connect() as session, pytest.raises(SafetyError, match="pipeline uses-rerank"):
        apply_specs(session, moved, options=ApplyOptions(), hooks=ApplyHooks())
    assert recorded_writes(server) == []
    with connect() as session:
        applied = apply_specs(
            session,
            moved,
            options=ApplyOptions(allow_destroy_in_use=True),
            hooks=ApplyHooks(),
        )
    (outcome,) = applied.result.outcomes
    assert outcome.ok and outcome.change.action is Action.REPLACE
    deletes = [
        r
        for r in server.requests
        if r["method"] == "DELETE" and r["path"] == "/_inference/rerank/team-rerank"
    ]
    assert [r["query"].get("force") for r in deletes if not r["query"].get("dry_run")] == ["true"]


def test_an_unresolvable_secret_stops_the_run_before_any_write(
    tmp_path: Path, server: SandboxServer, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = write_specs(tmp_path / "specs", RERANK, EMBED)
    monkeypatch.delenv("OPENAI_KEY")
    with connect() as session, pytest.raises(InputError) as raised:
        apply_specs(session, specs, options=ApplyOptions(), hooks=ApplyHooks())
    assert [d.message for d in raised.value.diagnostics] == [
        "service_settings.api_key: environment variable OPENAI_KEY is not set"
    ]
    assert recorded_writes(server) == []


@pytest.mark.parametrize("as_planned", [True, False], ids=["as-planned", "changed-since"])
def test_a_killed_runs_intent_tells_the_next_run_what_was_sent(
    tmp_path: Path, server: SandboxServer, connect: Any, as_planned: bool
) -> None:
    """A run killed after its create: the endpoint exists, the state lists only the intent."""

    from reconciler.fingerprints import fingerprint
    from reconciler.state import Intended, Intent, Managed, State

    specs = write_specs(tmp_path / "specs", RERANK)
    with connect() as session:
        (change,) = make_plan(session, specs, prune=False).plan.changes
        assert change.expected is not None and change.step is not None
        sent = {"service_settings.api_key": fingerprint("rerank-secret-value-1", salt="salt-1")}
        intended = Intended(
            action="create",
            entry=Managed(
                task_type="rerank",
                service=change.service,
                secrets=sent,
                declared=change.step.declared,
            ),
            expected=change.expected.summary(),
        )
        session.store.write(
            State(
                salt="salt-1",
                intent=Intent(run="r1", started_at=1, endpoints={change.inference_id: intended}),
            )
        )
    body = dict(change.requests[0].body or {})
    body["service_settings"] = {**body["service_settings"], "api_key": "rerank-secret-value-1"}
    if not as_planned:  # someone changed it by hand after the killed run made it
        body["service_settings"]["model_id"] = "another-model"
    plain.put(f"{server.url}{change.requests[0].path}", json=body).raise_for_status()
    with connect() as session:
        planned = make_plan(session, specs, prune=False)
    notes = " ".join(
        planned.plan.warnings + tuple(n for c in planned.plan.changes for n in c.notes)
    )
    if as_planned:
        assert "not tracked" not in notes and "recorded with the secrets it sent" in notes
        assert planned.state.managed["team-rerank"].secrets == sent
        with connect() as session:
            apply_specs(session, specs, options=ApplyOptions(), hooks=ApplyHooks())
            again = make_plan(session, specs, prune=False)
        assert again.snapshot.state.managed["team-rerank"].secrets == sent
        assert again.snapshot.state.intent is None
    else:
        assert "whether the secrets it holds are the ones sent cannot be known" in notes
        assert "apply --send-secrets team-rerank" in notes


def test_a_rotation_killed_after_its_update_sends_the_secret_again(
    tmp_path: Path, server: SandboxServer, connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key rotation killed after its update was sent and before the outcome was recorded: its
    intent item is the action alone (secrets are not read back, so nothing can tell the update
    happened); the next run sends the new key again, as an update, never "not tracked"."""
    from dataclasses import replace

    from reconciler.state import Intended, Intent

    specs = write_specs(tmp_path / "specs", RERANK)
    with connect() as session:
        apply_specs(session, specs, options=ApplyOptions(), hooks=ApplyHooks())
    monkeypatch.setenv("RERANK_KEY", "rerank-secret-value-2")
    with connect() as session:
        planned = make_plan(session, specs, prune=False)
        (change,) = planned.plan.changes
        assert change.action is Action.UPDATE
        intent = Intent(
            run="r1", started_at=1, endpoints={"team-rerank": Intended(action="update", entry=None)}
        )
        session.store.write(replace(planned.snapshot.state, intent=intent))
    (request,) = change.requests
    body = dict(request.body or {})
    body["service_settings"] = {**body["service_settings"], "api_key": "rerank-secret-value-2"}
    plain.request(request.method, f"{server.url}{request.path}", json=body).raise_for_status()
    with connect() as session:
        again = make_plan(session, specs, prune=False)
        assert again.snapshot.state.intent is not None  # read back, the action alone
        assert [c.action for c in again.plan.changes] == [Action.UPDATE]
        notes = " ".join(again.plan.warnings + again.plan.changes[0].notes)
        assert "not tracked" not in notes
        apply_specs(session, specs, options=ApplyOptions(), hooks=ApplyHooks())
        done = make_plan(session, specs, prune=False)
    assert not done.plan.has_changes and done.snapshot.state.intent is None
