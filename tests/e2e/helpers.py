"""Running the real CLI as a user would, talking HTTP to a sandbox on 127.0.0.1.

``run_cli`` runs ``reconciler.cli.main(argv)`` in this process: the same code path as the
``reconciler`` command after Python has started, about fifty times cheaper than a new interpreter.
It gives the command exactly what a subprocess would get and puts back everything it touches:

- the environment is the test process's own minus every ``ELASTIC*``/``RECONCILER*`` variable,
  plus ``env``; the working directory is ``cwd`` (the repository by default);
- stdin is ``stdin`` (empty by default) and stdout/stderr are captured; none of them is a
  terminal, as with a subprocess whose streams are pipes;
- the exit code is what ``main`` passes to ``sys.exit``;
- the command starts remembering no secret (``reconciler.scrub``), as a new process does, and
  what the test process remembered before is put back afterwards;
- signal handlers, the root logger's handlers and levels, the ``reconciler`` loggers' levels and
  ``sys.argv`` are restored afterwards, and a thread of the reconciler still running after the
  command returned fails the test (a real process would have ended with it).

Runs are serialised by ``ONE_AT_A_TIME`` (the environment, the working directory and the standard
streams belong to the whole process), so threads may call ``run_cli`` at once; a caller timing a
run holds the lock around its clock. ``run_subprocess`` has the
same signature and starts ``python -m reconciler``: for the few tests about the entry point,
signals, terminals and ``kill -9`` (marked ``subprocess``).
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
WRITE_METHODS = ("PUT", "POST", "DELETE")
STRIPPED = ("ELASTIC", "RECONCILER")
_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE")
    if hasattr(signal, name)
)
ONE_AT_A_TIME = threading.RLock()  # held while a command runs in process


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def child_environment(env: dict[str, str] | None) -> dict[str, str]:
    """What the command sees: this process's variables minus the cluster ones, plus ``env``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED)}
    full.update(env or {})
    return full


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    stdin: str | None = None,
    terminal: bool = False,
) -> Run:
    """``reconciler ARGS`` in process. ``terminal``: stdin, stdout and stderr say they are a
    terminal (``isatty()``), as when a person runs the command; ``timeout`` is kept for the
    signature (an in-process run cannot be cut short)."""
    from reconciler.cli import main

    environment = child_environment(env)
    with ONE_AT_A_TIME, _isolated(environment, cwd or REPO, stdin or "", terminal) as streams:
        try:
            main(list(args))
            code: Any = 0
        except SystemExit as exited:
            code = exited.code
    out, err = streams
    return Run(code=_exit_code(code, err), stdout=out.read(), stderr=err.read())


def run_subprocess(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    stdin: str | None = None,
) -> Run:
    """``python -m reconciler ARGS`` as a new process (entry point, signals, terminals)."""
    completed = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        env=child_environment(env),
        cwd=cwd or REPO,
        timeout=timeout,
        input=stdin if stdin is not None else "",
    )
    return Run(code=completed.returncode, stdout=completed.stdout, stderr=completed.stderr)


class _Captured(io.TextIOWrapper):
    """A pipe-like text stream (UTF-8, a terminal only if told), readable after the run."""

    def __init__(self, terminal: bool) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", errors="backslashreplace", newline="\n")
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal

    def read(self, size: int | None = -1) -> str:  # type: ignore[override]
        self.flush()
        data = self.buffer.getvalue()  # type: ignore[attr-defined]
        return data.decode("utf-8", errors="backslashreplace")


class _Keyboard(io.StringIO):
    """Standard input: the given text, a terminal only if told."""

    def __init__(self, text: str, terminal: bool) -> None:
        super().__init__(text)
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


def _exit_code(code: Any, err: _Captured) -> int:
    """What the shell would see for ``sys.exit(code)``: a string is printed and means 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    err.write(f"{code}\n")
    return 1


@contextmanager
def _isolated(
    env: dict[str, str], cwd: Path, stdin: str, terminal: bool
) -> Iterator[tuple[_Captured, _Captured]]:
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_argv = sys.argv[:]
    in_main_thread = threading.current_thread() is threading.main_thread()
    saved_signals = {s: signal.getsignal(s) for s in _SIGNALS} if in_main_thread else {}
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    ours = [logging.getLogger(name) for name in ("reconciler", "reconciler.http")]
    saved_levels = [logger.level for logger in ours]
    before = set(threading.enumerate())
    out, err = _Captured(terminal), _Captured(terminal)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.stdin = _Keyboard(stdin, terminal)
    sys.stdout, sys.stderr = out, err
    sys.argv = ["reconciler"]
    root.handlers = []  # as in a fresh process: --debug's basicConfig then writes to our stderr
    remembered = _forget_secrets()
    try:
        yield out, err
    finally:
        _forget_secrets(remembered)
        for stream in (out, err):
            stream.flush()
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        for handler in root.handlers:
            if handler not in saved_root[0]:
                handler.close()
        root.handlers, root.level = saved_root
        for logger, level in zip(ours, saved_levels, strict=True):
            logger.setLevel(level)
        for number, handler in saved_signals.items():
            if signal.getsignal(number) is not handler and handler is not None:
                signal.signal(number, handler)
        _no_thread_left(before)


_SCRUBBER_STATE = ("_forms", "_fragments", "_ordered", "_remembered")


def _forget_secrets(state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Swap the secrets ``reconciler.scrub`` remembers (every secret this process resolved) for
    ``state``, or for none: a new process starts remembering nothing, and a secret one command
    resolved must not mask another test's output. Returns what was remembered before."""
    from reconciler import scrub

    with scrub._lock:
        before = {name: getattr(scrub, name) for name in _SCRUBBER_STATE}
        for name, value in (
            state or {"_forms": set(), "_fragments": set(), "_ordered": (), "_remembered": set()}
        ).items():
            setattr(scrub, name, value)
    return before


def _no_thread_left(before: set[threading.Thread]) -> None:
    """The reconciler's own threads (the lock keeper, anything it started) end with the command."""
    left = []
    for thread in set(threading.enumerate()) - before:
        target = getattr(thread, "_target", None)
        module = getattr(target, "__module__", "") or ""
        ours = thread.name == "lock-keeper" or (
            module.startswith("reconciler") and not module.startswith("reconciler.sandbox")
        )
        if ours:
            thread.join(timeout=5)
            if thread.is_alive():
                left.append(thread.name)
    assert not left, f"the command returned but left threads running: {left}"


def write_spec(directory: Path, body: dict[str, Any], name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name or f"{body['inference_id']}.yaml")
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def spec_folder(directory: Path, files: dict[str, str]) -> Path:
    """A folder of spec files (name -> YAML text), made afresh."""
    directory.mkdir(parents=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def write_requests(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests of a sandbox log that write (the state-free definition of 'changed nothing').

    The apply lock's own writes are not counted: apply takes the lock before it reads anything
    (as Terraform does) and releases it, so a run refused under the lock, or one with nothing to
    do, takes and releases it and changes nothing (creating the state index counts as the lock's).
    """
    return [
        r
        for r in log
        if r["method"] in WRITE_METHODS
        and not r["path"].startswith("/_sandbox")
        and "dry_run" not in str(r.get("query", ""))
        and not r["path"].endswith(".lock")
        and r["path"].strip("/").count("/") > 0
    ]


def es(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=10, verify=False)  # plain HTTP: no certificate store


def unlock(directory: Path, url: str) -> Run:
    """What a person does after a run died: `unlock`, which (with no terminal) refuses and names the
    lock id, then `unlock --lock-id ID` with that id. The final run's result."""
    import re

    first = run_cli("unlock", str(directory), "--url", url)
    named = re.search(r"--lock-id ([^\s`]+)", first.stderr)
    if first.code == 0 or named is None:
        return first
    return run_cli("unlock", str(directory), "--url", url, "--lock-id", named.group(1))
