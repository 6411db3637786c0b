"""The command line: a thin click layer over the pipeline, and its one error boundary.

Owns options, exit codes and where text goes (stdout for results, stderr for
progress and errors). Heavy modules are imported inside commands so that
``reconciler --help`` starts fast. Knows nothing about services.
"""

from __future__ import annotations

import sys
from pathlib import Path as FsPath
from typing import Any

import click

from reconciler import __version__
from reconciler.errors import InputError, ReconcilerError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_REFUSED, EXIT_DIFFERS = 0, 1, 2, 3, 4


class Context:
    def __init__(self, *, debug: bool) -> None:
        self.debug = debug


def _print_diagnostics(error: InputError) -> None:
    for diagnostic in error.diagnostics:
        click.echo(str(diagnostic), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option("--debug", is_flag=True, help="Show tracebacks and HTTP details (never secrets).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Declarative GitOps reconciler for Elasticsearch inference endpoints."""
    ctx.obj = Context(debug=debug)


@cli.command()
@click.argument("directory", default=".", type=click.Path(path_type=FsPath))
def validate(directory: FsPath) -> None:
    """Check every spec under DIRECTORY against the schemas (offline)."""
    from reconciler.validate import validate_directory

    result = validate_directory(directory)
    if not result.ok:
        raise InputError(
            f"{len(result.diagnostics)} problem(s) in {directory}", result.diagnostics
        )
    count = len(result.specs)
    click.echo(f"{count} endpoint spec{'s' if count != 1 else ''} valid in {directory}.")


def _register_optional_commands() -> None:
    try:
        from reconciler.sandbox.command import sandbox_command
    except ImportError:  # the sandbox is optional while it is being built
        return
    cli.add_command(sandbox_command)


def main(argv: list[str] | None = None) -> Any:
    _register_optional_commands()
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
        click.echo(f"Error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
