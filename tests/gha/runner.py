"""Run a caller workflow and the reusable workflow it calls, step by step, on this machine.

What GitHub's runner would do, as far as our workflows need it: jobs in the order of their
``needs``, ``if:`` with the status functions, ``strategy.matrix`` (``include`` lists, from
``fromJSON``), job and step ``env``, ``GITHUB_OUTPUT``/``GITHUB_ENV``/``GITHUB_STEP_SUMMARY``
files, the event payload in ``GITHUB_EVENT_PATH``, job outputs, ``environment:`` (its
secrets win over the caller's, and one with required reviewers runs only when approved), and
``secrets`` / ``vars`` of the repository. Every ``run:`` script runs for real in bash (``-eo
pipefail``, as GitHub runs ``shell: bash``) or Python. Three actions are simulated:
``actions/checkout`` (a clone of the simulated repository at ``github.sha``),
``actions/setup-python`` (nothing: the ``python`` on PATH is this one, and ``pip install``
is recorded, not run) and ``actions/upload-artifact`` (a zip stored in the stub GitHub API;
a second upload of a name in one run fails with 409 unless ``overwrite``). Any other action
is an error, so nothing passes by being skipped.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.gha.expressions import condition, interpolate, to_string
from tests.gha.github_stub import GitHubStub

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
SIMULATED = ("actions/checkout@", "actions/setup-python@", "actions/upload-artifact@")


def git(repo: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


class Repository:
    """The user's repository of specs: branches, pull-request merge refs, merges."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True)
        git(path, "init", "-q", "-b", "main")
        git(path, "config", "user.email", "dev@example.com")
        git(path, "config", "user.name", "Dev")
        git(path, "commit", "-q", "--allow-empty", "-m", "start")

    def commit(self, branch: str, files: dict[str, str | None], message: str) -> str:
        """Write (None: delete) files on ``branch`` (made from main when new); the new head."""
        if branch not in git(self.path, "branch", "--format=%(refname:short)").split():
            git(self.path, "branch", branch, "main")
        git(self.path, "checkout", "-q", branch)
        for name, text in files.items():
            path = self.path / name
            if text is None:
                git(self.path, "rm", "-q", name)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            git(self.path, "add", name)
        git(self.path, "commit", "-q", "-m", message)
        sha = git(self.path, "rev-parse", "HEAD")
        git(self.path, "checkout", "-q", "main")
        return sha

    def head(self, ref: str = "main") -> str:
        return git(self.path, "rev-parse", ref)

    def merge_ref(self, head_sha: str) -> str:
        """refs/pull/N/merge: the head merged into main's tip, as a pull_request run checks out."""
        base = self.head()
        tree = git(self.path, "rev-parse", f"{head_sha}^{{tree}}")
        if git(self.path, "merge-base", base, head_sha) != base:
            raise AssertionError("the simulated pull request must be based on main's tip")
        return git(self.path, "commit-tree", tree, "-p", base, "-p", head_sha, "-m", "merge ref")

    def merge(self, branch: str) -> tuple[str, str]:
        """Merge ``branch`` into main with a merge commit; (before, after)."""
        before = self.head()
        git(self.path, "merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch)
        return before, self.head()


@dataclass
class Step:
    name: str
    outcome: str
    log: str
    outputs: dict[str, str]


@dataclass
class Leg:
    """One job, or one matrix combination of it."""

    job: str
    matrix: dict[str, Any]
    result: str
    environment: str = ""
    runs_on: Any = None
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} ({s.outcome})\n{s.log}" for s in self.steps)


@dataclass
class Run:
    run_id: int
    legs: list[Leg]
    results: dict[str, str]

    def jobs(self, job: str) -> list[Leg]:
        return [leg for leg in self.legs if leg.job == job]

    @property
    def log(self) -> str:
        return "\n".join(
            f"=== {leg.job} {leg.matrix or ''}: {leg.result}\n{leg.log}" for leg in self.legs
        )


def read_outputs(path: Path) -> dict[str, str]:
    """The NAME=value and NAME<<DELIMITER lines of a GITHUB_OUTPUT / GITHUB_ENV file."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").split("\n") if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            values[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        index += 1
    return values


class Harness:
    """A simulated GitHub: the repository, its settings, the stub API, and the runs."""

    def __init__(self, *, work: Path, repository: Repository, stub: GitHubStub) -> None:
        self.work = work
        self.repository = repository
        self.stub = stub
        self.vars: dict[str, str] = {}
        self.secrets: dict[str, str] = {}
        self.environments: dict[
            str, dict[str, Any]
        ] = {}  # name -> {"secrets": {}, "reviewers": bool}
        self.approved: set[str] = set()
        self.runs = 0
        self.bin = work / "bin"
        self.pip_log = work / "pip.log"
        self._shims()

    def _shims(self) -> None:
        self.bin.mkdir(parents=True)
        python = self.bin / "python"
        python.write_text(
            "#!/bin/bash\n"
            "# pip installs are recorded, not run: this python already imports the checkout\n"
            'if [[ "$1" == -m && "$2" == pip ]]; then printf "%s\\n" "$*" >>"$HARNESS_PIP_LOG"; exit 0; fi\n'
            f'exec "{sys.executable}" "$@"\n'
        )
        (self.bin / "reconciler").write_text(
            f'#!/bin/bash\nexec "{sys.executable}" -m reconciler "$@"\n'
        )
        for shim in (python, self.bin / "reconciler"):
            shim.chmod(0o755)
        (self.bin / "python3").symlink_to(python)

    # -- a run ---------------------------------------------------------------------------------

    def run(
        self,
        caller: str,
        *,
        event_name: str,
        event: dict[str, Any],
        sha: str,
        ref: str = "refs/heads/main",
        inputs: dict[str, Any] | None = None,
    ) -> Run:
        """Run the caller workflow ``.github/workflows/CALLER`` of the repository at ``sha``."""
        self.runs += 1
        run_id = 7000 + self.runs
        document = yaml.safe_load(
            git(self.repository.path, "show", f"{sha}:.github/workflows/{caller}")
        )
        run_dir = self.work / f"run-{run_id}"
        run_dir.mkdir()
        event_path = run_dir / "event.json"
        event_path.write_text(json.dumps(event), encoding="utf-8")
        github = {
            "event_name": event_name,
            "event": event,
            "sha": sha,
            "ref": ref,
            "repository": self.stub.state.repository,
            "run_id": str(run_id),
            "token": self.stub.state.token,
            "server_url": "https://github.example",
            "api_url": self.stub.url,
            "workflow": document.get("name", caller),
        }
        caller_context = {
            "github": github,
            "vars": self.vars,
            "secrets": self.secrets,
            "inputs": inputs or {},
        }
        (job_id, job), *others = document["jobs"].items()
        assert not others and "uses" in job, (
            f"{caller}: the harness runs callers of one reusable workflow"
        )
        called = WORKFLOWS / re.sub(r"^.*/\.github/workflows/|@.*$", "", job["uses"])
        given = interpolate(job.get("with") or {}, caller_context)
        passed = (
            dict(self.secrets)
            if job.get("secrets") == "inherit"
            else {
                k: to_string(v)
                for k, v in interpolate(job.get("secrets") or {}, caller_context).items()
            }
        )
        reusable = yaml.safe_load(called.read_text(encoding="utf-8"))
        call = (reusable.get("on") or reusable.get(True))["workflow_call"]
        workflow_inputs = {}
        for name, spec in (call.get("inputs") or {}).items():
            value = given.get(
                name, spec.get("default", "" if spec.get("type") == "string" else None)
            )
            if spec.get("required") and name not in given:
                raise AssertionError(f"{caller}: required input {name} not given")
            if spec.get("type") == "boolean":
                value = value in (True, "true")
            elif spec.get("type") == "string":
                value = to_string(value)
            workflow_inputs[name] = value
        unknown = set(given) - set(call.get("inputs") or {})
        assert not unknown, f"{caller}: inputs {unknown} are not inputs of {called.name}"
        context = {**caller_context, "inputs": workflow_inputs, "secrets": passed}
        context["github"] = {**github, "workflow": document.get("name", caller)}
        results: dict[str, str] = {}
        needs_outputs: dict[str, dict[str, str]] = {}
        legs: list[Leg] = []
        for name in self._order(reusable["jobs"]):
            spec = reusable["jobs"][name]
            needs = [spec["needs"]] if isinstance(spec.get("needs"), str) else spec.get("needs", [])
            needs_context = {
                n: {"result": results[n], "outputs": needs_outputs.get(n, {})} for n in needs
            }
            job_context = {**context, "needs": needs_context}
            status = {
                "always": True,
                "success": all(results[n] == "success" for n in needs),
                "failure": any(results[n] == "failure" for n in needs),
                "cancelled": False,
            }
            if not condition(spec.get("if"), job_context, status):
                results[name] = "skipped"
                legs.append(Leg(job=name, matrix={}, result="skipped"))
                continue
            combos = self._matrix(spec, job_context)
            job_legs = [
                self._run_leg(
                    name,
                    spec,
                    {**job_context, "matrix": combo},
                    run_dir,
                    event_path,
                    run_id,
                    reusable,
                )
                for combo in combos
            ]
            legs += job_legs
            results[name] = (
                "failure" if any(leg.result == "failure" for leg in job_legs) else "success"
            )
            needs_outputs[name] = {
                k: v for leg in job_legs for k, v in leg.outputs.items() if v != ""
            }
        return Run(run_id=run_id, legs=legs, results=results)

    @staticmethod
    def _order(jobs: dict[str, Any]) -> list[str]:
        done: list[str] = []
        while len(done) < len(jobs):
            for name, spec in jobs.items():
                needs = (
                    [spec["needs"]] if isinstance(spec.get("needs"), str) else spec.get("needs", [])
                )
                if name not in done and all(n in done for n in needs):
                    done.append(name)
        return done

    @staticmethod
    def _matrix(spec: dict[str, Any], context: dict[str, Any]) -> list[dict[str, Any]]:
        matrix = (spec.get("strategy") or {}).get("matrix")
        if matrix is None:
            return [{}]
        matrix = interpolate(matrix, {**context, "matrix": {}})
        include = list(matrix.get("include") or [])
        if not include:
            raise AssertionError(f"an empty matrix fails on GitHub: {matrix}")
        return include

    def _run_leg(
        self,
        name: str,
        spec: dict[str, Any],
        context: dict[str, Any],
        run_dir: Path,
        event_path: Path,
        run_id: int,
        reusable: dict[str, Any],
    ) -> Leg:
        label = "-".join(to_string(v) for v in context["matrix"].values())[:40]
        leg_dir = run_dir / re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{name}-{label}")
        temp, workspace = leg_dir / "temp", leg_dir / "ws"
        temp.mkdir(parents=True)
        workspace.mkdir()
        context = {**context, "runner": {"temp": str(temp), "os": "Linux"}, "steps": {}, "job": {}}
        environment = to_string(interpolate(spec.get("environment", ""), context))
        leg = Leg(job=name, matrix=context["matrix"], result="success", environment=environment)
        leg.runs_on = interpolate(spec.get("runs-on"), context)
        if environment:
            settings = self.environments.setdefault(
                environment, {"secrets": {}, "reviewers": False}
            )
            if settings["reviewers"] and environment not in self.approved:
                leg.result = "failure"
                leg.steps.append(
                    Step(
                        "waiting for approval",
                        "failure",
                        f"environment {environment} needs a reviewer",
                        {},
                    )
                )
                return leg
            context["secrets"] = {
                key: settings["secrets"].get(key, value)
                for key, value in context["secrets"].items()
            }
        files = {n: temp / n for n in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")}
        env: dict[str, str] = {}
        # job-level env sees no runner, steps or env context (GitHub refuses them there)
        job_scope = {k: v for k, v in context.items() if k not in ("runner", "steps", "job")}
        for scope in (reusable.get("env") or {}, spec.get("env") or {}):
            env.update({k: to_string(v) for k, v in interpolate(scope, job_scope).items()})
        files["GITHUB_STEP_SUMMARY"].write_text("")
        failed = False
        for index, step in enumerate(spec["steps"]):
            status = {"always": True, "success": not failed, "failure": failed, "cancelled": False}
            step_context = {**context, "env": env}
            step_name = str(step.get("name") or step.get("uses") or f"step {index}")
            if not condition(step.get("if"), step_context, status):
                self._record(context, step, "skipped", {})
                continue
            step_env = {
                k: to_string(v) for k, v in interpolate(step.get("env") or {}, step_context).items()
            }
            files["GITHUB_OUTPUT"].write_text("")
            files["GITHUB_ENV"].write_text("")
            process_env = {
                "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
                "HOME": str(leg_dir),
                "LANG": "C.UTF-8",
                "PYTHONPATH": str(ROOT),
                "PYTHONDONTWRITEBYTECODE": "1",
                "HARNESS_PIP_LOG": str(self.pip_log),
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "GITHUB_EVENT_NAME": context["github"]["event_name"],
                "GITHUB_EVENT_PATH": str(event_path),
                "GITHUB_SHA": context["github"]["sha"],
                "GITHUB_REF": context["github"]["ref"],
                "GITHUB_REPOSITORY": context["github"]["repository"],
                "GITHUB_RUN_ID": str(run_id),
                "GITHUB_API_URL": self.stub.url,
                "GITHUB_SERVER_URL": context["github"]["server_url"],
                "GITHUB_WORKFLOW": context["github"]["workflow"],
                "GITHUB_WORKSPACE": str(workspace),
                "RUNNER_TEMP": str(temp),
                **{n: str(p) for n, p in files.items()},
                **env,
                **step_env,
            }
            uses = str(step.get("uses", ""))
            if uses:
                outcome, log = self._action(
                    uses,
                    interpolate(step.get("with") or {}, step_context),
                    workspace,
                    context,
                    run_id,
                )
            else:
                outcome, log = self._script(step, process_env, workspace, temp)
            outputs = read_outputs(files["GITHUB_OUTPUT"])
            env.update(read_outputs(files["GITHUB_ENV"]))
            leg.steps.append(Step(step_name, outcome, log, outputs))
            self._record(context, step, outcome, outputs)
            failed = failed or (outcome == "failure" and not step.get("continue-on-error"))
        leg.result = "failure" if failed else "success"
        leg.summary = files["GITHUB_STEP_SUMMARY"].read_text(encoding="utf-8")
        leg.outputs = {
            k: to_string(v)
            for k, v in interpolate(spec.get("outputs") or {}, {**context, "env": env}).items()
        }
        return leg

    @staticmethod
    def _record(
        context: dict[str, Any], step: dict[str, Any], outcome: str, outputs: dict[str, str]
    ) -> None:
        if step.get("id"):
            context["steps"][step["id"]] = {
                "outputs": outputs,
                "outcome": outcome,
                "conclusion": outcome,
            }

    @staticmethod
    def _script(
        step: dict[str, Any], env: dict[str, str], workspace: Path, temp: Path
    ) -> tuple[str, str]:
        shell = step.get("shell") or "bash"
        script = temp / "step-script"
        script.write_text(step["run"], encoding="utf-8")
        command = (
            [sys.executable, str(script)]
            if shell == "python"
            else ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
        )
        completed = subprocess.run(
            command, cwd=workspace, env=env, capture_output=True, text=True, timeout=300
        )
        log = completed.stdout + completed.stderr
        return ("success" if completed.returncode == 0 else "failure"), log

    def _action(
        self,
        uses: str,
        given: dict[str, Any],
        workspace: Path,
        context: dict[str, Any],
        run_id: int,
    ) -> tuple[str, str]:
        if uses.startswith("actions/checkout@"):
            # --shared: the objects of the simulated repository, the merge refs included
            git(
                workspace.parent,
                "clone",
                "-q",
                "--no-checkout",
                "--shared",
                str(self.repository.path),
                workspace.name,
            )
            git(workspace, "checkout", "-q", "--detach", context["github"]["sha"])
            return "success", f"checked out {context['github']['sha'][:12]}"
        if uses.startswith("actions/setup-python@"):
            return "success", f"python {sys.version.split()[0]} (already on PATH)"
        if uses.startswith("actions/upload-artifact@"):
            paths = [Path(p.strip()) for p in str(given["path"]).splitlines() if p.strip()]
            present = [p for p in paths if p.is_file()]
            if not present:
                missing = given.get("if-no-files-found", "warn")
                return ("failure" if missing == "error" else "success"), "no files to upload"
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for path in present:
                    archive.write(path, path.name)
            try:
                self.stub.state.store_artifact(
                    run_id=run_id,
                    name=str(given["name"]),
                    data=buffer.getvalue(),
                    overwrite=given.get("overwrite") in (True, "true"),
                )
            except FileExistsError as error:
                return "failure", str(error)
            return "success", f"uploaded {given['name']}"
        raise AssertionError(f"the harness does not simulate {uses} ({SIMULATED} only)")


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)
