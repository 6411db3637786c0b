"""Benchmark (run by hand): a plan's reads overlap, so it costs one round trip at any size.

    python tests/benchmarks/round_trip.py [--count 1000] [--latency-ms 200]

Starts a sandbox with the given latency per request, applies ``count`` rerank endpoints, then
plans them in process and prints: the wall time of the plan's reads, how many requests the plan
sent, and how far apart their starts were. With the reads sent one after another the plan
would cost about (requests x latency); overlapped it costs about one latency.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

from reconciler.client import Connection
from reconciler.run import ApplyHooks, ApplyOptions, apply_specs, make_plan
from reconciler.sandbox import SandboxServer
from reconciler.session import load_specs, open_session
from reconciler.settings import load_settings


def write(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        body = {
            "inference_id": f"rt-{n:05d}",
            "task_type": "rerank",
            "service": "openshift_ai",
            "service_settings": {
                "url": "https://rerank.example/v1",
                "model_id": "bge-reranker-v2-m3",
                "api_key": "${env:ROUND_TRIP_KEY}",
            },
        }
        (directory / f"rt-{n:05d}.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    args = parser.parse_args()
    os.environ["ROUND_TRIP_KEY"] = "round-trip-benchmark-key"
    with tempfile.TemporaryDirectory() as scratch, SandboxServer(port=0) as server:
        directory = Path(scratch) / "specs"
        write(directory, args.count)
        settings = load_settings(directory, None)
        specs = load_specs(directory, settings).specs
        connection = Connection(url=server.url)
        with open_session(connection=connection, settings=settings, sandbox_data=None) as session:
            apply_specs(session, specs, options=ApplyOptions(), hooks=ApplyHooks())
        server.latency_ms = args.latency_ms
        server.clear_requests()
        with open_session(connection=connection, settings=settings, sandbox_data=None) as session:
            started = time.monotonic()
            planned = make_plan(session, specs, prune=False)
            took = time.monotonic() - started
        reads = server.requests
        starts = sorted(r["time"] for r in reads)
        spread = (starts[-1] - starts[0]) * 1000 if starts else 0.0
        print(f"endpoints: {args.count}, latency per request: {args.latency_ms:.0f} ms")
        print(f"plan: {len(planned.plan.changes)} changes considered, {took:.3f} s in all")
        print(
            f"requests sent: {len(reads)} ({', '.join(r['method'] + ' ' + r['path'] for r in reads)})"
        )
        print(
            f"their starts spread over {spread:.1f} ms (one after another would take "
            f"{len(reads) * args.latency_ms / 1000:.2f} s of latency alone)"
        )


if __name__ == "__main__":
    main()
