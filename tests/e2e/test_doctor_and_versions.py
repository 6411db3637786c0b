"""`reconciler doctor` and the too-new check, end to end against sandboxes of given versions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.sandbox import SandboxServer
from reconciler.sandbox.knobs import Fault
from tests.e2e.helpers import run_cli, write_spec

Factory = Callable[..., SandboxServer]


@pytest.mark.parametrize("version", ["8.18.0", "9.0.0", "9.5.0"])
def test_doctor_agrees_with_the_sandbox(
    sandbox_factory: Factory, tmp_path: Path, version: str
) -> None:
    server = sandbox_factory(version=version)
    run = run_cli("doctor", str(tmp_path), "--url", server.url)
    assert (run.code, run.stdout) == (0, ""), run.output
    assert f"0 disagreement(s) between the catalog and Elasticsearch {version}." in run.stderr


def test_doctor_reports_a_service_the_cluster_does_not_offer(
    sandbox_factory: Factory, tmp_path: Path
) -> None:
    server = sandbox_factory(version="9.1.0", unlisted_services=("cohere", "voyageai"))
    run = run_cli("doctor", str(tmp_path), "--url", server.url)
    assert run.code == 2, run.output
    assert run.stdout.splitlines() == [
        "cohere: service: in the catalog for this version; the cluster does not offer it",
        "voyageai: service: in the catalog for this version; the cluster does not offer it",
    ]


def test_doctor_on_a_cluster_without_services_api(sandbox_factory: Factory, tmp_path: Path) -> None:
    server = sandbox_factory(version="8.17.0")
    run = run_cli("doctor", str(tmp_path), "--url", server.url)
    assert run.code == 1 and "Traceback" not in run.output
    assert "Elasticsearch 8.17.0 has no GET _inference/_services" in run.stderr


VOYAGE = {
    "inference_id": "voyage-rerank",
    "task_type": "rerank",
    "service": "voyageai",
    "service_settings": {"api_key": "${env:VOYAGE_KEY}", "model_id": "rerank-2"},
}
BEDROCK_CHAT = {
    "inference_id": "bedrock-chat",
    "task_type": "chat_completion",
    "service": "amazonbedrock",
    "service_settings": {
        "access_key": "${env:AWS_ACCESS}",
        "secret_key": "${env:AWS_SECRET}",
        "region": "us-east-1",
        "model": "anthropic.claude-3-haiku",
        "provider": "anthropic",
    },
}
ENV = {"VOYAGE_KEY": "v-secret", "AWS_ACCESS": "a-secret", "AWS_SECRET": "s-secret"}


NOT_LISTED = "service 'voyageai' is not offered by this cluster (GET _inference/_services lists: "


@pytest.mark.parametrize(
    ("version", "body", "needs"),
    [
        # `_services` answers: the cluster's word refuses, naming what it lists
        ("9.0.3", VOYAGE, [NOT_LISTED]),
        ("8.18.2", VOYAGE, [NOT_LISTED]),
        (
            "9.3.0",
            BEDROCK_CHAT,
            [
                "service 'amazonbedrock' is offered by this cluster for task types "
                "[completion, text_embedding], not for 'chat_completion'",
            ],
        ),
        # no `_services` yet: the catalog's dates decide
        (
            "8.17.0",
            VOYAGE,
            [
                "service 'voyageai' needs Elasticsearch 8.19.0 / 9.1.0 or later",
                "the cluster runs 8.17.0",
            ],
        ),
    ],
)
def test_plan_refuses_a_spec_newer_than_the_cluster(
    sandbox_factory: Factory, tmp_path: Path, version: str, body: dict, needs: list[str]
) -> None:
    server = sandbox_factory(version=version)
    spec = write_spec(tmp_path, body)
    run = run_cli("plan", str(tmp_path), "--url", server.url, env=ENV)
    assert run.code == 1, run.output
    assert f"{spec.name}:" in run.stderr and all(need in run.stderr for need in needs), run.stderr
    assert not [r for r in server.requests if r["method"] != "GET"], "nothing may be written"
    assert not [value for value in ENV.values() if value in run.output]


FIREWORKS = {
    "inference_id": "fireworks-embeddings",
    "task_type": "text_embedding",
    "service": "fireworksai",
    "service_settings": {"api_key": "${env:FW_KEY}", "model_id": "fireworks/qwen3-embedding-8b"},
}


def test_the_clusters_services_listing_decides_over_the_catalogs_dates(
    sandbox_factory: Factory, tmp_path: Path
) -> None:
    """The catalog dates fireworksai 9.4.0; a 9.3.0 cluster whose `_services` lists it plans it."""
    server = sandbox_factory(version="9.3.0")
    write_spec(tmp_path, FIREWORKS)
    env = {"FW_KEY": "fw-secret"}
    refused = run_cli("plan", str(tmp_path), "--url", server.url, env=env)
    assert refused.code == 1 and "service 'fireworksai' is not offered" in refused.stderr
    listing = [
        {
            "service": "fireworksai",
            "name": "fireworksai",
            "task_types": ["text_embedding", "completion"],
            "configurations": {
                "api_key": {"sensitive": True, "required": True},
                "model_id": {"required": True},
            },
        }
    ]
    server.add_fault(Fault(method="GET", path="/_inference/_services", status=200, body=listing))
    allowed = run_cli("plan", str(tmp_path), "--url", server.url, env=env)
    assert allowed.code == 0, allowed.output
    assert "fireworks-embeddings will be created" in allowed.stdout


def test_an_endpoint_the_cluster_holds_is_never_refused_by_a_date(
    sandbox_factory: Factory, tmp_path: Path
) -> None:
    """Imported from a cluster that has it (here: made on 9.4, the cluster then read as 9.3)."""
    server = sandbox_factory(version="9.4.0")
    write_spec(tmp_path, FIREWORKS)
    env = {"FW_KEY": "fw-secret"}
    assert run_cli("apply", str(tmp_path), "--url", server.url, "--auto-approve", env=env).code == 0
    server.version = "9.3.0"  # its `_services` does not list fireworksai: held, so not refused
    again = run_cli("plan", str(tmp_path), "--url", server.url, "--detailed-exitcode", env=env)
    assert again.code == 0 and "No changes." in again.stdout, again.output


def test_the_same_spec_plans_once_the_cluster_has_the_backport(
    sandbox_factory: Factory, tmp_path: Path
) -> None:
    server = sandbox_factory(version="8.19.0")
    write_spec(tmp_path, VOYAGE)
    run = run_cli("plan", str(tmp_path), "--url", server.url, env=ENV)
    assert run.code == 0, run.output
    assert "voyage-rerank" in run.stdout


@pytest.mark.parametrize("version", ["8.14.3", "9.5.0"])
def test_defaults_follow_the_cluster_version(
    sandbox_factory: Factory, tmp_path: Path, version: str
) -> None:
    """Before 8.15 the server fills no rate_limit: expecting one would plan a replace forever."""
    server = sandbox_factory(version=version)
    body = {
        "inference_id": "emb",
        "task_type": "text_embedding",
        "service": "openai",
        "service_settings": {"api_key": "${env:OPENAI_KEY}", "model_id": "text-embedding-3-small"},
    }
    write_spec(tmp_path, body)
    env = {"OPENAI_KEY": "sk-e2e"}
    applied = run_cli("apply", str(tmp_path), "--url", server.url, "--auto-approve", env=env)
    assert applied.code == 0, applied.output
    again = run_cli("plan", str(tmp_path), "--url", server.url, "--detailed-exitcode", env=env)
    assert again.code == 0 and "No changes." in again.stdout, again.output


def test_validate_offline_for_a_given_version(tmp_path: Path) -> None:
    """validate --es-version: the catalog's dates decide, at file:line, with no cluster."""
    spec = {
        "inference_id": "voyage",
        "task_type": "text_embedding",
        "service": "voyageai",
        "service_settings": {"model_id": "voyage-3", "api_key": "${env:VOYAGE_KEY}"},
    }
    write_spec(tmp_path, spec)
    (tmp_path / "policy.yaml").write_text("region_policy:\n  allowed_geos: [us]\n")
    assert run_cli("validate", str(tmp_path), "--es-version", "9.5.0").code == 0
    old = run_cli("validate", str(tmp_path), "--es-version", "9.0.3")
    assert old.code == 1
    assert "voyage.yaml:" in old.stderr and "9.0.3" in old.stderr
    policy = run_cli("validate", str(tmp_path), "--es-version", "9.4.0")
    assert policy.code == 1
    assert "policy.yaml:1" in policy.stderr and "9.5.0" in policy.stderr
    assert run_cli("validate", str(tmp_path), "--es-version", "nine").code == 1
