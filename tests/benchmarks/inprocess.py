"""Figures measured inside this process: validation, planning, and the per-GET baseline.

Owns the CPU cost of the pure stages (``validate_directory`` per spec;
``build_plan``, i.e. normalise + diff + plan, per endpoint against a live
listing fetched from the sandbox) and the baseline that refreshes one
endpoint per ``GET /_inference/{id}`` with a fixed number in flight, as
Terraform's provider does.
"""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reconciler.catalog import load_catalog
from reconciler.loader import load_directory
from reconciler.model import EndpointSpec, LiveEndpoint
from reconciler.plan import Action
from reconciler.planner import build_plan
from reconciler.validate import validate_directory, validate_documents


@dataclass(frozen=True, kw_only=True)
class Validation:
    specs: tuple[EndpointSpec, ...]
    cold: float  # CPU seconds of the first call (builds the validator and catalog)
    warm: float  # CPU seconds of a later call
    loading: float  # of ``warm``: reading and parsing YAML
    checking: float  # of ``warm``: schema and cross-document checks


def cpu(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.process_time()
    result = work()
    return time.process_time() - started, result


def measure_validation(directory: Path) -> Validation:
    cold, _ = cpu(lambda: validate_directory(directory))
    loading, loaded = cpu(lambda: load_directory(directory))
    checking, result = cpu(lambda: validate_documents(*loaded))
    if not result.ok:
        raise RuntimeError(f"generated specs do not validate: {result.diagnostics[:3]}")
    warm, _ = cpu(lambda: validate_directory(directory))
    return Validation(specs=result.specs, cold=cold, warm=warm, loading=loading, checking=checking)


def measure_plan(
    specs: tuple[EndpointSpec, ...], listing: list[dict[str, Any]], *, version: str, repeat: int = 3
) -> float:
    """Best CPU seconds of ``build_plan`` over ``repeat`` runs; every change must be a no-op."""
    live = tuple(sorted((LiveEndpoint.from_api(d) for d in listing), key=lambda e: e.inference_id))
    catalog = load_catalog()
    managed = frozenset(spec.inference_id for spec in specs)
    best = float("inf")
    for _ in range(repeat):
        seconds, plan = cpu(
            lambda: build_plan(
                specs=specs, live=live, catalog=catalog, cluster_version=version, managed=managed
            )
        )
        best = min(best, seconds)
    writes = [c for c in plan.changes if c.action is not Action.NOOP]
    if writes:
        raise RuntimeError(
            f"{len(writes)} changes planned against the applied listing, e.g. {writes[0]}"
        )
    return best


def refresh_one_by_one(url: str, ids: tuple[str, ...], *, in_flight: int = 10) -> float:
    """Wall seconds to read every endpoint with its own GET, ``in_flight`` at a time."""
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def read(inference_id: str) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=60)
            with lock:
                clients.append(client)
        client.get(f"/_inference/{inference_id}").raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        list(pool.map(read, ids))
    wall = time.perf_counter() - started
    for client in clients:
        client.close()
    return wall


def help_startup(command: list[str], *, env: dict[str, str], runs: int = 5) -> float:
    """Median wall seconds of ``COMMAND --help``."""
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*command, "--help"], capture_output=True, check=True, env=env)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)
