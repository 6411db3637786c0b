"""Plan against its floor and against a Terraform-style refresh (issue #29); run by hand.

    python tests/benchmarks/plan_floor.py [--sizes 100,1000,10000,50000] [--latency-ms 20]
        [--repeat 3] [--refresh-up-to 10000] [--before CHECKOUT] [--json FILE]

For each N: writes N specs made from examples/services and brings a sandbox cluster (its own
process) to the state an apply of them leaves: one spec of each example is applied with the
CLI, and the data file is then filled in for the others (each a copy of its example's endpoint
and state entry under its own id; applying 50,000 one by one would take longer than all the
rest). The sandbox then answers with the given latency per request, and these run as whole
processes, one after the other, ``--repeat`` times each:

- the floor: ``floor.py``, one process that parses every spec with PyYAML's C loader while
  reading ``GET /_inference/_all`` once on another thread (no plan can do less);
- ``reconciler plan DIR`` from this checkout (it must print ``No changes.``);
- with ``--before``, the same plan from another checkout (e.g. ``git archive`` of main before
  a change), so that before and after are measured side by side under the same load;

and once, in this process, the refresh: one ``GET /_inference/{id}`` per endpoint, 10 in
flight (what Terraform's provider does before planning), up to ``--refresh-up-to``
endpoints (at 20 ms it costs N x 2 ms: 100 s at 50,000). Prints medians and the ratios plan /
floor and refresh / plan from this one run, wall and CPU, with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reconciler.sandbox.store import read_data_file  # noqa: E402
from tests.benchmarks import inprocess, workload  # noqa: E402
from tests.benchmarks.processes import (  # noqa: E402
    Run,
    Sandbox,
    child_environment,
    run_cli,
    run_command,
    warm_bytecode,
)
from tests.benchmarks.report import render  # noqa: E402

FLOOR = Path(__file__).with_name("floor.py")


@dataclass(frozen=True, kw_only=True)
class Runs:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system
    peak_mb: list[float] = field(default_factory=list)

    def add(self, run: Run) -> None:
        self.wall.append(run.wall)
        self.cpu.append(run.cpu)
        if run.peak_mb is not None:
            self.peak_mb.append(run.peak_mb)

    @property
    def median_wall(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)

    @property
    def peak(self) -> str:
        return f"{max(self.peak_mb):.0f}" if self.peak_mb else "?"


@dataclass(frozen=True, kw_only=True)
class Figures:
    n: int
    floor: Runs
    plan: Runs
    before: Runs | None
    refresh: float | None  # wall seconds, one run; None when not measured at this size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000,50000")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the floor and of plan")
    parser.add_argument(
        "--refresh-up-to", type=int, default=10_000, help="largest N measured with the refresh"
    )
    parser.add_argument("--before", type=Path, help="another checkout whose plan runs alongside")
    parser.add_argument(
        "--scrypt",
        action="store_true",
        help="leave RECONCILER_FINGERPRINT_KEY unset: each distinct secret costs one scrypt "
        "derivation (tests/benchmarks/fingerprints.py measures those)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args()
    sizes = [int(text.replace("_", "")) for text in options.sizes.split(",") if text.strip()]
    env = child_environment(workload.secret_environment())
    env["PYTHONPATH"] = str(workload.REPO)  # run from this checkout, wherever the cwd
    if not options.scrypt:  # the examples hold ~30 distinct secrets: scrypt would be most of N=100
        env["RECONCILER_FINGERPRINT_KEY"] = "bench-" + "0" * 40
    else:
        env.pop("RECONCILER_FINGERPRINT_KEY", None)
    warm_bytecode(env)
    before_env = None
    if options.before is not None:
        before_env = {**env, "PYTHONPATH": str(options.before.resolve())}
        warm_bytecode(before_env)
    load_before = os.getloadavg()
    measured = []
    for n in sizes:
        measured.append(
            _measure(
                n,
                latency_ms=options.latency_ms,
                repeat=options.repeat,
                refresh=n <= options.refresh_up_to,
                env=env,
                before_env=before_env,
            )
        )
        print(table(measured[-1:]), file=sys.stderr, flush=True)
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
            "command",
            "wall s",
            "CPU s",
            "peak MB",
            "wall / floor",
            "CPU / floor",
            "refresh / wall",
        )
    ]
    for f in measured:
        rows = [("floor (parse + listing)", f.floor), ("plan", f.plan)]
        if f.before is not None:
            rows.append(("plan, before", f.before))
        for name, runs in rows:
            lines.append(
                (
                    f"{f.n:,}",
                    name,
                    f"{runs.median_wall:.2f}",
                    f"{runs.median_cpu:.2f}",
                    runs.peak,
                    f"{runs.median_wall / f.floor.median_wall:.2f}x",
                    f"{runs.median_cpu / f.floor.median_cpu:.2f}x",
                    f"{f.refresh / runs.median_wall:.1f}x" if f.refresh is not None else "-",
                )
            )
        refresh = f"{f.refresh:.2f}" if f.refresh is not None else "not measured"
        lines.append((f"{f.n:,}", "refresh: GET per endpoint, 10 in flight", refresh))
    width = len(lines[0])
    return render([line + ("",) * (width - len(line)) for line in lines])


def _measure(
    n: int,
    *,
    latency_ms: float,
    repeat: int,
    refresh: bool,
    env: dict[str, str],
    before_env: dict[str, str] | None,
) -> Figures:
    print(f"-- N = {n:,}", file=sys.stderr, flush=True)
    work = Path(tempfile.mkdtemp(prefix=f"reconciler-floor-{n}-"))
    try:
        specs = work / "endpoints"
        data = work / "sandbox.json"
        started = time.perf_counter()
        ids = _applied_state(work, specs, data, n=n, env=env)
        print(f"   setup: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        floor, plan, before = Runs(), Runs(), (Runs() if before_env is not None else None)
        with Sandbox(data_file=data, latency_ms=latency_ms, env=env) as sandbox:
            _connect_eis(sandbox)
            url = sandbox.url
            for _ in range(repeat):
                floor.add(
                    _checked(
                        run_command([sys.executable, str(FLOOR), str(specs), url], env=env),
                        f"{n} documents",
                    )
                )
                plan.add(
                    _checked(
                        run_cli(["plan", str(specs), "--url", url], env=env, cwd=work),
                        "No changes.",
                    )
                )
                if before is not None and before_env is not None:
                    before.add(
                        _checked(
                            run_cli(["plan", str(specs), "--url", url], env=before_env, cwd=work),
                            "No changes.",
                        )
                    )
                print(
                    f"   floor {floor.wall[-1]:.2f} s, plan {plan.wall[-1]:.2f} s"
                    + (f", before {before.wall[-1]:.2f} s" if before else ""),
                    file=sys.stderr,
                    flush=True,
                )
            refreshed = inprocess.refresh_one_by_one(url, ids, in_flight=10) if refresh else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Figures(n=n, floor=floor, plan=plan, before=before, refresh=refreshed)


def _applied_state(
    work: Path, specs: Path, data: Path, *, n: int, env: dict[str, str]
) -> tuple[str, ...]:
    """Write N specs; leave in ``data`` the sandbox an apply of all of them would leave."""
    templates = workload.templates()
    seeds = min(n, len(templates))
    workload.write_specs(specs, seeds)
    with Sandbox(data_file=data, latency_ms=0, env=env) as sandbox:
        _connect_eis(sandbox)
        setup = run_cli(
            ["apply", str(specs), "--url", sandbox.url, "--auto-approve", "--parallelism", "8"],
            env=env,
            cwd=work,
        )
        if setup.returncode != 0:
            raise RuntimeError(f"setup apply exited {setup.returncode}:\n{setup.stderr[-2000:]}")
    ids = workload.write_specs(specs, n)
    store = read_data_file(data)  # its document, with the journal after it replayed
    (state,) = [
        doc["_source"]
        for index in store["indices"].values()
        for doc in index["docs"].values()
        if isinstance(doc.get("_source"), dict) and "managed" in doc["_source"]
    ]
    for number in range(seeds, n):
        seed_id, new_id = ids[number % seeds], ids[number]
        endpoint = json.loads(json.dumps(store["endpoints"][seed_id]))
        endpoint["config"]["inference_id"] = new_id
        store["endpoints"][new_id] = endpoint
        state["managed"][new_id] = state["managed"][seed_id]
    data.write_text(json.dumps(store), encoding="utf-8")
    return ids


def _connect_eis(sandbox: Sandbox) -> None:
    """The examples include the Elastic Inference Service's: the sandbox offers it."""
    sandbox.http.put("/_sandbox/eis", json={"connected": True}).raise_for_status()


def _checked(run: Run, expect: str) -> Run:
    if run.returncode != 0 or expect not in run.stdout:
        raise RuntimeError(f"exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    return run


def _load(figures: tuple[float, float, float]) -> str:
    return ", ".join(f"{x:.1f}" for x in figures)


if __name__ == "__main__":
    sys.exit(main())
