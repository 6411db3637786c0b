"""Plan against its floor and against a Terraform-style refresh (issue #29); run by hand.

    python tests/benchmarks/plan_floor.py [--sizes 100,1000,10000,50000] [--latency-ms 20]
        [--repeat 3] [--refresh-up-to 50000] [--json FILE]

For each N: writes N specs made from examples/services, starts the sandbox cluster in its own
process, applies them once with no latency (setup, not measured), sets the latency per request,
then measures, as whole processes one after the other and ``--repeat`` times each:

- the floor: ``floor.py``, one process that parses every spec with PyYAML's C loader while
  reading ``GET /_inference/_all`` once on another thread (no plan can do less);
- ``reconciler plan DIR`` (it must print ``No changes.``): wall, CPU and peak memory;

and once, in this process, the refresh: one ``GET /_inference/{id}`` per endpoint, 10 in
flight (what Terraform's provider does before planning). Prints the medians and the ratios
plan / floor and refresh / plan from this one run, with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks import inprocess, workload  # noqa: E402
from tests.benchmarks.processes import (  # noqa: E402
    Sandbox,
    child_environment,
    run_cli,
    warm_bytecode,
)
from tests.benchmarks.report import render  # noqa: E402

FLOOR = Path(__file__).with_name("floor.py")


@dataclass(frozen=True, kw_only=True)
class Figures:
    n: int
    floor: list[float]  # wall seconds of each run
    plan: list[float]
    plan_cpu: list[float]  # user + system seconds of each plan run
    plan_peak_mb: float | None  # the largest of the runs
    refresh: float | None  # wall seconds, one run; None when not measured at this size

    @property
    def floor_median(self) -> float:
        return statistics.median(self.floor)

    @property
    def plan_median(self) -> float:
        return statistics.median(self.plan)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000,50000")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the floor and of plan")
    parser.add_argument(
        "--refresh-up-to", type=int, default=50_000, help="largest N measured with the refresh"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args()
    sizes = [int(text.replace("_", "")) for text in options.sizes.split(",") if text.strip()]
    env = child_environment(workload.secret_environment())
    env["PYTHONPATH"] = str(workload.REPO)  # run from this checkout, wherever the cwd
    warm_bytecode(env)
    load_before = os.getloadavg()
    measured = [
        _measure(
            n,
            latency_ms=options.latency_ms,
            repeat=options.repeat,
            refresh=n <= options.refresh_up_to,
            env=env,
        )
        for n in sizes
    ]
    load_after = os.getloadavg()
    print(
        f"\n{os.cpu_count()} CPUs, load average (1, 5, 15 min) {_load(load_before)} before, "
        f"{_load(load_after)} after; sandbox latency {options.latency_ms:g} ms per request; "
        f"medians of {options.repeat} runs\n"
    )
    print(table(measured))
    if options.json:
        options.json.write_text(json.dumps([asdict(f) for f in measured], indent=1), "utf-8")
    return 0


def table(measured: list[Figures]) -> str:
    lines: list[tuple[str, ...]] = [
        (
            "N",
            "floor s",
            "plan s",
            "plan/floor",
            "refresh s",
            "refresh/plan",
            "plan CPU ms/spec",
            "plan peak MB",
        )
    ]
    for f in measured:
        cpu = statistics.median(f.plan_cpu) / f.n * 1000
        lines.append(
            (
                f"{f.n:,}",
                f"{f.floor_median:.2f}",
                f"{f.plan_median:.2f}",
                f"{f.plan_median / f.floor_median:.2f}x",
                f"{f.refresh:.2f}" if f.refresh is not None else "-",
                f"{f.refresh / f.plan_median:.1f}x" if f.refresh is not None else "-",
                f"{cpu:.3f}",
                f"{f.plan_peak_mb:.0f}" if f.plan_peak_mb is not None else "?",
            )
        )
    return render(lines)


def _measure(
    n: int, *, latency_ms: float, repeat: int, refresh: bool, env: dict[str, str]
) -> Figures:
    print(f"-- N = {n:,}", file=sys.stderr, flush=True)
    work = Path(tempfile.mkdtemp(prefix=f"reconciler-floor-{n}-"))
    try:
        specs = work / "endpoints"
        ids = workload.write_specs(specs, n)
        with Sandbox(data_file=work / "sandbox.json", latency_ms=0, env=env) as sandbox:
            # the examples include the Elastic Inference Service's
            sandbox.http.put("/_sandbox/eis", json={"connected": True}).raise_for_status()
            started = time.perf_counter()
            setup = run_cli(
                ["apply", str(specs), "--url", sandbox.url, "--auto-approve", "--parallelism", "8"],
                env=env,
                cwd=work,
            )
            if setup.returncode != 0:
                raise RuntimeError(
                    f"setup apply exited {setup.returncode}:\n{setup.stdout[-2000:]}{setup.stderr[-2000:]}"
                )
            print(f"   setup apply: {time.perf_counter() - started:.1f} s", file=sys.stderr)
            sandbox.http.put(
                "/_sandbox/latency", json={"latency_ms": latency_ms}
            ).raise_for_status()
            floors: list[float] = []
            plans = []
            for _ in range(repeat):
                floors.append(_floor(specs, sandbox.url, n=n, env=env))
                run = run_cli(["plan", str(specs), "--url", sandbox.url], env=env, cwd=work)
                if run.returncode != 0 or "No changes." not in run.stdout:
                    raise RuntimeError(
                        f"plan exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
                    )
                plans.append(run)
                print(
                    f"   floor {floors[-1]:.2f} s, plan {run.wall:.2f} s "
                    f"(CPU {run.cpu:.2f} s, {run.peak_mb or 0:.0f} MB)",
                    file=sys.stderr,
                    flush=True,
                )
            refreshed = (
                inprocess.refresh_one_by_one(sandbox.url, ids, in_flight=10) if refresh else None
            )
            if refreshed is not None:
                print(f"   refresh {refreshed:.2f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    peaks = [run.peak_mb for run in plans if run.peak_mb is not None]
    return Figures(
        n=n,
        floor=floors,
        plan=[run.wall for run in plans],
        plan_cpu=[run.cpu for run in plans],
        plan_peak_mb=max(peaks) if peaks else None,
        refresh=refreshed,
    )


def _floor(specs: Path, url: str, *, n: int, env: dict[str, str]) -> float:
    command = [sys.executable, str(FLOOR), str(specs), url]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0 or not done.stdout.startswith(f"{n} documents, "):
        raise RuntimeError(f"floor.py: {done.stdout}{done.stderr[-2000:]}")
    return wall


def _load(figures: tuple[float, float, float]) -> str:
    return ", ".join(f"{x:.1f}" for x in figures)


if __name__ == "__main__":
    sys.exit(main())
