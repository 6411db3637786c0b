"""The command line: a thin click layer over the pipeline, and its one error boundary.

Owns options, exit codes and where text goes (stdout for results, stderr for
progress and errors). Heavy modules are imported inside commands so that
``reconciler --help`` starts fast. Knows nothing about services.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import click

from reconciler import __version__
from reconciler.errors import InputError, ReconcilerError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_REFUSED, EXIT_DIFFERS = 0, 1, 2, 3, 4


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
        return sorted([*super().list_commands(ctx), *self.lazy])

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

        from reconciler.secrets import ScrubbingFilter

        logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="debug: %(message)s")
        logging.getLogger("reconciler").setLevel(logging.DEBUG)
        for handler in logging.getLogger().handlers:  # the boundary where server text is logged
            handler.addFilter(ScrubbingFilter())


@cli.command()
@click.argument("directory", default=".", type=click.Path(path_type=FsPath))
def validate(directory: FsPath) -> None:
    """Check every spec under DIRECTORY against the schemas (offline)."""
    from reconciler.validate import validate_directory

    result = validate_directory(directory)
    if not result.ok:
        raise InputError(f"{len(result.diagnostics)} problem(s) in {directory}", result.diagnostics)
    count = len(result.specs)
    click.echo(f"{count} endpoint spec{'s' if count != 1 else ''} valid in {_ending(directory)}.")


def _ending(path: FsPath) -> str:
    """A path that can end a sentence: one ending in '.' (``.``, ``..``) gets a separator first."""
    import os

    text = str(path)
    return text + os.sep if text.endswith(".") else text


def main(argv: list[str] | None = None) -> Any:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_ERROR)
    except ReconcilerError as error:
        if debug:
            import traceback

            traceback.print_exc()
        if isinstance(error, InputError):
            _print_diagnostics(error)
        from reconciler.secrets import scrub

        click.echo(f"Error: {scrub(str(error))}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as error:  # the one boundary: a bug must not print a traceback at a user
        if debug:
            raise
        click.echo(
            f"Error: internal error ({error.__class__.__name__}: {error}); rerun with --debug "
            "and report it",
            err=True,
        )
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


# -- commands that talk to a cluster ----------------------------------------------------------


def connection_options(function: Any) -> Any:
    options = [
        click.option("--url", help="Cluster URL (or ELASTICSEARCH_URL)."),
        click.option(
            "--api-key", help="API key, sent as 'Authorization: ApiKey' (or ELASTIC_API_KEY)."
        ),
        click.option("--username", help="Basic auth user (or ELASTICSEARCH_USERNAME)."),
        click.option("--password", help="Basic auth password (or ELASTICSEARCH_PASSWORD)."),
        click.option(
            "--ca-cert", type=click.Path(exists=True, dir_okay=False), help="CA bundle to trust."
        ),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (warns)."),
        click.option("--env", "environment", help="Environment of reconciler.yaml to use."),
        click.option(
            "--timeout",
            type=click.FloatRange(0.1, 600),
            help="Seconds to wait for each HTTP answer (or RECONCILER_TIMEOUT; default 30).",
        ),
        click.option(
            "--retry-for",
            callback=_duration,
            help="How long to sit out a cluster that answers 429/503 or drops connections "
            "(e.g. 90s, 10m; or RECONCILER_RETRY_FOR; default 5m).",
        ),
        click.option("--sandbox", is_flag=True, help="Run against the embedded sandbox cluster."),
        click.option(
            "--sandbox-data",
            type=click.Path(path_type=FsPath),
            help="Sandbox state file (default DIR/.reconciler/sandbox.json).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from reconciler.retry import parse_duration

    if value is None:  # not given: RECONCILER_RETRY_FOR or the default (connection.py)
        return None

    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _waiting(seconds: float, reason: str) -> None:
    """The client sits out an overloaded cluster: say so, so a slow run is not taken for a hung one."""
    click.echo(f"waiting {seconds:.1f} s: {reason}".replace(".0 s", " s"), err=True)


def _session(directory: FsPath, options: dict[str, Any], *, saved: Any = None) -> Any:
    """Settings and an (unopened) session; a saved plan brings its environment and state document."""
    from dataclasses import replace

    from reconciler.connection import connection_for
    from reconciler.session import open_session
    from reconciler.settings import load_settings

    environment = options.get("environment") or (saved.environment if saved else None)
    settings = load_settings(directory, environment)
    if saved is not None:
        settings = replace(
            settings,
            state_index=saved.state_index or settings.state_index,
            state_id=saved.state_id or settings.state_id,
        )
    root = directory if directory.is_dir() else directory.parent
    sandbox_data = options.get("sandbox_data")
    if options.get("sandbox") or sandbox_data:
        sandbox_data = sandbox_data or root / ".reconciler" / "sandbox.json"
        return open_session(connection=None, settings=settings, sandbox_data=sandbox_data), settings
    if options.get("insecure"):
        click.echo("Warning: TLS certificate verification is off (--insecure).", err=True)
    connection = connection_for(
        settings,
        url=options.get("url"),
        api_key=options.get("api_key"),
        username=options.get("username"),
        password=options.get("password"),
        ca_cert=options.get("ca_cert"),
        insecure=bool(options.get("insecure")),
        timeout=options.get("timeout"),
        retry_for=options.get("retry_for"),
        on_wait=_waiting,
    )
    return open_session(connection=connection, settings=settings, sandbox_data=None), settings


def selection_options(*, with_changes: bool) -> Any:
    """--target (plan, apply, drift); --replace, --adopt, --send-secrets, --allow-destroy-in-use
    (plan and apply: plan says what apply with the same flags would do, refusals included)."""
    ids: dict[str, Any] = {"multiple": True, "metavar": "ID"}
    options = [
        click.option("--target", "targets", **ids, help="Only plan/change these endpoints."),
    ]
    if with_changes:
        options += [
            click.option(
                "--replace",
                "replace",
                **ids,
                help="Replace this endpoint even if nothing requires it.",
            ),
            click.option(
                "--adopt",
                "adopt",
                **ids,
                help="Take this endpoint over from another state document.",
            ),
            click.option(
                "--send-secrets",
                "send_secrets",
                **ids,
                help="Send this endpoint's secrets once through _update (rotation then tracked).",
            ),
            click.option(
                "--allow-destroy-in-use",
                is_flag=True,
                help="Replace/delete endpoints that pipelines or indices use.",
            ),
        ]

    def decorate(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _requested(options: dict[str, Any]) -> Any:
    from reconciler.plan import Requested

    targets = options.pop("targets", ())
    return Requested(
        replace=frozenset(options.pop("replace", ())),
        adopt=frozenset(options.pop("adopt", ())),
        send_secrets=frozenset(options.pop("send_secrets", ())),
        targets=frozenset(targets) if targets else None,
    )


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
    opened, settings = _session(directory, options)
    specs = load_specs(directory, settings).specs
    with opened as session:
        planned = make_plan(session, specs, prune=prune, requested=requested)
        saved = saved_plan(
            session,
            planned,
            specs=specs,
            directory=directory,
            environment=settings.environment,
            requested=requested,
        )
    if out is not None:
        from reconciler.planfile import write_plan_file

        write_plan_file(out, saved, rendered=to_document(planned.plan))
    color = fmt == "text" and display.color
    rendered = render(planned.plan, fmt, color=color, drift=drift, verbose=display.verbose)
    click.echo(rendered.rstrip("\n"), color=color)
    if out is not None:
        click.echo(
            f"Saved the plan to {out}; apply it with `reconciler apply --plan {out}`.", err=True
        )
    refused = refusals(
        planned.plan, specs, Permissions(allow_destroy_in_use=allow, replace=requested.replace)
    )
    if refused and not drift:
        for reason in refused:
            click.echo(f"Error: apply would refuse this plan: {reason}", err=True)
        return EXIT_REFUSED
    return EXIT_CHANGES if planned.plan.differs else EXIT_OK


FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="How to render the plan.",
)
DIRECTORY = click.argument("directory", default=".", type=click.Path(path_type=FsPath))


@dataclass(frozen=True, kw_only=True)
class Display:
    """How text output looks: colour (decided once, by ``render.color.use_color``) and verbosity."""

    color: bool
    verbose: bool


def display_options(function: Any) -> Any:
    """``--color/--no-color`` and ``--verbose``, turned into one ``display`` argument."""
    import functools
    import os

    @functools.wraps(function)
    def wrapper(*args: Any, color: bool | None, verbose: bool, **kwargs: Any) -> Any:
        from reconciler.render.color import use_color

        decided = use_color(color, isatty=sys.stdout.isatty(), environ=os.environ)
        return function(*args, display=Display(color=decided, verbose=verbose), **kwargs)

    options = [
        click.option(
            "--color/--no-color",
            default=None,
            help="Colour text output (default: on a terminal, unless NO_COLOR is set).",
        ),
        click.option(
            "--verbose", "-v", is_flag=True, help="List unchanged endpoints too (text, markdown)."
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


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
    )
    return EXIT_OK if code == EXIT_CHANGES and not detailed_exitcode else code


@cli.command()
@DIRECTORY
@FORMAT
@click.option("--prune", is_flag=True, help="Count managed endpoints no longer declared as drift.")
@display_options
@selection_options(with_changes=False)
@connection_options
def drift(directory: FsPath, fmt: str, prune: bool, display: Display, **options: Any) -> int:
    """Report drift between the cluster and DIRECTORY (exit 2 on drift), for scheduled jobs."""
    return _plan_command(
        directory, options, prune=prune, fmt=fmt, out=None, drift=True, display=display
    )


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
    from reconciler.apply import PHASES
    from reconciler.errors import VerificationError
    from reconciler.render.outcome import render_result
    from reconciler.render.wording import apply_summary
    from reconciler.run import ApplyHooks, ApplyOptions, apply_specs, check_origin
    from reconciler.session import load_specs

    requested = _requested(options)
    saved = None
    if plan_file is not None:
        from reconciler.planfile import read_plan_file

        saved = read_plan_file(plan_file)
        directory = directory or saved.directory
        prune = saved.plan.prune
        requested = saved.requested
        opened, _ = _session(directory, options, saved=saved)
        specs = saved.specs
    else:
        directory = directory or FsPath(".")
        opened, settings = _session(directory, options)
        specs = load_specs(directory, settings).specs
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
        if saved is not None:
            check_origin(saved, environment=options.get("environment"), cluster=session.origin)
        try:
            applied = apply_specs(session, specs, options=options_, hooks=hooks, saved=saved)
        except VerificationError as error:  # exit 4: all was applied, the summary still ends it
            tally.finish()
            if as_json and error.result is not None and tally.plan is not None:
                click.echo(render_result(tally.plan, error.result, exit_code=EXIT_DIFFERS))
            else:
                click.echo(apply_summary(tally.done, failed=tally.failed))
            raise
    tally.finish()
    result = applied.result
    for note in result.notes:
        click.echo(f"Warning: {note}", err=True)
    code = EXIT_ERROR if result.failed else EXIT_OK
    if as_json:
        click.echo(render_result(applied.plan, result, exit_code=code))
    else:
        done = {action: result.count(action) for action in PHASES}
        lost = sum(1 for outcome in result.failed if outcome.lost)
        click.echo(apply_summary(done, failed=len(result.failed), lost=lost))  # no-op apply too
    if result.failed:
        for outcome in result.failed:
            click.echo(f"Error: {outcome.change.address}: {outcome.message}", err=True)
        names = ", ".join(sorted(o.change.address for o in result.failed))
        click.echo(f"Not changed ({len(result.failed)}): {names}", err=True)
    return code


def _confirm(auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise ReconcilerError(
            "no terminal to confirm on: pass --auto-approve to apply without asking"
        )
    if not click.confirm("Apply these changes?", default=False, err=True):
        raise click.exceptions.Abort()


def _progress(change: Any, status: str, seconds: float) -> None:
    verb = PAST.get(change.action.value, change.action.value)
    if status == "ok":
        click.echo(f"{change.action.symbol} {change.address}: {verb} ({seconds:.2f}s)", err=True)
    else:
        click.echo(f"! {change.address}: {change.action.value} failed: {status}", err=True)


class _Tally:
    """Counts outcomes as apply reports them and shows progress: on a terminal one live line
    (done/total, rate, time left) with failures printed above it; elsewhere (CI) one line per
    change. Also keeps the counts for a summary when apply ends by raising."""

    def __init__(self, *, live: bool) -> None:
        self.live = live
        self.done: dict[Any, int] = {}
        self.failed = 0
        self.total = 0
        self.plan: Any = None
        self.started = time.monotonic()
        self._shown = 0  # length of the live line on screen

    def start(self, plan: Any) -> None:
        self.plan = plan
        self.total = sum(1 for change in plan.changes if change.action.writes)
        self.started = time.monotonic()

    def progress(self, change: Any, status: str, seconds: float) -> None:
        if status == "ok":
            self.done[change.action] = self.done.get(change.action, 0) + 1
        else:
            self.failed += 1
        if not self.live:
            _progress(change, status, seconds)
            return
        if status != "ok":
            self._clear()
            _progress(change, status, seconds)
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


@cli.command()
@DIRECTORY
@click.argument("ids", nargs=-1, required=True)
@connection_options
def forget(directory: FsPath, ids: tuple[str, ...], **options: Any) -> int:
    """Stop managing endpoints IDS without touching them (another directory may then adopt them)."""
    from reconciler.run import forget as forget_endpoints

    opened, _ = _session(directory, options)
    with opened as session:
        unknown = forget_endpoints(session, ids)
        where = f"{session.store.index}/{session.store.doc_id}"
    for inference_id in ids:
        if inference_id not in unknown:
            click.echo(
                f"Forgot {inference_id}: no longer managed by {where}; the endpoint is untouched."
            )
    if unknown:
        raise ReconcilerError(
            f"not managed by {where}: {', '.join(unknown)} (nothing changed for them)"
        )
    return EXIT_OK


@cli.command()
@DIRECTORY
@click.option("--lock-id", help="Remove exactly this lock: the id shown where the lock was met.")
@connection_options
def unlock(directory: FsPath, lock_id: str | None, **options: Any) -> int:
    """Remove an apply lock left by a run that died (asks on a terminal without --lock-id)."""
    import time

    from reconciler.lock import read_lock, remove_lock

    opened, _ = _session(directory, options)
    with opened as session:
        held = read_lock(session.store)
        if held is None:
            click.echo("No lock was held.")
            return EXIT_OK
        if lock_id is None:  # a live apply's lock must not go by accident
            described = held.describe(now=time.time())
            if not sys.stdin.isatty():
                raise ReconcilerError(
                    f"the lock is {described}; to remove it, pass --lock-id {held.lock_id} "
                    "(no terminal to confirm on; nothing was removed)"
                )
            click.echo(f"The lock is {described}.", err=True)
            if not click.confirm(
                "Remove it? If that apply is still running, two would then write at once",
                default=False,
                err=True,
            ):
                raise click.exceptions.Abort()
            lock_id = held.lock_id
        removed = remove_lock(session.store, lock_id=lock_id)
    click.echo(f"Lock {lock_id} removed." if removed else "No lock was held.")
    return EXIT_OK


@cli.command()
@DIRECTORY
@connection_options
def doctor(directory: FsPath, **options: Any) -> int:
    """Compare the catalog with the cluster's own _services listing (exit 2 when they disagree)."""
    from reconciler.catalog import load_catalog
    from reconciler.doctor import compare
    from reconciler.errors import ClusterError
    from reconciler.live import read_version

    opened, _ = _session(directory, options)
    with opened as session:
        version = read_version(session.client)
        answer = session.client.request("GET", "/_inference/_services", ok=(400, 404))
    if answer.status != 200:
        raise ClusterError(
            f"Elasticsearch {version} has no GET _inference/_services; nothing to compare"
        )
    try:
        disagreements = compare(load_catalog(), answer.body, cluster_version=version)
    except ValueError as error:
        raise ClusterError(f"Elasticsearch {version}: {error}") from None
    for disagreement in disagreements:
        click.echo(str(disagreement))
    click.echo(
        f"{len(disagreements)} disagreement(s) between the catalog and Elasticsearch {version}.",
        err=True,
    )
    return EXIT_CHANGES if disagreements else EXIT_OK


@cli.command("import")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=FsPath),
    help="Directory to write one spec file per endpoint into.",
)
@click.argument("ids", nargs=-1)
@connection_options
def import_(out: FsPath, ids: tuple[str, ...], **options: Any) -> int:
    """Write spec files for endpoints that exist in the cluster (all, or IDS)."""
    from reconciler.catalog import load_catalog
    from reconciler.importer import (
        preconfigured_message,
        recorded_from,
        schema_reference,
        write_specs,
    )
    from reconciler.live import read_endpoints, read_version
    from reconciler.ownership import read_records

    if any(i.startswith(".") for i in ids):  # before any request: they cannot be managed
        raise InputError(preconfigured_message(i for i in ids if i.startswith(".")))
    opened, settings = _session(out, options)
    with opened as session:
        version = read_version(session.client)
        endpoints, _ = read_endpoints(session.client)
        recorded = recorded_from(read_records(session.client, settings.state_index))
    wanted = [e for e in endpoints if (e.inference_id in ids if ids else not e.preconfigured)]
    missing = sorted(set(ids) - {e.inference_id for e in endpoints})
    if missing:
        raise ReconcilerError(f"no such endpoint(s) in the cluster: {', '.join(missing)}")
    written = write_specs(
        wanted,
        out,
        load_catalog(),
        schema_ref=schema_reference(out),
        version=version,
        recorded=recorded,
    )
    skipped = len(endpoints) - len(wanted) if not ids else 0
    click.echo(
        f"Wrote {len(written)} spec file(s) to {out}"
        + (f" (skipped {skipped} preconfigured '.' endpoint(s))" if skipped else "")
        + ". Set the secret variables named in each file's header, then run `reconciler plan` "
        "(the next apply adopts them)."
    )
    return EXIT_OK


@cli.command()
@click.argument("service", required=False)
def schema(service: str | None) -> int:
    """Print the JSON Schema of SERVICE (or the top-level endpoint schema), for editors and people."""
    from reconciler.catalog import load_catalog, schemas_dir

    if service is None:
        path = schemas_dir() / "endpoint.schema.json"
    else:
        if load_catalog().service(service) is None:
            known = ", ".join(load_catalog().service_names())
            raise InputError(f"unknown service '{service}' (known: {known})")
        path = schemas_dir() / "services" / f"{service}.schema.json"
    click.echo(path.read_text(encoding="utf-8").rstrip("\n"))
    return EXIT_OK
