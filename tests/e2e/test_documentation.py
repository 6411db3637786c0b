"""The documentation cannot drift from the code: the site builds strictly, the CLI reference
names every command and flag, the JSON reference every key, and README's test command is the
one CI runs."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from reconciler.cli import cli
from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import REPO, run_cli, write_spec
from tests.specs import ENV, rerank

DOCS = REPO / "docs"


def load_tool(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_reference_pages_are_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_tool("gen_reference").main(["--check"]) == 0, capsys.readouterr().out


def cli_sections() -> dict[str, str]:
    """docs/cli.md cut into its sections, by the command each one documents."""
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    parts = re.split(r"^## `([^`]+)`.*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_command_and_flag_is_in_the_cli_reference() -> None:
    sections = cli_sections()
    context = click.Context(cli, info_name="reconciler")
    commands: list[tuple[str, click.Command]] = [("reconciler", cli)]
    for name in cli.list_commands(context):
        command = cli.get_command(context, name)
        if command is not None and not command.hidden:
            commands.append((f"reconciler {name}", command))
    assert len(commands) > 10
    missing = []
    for path, command in commands:
        if path not in sections:
            missing.append(path)
            continue
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                missing += [f"{path} {o}" for o in param.opts if f"`{o}`" not in sections[path]]
            if isinstance(param, click.Argument):
                name = param.human_readable_name
                missing += [] if f"`{name}`" in sections[path] else [f"{path} {name}"]
    assert missing == [], f"not in docs/cli.md (run python tools/gen_reference.py): {missing}"


def keys(value: Any, into: set[str]) -> set[str]:
    """Every key of every mapping in a JSON document, except the endpoint bodies."""
    if isinstance(value, dict):
        for key, inner in value.items():
            into.add(key)
            if key not in ("before", "after"):  # the endpoint as Elasticsearch has it
                keys(inner, into)
    elif isinstance(value, list):
        for inner in value:
            keys(inner, into)
    return into


def test_every_key_of_the_json_documents_is_documented(
    tmp_path: Path, cluster: SandboxServer
) -> None:
    write_spec(tmp_path, rerank())
    args = (str(tmp_path), "--url", cluster.url, "--format", "json")
    planned = run_cli("plan", *args, env=ENV)
    applied = run_cli("apply", *args, "--auto-approve", env=ENV)
    assert planned.code == 0 and applied.code == 0, planned.output + applied.output
    found = keys(json.loads(planned.stdout), set()) | keys(json.loads(applied.stdout), set())
    page = (DOCS / "json-documents.md").read_text(encoding="utf-8")
    undocumented = sorted(key for key in found if f"`{key}`" not in page)
    assert undocumented == [], f"document these keys in docs/json-documents.md: {undocumented}"


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="mkdocs and mkdocs-material are not installed (pip install '.[docs]'; CI installs them)",
)
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert built.returncode == 0, built.stderr[-4000:]
    assert (tmp_path / "cli" / "index.html").is_file()


def readme_test_command() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Run the tests[^\n]*\n+```bash\n(.*?)```", text, flags=re.S)
    assert block, "README.md lost its 'Run the tests' command"
    return [part.strip() for part in block.group(1).strip().split("&&")]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    install, run = readme_test_command()
    assert install.startswith("pip install ") and run.startswith("python -m pytest")
    assert f"python -m {install}" in script or f"python -m pip install --quiet {install[12:]}" in (
        script
    )
    assert script.rstrip().splitlines()[-1] == run


def test_readme_is_short_and_its_links_resolve() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 300
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert local and [t for t in local if not (REPO / t).exists()] == []
