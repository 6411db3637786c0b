"""The figures of one benchmark run, the targets of issue #9, and the tables that show both.

Owns what counts as a pass: every target, the size it applies at, and the
comparison. Reads measurements; measures nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from tests.benchmarks.processes import Run


@dataclass(frozen=True, kw_only=True)
class Command:
    run: Run
    requests: int
    sandbox_cpu: float | None = None  # seconds the sandbox process spent answering
    methods: dict[str, int] = field(default_factory=dict)  # "GET /_inference/_all" -> count


@dataclass(frozen=True, kw_only=True)
class SizeResult:
    n: int
    plan_empty: Command
    apply: Command
    plan_applied: Command
    baseline_wall: float
    baseline_requests: int
    validation_cold: float  # CPU seconds, whole directory
    validation_warm: float
    validation_loading: float
    validation_checking: float
    plan_cpu: float  # CPU seconds of build_plan, whole listing

    @property
    def ratio(self) -> float:
        return self.baseline_wall / self.plan_applied.run.wall


@dataclass(frozen=True, kw_only=True)
class Results:
    latency_ms: float
    concurrency: int
    help_wall: float
    sizes: list[SizeResult]
    machine: str
    load: tuple[float, float]  # 1-minute load average before and after

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class Target:
    figure: str
    n: int | None
    measured: float | None
    limit: float
    unit: str
    at_least: bool = False  # ">=" instead of "<="

    @property
    def ok(self) -> bool | None:
        if self.measured is None:
            return None
        return self.measured >= self.limit if self.at_least else self.measured <= self.limit


def targets(results: Results) -> list[Target]:
    rows: list[Target] = []
    by_n = {size.n: size for size in results.sizes}

    def at(
        n: int,
        figure: str,
        value: Callable[[SizeResult], float],
        limit: float,
        unit: str,
        at_least: bool = False,
    ) -> None:
        size = by_n.get(n)
        rows.append(
            Target(
                figure=figure,
                n=n,
                measured=value(size) if size else None,
                limit=limit,
                unit=unit,
                at_least=at_least,
            )
        )

    for size in results.sizes:
        rows.append(
            Target(
                figure="plan requests (empty cluster)",
                n=size.n,
                measured=size.plan_empty.requests,
                limit=3,
                unit="",
            )
        )
        rows.append(
            Target(
                figure="plan requests (no changes)",
                n=size.n,
                measured=size.plan_applied.requests,
                limit=3,
                unit="",
            )
        )
    for n, limit in ((1_000, 1.0), (10_000, 4.0)):
        at(n, "plan wall (empty cluster)", lambda s: s.plan_empty.run.wall, limit, "s")
        at(n, "plan wall (no changes)", lambda s: s.plan_applied.run.wall, limit, "s")
    for n, limit in ((1_000, 5.0), (10_000, 25.0)):
        at(n, "plan vs per-GET baseline", lambda s: s.ratio, limit, "x", at_least=True)
    for size in results.sizes:
        rows.append(
            Target(
                figure="normalise+diff+plan CPU",
                n=size.n,
                measured=size.plan_cpu / size.n * 1000,
                limit=0.1,
                unit="ms/endpoint",
            )
        )
        rows.append(
            Target(
                figure="validation CPU (warm)",
                n=size.n,
                measured=size.validation_warm / size.n * 1000,
                limit=0.2,
                unit="ms/spec",
            )
        )
    at(
        10_000,
        "peak memory (max of plan/apply)",
        lambda s: max(c.run.peak_mb or 0.0 for c in (s.plan_empty, s.apply, s.plan_applied)),
        300,
        "MB",
    )
    bound = 1_000 * results.latency_ms / 1000 / results.concurrency
    at(
        1_000,
        f"apply 1,000 creates (bound {bound:.2f} s x 1.2)",
        lambda s: s.apply.run.wall,
        round(bound * 1.2, 3),
        "s",
    )
    rows.append(
        Target(
            figure="reconciler --help (median of 5)",
            n=None,
            measured=results.help_wall,
            limit=0.3,
            unit="s",
        )
    )
    return rows


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "not measured"
    if unit == "":
        return f"{value:.0f}"
    if unit == "x":
        return f"{value:.1f}x"
    if unit.startswith("ms"):
        return f"{value:.3f} {unit}"
    return f"{value:.2f} {unit}"


def figures_table(results: Results) -> str:
    header = ("N", "command", "wall s", "requests", "peak MB", "CPU ms/endpoint", "sandbox CPU s")
    lines: list[tuple[str, ...]] = [header]
    for size in results.sizes:
        for name, command in (
            ("plan, empty cluster", size.plan_empty),
            ("apply --auto-approve", size.apply),
            ("plan, no changes", size.plan_applied),
        ):
            run = command.run
            peak = f"{run.peak_mb:.0f}" if run.peak_mb is not None else "?"
            sandbox = f"{command.sandbox_cpu:.2f}" if command.sandbox_cpu is not None else "?"
            lines.append(
                (
                    f"{size.n:,}",
                    name,
                    f"{run.wall:.2f}",
                    str(command.requests),
                    peak,
                    f"{run.cpu / size.n * 1000:.3f}",
                    sandbox,
                )
            )
        lines.append(
            (
                f"{size.n:,}",
                "baseline: GET per endpoint, 10 in flight",
                f"{size.baseline_wall:.2f}",
                str(size.baseline_requests),
                "",
                f"(plan {size.ratio:.1f}x faster)",
                "",
            )
        )
        per = 1000 / size.n
        lines.append(
            (
                f"{size.n:,}",
                "in-process validation, warm (YAML + schema)",
                f"{size.validation_warm:.2f}",
                "",
                "",
                f"{size.validation_warm * per:.3f} ({size.validation_loading * per:.3f} + "
                f"{size.validation_checking * per:.3f})",
                "",
            )
        )
        lines.append(
            (
                f"{size.n:,}",
                "in-process normalise+diff+plan",
                f"{size.plan_cpu:.3f}",
                "",
                "",
                f"{size.plan_cpu * per:.4f}",
                "",
            )
        )
    return render(lines)


def targets_table(results: Results) -> str:
    lines: list[tuple[str, ...]] = [("figure", "N", "measured", "target", "")]
    for target in targets(results):
        sign = ">=" if target.at_least else "<="
        verdict = {True: "ok", False: "MISS", None: "-"}[target.ok]
        lines.append(
            (
                target.figure,
                f"{target.n:,}" if target.n else "-",
                _number(target.measured, target.unit),
                f"{sign} {_number(target.limit, target.unit)}",
                verdict,
            )
        )
    return render(lines)


def render(lines: list[tuple[str, ...]]) -> str:
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    rendered = []
    for index, line in enumerate(lines):
        rendered.append(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
        if index == 0:
            rendered.append("  ".join("-" * width for width in widths))
    return "\n".join(rendered)
