"""Running the real CLI as a user would: a subprocess, talking HTTP to a sandbox on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[2]
WRITE_METHODS = ("PUT", "POST", "DELETE")


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    stdin: str | None = None,
) -> Run:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC", "RECONCILER"))}
    full_env.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=timeout,
        input=stdin if stdin is not None else "",
    )
    return Run(code=completed.returncode, stdout=completed.stdout, stderr=completed.stderr)


def write_spec(directory: Path, body: dict[str, Any], name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name or f"{body['inference_id']}.yaml")
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


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
    return httpx.Client(base_url=url, timeout=10)


def unlock(directory: Path, url: str) -> Run:
    """What a person does after a run died: `unlock`, which (with no terminal) refuses and names the
    lock id, then `unlock --lock-id ID` with that id. The final run's result."""
    import re

    first = run_cli("unlock", str(directory), "--url", url)
    named = re.search(r"--lock-id (\S+)", first.stderr)
    if first.code == 0 or named is None:
        return first
    return run_cli("unlock", str(directory), "--url", url, "--lock-id", named.group(1))
