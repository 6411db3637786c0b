"""Every service end to end: each example under examples/services is created by the sandbox
(whose service table is written independently of our catalog) and then plans as a no-op."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import REPO, run_cli

SERVICES = REPO / "examples" / "services"


def secret_variables() -> dict[str, str]:
    names = set()
    for path in SERVICES.rglob("*.yaml"):
        names.update(re.findall(r"\$\{env:([A-Za-z0-9_]+)\}", path.read_text()))
    return {name: f"value-of-{name.lower()}" for name in names}


def test_every_service_example_applies_and_then_plans_clean(tmp_path: Path) -> None:
    """`--sandbox` is connected to EIS by default, so the `elastic` examples work too."""
    env = secret_variables()
    sandbox = ("--sandbox", "--sandbox-data", str(tmp_path / "sandbox.json"))
    applied = run_cli("apply", str(SERVICES), *sandbox, "--auto-approve", env=env, timeout=300)
    assert applied.code == 0, applied.output
    count = len(list(SERVICES.rglob("*.yaml")))
    assert f"Apply complete: {count} created, 0 updated, 0 replaced, 0 deleted, 0 failed." in (
        applied.stdout
    )
    plan = run_cli("plan", str(SERVICES), *sandbox, "--detailed-exitcode", env=env)
    assert plan.code == 0, plan.stdout
    assert f"No changes. The cluster matches the desired state ({count} endpoints" in plan.stdout


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
    # 8.15 has no `_services`: the catalog's date decides; 9.1 lists what it offers
    refusal = "needs Elasticsearch" if version < "9" else "is not offered by this cluster"
    assert f"service '{service}' {refusal}" in result.stderr, result.stderr
    if version < "9":
        assert f"the cluster runs {version}" in result.stderr
    assert f"{example.name}:" in result.stderr
