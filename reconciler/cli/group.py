"""The click group of the command line, its exit codes, and how diagnostics are printed.

Owns the ``reconciler`` group (heavy subcommands imported only when run, so
``--help`` starts fast) and the exit codes every command maps its outcome to.
The commands live beside it: ``planning`` (plan, drift, show), ``applying``
(apply), ``admin`` (forget, unlock, doctor, import, schema); ``options`` holds
the options they share and how a session is opened from them.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path as FsPath
from typing import Any

import click

from reconciler import __version__
from reconciler.errors import InputError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_REFUSED, EXIT_DIFFERS = 0, 1, 2, 3, 4


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a plan is made and printed: it would walk the
    specs, the listing and the plan, none of them cyclic, again and again (5% of a 50,000-spec
    plan's CPU at main's GC_THRESHOLD); the few cycles made meanwhile are freed after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _print_diagnostics(error: InputError) -> None:
    for diagnostic in error.diagnostics:
        click.echo(str(diagnostic), err=True)


class LazyGroup(click.Group):
    """A group whose heavy subcommands are imported only when run (keeps --help fast)."""

    lazy = {
        "sandbox": (
            "reconciler.sandbox.command",
            "sandbox_command",
            "Run the local sandbox cluster (Elasticsearch-like API).",
        ),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})  # once, also after loading

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, attribute, _ = self.lazy[cmd_name]
            import importlib

            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, command.get_short_help_str(60))
            for name, command in self.commands.items()
            if not command.hidden
        ]
        rows += [
            (name, help_text)
            for name, (_, _, help_text) in self.lazy.items()
            if name not in self.commands
        ]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option("--debug", is_flag=True, help="Show tracebacks and HTTP details (never secrets).")
def cli(debug: bool) -> None:
    """Declarative GitOps reconciler for Elasticsearch inference endpoints."""
    if debug:  # method, path, status, timing and retries of every request; never headers or bodies
        import logging

        from reconciler.scrub import ScrubbingFilter

        logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="debug: %(message)s")
        logging.getLogger("reconciler").setLevel(logging.DEBUG)
        for handler in logging.getLogger().handlers:  # the boundary where server text is logged
            handler.addFilter(ScrubbingFilter())


ALLOW_EMPTY = click.option(
    "--allow-empty", is_flag=True, help="Accept a directory without any endpoint spec."
)


@cli.command()
@click.argument("directory", default=".", type=click.Path(path_type=FsPath))
@ALLOW_EMPTY
@click.option(
    "--only-specs",
    is_flag=True,
    help="Skip (and name) YAML files that are not endpoint specs, e.g. docker-compose.yml.",
)
@click.option(
    "--es-version",
    metavar="X.Y.Z",
    help="Also check that a cluster of this Elasticsearch version offers everything the specs "
    "use (services, task types, fields, the region policy), by the catalog's dates.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Count what the catalog does not know (a service, task type or field newer than it, "
    "which plan checks against the cluster's GET _inference/_services) as an error.",
)
def validate(
    directory: FsPath, allow_empty: bool, only_specs: bool, es_version: str | None, strict: bool
) -> None:
    """Check every spec under DIRECTORY against the schemas (offline)."""
    from dataclasses import replace

    from reconciler.diagnostics import sort_diagnostics
    from reconciler.session import no_specs
    from reconciler.validate import validate_directory

    result = validate_directory(directory, only_specs=only_specs)
    if strict and result.warnings:
        problems = [replace(warning, warning=False) for warning in result.warnings]
        result = replace(
            result,
            diagnostics=tuple(sort_diagnostics([*result.diagnostics, *problems])),
            warnings=(),
        )
    if result.skipped:
        click.echo(
            f"Skipped {len(result.skipped)} YAML file(s) that are not endpoint specs (no "
            f"inference_id, task_type, service or service_settings): {', '.join(result.skipped)}",
            err=True,
        )
    for note in (*result.notes, *result.warnings):
        click.echo(str(note), err=True)
    if not result.ok:
        raise InputError(f"{len(result.diagnostics)} problem(s) in {directory}", result.diagnostics)
    if not result.specs and result.region_policy is None and not allow_empty:
        raise InputError(no_specs(directory).removesuffix("; nothing was sent"))
    if es_version is not None:
        _check_offline_version(result, es_version)
    count = len(result.specs)
    policy = " and the region policy" if result.region_policy else ""
    later = (
        f" ({len(result.warnings)} warning(s): not in the catalog, checked against the cluster "
        "at plan time)"
        if result.warnings
        else ""
    )
    click.echo(
        f"{count} endpoint spec{'s' if count != 1 else ''}{policy} valid in "
        f"{_ending(directory)}{later}."
    )


def _check_offline_version(result: Any, version: str) -> None:
    """``validate --es-version``: with no cluster to ask, the catalog's dates decide; anything
    newer than ``version`` is an error at its file:line naming both versions."""
    import re

    from reconciler.catalog import load_catalog
    from reconciler.policy_steps import check_policy_version
    from reconciler.versions import too_new

    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", version):
        raise InputError(f"--es-version {version}: not a version such as 9.1.0")
    problems = too_new(result.specs, catalog=load_catalog(), cluster_version=version)
    if problems:
        raise InputError(f"{len(problems)} problem(s) on Elasticsearch {version}", problems)
    check_policy_version(result.region_policy, version)


def _ending(path: FsPath) -> str:
    """A path that can end a sentence: one ending in '.' (``.``, ``..``) gets a separator first."""
    import os

    text = str(path)
    return text + os.sep if text.endswith(".") else text
