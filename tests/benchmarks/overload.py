"""Apply under overload (issue #18), and the cost of the retry policy without faults; run by hand.

    python tests/benchmarks/overload.py [--creates 500] [--latency-ms 20] [--bare 1000]

Scenario: N creates against a sandbox (own process, given latency) whose
first 100 answers to ``PUT /_inference/...`` are 503, the next 40 are 429
with ``Retry-After: 1``, and 30 more are carried out but their answer is
lost (the connection drops after the work). Prints the exit code, the
summary line, the wall time, and how many endpoints exist and were created
more than once. Then, without faults, ``apply`` of ``--bare`` creates
against a bare client sending the same PUT bodies 8 at a time (the ratio
apply / bare client is what the retry policy must not worsen).

Extra CLI arguments for apply go after ``--`` (e.g. ``-- --retry-for 5m``).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks import workload  # noqa: E402
from tests.benchmarks.processes import Sandbox, child_environment, run_cli  # noqa: E402

BURST = (
    {"method": "PUT", "path": r"^/_inference/", "status": 503, "count": 100},
    {"method": "PUT", "path": r"^/_inference/", "status": 429, "retry_after": 1, "count": 40},
    {
        "method": "PUT",
        "path": r"^/_inference/",
        "status": None,
        "drop": True,
        "after": True,
        "count": 30,
    },
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--creates", type=int, default=500, help="endpoints created under the burst"
    )
    parser.add_argument("--bare", type=int, default=1000, help="creates of the no-fault comparison")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument("extra", nargs="*", help="more apply arguments (after --)")
    options = parser.parse_args()
    env = child_environment(workload.secret_environment())
    if not options.skip_burst:
        burst(options.creates, latency_ms=options.latency_ms, env=env, extra=options.extra)
    if not options.skip_bare:
        bare(options.bare, latency_ms=options.latency_ms, env=env, extra=options.extra)
    return 0


def burst(n: int, *, latency_ms: float, env: dict[str, str], extra: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="reconciler-overload-") as folder:
        work = Path(folder)
        ids = workload.write_specs(work / "endpoints", n)
        with Sandbox(data_file=work / "sandbox.json", latency_ms=latency_ms, env=env) as sandbox:
            for fault in BURST:
                sandbox.http.post("/_sandbox/faults", json=fault).raise_for_status()
            run = run_cli(
                ["apply", str(work / "endpoints"), "--url", sandbox.url, "--auto-approve", *extra],
                env=env,
                cwd=work,
            )
            created = collections.Counter(
                r["path"].rsplit("/", 1)[1]
                for r in sandbox.requests()
                if r["method"] == "PUT"
                and r["path"].startswith("/_inference/")
                and r["status"] == 200
            )
            live = {e["inference_id"] for e in sandbox.listing()} & set(ids)
            rerun = run_cli(
                ["plan", str(work / "endpoints"), "--url", sandbox.url], env=env, cwd=work
            )
    summary = next((x for x in run.stdout.splitlines() if x.startswith("Apply complete")), "")
    waits = [x for x in run.stderr.splitlines() if x.startswith("waiting")]
    print(f"burst, {n} creates, {latency_ms:g} ms latency: exit {run.returncode}, {run.wall:.1f} s")
    print(f"   {summary or run.stderr.strip().splitlines()[-1:]}")
    print(
        f"   endpoints live: {len(live)} of {n}; created more than once: {sum(c > 1 for c in created.values())}"
    )
    print(f"   wait lines on stderr: {len(waits)} (first: {waits[:2]})")
    print(
        f"   plan afterwards: {'No changes.' if 'No changes.' in rerun.stdout else rerun.stdout[-200:]}"
    )


def bare(n: int, *, latency_ms: float, env: dict[str, str], extra: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="reconciler-bare-") as folder:
        work = Path(folder)
        workload.write_specs(work / "endpoints", n)
        bodies = _bodies(work / "endpoints", env)
        with Sandbox(data_file=work / "sandbox.json", latency_ms=latency_ms, env=env) as sandbox:
            run = run_cli(
                ["apply", str(work / "endpoints"), "--url", sandbox.url, "--auto-approve", *extra],
                env=env,
                cwd=work,
            )
            if run.returncode != 0:
                raise RuntimeError(run.stderr[-2000:])
            sandbox.http.post("/_sandbox/reset").raise_for_status()
            wall = _bare_client(sandbox.url, bodies)
    print(
        f"no faults, {n} creates: apply {run.wall:.2f} s, bare client {wall:.2f} s "
        f"(ratio {run.wall / wall:.2f}x)"
    )


def _bodies(directory: Path, env: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    import os

    from reconciler.catalog import load_catalog
    from reconciler.secrets import resolve_body, resolved_secrets
    from reconciler.validate import validate_directory

    os.environ.update({k: v for k, v in env.items() if k not in os.environ})
    catalog = load_catalog()
    specs = validate_directory(directory).specs
    found = []
    for spec in specs:
        body = resolve_body(spec, catalog, list(resolved_secrets(spec, catalog)))
        keys = ("service", "service_settings", "task_settings", "chunking_settings")
        found.append(
            (
                f"/_inference/{spec.task_type}/{spec.inference_id}",
                {k: body[k] for k in keys if k in body},
            )
        )
    return found


def _bare_client(url: str, bodies: list[tuple[str, dict[str, Any]]]) -> float:
    """Wall seconds for one httpx client to PUT every body, 8 in flight, no retries."""
    with httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(max_connections=32)) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for answer in pool.map(lambda item: client.put(item[0], json=item[1]), bodies):
                answer.raise_for_status()
        return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
