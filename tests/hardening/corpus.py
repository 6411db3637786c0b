"""Shared pieces of the hardening tests: spec texts with known line numbers, and running many CLI calls at once.

The seed specs below are written as text (not dumped from dicts) so that the tests can name the
exact line a problem is on. ``run_parallel`` runs independent jobs a few at a time (the CLI runs
of different jobs take turns, ``tests/e2e/helpers.py``; what a job does around them overlaps).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from tests.e2e.helpers import ONE_AT_A_TIME, Run, run_cli
from tests.specs import AZURE as VALIDATE_AZURE
from tests.specs import SHIFT as VALIDATE_SHIFT

AZURE_SECRET = "azk-HARDEN-3f9c1a7e-distinctive"
SHIFT_SECRET = "osk-HARDEN-8b2d4e6f-distinctive"
SECRET_ENV = {"AZURE_KEY": AZURE_SECRET, "SHIFT_KEY": SHIFT_SECRET}

# the same seed-service specs the validate tests use (SHIFT without return_documents)
AZURE = VALIDATE_AZURE
SHIFT = VALIDATE_SHIFT.replace("  return_documents: true\n", "")

T = TypeVar("T")


def run_parallel(jobs: Iterable[Callable[[], T]], workers: int = 4) -> list[T]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [future.result() for future in futures]


def timed_cli(*args: str, **kwargs: Any) -> tuple[Run, float]:
    """A run and how long the command took (not how long it waited for another run's turn)."""
    with ONE_AT_A_TIME:
        started = time.monotonic()
        result = run_cli(*args, **kwargs)
        return result, time.monotonic() - started


def inference_writes(log: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Requests that created, changed or deleted an endpoint (dry runs excluded)."""
    return [
        (r["method"], r["path"])
        for r in log
        if r["method"] in ("PUT", "POST", "DELETE")
        and r["path"].startswith("/_inference/")
        and "dry_run" not in r.get("query", {})
    ]
