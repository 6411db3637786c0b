"""What secret fingerprints cost (issue 24); run by hand, not by pytest.

    python tests/benchmarks/fingerprints.py [--endpoints 10000] [--keys 3]

Prints: the cost of one scrypt guess (what a reader of the state index pays per guess, and what
a run pays once per distinct secret), the cost of one keyed HMAC, and the time a run spends on
fingerprints when N endpoints share K keys: recording them as apply does (8 threads) and
comparing them as plan does, each from a cold cache, as a new process would.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reconciler import fingerprints  # noqa: E402


def timed(action: object, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def fleet(endpoints: int, keys: int, salt: str) -> tuple[float, float]:
    """Milliseconds to record, then to compare, the fingerprints of ``endpoints`` sharing ``keys``."""
    fingerprints._derived.clear()
    secrets = [f"shared-key-{i % keys}-{'x' * 24}" for i in range(endpoints)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        recorded = list(pool.map(lambda s: fingerprints.fingerprint(s, salt=salt), secrets))
    record_ms = (time.perf_counter() - started) * 1000
    fingerprints._derived.clear()
    started = time.perf_counter()
    assert all(
        fingerprints.matches(r, s, salt=salt) for r, s in zip(recorded, secrets, strict=True)
    )
    return record_ms, (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10)
    options = parser.parse_args()
    salt = fingerprints.new_salt()
    os.environ.pop(fingerprints.KEY_VARIABLE, None)

    def one_guess() -> None:
        fingerprints._derived.clear()
        fingerprints.fingerprint("demo", salt=salt)

    guess = timed(one_guess, options.repeat)
    print(
        f"scrypt (n=2**15, r=8, p=1), one guess: median {statistics.median(guess):.0f} ms, "
        f"min {min(guess):.0f} ms, max {max(guess):.0f} ms over {options.repeat}"
    )
    record_ms, compare_ms = fleet(options.endpoints, options.keys, salt)
    print(
        f"scrypt, {options.endpoints} endpoints sharing {options.keys} keys: record {record_ms:.0f} ms, "
        f"compare {compare_ms:.0f} ms"
    )
    os.environ[fingerprints.KEY_VARIABLE] = "k" * 64
    keyed = timed(lambda: fingerprints.fingerprint("demo", salt=salt), options.repeat * 100)
    print(f"keyed HMAC (RECONCILER_FINGERPRINT_KEY), one: median {statistics.median(keyed):.3f} ms")
    record_ms, compare_ms = fleet(options.endpoints, options.keys, salt)
    print(
        f"keyed HMAC, {options.endpoints} endpoints: record {record_ms:.0f} ms, compare {compare_ms:.0f} ms"
    )
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
