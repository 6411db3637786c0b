"""The command line: a thin click layer over the pipeline, and its one error boundary.

Owns ``main``: where every error becomes ``Error: ...`` (scrubbed of secrets) and
an exit code, with no traceback unless ``--debug``. The group and the commands
are in the modules beside it (``group``, ``planning``, ``applying``, ``admin``,
``options``). Nothing of the reconciler prints outside this package and
``render/``. Knows nothing about services.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from typing import Any

import click

from reconciler.cli import admin, applying, planning  # noqa: F401 (they register their commands)
from reconciler.cli.group import EXIT_ERROR, EXIT_OK, _print_diagnostics, cli
from reconciler.errors import InputError, ReconcilerError

__all__ = ["cli", "main"]

# A run builds many small objects without cycles (parsed specs, the listing, the plan) and keeps
# them to its end; the cyclic collector's default pace (every 700 allocations) walked them over
# and over: a fifth of a 10,000-spec plan's CPU. Every 50,000 still frees cycles, a bit later.
GC_THRESHOLD = (50_000, 20, 100)


def main(argv: list[str] | None = None) -> Any:
    """Run one command; exits (``SystemExit``) with its code. Called without ``argv`` (the
    ``reconciler`` program, ``python -m reconciler``), the process ends there at once."""
    if argv is not None:  # in-process callers (the tests) get the SystemExit
        return _main(argv)
    try:
        _main(None)
    except SystemExit as exited:
        _end_process(exited)
    raise AssertionError("unreachable: _main always exits")


def _end_process(exited: SystemExit) -> None:
    """End the process with ``exited``'s code, its output flushed, without tearing the
    interpreter down object by object: a run holds everything it read and planned to its end
    (specs, listing, plan), and freeing it all one by one took 40-90 ms at 1,000 endpoints
    (tests/benchmarks/apply_ratio.py). Under a profiler or a tracer (``python -m cProfile``,
    coverage), and when the output cannot be flushed, the interpreter ends as usual."""
    code = exited.code
    if sys.getprofile() is not None or sys.gettrace() is not None or not isinstance(code, int):
        raise exited
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: as the interpreter reports it
        raise exited from None
    os._exit(code)


def _main(argv: list[str] | None) -> Any:
    gc.set_threshold(*GC_THRESHOLD)
    if argv is None:  # this process is the command (not a caller's in-process run)
        # At exit (when the interpreter ends as usual, see _end_process), whatever is still
        # alive is frozen: its last collections then skip it (walking it once more frees
        # nothing; 10,000 specs: ~50 ms of CPU)
        atexit.register(gc.freeze)
    arguments = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in arguments
    if debug:  # `--debug` anywhere on the line, as users type it: it belongs to the group
        arguments = ["--debug", *(a for a in arguments if a != "--debug")]
    try:
        code = cli.main(args=arguments, prog_name="reconciler", standalone_mode=False)
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
        from reconciler.scrub import scrub

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
