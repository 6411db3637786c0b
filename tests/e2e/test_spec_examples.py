"""Every valid official request example, end to end: created by hand, then planned by the real CLI.

Each example is sent as the specification shows it (``PUT _inference/<task>/<id>`` with its
body, secrets as the example's placeholder values) to a sandbox on 127.0.0.1, as a platform team
would have made it before adopting the tool; the same example written as a spec (secrets as
references) must then plan ``No changes.``: adopting what a user made by the book changes nothing.
Examples that share an id go to separate sandboxes, one CLI run each.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from reconciler.catalog import load_catalog
from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli, write_requests, write_spec
from tests.spec_examples import SECRET_VARIABLE, VALID, RequestExample, spec_document


def rounds() -> list[list[RequestExample]]:
    """The valid examples in as few groups as possible, no id twice in one group."""
    groups: list[list[RequestExample]] = []
    seen: defaultdict[str, int] = defaultdict(int)
    for example in VALID:
        index = seen[example.inference_id]
        seen[example.inference_id] += 1
        if index == len(groups):
            groups.append([])
        groups[index].append(example)
    return groups


ROUNDS = rounds()


@pytest.mark.parametrize("group", ROUNDS, ids=[f"round{n + 1}" for n in range(len(ROUNDS))])
def test_official_examples_made_by_hand_plan_no_changes(
    group: list[RequestExample], tmp_path: Path
) -> None:
    catalog = load_catalog()
    specs = tmp_path / "endpoints"
    # eis: the cluster is connected to the Elastic Inference Service, so the elastic example works
    with SandboxServer(port=0, eis=True) as cluster:
        for example in group:
            made = httpx.put(
                f"{cluster.url}/_inference/{example.task_type}/{example.inference_id}",
                json=example.body,
                timeout=10,
            )
            assert made.status_code == 200, (example.name, made.text)
            write_spec(specs, spec_document(example, catalog), name=f"{example.name}.yaml")
        before = len(write_requests(cluster.requests))
        connection = ("--url", cluster.url, "--detailed-exitcode")
        env = {SECRET_VARIABLE: "a-secret-the-cluster-never-shows"}
        plan = run_cli("plan", str(specs), *connection, env=env)
        document = run_cli("plan", str(specs), *connection, "--format", "json", env=env)
        after = len(write_requests(cluster.requests))
    assert plan.code == 0 and "No changes." in plan.stdout, plan.output
    assert document.code == 0, document.output
    changes = json.loads(document.stdout)["changes"]
    assert sorted(c["inference_id"] for c in changes) == sorted(e.inference_id for e in group)
    assert {c["action"] for c in changes} == {"no-op"}
    assert all(c["adopt"] for c in changes)  # made by hand: adopted, untouched
    assert after == before  # planning wrote nothing
