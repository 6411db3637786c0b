"""Benchmarks for issue #9 ("Speed: benchmarks and targets"); run by hand, not by pytest.

    python tests/benchmarks/run.py [--sizes 100,1000,10000] [--latency-ms 20]

For each N: writes N specs made from examples/services into a temporary
directory, starts the sandbox cluster in its own process (with the given
latency per request), then runs the CLI as a whole process for ``plan``
(empty cluster), ``apply --auto-approve`` and ``plan`` again (``No
changes.``), measuring wall time, requests seen by the sandbox, peak memory
and CPU; then, in this process, the CPU of validation and of normalise +
diff + plan, and a baseline that reads each endpoint with its own GET, 10
in flight. Prints the figures and a table of each figure against its target.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks import inprocess, workload  # noqa: E402
from tests.benchmarks.processes import (  # noqa: E402
    Sandbox,
    child_environment,
    entry_point,
    run_cli,
    warm_bytecode,
)
from tests.benchmarks.report import (  # noqa: E402
    Command,
    Results,
    SizeResult,
    figures_table,
    targets_table,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000", help="comma-separated numbers of endpoints")
    parser.add_argument(
        "--latency-ms", type=float, default=20.0, help="sandbox latency per request"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="apply --parallelism (the bound uses it)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the generated directories")
    options = parser.parse_args()
    sizes = [int(text.replace("_", "")) for text in options.sizes.split(",") if text.strip()]

    env = child_environment(workload.secret_environment())
    warm_bytecode(env)
    load_before = os.getloadavg()[0]
    measured = []
    for n in sizes:
        print(f"-- N = {n:,}", file=sys.stderr, flush=True)
        measured.append(
            _measure_size(
                n,
                latency_ms=options.latency_ms,
                concurrency=options.concurrency,
                env=env,
                keep=options.keep,
            )
        )
    help_wall = inprocess.help_startup(entry_point(), env=env)
    results = Results(
        latency_ms=options.latency_ms,
        concurrency=options.concurrency,
        help_wall=help_wall,
        sizes=measured,
        machine=_machine(),
        load=(load_before, os.getloadavg()[0]),
    )
    print(
        f"\nMachine: {results.machine}; load average {results.load[0]:.1f} before, {results.load[1]:.1f} "
        f"after; sandbox latency {options.latency_ms:g} ms per request; apply --parallelism "
        f"{options.concurrency}\n"
    )
    print(figures_table(results))
    print()
    print(targets_table(results), flush=True)
    if options.json:
        options.json.write_text(json.dumps(results.to_json(), indent=1), encoding="utf-8")
    return 0


def _measure_size(
    n: int, *, latency_ms: float, concurrency: int, env: dict[str, str], keep: bool
) -> SizeResult:
    work = Path(tempfile.mkdtemp(prefix=f"reconciler-bench-{n}-"))
    specs_dir = work / "endpoints"
    ids = workload.write_specs(specs_dir, n)
    with Sandbox(data_file=work / "sandbox.json", latency_ms=latency_ms, env=env) as sandbox:
        url = ["--url", sandbox.url]

        def measured(arguments: list[str], expect: str) -> Command:
            sandbox.clear_requests()
            cpu_before = sandbox.cpu_seconds()
            run = run_cli(arguments, env=env, cwd=work)
            cpu_after = sandbox.cpu_seconds()
            if run.returncode != 0 or expect not in run.stdout:
                raise RuntimeError(
                    f"{' '.join(arguments)} exited {run.returncode}:\n{run.stdout[-2000:]}\n"
                    f"{run.stderr[-2000:]}"
                )
            seen = sandbox.requests()
            methods = collections.Counter(f"{r['method']} {_shape(r['path'])}" for r in seen)
            sandbox_cpu = (
                cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
            )
            return Command(
                run=run, requests=len(seen), methods=dict(methods), sandbox_cpu=sandbox_cpu
            )

        plan_empty = measured(["plan", str(specs_dir), *url], f"Plan: {n} to create")
        print(f"   plan (empty cluster): {plan_empty.run.wall:.2f} s", file=sys.stderr, flush=True)
        applied = measured(
            ["apply", str(specs_dir), *url, "--auto-approve", "--parallelism", str(concurrency)],
            f"Apply complete: {n} created",
        )
        print(f"   apply: {applied.run.wall:.2f} s", file=sys.stderr, flush=True)
        plan_applied = measured(["plan", str(specs_dir), *url], "No changes.")
        print(f"   plan (no changes): {plan_applied.run.wall:.2f} s", file=sys.stderr, flush=True)

        listing = [e for e in sandbox.listing() if e["inference_id"] in set(ids)]
        version = sandbox.http.get("/").json()["version"]["number"]
        sandbox.clear_requests()
        baseline_wall = inprocess.refresh_one_by_one(sandbox.url, ids, in_flight=10)
        baseline_requests = len(sandbox.requests())
        print(f"   baseline: {baseline_wall:.2f} s", file=sys.stderr, flush=True)
    validation = inprocess.measure_validation(specs_dir)
    plan_cpu = inprocess.measure_plan(validation.specs, listing, version=version)
    if not keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"   kept {work}", file=sys.stderr)
    for name, command in (
        ("plan, empty", plan_empty),
        ("apply", applied),
        ("plan, no changes", plan_applied),
    ):
        print(f"   {name} requests: {dict(sorted(command.methods.items()))}", file=sys.stderr)
    return SizeResult(
        n=n,
        plan_empty=plan_empty,
        apply=applied,
        plan_applied=plan_applied,
        baseline_wall=baseline_wall,
        baseline_requests=baseline_requests,
        validation_cold=validation.cold,
        validation_warm=validation.warm,
        validation_loading=validation.loading,
        validation_checking=validation.checking,
        plan_cpu=plan_cpu,
    )


def _shape(path: str) -> str:
    """``/_inference/text_embedding/x-00001`` -> ``/_inference/{task_type}/{id}``, to count by kind."""
    parts = path.strip("/").split("/")
    if parts[0] == "_inference" and len(parts) == 2 and parts[1] != "_all":
        return "/_inference/{id}"
    if parts[0] == "_inference" and len(parts) >= 3:
        return "/" + "/".join(["_inference", "{task_type}", "{id}", *parts[3:]])
    if len(parts) >= 3 and parts[1] == "_doc":
        return f"/{parts[0]}/_doc/{{id}}"
    return path


def _machine() -> str:
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    sys.exit(main())
