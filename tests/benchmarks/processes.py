"""Separate processes: the sandbox cluster, and one measured CLI run.

Owns starting ``python -m reconciler sandbox`` in its own process (its port
read from the first stdout line), talking to its ``/_sandbox`` control API,
and running one CLI command as a whole process while measuring wall time,
user + system CPU and peak resident memory (``/usr/bin/time -v`` when
present, else ``getrusage(RUSAGE_CHILDREN)`` deltas).
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

LISTENING = re.compile(r"listening on (https?://\S+)")
GNU_TIME = "/usr/bin/time"


@dataclass(frozen=True, kw_only=True)
class Run:
    """One measured process."""

    wall: float  # seconds
    user: float
    system: float
    peak_mb: float | None  # None when it cannot be known
    returncode: int
    stdout: str
    stderr: str

    @property
    def cpu(self) -> float:
        return self.user + self.system


class Sandbox:
    """``reconciler sandbox`` in a child process; a context manager."""

    def __init__(
        self, *, data_file: Path, latency_ms: float, env: dict[str, str], cwd: Path | None = None
    ) -> None:
        self.data_file = data_file
        self.latency_ms = latency_ms
        self.env = env
        self.cwd = cwd  # `python -m reconciler` imports the reconciler found there first
        self.url = ""
        self._process: subprocess.Popen[str] | None = None
        self._http: httpx.Client | None = None

    def __enter__(self) -> Sandbox:
        command = [
            sys.executable,
            "-m",
            "reconciler",
            "sandbox",
            "--port",
            "0",
            "--latency-ms",
            str(self.latency_ms),
            "--data",
            str(self.data_file),
        ]
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=self.env,
            cwd=self.cwd,
        )
        assert self._process.stdout is not None
        first = self._process.stdout.readline()
        match = LISTENING.search(first)
        if match is None:
            self.__exit__()
            raise RuntimeError(f"the sandbox did not start: {first!r}")
        self.url = match.group(1)
        self._http = httpx.Client(base_url=self.url, timeout=120)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._http is not None:
            self._http.close()
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    @property
    def http(self) -> httpx.Client:
        assert self._http is not None
        return self._http

    def cpu_seconds(self) -> float | None:
        """User + system CPU the sandbox process has used so far (Linux only)."""
        assert self._process is not None
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def requests(self) -> list[dict[str, Any]]:
        return list(self.http.get("/_sandbox/requests").json()["requests"])

    def clear_requests(self) -> None:
        self.http.delete("/_sandbox/requests").raise_for_status()

    def listing(self) -> list[dict[str, Any]]:
        """What ``GET /_inference/_all`` returns (with the configured latency, once)."""
        body = self.http.get("/_inference/_all").json()
        return list(body.get("endpoints", []))


def run_cli(arguments: list[str], *, env: dict[str, str], cwd: Path | None = None) -> Run:
    """Run ``reconciler ARGUMENTS`` as a whole process and measure it."""
    return run_command([*entry_point(), *arguments], env=env, cwd=cwd)


def run_command(command: list[str], *, env: dict[str, str], cwd: Path | None = None) -> Run:
    """Run ``command`` as a whole process and measure it."""
    if os.access(GNU_TIME, os.X_OK):
        return _run_with_gnu_time(command, env=env, cwd=cwd)
    return _run_with_rusage(command, env=env, cwd=cwd)


def _run_with_gnu_time(command: list[str], *, env: dict[str, str], cwd: Path | None) -> Run:
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        done = subprocess.run(
            [GNU_TIME, "-v", "-o", report.name, *command],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
        )
        wall = time.perf_counter() - started
        figures = _parse_gnu_time(Path(report.name).read_text())
    return Run(
        wall=wall,
        user=figures.get("User time (seconds)", 0.0),
        system=figures.get("System time (seconds)", 0.0),
        peak_mb=figures.get("Maximum resident set size (kbytes)", 0.0) / 1024,
        returncode=done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
    )


def _parse_gnu_time(text: str) -> dict[str, float]:
    figures = {}
    for line in text.splitlines():
        name, _, value = line.strip().rpartition(": ")
        try:
            figures[name] = float(value)
        except ValueError:
            continue
    return figures


def _run_with_rusage(command: list[str], *, env: dict[str, str], cwd: Path | None) -> Run:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # ru_maxrss of children is the largest child so far: a rise is this child's peak, no rise is unknown
    peak = after.ru_maxrss / 1024 if after.ru_maxrss > before.ru_maxrss else None
    return Run(
        wall=wall,
        user=after.ru_utime - before.ru_utime,
        system=after.ru_stime - before.ru_stime,
        peak_mb=peak,
        returncode=done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
    )


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """The environment of every measured process: bytecode cached, as after ``pip install``.

    With PYTHONDONTWRITEBYTECODE set (some CI images set it), every run would compile the
    reconciler's sources again, a cost no installed copy pays.
    """
    env = {**os.environ, **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def warm_bytecode(env: dict[str, str]) -> None:
    """Compile the reconciler package into the bytecode cache before anything is measured."""
    import importlib.util

    spec = importlib.util.find_spec("reconciler")
    assert spec is not None and spec.submodule_search_locations
    for folder in spec.submodule_search_locations:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", folder],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def entry_point() -> list[str]:
    """The installed ``reconciler`` script next to this interpreter, else ``python -m reconciler``
    (which imports the checkout the caller's PYTHONPATH names). Not a ``reconciler`` found on
    PATH: that may be a shell shim that sets its own PYTHONPATH and so runs another checkout
    than the one measured (``--before`` would then measure the same code twice)."""
    script = Path(sys.executable).with_name("reconciler")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "reconciler"]
