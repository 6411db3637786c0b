"""Benchmark (run by hand) for issues #21 and #29: apply against a bare client sending the same
requests.

    python tests/benchmarks/apply_ratio.py [--sizes 1000,10000] [--latency-ms 20] [--in-flight 8]

For each N: two sandbox processes with the same latency, N specs made from examples/services.
Creates: ``reconciler apply --auto-approve`` (a whole process: start, load, lock, read, plan,
intent, N creates, outcomes, verify) on sandbox A, then a bare client (a whole process too:
start, import httpx, read the requests, send them ``--in-flight`` at once, nothing else) sending
the same PUTs (taken from ``plan --out``, secrets resolved) to sandbox B. Rotation: every secret
variable changes; ``apply`` on A (the ``_update``s it plans) against the bare client sending the
same ``_update``s to B. The two run one after the other, so both see the same machine load.

Prints, per N and workload: wall and CPU (user + system) seconds of each process and of each
sandbox, the ratio of the walls (target <= 1.2, not growing with N), the same for the sending
phase alone (first to last endpoint write, from the sandbox's request log), and what apply wrote
to the state document (writes, bytes). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks import workload  # noqa: E402
from tests.benchmarks.processes import (  # noqa: E402
    Run,
    Sandbox,
    child_environment,
    run_cli,
    run_command,
    warm_bytecode,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args()
    sizes = [int(text.replace("_", "")) for text in options.sizes.split(",") if text.strip()]
    # fingerprints keyed by an outside key (HMAC), as CI is advised to: scrypt's fixed cost per
    # distinct secret (#24; about 25 derivations here) is not what this compares
    key = {"RECONCILER_FINGERPRINT_KEY": "0123456789abcdef" * 4}
    secrets = {**workload.secret_environment(), **key}
    rotated = {
        name: value if name in key else f"{value}-rotated" for name, value in secrets.items()
    }
    warm_bytecode(child_environment(secrets))
    rows = []
    loads = [os.getloadavg()[0]]
    for n in sizes:
        print(f"-- N = {n:,}", file=sys.stderr, flush=True)
        rows.append(_measure(n, secrets, rotated, options.latency_ms, options.in_flight))
        loads.append(os.getloadavg()[0])
    print(
        f"\nsandbox latency {options.latency_ms:g} ms per request; apply and the bare client "
        f"both {options.in_flight} in flight; load average (1 min) "
        f"{' -> '.join(f'{load:.1f}' for load in loads)}; wall / CPU seconds (user + system)\n"
    )
    print(
        "| N | what | requests | apply | its sandbox | bare client | its sandbox | ratio | "
        "apply sending | bare sending | ratio | state writes |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        for what in ("creates", "rotation"):
            f = row[what]
            print(
                f"| {row['n']:,} | {what} | {f['requests']:,} | "
                f"{f['apply']:.2f} / {f['apply_cpu']:.2f} | {f['apply_sandbox_cpu']:.2f} | "
                f"{f['bare']:.2f} / {f['bare_cpu']:.2f} | {f['bare_sandbox_cpu']:.2f} | "
                f"{f['apply'] / f['bare']:.2f}x | {f['apply_sending']:.2f} | "
                f"{f['bare_sending']:.2f} | {f['apply_sending'] / f['bare_sending']:.2f}x | "
                f"{f['state_writes']} ({f['state_bytes'] / 1e6:.1f} MB) |"
            )
    if options.json:
        options.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


def _measure(
    n: int, secrets: dict[str, str], rotated: dict[str, str], latency_ms: float, in_flight: int
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"reconciler-apply-ratio-{n}-"))
    try:
        return _measure_in(work, n, secrets, rotated, latency_ms, in_flight)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure_in(
    work: Path,
    n: int,
    secrets: dict[str, str],
    rotated: dict[str, str],
    latency_ms: float,
    in_flight: int,
) -> dict[str, Any]:
    specs = work / "endpoints"
    workload.write_specs(specs, n)
    row: dict[str, Any] = {"n": n}
    with (
        Sandbox(data_file=work / "a.json", latency_ms=latency_ms, env=child_environment({})) as a,
        Sandbox(data_file=work / "b.json", latency_ms=latency_ms, env=child_environment({})) as b,
    ):
        for sandbox in (a, b):  # the examples include the Elastic Inference Service
            sandbox.http.put("/_sandbox/eis", json={"connected": True}).raise_for_status()
        for what, values in (("creates", secrets), ("rotation", rotated)):
            env = child_environment(values)
            saved = work / f"{what}.json"
            planned = run_cli(["plan", str(specs), "--url", a.url, "--out", str(saved)], env=env)
            if planned.returncode != 0:
                raise RuntimeError(planned.stderr[-2000:])
            requests = _requests(saved, values)
            a.clear_requests()
            a_cpu = a.cpu_seconds() or 0.0
            applied = run_cli(
                [
                    "apply",
                    str(specs),
                    "--url",
                    a.url,
                    "--auto-approve",
                    "--parallelism",
                    str(in_flight),
                ],
                env=env,
            )
            a_cpu = (a.cpu_seconds() or 0.0) - a_cpu
            if applied.returncode != 0:
                raise RuntimeError(applied.stdout[-2000:] + applied.stderr[-2000:])
            log = a.requests()
            _copy_state(a, b)  # the same documents on both
            b.clear_requests()
            b_cpu = b.cpu_seconds() or 0.0
            bare = _bare_process(b.url, requests, in_flight, work, env)
            b_cpu = (b.cpu_seconds() or 0.0) - b_cpu
            writes = [
                r
                for r in log
                if r["path"].startswith("/reconciler-state/") and r["method"] == "PUT"
            ]
            row[what] = {
                "requests": len(requests),
                "apply": applied.wall,
                "apply_cpu": applied.cpu,
                "apply_sandbox_cpu": a_cpu,
                "bare": bare.wall,
                "bare_cpu": bare.cpu,
                "bare_sandbox_cpu": b_cpu,
                "apply_sending": _sending(log),
                "bare_sending": _sending(b.requests()),
                # the state document and the lock's: what apply writes beside the endpoints
                "state_writes": len(writes),
                "state_bytes": sum(int(r["headers"].get("content-length", 0)) for r in writes),
                "apply_requests": len(log),
            }
            print(f"   {what}: {row[what]}", file=sys.stderr, flush=True)
    return row


def _requests(saved: Path, values: dict[str, str]) -> list[tuple[str, str, Any]]:
    """The saved plan's requests, each secret reference replaced by its value."""
    document = json.loads(saved.read_text(encoding="utf-8"))
    found = []
    for change in document["saved"]["plan"]["changes"]:
        for request in change["requests"]:
            body = request["body"]
            for ref in request["secrets"]:
                path = ref["path"] if isinstance(ref, dict) else ref  # saved plan 3, or 2
                node = body
                for part in path[:-1]:
                    node = node[part]
                name = node[path[-1]][len("${env:") : -1]
                node[path[-1]] = values[name]
            found.append((request["method"], request["path"], body))
    return found


def _copy_state(source: Sandbox, target: Sandbox) -> None:
    """Give ``target`` the state index documents ``source`` holds (the bare client writes none,
    but each write to the sandbox saves every document it holds)."""
    found = source.http.request(
        "GET", "/reconciler-state/_search", json={"size": 10_000, "query": {"match_all": {}}}
    )
    if found.status_code != 200:
        return
    for hit in found.json()["hits"]["hits"]:
        target.http.put(f"/reconciler-state/_doc/{hit['_id']}", json=hit["_source"])


def _sending(log: list[dict[str, Any]]) -> float:
    """Seconds from the first endpoint write's start to the last one's end (the sandbox's log):
    the sending phase alone, without process start, loading and planning."""
    writes = [r for r in log if r["method"] == "PUT" and r["path"].startswith("/_inference/")]
    if not writes:
        return 0.0
    return max(r["time"] + r["duration_ms"] / 1000 for r in writes) - min(r["time"] for r in writes)


def _bare_process(
    url: str, requests: list[tuple[str, str, Any]], in_flight: int, work: Path, env: dict[str, str]
) -> Run:
    """The bare client as a whole process: ``--send URL FILE IN_FLIGHT`` of this script."""
    file = work / "requests.json"  # the benchmark's dummy secret values, removed with ``work``
    file.write_text(json.dumps(requests), encoding="utf-8")
    sent = run_command(
        [sys.executable, __file__, "--send", url, str(file), str(in_flight)], env=env
    )
    if sent.returncode != 0:
        raise RuntimeError(sent.stderr[-2000:])
    return sent


def _send(url: str, file: Path, in_flight: int) -> int:
    """The bare client: send the requests in ``file``, ``in_flight`` at once (a failure is an
    error), and nothing else."""
    requests = json.loads(file.read_text(encoding="utf-8"))
    with httpx.Client(
        base_url=url, timeout=120, limits=httpx.Limits(max_connections=in_flight)
    ) as client:

        def send(request: list[Any]) -> None:
            method, path, body = request
            client.request(method, path, json=body).raise_for_status()

        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            list(pool.map(send, requests))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--send"]:
        sys.exit(_send(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])))
    sys.exit(main())
