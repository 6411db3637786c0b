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

import pytest

from reconciler.catalog import load_catalog
from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli, write_requests, write_spec
from tests.sandbox.helpers import plain
from tests.spec_examples import SECRET_VARIABLE, VALID, RequestExample, spec_document

# Examples a release since refuses, with the last release that takes them: each runs on a
# sandbox of that release (test below) instead of today's.
OLDER = {
    # similarity is required for api elastic text_embedding from 9.4.0 (9.4.0 bundle, PR 146885)
    "PutAmazonSageMakerRequestExample1": "9.3.0",
}


def rounds() -> list[list[RequestExample]]:
    """The valid examples in as few groups as possible, no id twice in one group."""
    groups: list[list[RequestExample]] = []
    seen: defaultdict[str, int] = defaultdict(int)
    for example in (e for e in VALID if e.name not in OLDER):
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
            made = plain.put(
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


@pytest.mark.parametrize("name", sorted(OLDER))
def test_an_example_a_later_release_refuses_plans_clean_on_its_own_release(
    name: str, tmp_path: Path
) -> None:
    (example,) = [e for e in VALID if e.name == name]
    specs = tmp_path / "endpoints"
    write_spec(specs, spec_document(example, load_catalog()), name=f"{name}.yaml")
    env = {SECRET_VARIABLE: "a-secret-the-cluster-never-shows"}
    with SandboxServer(port=0, version=OLDER[name]) as cluster:
        path = f"{cluster.url}/_inference/{example.task_type}/{example.inference_id}"
        assert plain.put(path, json=example.body, timeout=10).status_code == 200
        plan = run_cli("plan", str(specs), "--url", cluster.url, "--detailed-exitcode", env=env)
        assert plan.code == 0 and "No changes." in plan.stdout, plan.output
    with SandboxServer(port=0) as today:
        path = f"{today.url}/_inference/{example.task_type}/{example.inference_id}"
        assert plain.put(path, json=example.body, timeout=10).status_code == 400
        refused = run_cli("plan", str(specs), "--url", today.url, env=env)
        assert refused.code == 1 and f"{name}.yaml:" in refused.stderr, refused.output
