"""How long a create may take: the ``timeout`` query parameter of ``PUT _inference/...``
(``--create-timeout``, ``create_timeout`` in reconciler.yaml, else the service's default), as the
sandbox's request log sees it on the wire (docs/plan-and-apply.md, "Creation waits")."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli, spec_folder
from tests.specs import AZURE

SECRETS = {"AZURE_KEY": "azk-create-timeout-distinctive"}
ELSER = """\
inference_id: my-elser
task_type: sparse_embedding
service: elasticsearch
service_settings:
  model_id: .elser_model_2
  num_threads: 1
  num_allocations: 1
"""


def creates(cluster: SandboxServer) -> dict[str, dict[str, str]]:
    """The query of each create the cluster received, by inference id."""
    return {
        r["path"].rsplit("/", 1)[1]: r["query"]
        for r in cluster.requests
        if r["method"] == "PUT"
        and r["path"].startswith("/_inference/")
        and "_update" not in r["path"]
    }


@pytest.fixture()
def specs(tmp_path: Path) -> Path:
    return spec_folder(tmp_path / "specs", {"azure.yaml": AZURE, "elser.yaml": ELSER})


def apply(cluster: SandboxServer, specs: Path, *args: str) -> None:
    result = run_cli(
        "apply", str(specs), "--url", cluster.url, "--auto-approve", *args, env=SECRETS
    )
    assert result.code == 0, result.output


def test_the_service_default_and_the_flag_are_sent_with_the_create(specs: Path) -> None:
    with SandboxServer(port=0, version="9.5.0") as cluster:
        apply(cluster, specs)
        # elasticsearch deploys a model: its catalog default (5m); azureopenai: the server's own
        assert creates(cluster) == {"my-elser": {"timeout": "300s"}, "azure-embed": {}}
    with SandboxServer(port=0, version="9.5.0") as cluster:
        saved = specs.parent / "plan.json"
        plan = run_cli(
            "plan",
            str(specs),
            "--url",
            cluster.url,
            "--create-timeout",
            "10m",
            "--out",
            str(saved),
            env=SECRETS,
        )
        assert plan.code == 0, plan.output
        assert '"timeout": "600s"' in saved.read_text(encoding="utf-8")  # the plan says so
        result = run_cli(
            "apply", "--plan", str(saved), "--url", cluster.url, "--auto-approve", env=SECRETS
        )
        assert result.code == 0, result.output  # the saved plan carries it out as planned
        assert creates(cluster) == {
            "my-elser": {"timeout": "600s"},
            "azure-embed": {"timeout": "600s"},
        }


def test_reconciler_yaml_sets_it_and_old_releases_are_not_sent_it(specs: Path) -> None:
    (specs / "reconciler.yaml").write_text("create_timeout: 90s\n", encoding="utf-8")
    with SandboxServer(port=0, version="9.5.0") as cluster:
        apply(cluster, specs)
        assert creates(cluster) == {
            "my-elser": {"timeout": "90s"},
            "azure-embed": {"timeout": "90s"},
        }
    with SandboxServer(port=0, version="8.17.0") as cluster:  # before 8.19: no such parameter
        apply(cluster, specs)
        assert creates(cluster) == {"my-elser": {}, "azure-embed": {}}


def test_a_bad_create_timeout_names_its_line(specs: Path) -> None:
    (specs / "reconciler.yaml").write_text("state_id: x\ncreate_timeout: soon\n", encoding="utf-8")
    result = run_cli("plan", str(specs), "--url", "http://127.0.0.1:9", env=SECRETS)
    assert result.code == 1 and "reconciler.yaml:2" in result.stderr, result.output
    assert "Traceback" not in result.output
