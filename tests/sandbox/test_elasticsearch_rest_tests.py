"""Elasticsearch's own REST tests for endpoint management, run against the sandbox.

The tests are data (tests/data/elasticsearch/rest_tests.yaml), each with the repository,
path and commit it was read from; those not run say why. Every test with steps must pass:
the sandbox answers each request with the status and body Elasticsearch's test expects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import SandboxServer
from tests.sandbox.helpers import client

DATA = Path(__file__).resolve().parents[1] / "data" / "elasticsearch" / "rest_tests.yaml"
TESTS: list[dict[str, Any]] = yaml.safe_load(DATA.read_text(encoding="utf-8"))["tests"]
RUN = [test for test in TESTS if "steps" in test]
REASONS = ("needs a model", "needs a provider", "version drift", "out of scope")


def test_every_test_runs_or_says_why_not() -> None:
    for test in TESTS:
        source = test["source"]
        assert source["repository"] == "elastic/elasticsearch" and len(source["commit"]) == 40
        assert source["path"].endswith((".java", ".yml")), source
        if "steps" not in test:
            assert str(test.get("not_run", "")).startswith(REASONS), test["name"]
    names = [(test["source"]["path"], test["name"]) for test in TESTS]
    assert len(names) == len(set(names))
    assert len(RUN) >= 15


def _at(document: Any, dotted: str) -> Any:
    node = document
    for part in dotted.split(".") if dotted else ():
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _check(step: dict[str, Any], status: int, text: str, saved: dict[str, Any]) -> Any:
    where = f"{step['request']}: {status} {text[:600]}"
    assert status == step.get("status", 200), where
    for fragment in step.get("contains", ()):
        assert fragment in text, f"{fragment!r} not in {where}"
    answer = json.loads(text) if text else None
    for path, expected in (step.get("match") or {}).items():
        if isinstance(expected, str) and expected.startswith("$"):
            expected = saved[expected[1:]]
        assert _at(answer, path) == expected, f"{path} in {where}"
    for path, size in (step.get("length") or {}).items():
        assert len(_at(answer, path)) == size, f"length of {path} in {where}"
    if "names" in step:  # the set of one key's values over a list of objects
        path, key, expected = step["names"]
        assert {item[key] for item in _at(answer, path or "")} == set(expected), where
    if "each" in step:  # every object of a list has the value in its list under the key
        path, key, value = step["each"]
        listed = _at(answer, path or "")
        assert listed and all(value in item[key] for item in listed), where
    return answer


@pytest.mark.parametrize("test", RUN, ids=[test["name"] for test in RUN])
def test_elasticsearch_rest_test(sandbox_factory: Any, test: dict[str, Any]) -> None:
    knobs = test.get("sandbox") or {}
    server: SandboxServer = sandbox_factory(
        version=str(knobs.get("version", "9.5.0")), eis=bool(knobs.get("eis", False))
    )
    saved: dict[str, Any] = {}
    with client(server) as es:
        for step in test["steps"]:
            method, _, path = step["request"].partition(" ")
            response = es.request(method, path, params=step.get("params"), json=step.get("body"))
            answer = _check(step, response.status_code, response.text, saved)
            if "save" in step:
                saved[step["save"]] = answer
