"""Benchmark (run by hand) for issues #21 and #29: apply against a bare client sending the same
requests.

    python tests/benchmarks/apply_ratio.py [--sizes 1000,10000] [--latency-ms 20] [--in-flight 8]
        [--repeat 3] [--before CHECKOUT]

For each N: two sandbox processes with the same latency, N specs made from examples/services.
Creates: ``reconciler apply --auto-approve`` (a whole process: start, load, lock, read, plan,
intent, N creates, outcomes, verify) on sandbox A, then a bare client (a whole process too:
start, import httpx, read the requests, send them ``--in-flight`` at once, nothing else) sending
the same PUTs (taken from ``plan --out``, secrets resolved) to sandbox B. Rotation: every secret
variable changes; ``apply`` on A (the ``_update``s it plans) against the bare client sending the
same ``_update``s to B. The two run one after the other, so both see the same machine load;
``--before`` measures another checkout's apply and sandboxes the same way, alternating with
this one's, for a before/after under the same load.

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
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

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
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; medians shown")
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout (e.g. `git archive COMMIT | tar -x -C DIR`): its apply and its "
        "sandbox measured the same way, alternating with this one's",
    )
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
    sides = [Side("after", REPO)]
    if options.before is not None:
        sides.append(Side("before", options.before.resolve()))
    rows = []
    loads = [os.getloadavg()[0]]
    for n in sizes:
        work = Path(tempfile.mkdtemp(prefix=f"reconciler-apply-ratio-{n}-"))
        try:
            workload.write_specs(work / "endpoints", n)
            runs: dict[str, list[dict[str, Any]]] = {side.name: [] for side in sides}
            for repetition in range(options.repeat):
                for side in sides if repetition % 2 == 0 else sides[::-1]:
                    print(f"-- N = {n:,}, {side.name}", file=sys.stderr, flush=True)
                    runs[side.name].append(
                        _measure(
                            work, side, n, secrets, rotated, options.latency_ms, options.in_flight
                        )
                    )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rows.extend({"n": n, "side": name, "runs": found} for name, found in runs.items())
        loads.append(os.getloadavg()[0])
    print(
        f"\nsandbox latency {options.latency_ms:g} ms per request; apply and the bare client "
        f"both {options.in_flight} in flight; load average (1 min) "
        f"{' -> '.join(f'{load:.1f}' for load in loads)}; wall / CPU seconds (user + system); "
        f"medians of {options.repeat} run(s), the ratios' range in brackets\n"
    )
    print(
        "| N | what | code | requests | apply | its sandbox | bare client | its sandbox | ratio | "
        "apply sending | bare sending | ratio | state writes |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        for what in ("creates", "rotation"):
            f = {
                key: _median(run[what][key] for run in row["runs"]) for key in row["runs"][0][what]
            }
            print(
                f"| {row['n']:,} | {what} | {row['side']} | {f['requests']:,.0f} | "
                f"{f['apply']:.2f} / {f['apply_cpu']:.2f} | {f['apply_sandbox_cpu']:.2f} | "
                f"{f['bare']:.2f} / {f['bare_cpu']:.2f} | {f['bare_sandbox_cpu']:.2f} | "
                f"{_ratios(row['runs'], what, 'apply', 'bare')} | {f['apply_sending']:.2f} | "
                f"{f['bare_sending']:.2f} | "
                f"{_ratios(row['runs'], what, 'apply_sending', 'bare_sending')} | "
                f"{f['state_writes']:.0f} ({f['state_bytes'] / 1e6:.1f} MB) |"
            )
    if options.json:
        options.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


@dataclass(frozen=True)
class Side:
    """Whose code runs apply and both sandboxes: this checkout, or ``--before``'s."""

    name: str
    checkout: Path

    def env(self, values: dict[str, str]) -> dict[str, str]:
        return child_environment({**values, "PYTHONPATH": str(self.checkout)})


def _median(values: Any) -> float:
    return float(statistics.median(values))


def _ratios(runs: list[dict[str, Any]], what: str, tool: str, bare: str) -> str:
    """The median of the runs' ratios, and their range when there are several."""
    ratios = sorted(run[what][tool] / run[what][bare] for run in runs)
    shown = f"{statistics.median(ratios):.2f}x"
    return shown if len(ratios) == 1 else f"{shown} [{ratios[0]:.2f}-{ratios[-1]:.2f}]"


def _measure(
    work: Path,
    side: Side,
    n: int,
    secrets: dict[str, str],
    rotated: dict[str, str],
    latency_ms: float,
    in_flight: int,
) -> dict[str, Any]:
    """Creates, then rotation, on a fresh pair of sandboxes running ``side``'s code."""
    specs = work / "endpoints"
    for name in ("a.json", "b.json"):
        (work / name).unlink(missing_ok=True)
    row: dict[str, Any] = {}
    with (
        Sandbox(
            data_file=work / "a.json", latency_ms=latency_ms, env=side.env({}), cwd=side.checkout
        ) as a,
        Sandbox(
            data_file=work / "b.json", latency_ms=latency_ms, env=side.env({}), cwd=side.checkout
        ) as b,
    ):
        for sandbox in (a, b):  # the examples include the Elastic Inference Service
            sandbox.http.put("/_sandbox/eis", json={"connected": True}).raise_for_status()
        for what, values in (("creates", secrets), ("rotation", rotated)):
            env = side.env(values)
            saved = work / f"{what}.json"
            planned = run_cli(
                ["plan", str(specs), "--url", a.url, "--out", str(saved)],
                env=env,
                cwd=side.checkout,
            )
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
                cwd=side.checkout,
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
