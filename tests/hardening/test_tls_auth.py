"""TLS verification and credentials: on by default, clear when they fail, degraded (not broken) on a 403 state index.

The sandbox serves HTTPS with a self-signed certificate made by openssl for 127.0.0.1 (skipped
without openssl). Every failure must exit 1 with a message naming the fix, without a traceback and
without retrying what a retry cannot heal.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.sandbox import Fault, SandboxServer
from tests.e2e.helpers import Run, run_cli
from tests.hardening.corpus import AZURE, SECRET_ENV, SHIFT, inference_writes

KEY = "es-key-tls-auth-4242"
FAST = 5.0  # seconds: a failure no retry can heal must not wait through the backoff


def make_certificate(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    return {name: make_certificate(folder, name) for name in ("server", "other")}


@pytest.fixture()
def https_cluster(certificates: dict[str, tuple[Path, Path]]) -> Iterator[SandboxServer]:
    cert, key = certificates["server"]
    with SandboxServer(port=0, certfile=str(cert), keyfile=str(key)) as server:
        yield server


@pytest.fixture()
def specs(tmp_path: Path) -> Path:
    root = tmp_path / "specs"
    root.mkdir()
    (root / "azure.yaml").write_text(AZURE, encoding="utf-8")
    (root / "shift.yaml").write_text(SHIFT, encoding="utf-8")
    return root


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[Run, float]:
    started = time.monotonic()
    result = run_cli(*args, env={**SECRET_ENV, **(env or {})}, cwd=cwd, timeout=60)
    return result, time.monotonic() - started


def assert_clean_failure(result: Run, seconds: float, *fragments: str) -> None:
    assert result.code == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    assert "Error:" in result.stderr, result.output
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
    assert seconds < FAST, f"took {seconds:.1f}s (retried?)\n{result.output}"


# -- TLS ------------------------------------------------------------------------------------------


def test_tls_is_verified_by_default(https_cluster: SandboxServer, specs: Path) -> None:
    result, seconds = cli("plan", str(specs), "--url", https_cluster.url)
    assert_clean_failure(result, seconds, "not trusted", "--ca-cert")
    assert https_cluster.url in result.stderr


def test_a_certificate_from_another_ca_is_refused(
    https_cluster: SandboxServer, specs: Path, certificates: dict[str, tuple[Path, Path]]
) -> None:
    other, _ = certificates["other"]
    result, seconds = cli("plan", str(specs), "--url", https_cluster.url, "--ca-cert", str(other))
    assert_clean_failure(result, seconds, "not trusted")


def test_ca_cert_makes_it_work(
    https_cluster: SandboxServer, specs: Path, certificates: dict[str, tuple[Path, Path]]
) -> None:
    cert, _ = certificates["server"]
    result, _ = cli(
        "apply", str(specs), "--url", https_cluster.url, "--ca-cert", str(cert), "--auto-approve"
    )
    assert result.code == 0, result.output
    assert "Warning" not in result.output
    again, _ = cli(
        "plan",
        str(specs),
        "--url",
        https_cluster.url,
        "--ca-cert",
        str(cert),
        "--detailed-exitcode",
    )
    assert again.code == 0 and "No changes." in again.stdout, again.output


def test_ca_cert_of_an_environment_is_relative_to_reconciler_yaml(
    https_cluster: SandboxServer,
    specs: Path,
    certificates: dict[str, tuple[Path, Path]],
    tmp_path: Path,
) -> None:
    cert, _ = certificates["server"]
    (specs / "certs").mkdir()
    shutil.copy(cert, specs / "certs" / "ca.pem")
    (specs / "reconciler.yaml").write_text(
        f"environments:\n  staging:\n    url: {https_cluster.url}\n    ca_cert: certs/ca.pem\n",
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result, _ = cli("plan", str(specs), "--env", "staging", cwd=elsewhere)
    assert result.code == 0, result.output


def test_insecure_works_and_warns(https_cluster: SandboxServer, specs: Path) -> None:
    result, _ = cli("plan", str(specs), "--url", https_cluster.url, "--insecure")
    assert result.code == 0, result.output
    assert "Warning: TLS certificate verification is off" in result.stderr


def test_https_url_on_a_plain_http_server_fails_fast(specs: Path) -> None:
    with SandboxServer(port=0) as plain:
        result, seconds = cli("plan", str(specs), "--url", plain.url.replace("http://", "https://"))
    assert_clean_failure(result, seconds, "TLS")


# -- API keys and privileges ------------------------------------------------------------------------


@pytest.fixture()
def keyed_cluster() -> Iterator[SandboxServer]:
    with SandboxServer(
        port=0, api_key=KEY, read_only_api_key="reader-key", inference_only_api_key="inf-key"
    ) as s:
        yield s


def test_missing_api_key_is_a_clear_401(keyed_cluster: SandboxServer, specs: Path) -> None:
    result, seconds = cli("plan", str(specs), "--url", keyed_cluster.url)
    assert_clean_failure(result, seconds, "401", "--api-key")


def test_wrong_api_key_is_a_clear_401(keyed_cluster: SandboxServer, specs: Path) -> None:
    result, seconds = cli(
        "apply",
        str(specs),
        "--url",
        keyed_cluster.url,
        "--api-key",
        "wrong-key-1234",
        "--auto-approve",
    )
    assert_clean_failure(result, seconds, "401", "ELASTIC_API_KEY")
    assert inference_writes(keyed_cluster.requests) == []


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_api_key_by_flag_or_environment(
    keyed_cluster: SandboxServer, specs: Path, how: str
) -> None:
    # the shell's key goes only to the cluster the shell names (docs/security.md)
    options = ("--url", keyed_cluster.url, "--api-key", KEY) if how == "flag" else ()
    env = (
        {"ELASTIC_API_KEY": KEY, "ELASTICSEARCH_URL": keyed_cluster.url}
        if how == "environment"
        else {}
    )
    result, _ = cli("apply", str(specs), *options, "--auto-approve", env=env)
    assert result.code == 0, result.output
    assert "Apply complete: 2 created" in result.stdout


def test_403_on_endpoint_writes_names_manage_inference(
    keyed_cluster: SandboxServer, specs: Path
) -> None:
    keyed_cluster.add_fault(Fault(method="PUT", path=r"^/_inference/", status=403, count=None))
    result, seconds = cli(
        "apply", str(specs), "--url", keyed_cluster.url, "--api-key", KEY, "--auto-approve"
    )
    assert_clean_failure(result, seconds, "403", "manage_inference")


def test_a_read_only_key_plans_but_cannot_apply(keyed_cluster: SandboxServer, specs: Path) -> None:
    plan, _ = cli("plan", str(specs), "--url", keyed_cluster.url, "--api-key", "reader-key")
    assert plan.code == 0, plan.output
    result, seconds = cli(
        "apply", str(specs), "--url", keyed_cluster.url, "--api-key", "reader-key", "--auto-approve"
    )
    assert_clean_failure(result, seconds, "manage_inference")
    assert [r for r in keyed_cluster.requests if r["method"] == "PUT" and r["status"] == 200] == []


def count_state_warnings(*runs: Run) -> int:
    return sum(
        line.startswith("Warning:") and "cannot read the state index" in line
        for run in runs
        for line in run.output.splitlines()
    )


def test_403_on_the_state_index_degrades_with_one_warning(
    keyed_cluster: SandboxServer, specs: Path
) -> None:
    url: tuple[str, ...] = ("--url", keyed_cluster.url, "--api-key", "inf-key")
    plan, _ = cli("plan", str(specs), *url)
    assert plan.code == 0, plan.output
    assert count_state_warnings(plan) == 1, plan.output
    assert "rotation detection are off" in plan.output
    applied, _ = cli("apply", str(specs), *url, "--auto-approve")
    assert applied.code == 0, applied.output
    assert count_state_warnings(applied) == 1, applied.output
    assert "Apply complete: 2 created" in applied.stdout
    # rotation detection is off: a new key is not a change, and the plan says why
    rotated, _ = cli(
        "plan", str(specs), *url, "--detailed-exitcode", env={"AZURE_KEY": "azk-rotated-unseen"}
    )
    assert rotated.code == 0, rotated.output
    assert "secret not tracked" in rotated.stdout
    # prune is off: nothing is deleted, and the plan says so
    (specs / "shift.yaml").unlink()
    keyed_cluster.clear_requests()
    pruned, _ = cli("apply", str(specs), *url, "--prune", "--auto-approve")
    assert pruned.code == 0, pruned.output
    assert "--prune ignored" in pruned.output and count_state_warnings(pruned) == 1, pruned.output
    assert inference_writes(keyed_cluster.requests) == []


def test_403_on_state_writes_only_still_applies(keyed_cluster: SandboxServer, specs: Path) -> None:
    keyed_cluster.add_fault(Fault(method="PUT", path=r"^/reconciler-state", status=403, count=None))
    applied, _ = cli(
        "apply", str(specs), "--url", keyed_cluster.url, "--api-key", KEY, "--auto-approve"
    )
    assert applied.code == 0, applied.output
    assert "Apply complete: 2 created" in applied.stdout
    assert "Traceback" not in applied.output
    again, _ = cli(
        "plan", str(specs), "--url", keyed_cluster.url, "--api-key", KEY, "--detailed-exitcode"
    )
    assert again.code == 0, again.output
