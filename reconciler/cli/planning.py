"""``plan``, ``drift`` and ``show``: a plan, printed; the exit code says what it found."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

import click

from reconciler.cli.group import (
    ALLOW_EMPTY,
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_REFUSED,
    cli,
    collector_paused,
)
from reconciler.cli.options import (
    DIRECTORY,
    FORMAT,
    Display,
    _requested,
    _session,
    connection_options,
    display_options,
    selection_options,
)


@collector_paused()
def _plan_command(
    directory: FsPath,
    options: dict[str, Any],
    *,
    prune: bool,
    fmt: str,
    out: FsPath | None,
    drift: bool,
    display: Display,
) -> int:
    """Plan and print; the exit code (3 when apply of this plan would be refused)."""
    from reconciler.render import render, to_document
    from reconciler.run import make_plan, saved_plan
    from reconciler.safety import Permissions, refusals
    from reconciler.session import load_specs

    requested = _requested(options)
    allow = bool(options.pop("allow_destroy_in_use", False))
    allow_empty = bool(options.pop("allow_empty", False))
    opened, settings = _session(directory, options)
    loaded = load_specs(directory, settings, allow_empty=allow_empty)
    specs = loaded.specs
    for note in loaded.notes:  # old layouts, read as the server reads them: the plan compares those
        click.echo(str(note), err=True)
    with opened as session:
        planned = make_plan(
            session, specs, prune=prune, requested=requested, policy=loaded.region_policy
        )
        requested = planned.requested
        saved = (
            saved_plan(
                session,
                planned,
                directory=directory,
                environment=settings.environment,
                requested=requested,
            )
            if out is not None
            else None
        )
    if out is not None and saved is not None:
        from reconciler.planfile import write_plan_file

        write_plan_file(out, saved, rendered=to_document(planned.plan))
    color = fmt == "text" and display.color
    rendered = render(planned.plan, fmt, color=color, drift=drift, verbose=display.verbose)
    click.echo(rendered.rstrip("\n"), color=color)
    if out is not None:
        click.echo(
            f"Saved the plan to {out}; apply it with `reconciler apply --plan {out}`.", err=True
        )
    if planned.plan.blocked:  # the rest was planned and printed; these specs were not
        for problem in planned.plan.blocked:
            click.echo(f"Error: not planned: {problem}", err=True)
        return EXIT_ERROR
    refused = refusals(
        planned.plan, Permissions(allow_destroy_in_use=allow, replace=requested.replace)
    )
    if refused and not drift:
        for reason in refused:
            click.echo(f"Error: apply would refuse this plan: {reason}", err=True)
        return EXIT_REFUSED
    return EXIT_CHANGES if planned.plan.verdict.differs else EXIT_OK


@cli.command()
@DIRECTORY
@FORMAT
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=FsPath),
    help="Save the plan for apply --plan.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.option(
    "--prune", is_flag=True, help="Plan deletion of managed endpoints no longer declared."
)
@display_options
@selection_options(with_changes=True)
@ALLOW_EMPTY
@connection_options
def plan(
    directory: FsPath,
    fmt: str,
    out: FsPath | None,
    detailed_exitcode: bool,
    prune: bool,
    display: Display,
    **options: Any,
) -> int:
    """Show what apply would change in the cluster (exit 3 if apply would refuse it)."""
    code = _plan_command(
        directory, options, prune=prune, fmt=fmt, out=out, drift=False, display=display
    )  # blocked specs (exit 1) or a refusal (exit 3) outrank --detailed-exitcode
    return EXIT_OK if code == EXIT_CHANGES and not detailed_exitcode else code


@cli.command()
@DIRECTORY
@FORMAT
@click.option("--prune", is_flag=True, help="Count managed endpoints no longer declared as drift.")
@display_options
@selection_options(with_changes=False)
@ALLOW_EMPTY
@connection_options
def drift(directory: FsPath, fmt: str, prune: bool, display: Display, **options: Any) -> int:
    """Report drift between the cluster and DIRECTORY (exit 2 on drift), for scheduled jobs."""
    return _plan_command(
        directory, options, prune=prune, fmt=fmt, out=None, drift=True, display=display
    )


@cli.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=FsPath))
@FORMAT
@display_options
def show(plan_file: FsPath, fmt: str, display: Display) -> int:
    """Print a plan saved by `plan --out` as `plan` printed it (offline; checks its integrity)."""
    from reconciler.planfile import read_plan_file
    from reconciler.render import render

    saved = read_plan_file(plan_file)
    color = fmt == "text" and display.color
    rendered = render(saved.plan, fmt, color=color, verbose=display.verbose)
    click.echo(rendered.rstrip("\n"), color=color)
    return EXIT_OK
