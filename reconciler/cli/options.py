"""Options the commands share, and how a session is opened from them.

Owns the connection options (``--url`` ... ``--sandbox``), the selection options
(``--target``, ``--replace``, ``--adopt``, ``--send-secrets``,
``--allow-destroy-in-use``), the display options (``--color``, ``--verbose``),
and ``session_for``: settings and an unopened session for a directory.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import click


def connection_options(function: Any) -> Any:
    options = [
        click.option("--url", help="Cluster URL (or ELASTICSEARCH_URL)."),
        click.option(
            "--api-key", help="API key, sent as 'Authorization: ApiKey' (or ELASTIC_API_KEY)."
        ),
        click.option("--username", help="Basic auth user (or ELASTICSEARCH_USERNAME)."),
        click.option("--password", help="Basic auth password (or ELASTICSEARCH_PASSWORD)."),
        click.option(
            "--bearer-token",
            help="Token sent as 'Authorization: Bearer' (or ELASTICSEARCH_BEARER_TOKEN).",
        ),
        click.option(
            "--client-cert",
            type=click.Path(exists=True, dir_okay=False),
            help="Client certificate (PEM) for mutual TLS.",
        ),
        click.option(
            "--client-key",
            type=click.Path(exists=True, dir_okay=False),
            help="Private key (PEM) of --client-cert, unless that file holds it.",
        ),
        click.option(
            "--ca-cert", type=click.Path(exists=True, dir_okay=False), help="CA bundle to trust."
        ),
        click.option(
            "--ca-fingerprint",
            metavar="SHA256",
            help="Trust the server if a certificate in its chain has this SHA-256 fingerprint.",
        ),
        click.option(
            "--header",
            "headers",
            multiple=True,
            metavar="NAME:VALUE",
            callback=_header,
            help="Extra HTTP header to send (repeatable), e.g. for a proxy.",
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


HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110)


def _header(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    headers = []
    for given in values:
        name, sep, value = given.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not HEADER_NAME.match(name) or "\n" in value or "\r" in value:
            # the value may be a secret: name only what is wrong, never echo it
            raise click.BadParameter(
                f"expected NAME:VALUE with NAME an HTTP header name (got one starting "
                f"{name[:20]!r})"
                if sep
                else "expected NAME:VALUE (no ':' found)"
            )
        if name.lower() in ("authorization", "host", "content-length"):
            raise click.BadParameter(
                f"{name} is set by reconciler (use --api-key, --bearer-token or --username)"
            )
        headers.append((name, value))
    return tuple(headers)


def _waiting(seconds: float, reason: str) -> None:
    """The client sits out an overloaded cluster: say so, so a slow run is not taken for a hung one."""
    click.echo(f"waiting {seconds:.1f} s: {reason}".replace(".0 s", " s"), err=True)


def _session(directory: FsPath, options: dict[str, Any], *, saved: Any = None) -> Any:
    """Settings and an (unopened) session; a saved plan brings its environment and state document."""
    from dataclasses import replace

    from reconciler.connection import connection_for, refuse_sandbox_with_url
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
        refuse_sandbox_with_url(settings, flag_url=options.get("url"))
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
        bearer_token=options.get("bearer_token"),
        client_cert=options.get("client_cert"),
        client_key=options.get("client_key"),
        ca_fingerprint=options.get("ca_fingerprint"),
        headers=options.get("headers") or (),
        timeout=options.get("timeout"),
        retry_for=options.get("retry_for"),
        on_wait=_waiting,
    )
    return open_session(connection=connection, settings=settings, sandbox_data=None), settings


def selection_options(*, with_changes: bool) -> Any:
    """--target (plan, apply, drift); --replace, --adopt, --send-secrets, --allow-destroy-in-use
    (plan and apply: plan says what apply with the same flags would do, refusals included)."""
    ids: dict[str, Any] = {"multiple": True, "metavar": "[TASK_TYPE/]ID"}
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
                help="Send this endpoint's secrets once through _update (rotation then tracked); "
                "UNTRACKED: those of every endpoint whose secrets reconciler never sent.",
            ),
            click.option(
                "--create-timeout",
                callback=_duration,
                metavar="DURATION",
                help="How long the cluster may take to create an endpoint (sent as the create's "
                "'timeout', e.g. 10m; or reconciler.yaml create_timeout; default: the "
                "service's, else the cluster's 30s).",
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
        create_timeout=options.pop("create_timeout", None),
    )


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
