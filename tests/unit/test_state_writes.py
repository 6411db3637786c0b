"""How often apply writes its outcomes to the state document: a bounded number of times per
run, whatever its size (each write holds every entry, so a write per N outcomes, or per few
seconds of a long run, would cost more than linear in the changes)."""

from __future__ import annotations

import pytest

from reconciler.apply import STATE_SECONDS, STATE_WRITES, write_due


def writes(total: int, *, seconds_apart: float, cost: float, in_flight: int = 8) -> int:
    """The intermediate writes of a run whose ``total`` outcomes arrive ``seconds_apart``, each
    state write taking ``cost`` seconds, ``in_flight`` changes at once."""
    count, unrecorded, elapsed = 0, 0, 0.0
    for done in range(1, total + 1):
        unrecorded += 1
        elapsed += seconds_apart
        left = total - done
        if write_due(
            unrecorded, total=total, elapsed=elapsed, cost=cost, left=left, in_flight=in_flight
        ):
            count, unrecorded, elapsed = count + 1, 0, cost
    return count


@pytest.mark.parametrize("total", [10, 1_000, 100_000])
def test_a_slow_run_writes_at_most_a_fixed_number_of_times(total: int) -> None:
    # an outcome a minute: every write would be due by time alone
    assert writes(total, seconds_apart=60.0, cost=0.5) <= STATE_WRITES


def test_a_fast_run_writes_no_more_often_than_every_few_seconds() -> None:
    # 10,000 outcomes in 10 s: one write per STATE_SECONDS (5 s), not ten by count
    assert STATE_SECONDS == 5.0
    assert writes(10_000, seconds_apart=0.001, cost=0.05) == 2


def test_writing_takes_at_most_a_tenth_of_the_run() -> None:
    # each write takes 3 s: at most one per 30 s of outcomes
    assert writes(1_000, seconds_apart=0.1, cost=3.0) <= 100 / 30


def test_no_write_is_made_when_only_the_changes_in_flight_are_left() -> None:
    # 10 outcomes, one a minute: each is due by time and count, except when what is left to
    # come is the changes in flight: the end write follows them at once
    assert writes(10, seconds_apart=60.0, cost=0.5, in_flight=2) == 7
    assert writes(10, seconds_apart=60.0, cost=0.5, in_flight=8) == 1
