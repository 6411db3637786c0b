"""Services and fields newer than the catalog, as the cluster's ``GET _inference/_services``
describes them (docs/new-services.md): the sandbox offers Elasticsearch's ``mixedbread`` service,
which the catalog lacks, and a service-settings field of ``openai`` the catalog lacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import es, run_cli, spec_folder

MIXEDBREAD = """\
inference_id: mb-rerank
task_type: rerank
service: mixedbread
service_settings:
  model_id: mixedbread-ai/mxbai-rerank-xsmall-v1
  api_key: ${env:MB_KEY}
  rate_limit:
    requests_per_minute: 100
task_settings:
  top_n: 3
"""
OPENAI = """\
inference_id: oa-embed
task_type: text_embedding
service: openai
service_settings:
  model_id: text-embedding-3-small
  api_key: ${env:OA_KEY}
  service_tier: flex
"""
# a field a newer release could add to a known service: optional, changeable through _update
SERVICE_TIER: dict[str, Any] = {
    "service": "openai",
    "task_types": ["text_embedding"],
    "configurations": {
        "service_tier": {
            "label": "Service tier",
            "required": False,
            "sensitive": False,
            "updatable": True,
            "type": "str",
            "supported_task_types": ["text_embedding"],
        }
    },
}
KEYS = {"MB_KEY": "mb-key-distinctive-0001", "OA_KEY": "oa-key-distinctive-0001"}
ROTATED = {**KEYS, "MB_KEY": "mb-key-distinctive-0002"}


@pytest.fixture()
def cluster() -> Any:
    with SandboxServer(port=0, offered_services=("mixedbread", SERVICE_TIER)) as server:
        yield server


def cli(cluster: SandboxServer, *args: str, env: dict[str, str] = KEYS) -> Any:
    command, *rest = args
    return run_cli(command, *rest, "--url", cluster.url, env=env)


def never_shown(*texts: str) -> None:
    for value in (*KEYS.values(), *ROTATED.values()):
        assert not any(value in text for text in texts), value


def test_a_service_and_a_field_the_cluster_describes_plan_apply_and_stay_clean(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    specs = spec_folder(tmp_path / "specs", {"mb.yaml": MIXEDBREAD, "oa.yaml": OPENAI})
    offline = run_cli("validate", str(specs))
    assert offline.code == 0, offline.output
    assert (
        "mb.yaml:3:1: warning: service 'mixedbread' is not in the catalog: checked against "
        "the cluster at plan time" in offline.stderr
    )
    assert (
        "oa.yaml:7:3: warning: service_settings.service_tier of service 'openai'" in offline.stderr
    )
    assert run_cli("validate", "--strict", str(specs)).code == 1

    saved = tmp_path / "plan.json"
    plan = cli(cluster, "plan", str(specs), "--out", str(saved), "--detailed-exitcode")
    assert plan.code == 2, plan.output
    assert "+ rerank/mb-rerank will be created" in plan.stdout
    assert "+ text_embedding/oa-embed will be created" in plan.stdout
    applied = cli(cluster, "apply", "--plan", str(saved), "--auto-approve")
    assert applied.code == 0, applied.output
    live = es(cluster.url).get("/_inference/_all").json()["endpoints"]
    shown = {e["inference_id"]: e for e in live}
    assert "api_key" not in shown["mb-rerank"]["service_settings"]  # sensitive: never shown
    assert shown["oa-embed"]["service_settings"]["service_tier"] == "flex"
    again = cli(cluster, "plan", str(specs), "--detailed-exitcode")
    assert again.code == 0 and "No changes." in again.stdout, again.output
    never_shown(plan.output, applied.output, again.output, saved.read_text(encoding="utf-8"))

    # out of band: the new field changed through _update (the cluster says it may change)
    changed = es(cluster.url).put(
        "/_inference/text_embedding/oa-embed/_update",
        json={"service_settings": {"service_tier": "auto"}},
    )
    assert changed.status_code == 200, changed.text
    drift = cli(cluster, "drift", str(specs))
    assert drift.code == 2, drift.output
    assert "service_settings.service_tier" in drift.stdout
    restore = cli(cluster, "apply", str(specs), "--auto-approve")
    assert restore.code == 0 and "~ text_embedding/oa-embed: updated" in restore.output
    sent = [r for r in cluster.requests if r["method"] == "PUT" and "_update" in r["path"]]
    assert sent and sent[-1]["path"] == "/_inference/text_embedding/oa-embed/_update"

    # out of band: a field the cluster says cannot change in place (rate_limit) -> drift, and
    # only the declared value's replace restores it
    cli(cluster, "apply", str(specs), "--auto-approve")
    es(cluster.url).delete("/_inference/rerank/mb-rerank")
    body = yaml.safe_load(MIXEDBREAD)
    body["service_settings"].update(api_key=KEYS["MB_KEY"], rate_limit={"requests_per_minute": 7})
    del body["inference_id"], body["task_type"]
    assert es(cluster.url).put("/_inference/rerank/mb-rerank", json=body).status_code == 200
    drift = cli(cluster, "drift", str(specs), "--format", "json")
    assert drift.code == 2, drift.output
    (change,) = [c for c in json.loads(drift.stdout)["changes"] if c["inference_id"] == "mb-rerank"]
    assert change["action"] == "replace" and change["reason_kind"] == "not_updatable"


def test_a_rotated_secret_of_a_new_service_is_an_update_and_never_shown(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    specs = spec_folder(tmp_path / "specs", {"mb.yaml": MIXEDBREAD})
    first = cli(cluster, "apply", str(specs), "--auto-approve")
    assert first.code == 0, first.output
    rotated = cli(cluster, "plan", str(specs), "--detailed-exitcode", env=ROTATED)
    assert rotated.code == 2, rotated.output
    assert "~ service_settings.api_key (sensitive value changed)" in rotated.stdout
    applied = cli(cluster, "apply", str(specs), "--auto-approve", env=ROTATED)
    assert applied.code == 0 and "~ rerank/mb-rerank: updated" in applied.output
    clean = cli(cluster, "plan", str(specs), "--detailed-exitcode", env=ROTATED)
    assert clean.code == 0, clean.output
    state = es(cluster.url).get("/reconciler-state/_search").text
    never_shown(first.output, rotated.output, applied.output, clean.output, state)


@pytest.mark.parametrize(
    ("edit", "line", "message"),
    [
        (
            ("${env:MB_KEY}", "mb-key-distinctive-0001"),
            6,
            "service_settings.api_key is a secret: write a ${env:NAME} or ${file:PATH} reference",
        ),
        (
            ("  model_id:", "  modle_id:"),
            5,
            "service_settings.modle_id: unknown field: neither the catalog nor this cluster's "
            "description of 'mixedbread' has it (did you mean 'model_id'?)",
        ),
        (
            ("  model_id:", "  modle_id:"),
            4,
            "service_settings: missing required field 'model_id'",
        ),
        (
            ("service: mixedbread", "service: mixedbred"),
            3,
            "unknown service 'mixedbred': neither in the catalog nor offered by this cluster "
            "(did you mean 'mixedbread'?)",
        ),
    ],
)
def test_the_cluster_description_refuses_at_file_line_before_any_write(
    cluster: SandboxServer, tmp_path: Path, edit: tuple[str, str], line: int, message: str
) -> None:
    specs = spec_folder(tmp_path / "specs", {"mb.yaml": MIXEDBREAD.replace(*edit)})
    plan = cli(cluster, "apply", str(specs), "--auto-approve")
    assert plan.code == 1, plan.output
    assert f"mb.yaml:{line}:" in plan.stderr and message in plan.stderr, plan.stderr
    assert "Traceback" not in plan.output
    never_shown(plan.output)
    writes = [r for r in cluster.requests if r["method"] != "GET" and "_inference" in r["path"]]
    assert not writes  # only the lock was taken (and given back)


def test_doctor_lists_and_import_writes_what_only_the_cluster_describes(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    specs = spec_folder(tmp_path / "specs", {"mb.yaml": MIXEDBREAD, "oa.yaml": OPENAI})
    assert cli(cluster, "apply", str(specs), "--auto-approve").code == 0
    doctor = cli(cluster, "doctor")
    assert doctor.code == 2, doctor.output
    assert (
        "mixedbread: service: offered by the cluster for [rerank]; unknown to the catalog: plan "
        "and apply use the cluster's description" in doctor.stdout
    )
    assert (
        "mixedbread: field api_key: described by the cluster (required, sensitive, updatable)"
        in doctor.stdout
    )
    assert "openai: field service_tier: listed by the cluster only (updatable)" in doctor.stdout

    out = tmp_path / "imported"
    imported = cli(cluster, "import", "--out", str(out), "mb-rerank", "oa-embed")
    assert imported.code == 0, imported.output
    text = (out / "mb-rerank.yaml").read_text(encoding="utf-8")
    assert "Note:" not in text  # the cluster says api_key is required: no guess to note
    written = yaml.safe_load(text)
    assert written["service"] == "mixedbread"
    assert written["service_settings"]["api_key"] == "${env:MB_RERANK_API_KEY}"
    assert written["service_settings"]["model_id"] == "mixedbread-ai/mxbai-rerank-xsmall-v1"
    oa = yaml.safe_load((out / "oa-embed.yaml").read_text(encoding="utf-8"))
    assert oa["service_settings"]["service_tier"] == "flex"
    env = {"MB_RERANK_API_KEY": KEYS["MB_KEY"], "OA_EMBED_API_KEY": KEYS["OA_KEY"]}
    replan = cli(cluster, "plan", str(out), env=env)  # owned by `specs`: compared, not taken
    assert replan.code == 0 and replan.stdout.count("(matches this spec)") == 2, replan.output
    assert "0 to create, 0 to update, 0 to replace" in replan.stdout


def test_without_the_cluster_s_description_nothing_newer_than_the_catalog_is_sent(
    tmp_path: Path,
) -> None:
    specs = spec_folder(tmp_path / "specs", {"oa.yaml": OPENAI})
    with SandboxServer(port=0, version="8.17.0") as older:  # no GET _inference/_services
        plan = cli(older, "plan", str(specs))
        assert plan.code == 1, plan.output
        assert (
            "oa.yaml:7:3: service_settings.service_tier of service 'openai' is not in the "
            "catalog, and this cluster does not describe its services" in plan.stderr
        )


def test_an_undeclared_value_of_a_new_service_changed_out_of_band_is_held_drift(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    """The description says which fields exist and may change; the baseline of the last apply
    says what the server filled in: rate_limit (not updatable) changed out of band is drift that
    only --replace undoes."""
    text = MIXEDBREAD.split("  rate_limit:")[0]  # rate_limit left to the server
    specs = spec_folder(tmp_path / "specs", {"mb.yaml": text})
    assert cli(cluster, "apply", str(specs), "--auto-approve").code == 0
    body = yaml.safe_load(text)
    body["service_settings"].update(api_key=KEYS["MB_KEY"], rate_limit={"requests_per_minute": 7})
    del body["inference_id"], body["task_type"]
    es(cluster.url).delete("/_inference/rerank/mb-rerank")
    assert es(cluster.url).put("/_inference/rerank/mb-rerank", json=body).status_code == 200
    drift = cli(cluster, "drift", str(specs))
    assert drift.code == 2, drift.output
    assert "service_settings.rate_limit was changed since the last apply" in drift.stdout
    assert "--replace rerank/mb-rerank" in drift.stdout
    left = cli(cluster, "apply", str(specs), "--auto-approve")
    assert left.code == 0 and "1 with drift left alone" in left.output, left.output


def test_a_saved_plan_is_stale_when_the_cluster_describes_a_field_otherwise(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    specs = spec_folder(tmp_path / "specs", {"oa.yaml": OPENAI})
    assert cli(cluster, "apply", str(specs), "--auto-approve").code == 0
    (specs / "oa.yaml").write_text(OPENAI.replace("flex", "auto"), encoding="utf-8")
    saved = tmp_path / "plan.json"
    planned = cli(cluster, "plan", str(specs), "--out", str(saved), "--detailed-exitcode")
    assert planned.code == 2 and "service_settings.service_tier" in planned.stdout
    # same release, same task types, but service_tier is no longer changeable in place
    fixed = {
        **SERVICE_TIER,
        "configurations": {
            "service_tier": {**SERVICE_TIER["configurations"]["service_tier"], "updatable": False}
        },
    }
    offered = es(cluster.url).put(
        "/_sandbox/offered_services", json={"services": ["mixedbread", fixed]}
    )
    assert offered.status_code == 200, offered.text
    before = len(cluster.requests)
    stale = cli(cluster, "apply", "--plan", str(saved), "--auto-approve")
    assert stale.code == 1, stale.output
    assert "stale" in stale.stderr and "what _inference/_services offers" in stale.stderr
    assert not [r for r in cluster.requests[before:] if "_update" in r["path"]]
