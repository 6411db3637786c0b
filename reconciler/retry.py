"""The run-wide retry policy: how every request of one run behaves while the cluster is in trouble.

Overload is the cluster's state, not one request's, so one `RetryPolicy` (held
by the `Client`) governs every request a run sends, from every thread:

- a concurrency limit, halved when the cluster answers 429 or 503 (once per
  round of requests: answers to requests sent before the last cut do not cut
  again) and grown back by one per round of successes (additive increase,
  multiplicative decrease, as TCP does);
- a pause shared by every request: ``Retry-After`` when the cluster sends it,
  else exponential backoff with jitter over consecutive overloaded rounds,
  capped at `MAX_PAUSE` (a cluster in trouble sees about one request a second);
- a shared retry budget: a token bucket as in the AWS SDKs' standard and
  adaptive retry modes (500 tokens, a retry costs 5, a retry after a timeout
  or a dropped connection 10, a success earns 1 back, a retry that succeeds
  its cost). Where the SDKs fail a retry the bucket cannot pay for, this one
  waits: the bucket also refills with time (`REFILL_PER_SECOND`), so an empty
  bucket slows retries down to one a second instead of failing the run;
- a time budget (``--retry-for``): a request is given up once the cluster has
  answered nothing but transient failures for that long (or once that request
  alone has failed for that long, counted from when its first failed attempt
  was sent: a create that waited its whole ``timeout`` has spent that wait). Then requests that are waiting fail at
  once without being sent, and a newcomer is sent only when nothing else is in
  flight (one probe at a time: a success ends the trouble). Until the cluster
  has answered once in this run, failing to reach it is retried for at most
  `FIRST_CONTACT` seconds: a closed port is more often a wrong URL than a busy
  cluster.

Errors that a retry cannot heal are never retried: the caller raises them
itself, and they count as answers (the cluster is up). Owns none of HTTP:
``client.py`` classifies each attempt and sends it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from reconciler.errors import ClusterError, GaveUp, HTTPError

log = logging.getLogger("reconciler.http")
T = TypeVar("T")
WaitReport = Callable[
    [float, str], None
]  # (seconds, reason), e.g. (4.0, "the cluster answered 429")

MAX_LIMIT = 256.0  # no cap of our own: the caller's thread count bounds what is in flight
BASE_PAUSE = 0.25  # seconds of the first pause of an overload episode; doubles per round
MAX_PAUSE = 1.0
MAX_RETRY_AFTER = 60.0  # a Retry-After beyond this is treated as this
BASE_BACKOFF = 0.25  # a request's own backoff after a non-overload failure (a drop, a 502)
MAX_BACKOFF = 8.0
BUCKET = 500.0
RETRY_COST = 5.0
COSTLY_RETRY_COST = 10.0
SUCCESS_REFUND = 1.0
REFILL_PER_SECOND = RETRY_COST  # one retry a second once the bucket is empty
FIRST_CONTACT = 10.0  # seconds of retries before the cluster has answered once in this run
REPORT_EVERY = 5.0  # seconds between two progress lines for the same reason


class Transient(Exception):
    """One attempt failed in a way a retry may heal; raised by the attempt, caught here."""

    def __init__(
        self,
        error: ClusterError,
        *,
        reason: str,
        overload: bool = False,
        retry_after: float | None = None,
        costly: bool = False,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.reason = reason  # what the user sees: "the cluster answered 503"
        self.overload = overload  # 429 / 503: the cluster says it is overloaded
        self.retry_after = retry_after
        self.costly = costly  # a timeout or a dropped connection: it may have cost the cluster work


@dataclass(kw_only=True)
class _Request:
    """One request's own retry state."""

    retrying: bool = False
    attempts: int = 0
    first_failure: float | None = None
    sent_at: float = 0.0  # when the latest attempt was sent
    not_before: float = 0.0
    cost: float = 0.0
    last_error: ClusterError | None = None


class RetryPolicy:
    def __init__(
        self,
        *,
        retry_for: float = 300.0,
        on_wait: WaitReport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retry_for = retry_for
        self.on_wait = on_wait
        self._clock = clock
        self._lock = threading.Condition()
        self.limit = MAX_LIMIT
        self.in_flight = 0
        self._round = 0  # bumped at every cut of the limit
        self._overloaded_rounds = 0  # consecutive cuts without a success between them
        self._resume_at = 0.0
        self._tokens = BUCKET
        self._refilled_at = clock()
        self._trouble_since: float | None = None  # first transient failure since the last answer
        self._last_reason = ""
        self._ever_answered = False
        self._reported: tuple[str, float] = ("", float("-inf"))

    def run(self, attempt: Callable[[], T]) -> T:
        """Call ``attempt`` until it returns, raises a non-transient error, or the budget is spent."""
        request = _Request()
        while True:
            sent_in = self._enter(request)
            try:
                result = attempt()
            except Transient as failure:
                self._failed(request, sent_in, failure)
                continue
            except HTTPError:
                self._answered(request)  # a non-transient answer: the cluster is up
                raise
            except BaseException:
                self._release()  # a failure of ours or one no retry heals (TLS): no verdict
                raise
            self._answered(request)
            return result

    # -- bookkeeping, under the lock -----------------------------------------------------------

    def _enter(self, request: _Request) -> int:
        """Wait until this request may be sent; the round it is sent in."""
        with self._lock:
            while True:
                now = self._clock()
                self._refill(now)
                budget_left = self._budget_left(request, now)
                if budget_left <= 0:
                    if self.in_flight > 0 or request.retrying:
                        raise self._give_up(request)
                    if self._resume_at <= now:
                        break  # the one probe that may end the trouble
                    self._lock.wait(timeout=self._resume_at - now)
                    continue
                waits = [self._resume_at - now, request.not_before - now]
                if request.retrying and self._tokens < request.cost:
                    waits.append((request.cost - self._tokens) / REFILL_PER_SECOND)
                wait = max(waits)
                if wait <= 0 and self.in_flight < max(1, int(self.limit)):
                    break
                timeout = min(wait if wait > 0 else float("inf"), budget_left)
                self._lock.wait(timeout=timeout if timeout != float("inf") else None)
            if request.retrying:
                self._tokens -= request.cost
            self.in_flight += 1
            request.attempts += 1
            request.sent_at = self._clock()
            return self._round

    def _failed(self, request: _Request, sent_in: int, failure: Transient) -> None:
        report: tuple[float, str] | None = None
        with self._lock:
            now = self._clock()
            self.in_flight -= 1
            if self._trouble_since is None:
                self._trouble_since = now
            if request.first_failure is None:  # the attempt's own wait counts (a create's timeout)
                request.first_failure = min(now, request.sent_at)
            request.retrying = True
            request.cost = COSTLY_RETRY_COST if failure.costly else RETRY_COST
            request.last_error = failure.error
            self._ever_answered |= isinstance(failure.error, HTTPError)  # a 503 is an answer too
            self._last_reason = failure.reason
            pause = None
            if failure.overload and sent_in == self._round:
                self._round += 1
                self._overloaded_rounds += 1
                self.limit = max(1.0, min(self.limit, self.in_flight + 1) / 2)
                pause = self._pause(failure.retry_after)
            elif failure.retry_after is not None:
                pause = min(MAX_RETRY_AFTER, failure.retry_after)
            if pause is not None and now + pause > self._resume_at:
                report = self._report(pause, failure.reason, now, new=self._resume_at <= now)
                self._resume_at = now + pause
            if not failure.overload:
                ceiling = min(MAX_BACKOFF, BASE_BACKOFF * 2 ** (request.attempts - 1))
                request.not_before = now + random.uniform(ceiling / 2, ceiling)
            self._lock.notify_all()
        log.debug(
            "attempt %d failed (%s), will retry; %d in flight at once: %s",
            request.attempts,
            failure.reason,
            max(1, int(self.limit)),
            failure.error,
        )
        if report is not None and self.on_wait is not None:
            self.on_wait(*report)

    def _answered(self, request: _Request) -> None:
        with self._lock:
            busy = self.in_flight
            self.in_flight -= 1
            self._trouble_since = None
            self._overloaded_rounds = 0
            self._ever_answered = True
            self._tokens = min(BUCKET, self._tokens + (request.cost or SUCCESS_REFUND))
            if busy >= int(self.limit) and self.limit < MAX_LIMIT:
                self.limit += 1.0 / self.limit  # one more per round of successes
            self._lock.notify_all()

    def _release(self) -> None:
        with self._lock:
            self.in_flight -= 1
            self._lock.notify_all()

    def _pause(self, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(MAX_RETRY_AFTER, retry_after)
        ceiling = min(MAX_PAUSE, BASE_PAUSE * 2 ** (self._overloaded_rounds - 1))
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread, but never zero

    def _refill(self, now: float) -> None:
        self._tokens = min(BUCKET, self._tokens + (now - self._refilled_at) * REFILL_PER_SECOND)
        self._refilled_at = now

    def _budget(self) -> float:
        """``--retry-for``; shorter while the cluster has never answered (likely a wrong URL)."""
        return self.retry_for if self._ever_answered else min(self.retry_for, FIRST_CONTACT)

    def _budget_left(self, request: _Request, now: float) -> float:
        starts = [s for s in (self._trouble_since, request.first_failure) if s is not None]
        return self._budget() - (now - min(starts)) if starts else float("inf")

    def _give_up(self, request: _Request) -> GaveUp:
        spent = format_seconds(self._budget())
        if request.last_error is not None:
            return GaveUp(f"{request.last_error}; gave up after {spent} of retries (--retry-for)")
        return GaveUp(
            f"not sent: the cluster has failed for {spent} ({self._last_reason or 'transient failures'}); "
            "gave up (--retry-for)"
        )

    def _report(
        self, pause: float, reason: str, now: float, *, new: bool
    ) -> tuple[float, str] | None:
        """A progress line once per wait episode, and no more than one per `REPORT_EVERY` seconds."""
        last_reason, last_time = self._reported
        if not new or (reason == last_reason and now - last_time < REPORT_EVERY):
            return None
        self._reported = (reason, now)
        limit = max(1, int(self.limit))
        at_a_time = f"; sending {limit} at a time" if self.limit < MAX_LIMIT else ""
        return pause, f"{reason}{at_a_time}"


def format_seconds(seconds: float) -> str:
    """``300`` -> ``5m``, ``90`` -> ``1m30s``, ``0.5`` -> ``0.5s``."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest}s" if rest else f"{minutes}m"


def parse_duration(text: str) -> float:
    """``5m``, ``90s``, ``1m30s``, ``2h`` or a number of seconds -> seconds; ValueError otherwise."""
    import re

    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return float(cleaned)
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", cleaned)
    if not cleaned or parts is None:
        raise ValueError(f"{text!r} is not a duration like 5m, 90s or 1m30s")
    hours, minutes, seconds = (float(p) if p else 0.0 for p in parts.groups())
    return hours * 3600 + minutes * 60 + seconds
