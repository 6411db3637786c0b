"""`--retry-for` durations, and the run-wide policy's limit on what is in flight (threads, no HTTP)."""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.errors import GaveUp, HTTPError
from reconciler.retry import RetryPolicy, Transient, format_seconds, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300),
        ("90s", 90),
        ("1m30s", 90),
        ("2h", 7200),
        ("45", 45),
        ("0.5s", 0.5),
        (" 10M ", 600),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "m", "-5s", "1s5m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(300, "5m"), (90, "1m30s"), (3, "3s"), (0.5, "0.5s")]
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def overloaded(status: int = 503) -> Transient:
    error = HTTPError(status=status, method="PUT", path="/_inference/x")
    return Transient(error, reason=f"the cluster answered {status}", overload=True)


def test_an_overloaded_cluster_halves_what_is_in_flight_and_grows_it_back() -> None:
    policy = RetryPolicy(retry_for=30)
    lock = threading.Lock()
    in_flight, peaks, refusals = [0], [], [8]
    first_round = threading.Barrier(8)  # the first 8 attempts are in flight together, on any load

    def attempt() -> str:
        with lock:
            in_flight[0] += 1
            peaks.append(in_flight[0])
            first = len(peaks) <= 8
            refuse = refusals[0] > 0
            refusals[0] -= 1 if refuse else 0
        if first:
            first_round.wait(timeout=10)
        time.sleep(0.02)
        with lock:
            in_flight[0] -= 1
        if refuse:
            raise overloaded()
        return "ok"

    threads = [
        threading.Thread(target=lambda: [policy.run(attempt) for _ in range(6)]) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peaks[:8] == sorted(peaks[:8]) and max(peaks[:8]) == 8  # no limit before trouble
    after_cut = peaks[8:16]
    assert max(after_cut) <= 4, peaks  # the 8 refusals of one round cut the limit once, to 4
    assert max(peaks[24:]) >= 5, peaks  # and successes grew it back past the cut


def test_a_cluster_that_never_recovers_is_given_up_after_the_budget() -> None:
    policy = RetryPolicy(retry_for=0.6)
    started = time.monotonic()

    def attempt() -> str:
        raise overloaded()

    with pytest.raises(
        GaveUp, match=r"returned HTTP 503.*gave up after 0.6s of retries \(--retry-for\)"
    ):
        policy.run(attempt)
    assert 0.6 <= time.monotonic() - started < 2.0
    with pytest.raises(GaveUp):
        policy.run(attempt)  # a newcomer is let through once (nothing in flight), then given up


def test_the_wait_of_a_failed_attempt_is_counted_in_the_budget() -> None:
    # a create told it may take 100 s that then times out has spent 100 s of a 60 s --retry-for:
    # it is not sent again (counted from when it was sent, not from when it failed)
    now = [1000.0]
    policy = RetryPolicy(retry_for=60, clock=lambda: now[0])
    policy._ever_answered = True  # the cluster answered earlier in the run
    attempts = []

    def attempt() -> str:
        attempts.append(now[0])
        now[0] += 100.0
        error = HTTPError(status=504, method="PUT", path="/_inference/x")
        raise Transient(error, reason="a request timed out", costly=True)

    with pytest.raises(GaveUp, match="--retry-for"):
        policy.run(attempt)
    assert attempts == [1000.0]
