"""``apply``: carry a plan out, show progress, end with a summary (or a JSON result)."""

from __future__ import annotations

import sys
import time
from pathlib import Path as FsPath
from typing import Any

import click

from reconciler.cli.group import ALLOW_EMPTY, EXIT_DIFFERS, EXIT_ERROR, EXIT_OK, cli
from reconciler.cli.options import (
    Display,
    _requested,
    _session,
    connection_options,
    display_options,
    selection_options,
)
from reconciler.errors import InputError, ReconcilerError
from reconciler.plan import Action, Outcome

PHASES = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)

PAST = {"create": "created", "update": "updated", "replace": "replaced", "delete": "deleted"}


@cli.command()
@click.argument("directory", required=False, type=click.Path(path_type=FsPath))
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False, path_type=FsPath),
    help="Apply a plan saved by `plan --out` (refused if the cluster moved since).",
)
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--prune", is_flag=True, help="Delete managed endpoints no longer declared.")
@selection_options(with_changes=True)
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Independent changes sent at once.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: the plan, progress and a summary; json: one result document on stdout.",
)
@display_options
@ALLOW_EMPTY
@connection_options
def apply(
    directory: FsPath | None,
    plan_file: FsPath | None,
    auto_approve: bool,
    prune: bool,
    allow_destroy_in_use: bool,
    parallelism: int,
    fmt: str,
    display: Display,
    **options: Any,
) -> int:
    """Carry out the plan: create, update, replace and delete endpoints."""
    from reconciler.errors import VerificationError
    from reconciler.render.outcome import render_result
    from reconciler.render.wording import apply_summary
    from reconciler.run import ApplyHooks, ApplyOptions, apply_saved, apply_specs, check_origin
    from reconciler.session import load_specs

    if plan_file is not None:
        _refuse_planning_flags(directory=directory, prune=prune, options=options)
    requested = _requested(options)
    saved = None
    if plan_file is not None:
        from reconciler.planfile import read_plan_file

        saved = read_plan_file(plan_file)
        requested = saved.requested
        opened, _ = _session(saved.directory, options, saved=saved)
        specs: Any = ()
        policy = None
    else:
        directory = directory or FsPath(".")
        opened, settings = _session(directory, options)
        loaded = load_specs(
            directory, settings, allow_empty=bool(options.pop("allow_empty", False))
        )
        specs, policy = loaded.specs, loaded.region_policy
    as_json = fmt == "json"
    tally = _Tally(live=sys.stderr.isatty() and not as_json)

    def show(plan: Any) -> None:
        tally.start(plan)
        if not as_json:
            _show_plan(plan, display)

    hooks = ApplyHooks(
        show=show,
        confirm=lambda plan: _confirm(auto_approve),
        note=lambda text: click.echo(f"Note: {text}", err=True),
        progress=tally.progress,
    )
    options_ = ApplyOptions(
        prune=prune,
        allow_destroy_in_use=allow_destroy_in_use,
        requested=requested,
        parallelism=parallelism,
    )
    with opened as session:
        try:
            if saved is not None:
                check_origin(saved, environment=options.get("environment"), cluster=session.origin)
                applied = apply_saved(session, saved, options=options_, hooks=hooks)
            else:
                applied = apply_specs(session, specs, options=options_, hooks=hooks, policy=policy)
        except VerificationError as error:  # exit 4: all was applied, the summary still ends it
            tally.finish()
            if as_json and error.result is not None and tally.plan is not None:
                click.echo(render_result(tally.plan, error.result, exit_code=EXIT_DIFFERS))
            else:
                click.echo(apply_summary(tally.done, failed=tally.failed))
            raise
        except ReconcilerError:  # stopped after the plan was shown: what was done, and what not
            tally.finish()
            if tally.plan is not None and tally.plan.has_changes and not as_json:
                click.echo(apply_summary(tally.done, failed=tally.failed))
                if tally.untouched:
                    names = ", ".join(sorted(tally.untouched))
                    click.echo(f"Not changed ({len(tally.untouched)}): {names}", err=True)
            raise
    tally.finish()
    result = applied.result
    for note in result.notes:
        click.echo(f"Warning: {note}", err=True)
    code = EXIT_ERROR if result.failed or applied.plan.blocked else EXIT_OK
    if as_json:
        click.echo(render_result(applied.plan, result, exit_code=code))
    else:
        done = {action: result.count(action) for action in PHASES}
        lost = sum(1 for outcome in result.failed if outcome.lost)
        click.echo(  # no-op apply too
            apply_summary(done, failed=len(result.failed), lost=lost, policy=result.region_policy)
        )
    for problem in applied.plan.blocked:
        click.echo(f"Error: not applied: {problem}", err=True)
    if result.failed:
        for outcome in result.failed:
            click.echo(f"Error: {outcome.change.address}: {outcome.message}", err=True)
        names = ", ".join(sorted(o.change.address for o in result.failed))
        click.echo(f"Not changed ({len(result.failed)}): {names}", err=True)
    return code


def _refuse_planning_flags(
    *, directory: FsPath | None, prune: bool, options: dict[str, Any]
) -> None:
    """A saved plan is executed as it was made: a flag that changes planning next to it is an
    error, not ignored."""
    given = [f"DIRECTORY ({directory})"] if directory is not None else []
    given += ["--prune"] if prune else []
    for name, flag in (
        ("targets", "--target"),
        ("replace", "--replace"),
        ("adopt", "--adopt"),
        ("send_secrets", "--send-secrets"),
        ("create_timeout", "--create-timeout"),
    ):
        if options.get(name):
            given.append(flag)
    if given:
        raise InputError(
            f"{', '.join(given)} cannot be given with --plan: a saved plan is carried out as it "
            "was made. Make a new plan with these flags (`reconciler plan --out`); nothing was sent"
        )


def _confirm(auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise ReconcilerError(
            "no terminal to confirm on: pass --auto-approve to apply without asking"
        )
    if not click.confirm("Apply these changes?", default=False, err=True):
        raise click.exceptions.Abort()


def _progress(outcome: Outcome) -> None:
    change = outcome.change
    verb = PAST.get(change.action.value, change.action.value)
    if outcome.ok:
        click.echo(
            f"{change.action.symbol} {change.address}: {verb} ({outcome.seconds:.2f}s)", err=True
        )
    else:
        click.echo(f"! {change.address}: {change.action.value} failed: {outcome.message}", err=True)


class _Tally:
    """Counts outcomes as apply reports them and shows progress: on a terminal one live line
    (done/total, rate, time left) with failures printed above it; elsewhere (CI) one line per
    change. Also keeps the counts for a summary when apply ends by raising."""

    def __init__(self, *, live: bool) -> None:
        self.live = live
        self.done: dict[Any, int] = {}
        self.failed = 0
        self.total = 0
        self.untouched: set[str] = set()  # planned writes not (yet) done
        self.plan: Any = None
        self.started = time.monotonic()
        self._shown = 0  # length of the live line on screen

    def start(self, plan: Any) -> None:
        self.plan = plan
        self.total = sum(1 for change in plan.changes if change.action.writes)
        self.untouched = {change.address for change in plan.changes if change.action.writes}
        self.started = time.monotonic()

    def progress(self, outcome: Outcome) -> None:
        if outcome.ok:
            self.done[outcome.change.action] = self.done.get(outcome.change.action, 0) + 1
            self.untouched.discard(outcome.change.address)
        else:
            self.failed += 1
        if not self.live:
            _progress(outcome)
            return
        if not outcome.ok:
            self._clear()
            _progress(outcome)
        from reconciler.render.outcome import progress_line

        line = progress_line(
            done=sum(self.done.values()),
            failed=self.failed,
            total=self.total,
            elapsed=time.monotonic() - self.started,
        )
        self._clear()
        click.echo(line, nl=False, err=True)
        self._shown = len(line)

    def finish(self) -> None:
        if self.live:
            self._clear()

    def _clear(self) -> None:
        """Blank the live line with spaces (no escape codes: NO_COLOR holds for it too)."""
        if self._shown:
            click.echo("\r" + " " * self._shown + "\r", nl=False, err=True)
            self._shown = 0


def _show_plan(plan: Any, display: Display) -> None:
    from reconciler.render import render

    text = render(plan, "text", color=display.color, verbose=display.verbose)
    click.echo(text.rstrip("\n"), color=display.color)
