"""What the CLI prints as the desired state grows, and colour on a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli, write_spec

ANSI = "\x1b["
KEY = "osk-output-tests-distinctive"


def rerank(inference_id: str, top_n: int = 3) -> dict[str, Any]:
    return {
        "inference_id": inference_id,
        "task_type": "rerank",
        "service": "openshift_ai",
        "service_settings": {
            "url": "https://rerank.example/v1",
            "model_id": "bge-reranker-v2-m3",
            "api_key": "${env:OPENSHIFT_AI_API_KEY}",
        },
        "task_settings": {"top_n": top_n},
    }


def cli(cluster: SandboxServer, *args: str, env: dict[str, str] | None = None) -> Any:
    return run_cli(*args, "--url", cluster.url, env={"OPENSHIFT_AI_API_KEY": KEY, **(env or {})})


@pytest.fixture(scope="module")
def cluster() -> Any:
    with SandboxServer(port=0) as server:
        yield server


def applied_directory(cluster: SandboxServer, directory: Path, count: int) -> Path:
    for number in range(count):
        write_spec(directory, rerank(f"{directory.name}-{number:03d}"))
    result = cli(cluster, "apply", str(directory), "--auto-approve")
    assert result.code == 0, result.output
    return directory


def line_counts(cluster: SandboxServer, directory: Path) -> tuple[int, int, str]:
    """Lines of a no-change plan, then of a plan with one change among all the endpoints."""
    unchanged = cli(cluster, "plan", str(directory))
    assert unchanged.code == 0, unchanged.output
    write_spec(directory, rerank(f"{directory.name}-003", top_n=4))
    changed = cli(cluster, "plan", str(directory))
    assert changed.code == 0, changed.output
    return len(unchanged.stdout.splitlines()), len(changed.stdout.splitlines()), changed.stdout


@pytest.mark.slow
def test_plan_length_grows_with_changes_not_with_endpoints(tmp_path: Path) -> None:
    """Before: 403 lines for 200 unchanged endpoints; 11 for one change among 200."""
    counts = []
    for name, count in (("few", 5), ("many", 200)):
        with SandboxServer(port=0) as cluster:  # one state document each: nothing orphaned
            counts.append(line_counts(cluster, applied_directory(cluster, tmp_path / name, count)))
    small, large = counts
    assert small[:2] == large[:2], large[2]
    no_change, one_change, text = large
    # the state document's line, and the one "Unmanaged endpoints" line that names the
    # sandbox's three preconfigured endpoints, each with a blank line after it
    assert no_change <= 5 and one_change <= 13, text
    assert "199 unchanged endpoints not shown (--verbose lists them)." in text
    assert "rerank/many-003 will be updated in place" in text
    assert "many-004" not in text


def test_verbose_lists_unchanged_endpoints_and_json_keeps_them_all(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    directory = applied_directory(cluster, tmp_path / "verbose", 4)
    listed = cli(cluster, "plan", str(directory), "--verbose").stdout
    assert [line.strip() for line in listed.splitlines() if "rerank/verbose-" in line] == [
        f"rerank/verbose-00{n} is up to date" for n in range(4)
    ]
    document = cli(cluster, "plan", str(directory), "--format", "json")
    assert document.stdout.count('"action": "no-op"') == 4


# -- colour ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drifted(cluster: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = applied_directory(cluster, tmp_path_factory.mktemp("colour") / "colour", 2)
    write_spec(directory, rerank("colour-001", top_n=5))
    return directory


@pytest.mark.parametrize(
    ("flags", "env", "coloured"),
    [
        ((), {}, True),
        ((), {"NO_COLOR": "1"}, False),
        (("--no-color",), {}, False),
        (("--color",), {"NO_COLOR": "1"}, True),  # an explicit flag beats the environment
    ],
    ids=["terminal", "NO_COLOR", "--no-color", "--color-beats-NO_COLOR"],
)
@pytest.mark.parametrize("command", ["plan", "drift"])
def test_colour_on_a_terminal_unless_told_otherwise(
    cluster: SandboxServer,
    drifted: Path,
    command: str,
    flags: tuple[str, ...],
    env: dict[str, str],
    coloured: bool,
) -> None:
    run = run_cli(
        command,
        str(drifted),
        *flags,
        "--url",
        cluster.url,
        env={"OPENSHIFT_AI_API_KEY": KEY, "TERM": "xterm-256color", **env},
        terminal=True,
    )
    code, output = run.code, run.output
    assert code == (2 if command == "drift" else 0), output
    assert "colour-001" in output and "top_n" in output
    assert (ANSI in output) is coloured, repr(output)


@pytest.mark.parametrize(("env", "coloured"), [({}, True), ({"NO_COLOR": "1"}, False)])
def test_apply_on_a_terminal_colours_its_plan_unless_no_color(
    cluster: SandboxServer, tmp_path: Path, env: dict[str, str], coloured: bool
) -> None:
    directory = tmp_path / f"apply-{'colour' if coloured else 'plain'}"
    write_spec(directory, rerank(directory.name))
    run = run_cli(
        "apply",
        str(directory),
        "--auto-approve",
        "--url",
        cluster.url,
        env={"OPENSHIFT_AI_API_KEY": KEY, "TERM": "xterm-256color", **env},
        terminal=True,
    )
    code, output = run.code, run.output
    assert code == 0, output
    assert f"rerank/{directory.name} will be created" in output.replace(ANSI + "0m", "")
    assert "Apply complete: 1 created" in output
    assert (ANSI in output) is coloured, repr(output)


def test_colour_can_be_forced_into_a_pipe(cluster: SandboxServer, drifted: Path) -> None:
    piped = cli(cluster, "plan", str(drifted))
    forced = cli(cluster, "plan", str(drifted), "--color")
    assert ANSI not in piped.stdout and ANSI in forced.stdout


# -- shell completion (click's) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "index", "expected"),
    [
        ("reconciler dr", 1, {"plain,drift"}),
        ("reconciler plan --no-c", 2, {"plain,--no-color"}),
        ("reconciler plan --form", 2, {"plain,--format"}),
    ],
)
def test_shell_completion_completes_commands_and_flags(
    words: str, index: int, expected: set[str]
) -> None:
    result = run_cli(
        env={"_RECONCILER_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(index)}
    )
    assert result.code == 0, result.output
    assert set(result.stdout.split()) == expected


def test_shell_completion_script_is_printed_for_bash() -> None:
    result = run_cli(env={"_RECONCILER_COMPLETE": "bash_source"})
    assert result.code == 0 and "complete -o nosort -F _reconciler_completion reconciler" in (
        result.stdout
    )
