"""Every service end to end: each example under examples/services is created by the sandbox
(whose service table is written independently of our catalog) and then plans as a no-op."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import REPO, run_cli

SERVICES = REPO / "examples" / "services"


def secret_variables() -> dict[str, str]:
    names = set()
    for path in SERVICES.rglob("*.yaml"):
        names.update(re.findall(r"\$\{env:([A-Za-z0-9_]+)\}", path.read_text()))
    return {name: f"value-of-{name.lower()}" for name in names}


def test_every_service_example_applies_and_then_plans_clean() -> None:
    env = secret_variables()
    with SandboxServer(port=0, eis=True) as cluster:  # connected to EIS, so service elastic works
        applied = run_cli(
            "apply", str(SERVICES), "--url", cluster.url, "--auto-approve", env=env, timeout=300
        )
        assert applied.code == 0, applied.output
        assert " 0 failed" in applied.stdout
        plan = run_cli("plan", str(SERVICES), "--url", cluster.url, "--detailed-exitcode", env=env)
        assert plan.code == 0, plan.stdout
        assert "No changes." in plan.stdout
        count = len(list(SERVICES.rglob("*.yaml")))
        listed = httpx.get(f"{cluster.url}/_inference/_all").json()["endpoints"]
        assert len([e for e in listed if not e["inference_id"].startswith(".")]) == count


@pytest.mark.parametrize(
    ("version", "service"), [("8.15.0", "openshift_ai"), ("9.1.0", "fireworksai")]
)
def test_service_newer_than_the_cluster_is_an_error(
    tmp_path: Path, version: str, service: str
) -> None:
    directory = tmp_path / "specs"
    directory.mkdir()
    example = sorted((SERVICES / service).glob("*.yaml"))[0]
    (directory / example.name).write_text(example.read_text())
    env = secret_variables()
    with SandboxServer(port=0, version=version) as cluster:
        result = run_cli("plan", str(directory), "--url", cluster.url, env=env)
    assert result.code == 1, result.output
    assert (
        f"service '{service}' needs Elasticsearch" in result.stderr
        and f"the cluster runs {version}" in result.stderr
    )
    assert f"{example.name}:" in result.stderr
