"""What the server-filled baselines cost: state document size and plan time (run by hand).

    python tests/benchmarks/baseline_size.py [--count 1000] [--repeat 3]

Applies ``--count`` specs made from examples/services (``workload``) to an in-process sandbox
with the CLI, then prints the state document's size with its baselines and without them (the
document as the release before them wrote it: the same entries minus ``baseline`` and
``baselines``), per endpoint, how many distinct baselines the document holds, and the median
wall time of ``reconciler plan`` (in process) with and without the baselines in the state, and
the time of the apply that records them all again (state only, nothing sent to the endpoints).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from reconciler.identity import state_id_for
from reconciler.sandbox import SandboxServer
from tests.benchmarks.workload import secret_environment, write_specs
from tests.e2e.helpers import run_cli


def stripped(source: dict[str, Any]) -> dict[str, Any]:
    """The document without baselines, as the previous release wrote it."""
    managed = {
        i: {k: v for k, v in entry.items() if k != "baseline"}
        for i, entry in source["managed"].items()
    }
    return {**{k: v for k, v in source.items() if k != "baselines"}, "managed": managed}


def size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode())


def plan_seconds(url: str, directory: Path, env: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run_cli("plan", str(directory), "--url", url, env=env)
        times.append(time.perf_counter() - started)
        assert result.code == 0 and "No changes" in result.stdout, result.output[-2000:]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    env = secret_environment()
    with tempfile.TemporaryDirectory() as folder, SandboxServer(port=0, eis=True) as cluster:
        directory = Path(folder) / "specs"
        write_specs(directory, arguments.count)
        applied = run_cli("apply", str(directory), "--url", cluster.url, "--auto-approve", env=env)
        assert applied.code == 0, applied.output[-2000:]
        doc = f"{cluster.url}/reconciler-state/_doc/{state_id_for(directory, None)}"
        source = httpx.get(doc).json()["_source"]
        endpoints = len(source["managed"])
        with_baselines, without = size(source), size(stripped(source))
        print(f"endpoints: {endpoints}, distinct baselines: {len(source.get('baselines', []))}")
        print(
            f"state document: {with_baselines} bytes with baselines "
            f"({with_baselines / endpoints:.0f} per endpoint), {without} without "
            f"({without / endpoints:.0f} per endpoint): "
            f"+{(with_baselines - without) / endpoints:.0f} bytes per endpoint"
        )
        seconds_with = plan_seconds(cluster.url, directory, env, arguments.repeat)
        httpx.put(doc, json=stripped(source)).raise_for_status()
        seconds_without = plan_seconds(cluster.url, directory, env, arguments.repeat)
        print(
            f"plan (median of {arguments.repeat}): {seconds_with:.2f} s with baselines, "
            f"{seconds_without:.2f} s without"
        )
        # the first apply after an upgrade from a release without baselines records them all
        # from the listing it read (a state-only write; nothing is sent to the endpoints)
        started = time.perf_counter()
        recorded = run_cli("apply", str(directory), "--url", cluster.url, "--auto-approve", env=env)
        seconds = time.perf_counter() - started
        assert recorded.code == 0, recorded.output[-2000:]
        again = httpx.get(doc).json()["_source"]
        print(
            f"apply recording {len(again['managed'])} missing baselines: {seconds:.2f} s, "
            f"state {size(again)} bytes"
        )


if __name__ == "__main__":
    main()
