"""The saved plan: it loads back into the same plan, and any edit of it is refused."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import InputError
from reconciler.plan import Plan
from reconciler.planfile import read_plan_file, write_plan_file
from reconciler.render import to_document
from reconciler.run import make_plan, saved_plan
from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli, write_requests
from tests.specs import EMBED, RERANK, write_specs

pytestmark = pytest.mark.usefixtures("secret_variables")


def save(tmp_path: Path, connect: Any) -> Path:
    specs = write_specs(tmp_path / "specs", RERANK, EMBED)
    with connect() as session:
        planned = make_plan(session, specs, prune=False)
        saved = saved_plan(session, planned, directory=tmp_path / "specs", environment=None)
    path = tmp_path / "plan.json"
    write_plan_file(path, saved, rendered=to_document(planned.plan))
    return path


def absolute_files(plan: Plan) -> Plan:
    return replace(
        plan,
        changes=tuple(
            replace(
                change,
                requests=tuple(
                    replace(
                        request,
                        secrets=tuple(
                            replace(ref, file=str(Path(ref.file).resolve()))
                            for ref in request.secrets
                        ),
                    )
                    for request in change.requests
                ),
            )
            for change in plan.changes
        ),
    )


def leaves(value: Any, where: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*where, index))
    else:
        yield where


def edited(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if value is None:
        return "x"
    return f"{value}x"


def test_a_saved_plan_loads_back_into_the_same_plan(tmp_path: Path, connect: Any) -> None:
    path = save(tmp_path, connect)
    with connect() as session:
        specs = write_specs(tmp_path / "specs", RERANK, EMBED)
        planned = make_plan(session, specs, prune=False)
        again = saved_plan(session, planned, directory=tmp_path / "specs", environment=None)
    loaded = read_plan_file(path)
    # requests, steps, expected states, the snapshot's fingerprint: every typed field (a
    # reference's file, written relative to the plan file, comes back relative to the working
    # directory: the same file)
    assert absolute_files(loaded.plan) == absolute_files(again.plan)
    assert all(i.startswith(".") for i in loaded.plan.snapshot.endpoints)  # preconfigured only


def test_every_value_of_a_saved_plan_is_covered_by_its_integrity_check(
    tmp_path: Path, connect: Any
) -> None:
    path = save(tmp_path, connect)
    document = json.loads(path.read_text())
    paths = [p for p in leaves(document) if p != ("integrity",)]
    assert len(paths) > 50
    accepted = []
    for where in paths:
        copy = json.loads(json.dumps(document))
        node = copy
        for part in where[:-1]:
            node = node[part]
        node[where[-1]] = edited(node[where[-1]])
        path.write_text(json.dumps(copy))
        try:
            read_plan_file(path)
        except InputError:
            continue
        accepted.append(where)
    assert accepted == []


def test_an_edited_saved_plan_is_refused_by_apply_and_nothing_is_sent(
    tmp_path: Path, server: SandboxServer, connect: Any
) -> None:
    path = save(tmp_path, connect)
    document = json.loads(path.read_text())
    env = {"RERANK_KEY": "rerank-secret-value-1", "OPENAI_KEY": "openai-secret-value-1"}
    edits = {
        "where a secret was written": (
            "saved",
            "plan",
            "changes",
            0,
            "requests",
            0,
            "secrets",
            0,
            "file",
        ),
        "a state step": ("saved", "plan", "changes", 0, "step", "service"),
        "a request body": ("saved", "plan", "changes", 0, "requests", 0, "body", "service"),
        "an action": ("changes", 1, "action"),
    }
    for label, where in edits.items():
        copy = json.loads(json.dumps(document))
        node = copy
        for part in where[:-1]:
            node = node[part]
        node[where[-1]] = "changed-by-hand"
        path.write_text(json.dumps(copy))
        server.clear_requests()
        run = run_cli("apply", "--plan", str(path), "--auto-approve", "--url", server.url, env=env)
        assert run.code == 1, (label, run)
        assert "changed after" in run.stderr or "not valid" in run.stderr, (label, run.stderr)
        assert write_requests(server.requests) == [], label


def test_a_saved_plan_applies_from_another_working_directory(
    tmp_path: Path, server: SandboxServer, connect: Any
) -> None:
    path = save(tmp_path, connect)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"RERANK_KEY": "rerank-secret-value-1", "OPENAI_KEY": "openai-secret-value-1"}
    run = run_cli(
        "apply",
        "--plan",
        os.path.relpath(path, elsewhere),
        "--auto-approve",
        "--url",
        server.url,
        env=env,
        cwd=elsewhere,
    )
    assert run.code == 0, run
    assert "Apply complete: 2 created" in run.stdout


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (("--env", "production"), "made for environment (none), not production"),
        (("--url", "http://127.0.0.1:9"), "was made against http://127.0.0.1:"),
    ],
)
def test_a_saved_plan_is_refused_elsewhere_naming_both(
    tmp_path: Path, server: SandboxServer, connect: Any, flag: tuple[str, str], message: str
) -> None:
    path = save(tmp_path, connect)
    (tmp_path / "specs" / "reconciler.yaml").write_text(
        f"environments:\n  production:\n    url: {server.url}\n"
    )
    args = ("--url", server.url) if flag[0] == "--env" else ()
    server.clear_requests()
    run = run_cli("apply", "--plan", str(path), "--auto-approve", *args, *flag)
    assert run.code == 1, run
    assert message in run.stderr
    assert write_requests(server.requests) == []
