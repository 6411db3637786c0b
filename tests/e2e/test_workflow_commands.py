"""The everyday commands end to end: --sandbox, import round trip, environments, secrets never shown."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.identity import state_id_for
from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import REPO, run_cli, unlock, write_spec
from tests.sandbox.helpers import plain
from tests.specs import AZURE_KEY, ENV, SHIFT_KEY, azure, rerank

QUICKSTART = REPO / "examples" / "quickstart"


def test_quickstart_with_the_embedded_sandbox(tmp_path: Path) -> None:
    data = tmp_path / "sandbox.json"
    first = run_cli(
        "apply", str(QUICKSTART), "--sandbox-data", str(data), "--auto-approve", env=ENV
    )
    assert first.code == 0, first.output
    assert "failed" in first.stdout and "0 failed" in first.stdout
    again = run_cli(
        "plan", str(QUICKSTART), "--sandbox-data", str(data), "--detailed-exitcode", env=ENV
    )
    assert again.code == 0 and "No changes." in again.stdout, again.output
    stored = data.read_text()
    assert AZURE_KEY not in stored and SHIFT_KEY not in stored


def test_sandbox_flag_keeps_state_under_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "specs"
    write_spec(directory, rerank())
    result = run_cli("apply", str(directory), "--sandbox", "--auto-approve", env=ENV)
    assert result.code == 0, result.output
    assert (directory / ".reconciler" / "sandbox.json").exists()
    assert (directory / ".reconciler" / ".gitignore").exists()
    assert run_cli("validate", str(directory)).code == 0  # the hidden folder is not read as specs


def test_import_round_trip(tmp_path: Path) -> None:
    with SandboxServer(port=0) as cluster:
        for body in (
            azure(),
            rerank(),
        ):  # made by hand, as a platform team has them before adopting
            body["service_settings"]["api_key"] = "hand-made-key"
            request = {k: v for k, v in body.items() if k not in ("inference_id", "task_type")}
            plain.put(
                f"{cluster.url}/_inference/{body['task_type']}/{body['inference_id']}", json=request
            ).raise_for_status()
        out = tmp_path / "imported"
        imported = run_cli("import", "--out", str(out), "--url", cluster.url)
        assert imported.code == 0, imported.output
        files = sorted(p.name for p in out.glob("*.yaml"))
        assert files == ["azure-embed.yaml", "shift-rerank.yaml"]
        text = (out / "azure-embed.yaml").read_text()
        assert "${env:AZURE_EMBED_API_KEY}" in text and "rate_limit" not in text
        # the listing does not say whether someone chose the size: kept, and the header says why
        assert "\n  dimensions: " in text and "# Note: service_settings.dimensions:" in text
        assert run_cli("validate", str(out)).code == 0
        env = {"AZURE_EMBED_API_KEY": "x", "SHIFT_RERANK_API_KEY": "y"}
        plan = run_cli("plan", str(out), "--url", cluster.url, "--detailed-exitcode", env=env)
        assert plan.code == 0, plan.output
        assert "No changes." in plan.stdout


def test_environments_and_variables(tmp_path: Path) -> None:
    with SandboxServer(port=0) as staging, SandboxServer(port=0) as production:
        directory = tmp_path / "specs"
        body = rerank()
        body["service_settings"]["url"] = "https://${var:host}/v1"
        write_spec(directory, body)
        (directory / "reconciler.yaml").write_text(
            "environments:\n"
            f"  staging:\n    url: {staging.url}\n    variables:\n      host: staging.example\n"
            f"  production:\n    url: {production.url}\n    variables:\n      host: prod.example\n"
        )
        assert (
            run_cli("apply", str(directory), "--env", "staging", "--auto-approve", env=ENV).code
            == 0
        )
        assert (
            run_cli("apply", str(directory), "--env", "production", "--auto-approve", env=ENV).code
            == 0
        )
        got = plain.get(f"{staging.url}/_inference/shift-rerank").json()["endpoints"][0]
        assert got["service_settings"]["url"] == "https://staging.example/v1"
        got = plain.get(f"{production.url}/_inference/shift-rerank").json()["endpoints"][0]
        assert got["service_settings"]["url"] == "https://prod.example/v1"
        unknown = run_cli("plan", str(directory), "--env", "qa", env=ENV)
        assert unknown.code == 1 and "unknown environment 'qa'" in unknown.stderr
        (directory / "reconciler.yaml").write_text(
            f"environments:\n  staging:\n    url: {staging.url}\n"
        )
        missing = run_cli("plan", str(directory), "--env", "staging", env=ENV)
        assert missing.code == 1 and "undefined variable 'host'" in missing.stderr
        assert "shift-rerank.yaml:" in missing.stderr


def test_missing_secret_variable_names_file_and_line(tmp_path: Path) -> None:
    with SandboxServer(port=0) as cluster:
        directory = tmp_path / "specs"
        write_spec(directory, rerank())
        result = run_cli("apply", str(directory), "--url", cluster.url, "--auto-approve")
        assert result.code == 1
        assert (
            "shift-rerank.yaml:7:" in result.output
            and "OPENSHIFT_AI_API_KEY is not set" in result.output
        )
        assert "Traceback" not in result.output
        endpoints = plain.get(f"{cluster.url}/_inference/_all").json()["endpoints"]
        assert all(e["inference_id"].startswith(".") for e in endpoints)


def test_no_secret_in_any_output(tmp_path: Path) -> None:
    with SandboxServer(port=0) as cluster:
        directory = tmp_path / "specs"
        write_spec(directory, azure())
        write_spec(directory, rerank())
        outputs: list[str] = []
        url = ("--url", cluster.url)
        for args in (
            ("validate", str(directory)),
            ("plan", str(directory), *url),
            ("plan", str(directory), *url, "--format", "json", "--out", str(tmp_path / "p.json")),
            ("plan", str(directory), *url, "--format", "markdown"),
            ("--debug", "apply", str(directory), *url, "--auto-approve"),
            ("drift", str(directory), *url, "--format", "json"),
            ("import", "--out", str(tmp_path / "imported"), *url),
        ):
            result = run_cli(*args, env=ENV)
            outputs += [result.stdout, result.stderr]
        rotated = {
            "AZURE_OPENAI_API_KEY": "azk-rotated-distinctive-777",
            "OPENSHIFT_AI_API_KEY": SHIFT_KEY,
        }
        for fmt in ("text", "json", "markdown"):
            result = run_cli("plan", str(directory), *url, "--format", fmt, env=rotated)
            outputs += [result.stdout, result.stderr]
        result = run_cli("--debug", "apply", str(directory), *url, "--auto-approve", env=rotated)
        outputs += [result.stdout, result.stderr, (tmp_path / "p.json").read_text()]
        outputs += [p.read_text() for p in (tmp_path / "imported").glob("*.yaml")]
        state = plain.get(
            f"{cluster.url}/reconciler-state/_doc/{state_id_for(directory, None)}"
        ).json()
        outputs.append(json.dumps(state))
        for text in outputs:
            for secret in (AZURE_KEY, SHIFT_KEY, "azk-rotated-distinctive-777"):
                assert secret not in text


def settle(cluster: SandboxServer, quiet: float = 0.25) -> None:
    """Wait until the request log has been still for ``quiet`` seconds: a create the killed process
    sent may still be in the sandbox's hands (its latency), and it counts once answered."""
    seen, still_since = len(cluster.requests), time.monotonic()
    while time.monotonic() - still_since < quiet:
        time.sleep(0.02)
        if len(cluster.requests) != seen:
            seen, still_since = len(cluster.requests), time.monotonic()


@pytest.mark.subprocess
@pytest.mark.slow
def test_apply_killed_midway_converges_on_rerun(tmp_path: Path) -> None:
    with SandboxServer(port=0, latency_ms=40) as cluster:
        directory = tmp_path / "specs"
        for i in range(30):
            write_spec(directory, rerank(f"r-{i:02d}"))
        command = [
            sys.executable,
            "-m",
            "reconciler",
            "apply",
            str(directory),
            "--url",
            cluster.url,
            "--auto-approve",
            "--parallelism",
            "2",
        ]
        env = {**os.environ, **ENV}
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO
        )
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and sum(  # a few creates in: kill it midway, however fast it starts
                r["method"] == "PUT" and r["path"].startswith("/_inference/")
                for r in cluster.requests
            )
            < 4
        ):
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
        settle(cluster)
        made = [
            e
            for e in plain.get(f"{cluster.url}/_inference/_all").json()["endpoints"]
            if not e["inference_id"].startswith(".")
        ]
        assert 0 < len(made) < 30, len(made)
        assert unlock(directory, cluster.url).code == 0
        rerun = run_cli("apply", str(directory), "--url", cluster.url, "--auto-approve", env=ENV)
        assert rerun.code == 0, rerun.output
        assert f"{30 - len(made)} created" in rerun.stdout
        final = run_cli(
            "plan", str(directory), "--url", cluster.url, "--detailed-exitcode", env=ENV
        )
        assert final.code == 0, final.output
        creates = [
            r
            for r in cluster.requests
            if r["method"] == "PUT"
            and r["status"] == 200
            and r["path"].startswith("/_inference/rerank/r-")
        ]
        assert len(creates) == 30
