"""`reconciler sandbox`: run the sandbox cluster in the foreground.

Owns the click command (options, `--fault` parsing, the one "listening"
line on stdout, clean exit on Ctrl-C or SIGTERM). The lead registers it in
the main CLI with `cli.add_command(sandbox_command)`; `python -m
reconciler.sandbox` runs it standalone.
"""

from __future__ import annotations

import json
import re
import signal
import ssl
import sys
import threading
from pathlib import Path
from typing import Any

import click

from .knobs import Fault
from .offers import BUILT_IN, read_offers
from .protocol import version_tuple
from .server import SandboxServer
from .store import SandboxDataError

FAULT_HELP = (
    "Inject a fault: METHOD:PATH_REGEX:STATUS[:COUNT]. METHOD may be '*'; STATUS is an HTTP status "
    "or 'drop' (close the connection without an answer); append '-after' (e.g. 504-after, "
    "drop-after) to perform the request first and then lose the answer. COUNT defaults to 1; a "
    "COUNT such as 10s makes it a window: every match for 10 seconds from the first. Repeatable."
)


WINDOW = re.compile(r"\d+(\.\d+)?s")


def parse_fault(text: str) -> Fault:
    """`PUT:^/_inference/:503:2` -> Fault(method="PUT", path="^/_inference/", status=503, count=2)."""
    method, sep, rest = text.partition(":")
    if not sep or not method:
        raise click.BadParameter(
            f"{text!r}: expected METHOD:PATH_REGEX:STATUS[:COUNT]", param_hint="--fault"
        )
    parts = rest.rsplit(":", 2)
    seconds = None
    if len(parts) == 3 and WINDOW.fullmatch(parts[2]) and _is_status(parts[1]):
        path, status, count, seconds = parts[0], parts[1], None, float(parts[2][:-1])
    elif len(parts) == 3 and parts[2].isdigit() and _is_status(parts[1]):
        path, status, count = parts[0], parts[1], int(parts[2])
    else:
        parts = rest.rsplit(":", 1)
        if len(parts) != 2 or not _is_status(parts[1]):
            raise click.BadParameter(
                f"{text!r}: expected METHOD:PATH_REGEX:STATUS[:COUNT]", param_hint="--fault"
            )
        path, status, count = parts[0], parts[1], 1
    after = status.endswith("-after")
    status = status.removesuffix("-after")
    try:
        return Fault(
            method=None if method == "*" else method.upper(),
            path=path or ".*",
            status=None if status == "drop" else int(status),
            count=count,
            drop=status == "drop",
            after=after,
            seconds=seconds,
        )
    except (ValueError, re.error) as error:
        raise click.BadParameter(f"{text!r}: {error}", param_hint="--fault") from None


def _is_status(text: str) -> bool:
    core = text.removesuffix("-after")
    return core == "drop" or (core.isdigit() and 100 <= int(core) <= 599)


def _check_version(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        version_tuple(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return value


@click.command("sandbox")
@click.option(
    "--port",
    type=int,
    default=9200,
    show_default=True,
    help="Port on 127.0.0.1; 0 picks a free port.",
)
@click.option(
    "--data",
    "data_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON file that keeps the cluster between runs (no secret values, only fingerprints).",
)
@click.option(
    "--es-version",
    default="9.5.0",
    show_default=True,
    callback=_check_version,
    help="Elasticsearch version to report and emulate (decides the _update behaviour).",
)
@click.option(
    "--eis",
    is_flag=True,
    default=False,
    help="Connect the cluster to the Elastic Inference Service, as on Elastic Cloud and Serverless: "
    "service 'elastic' works and its preconfigured '.' endpoints are listed.",
)
@click.option(
    "--latency-ms", type=float, default=0.0, show_default=True, help="Delay added to every request."
)
@click.option(
    "--fault", "faults", multiple=True, metavar="METHOD:PATH_REGEX:STATUS[:COUNT]", help=FAULT_HELP
)
@click.option(
    "--request-log",
    type=click.Path(dir_okay=False),
    default=None,
    help="Append one JSON line per request (method, path, query, status, time, headers, auth "
    "scheme; never bodies or credentials).",
)
@click.option(
    "--require-api-key",
    metavar="KEY",
    default=None,
    help="Refuse requests without 'Authorization: ApiKey KEY' (401).",
)
@click.option(
    "--require-bearer-token",
    metavar="TOKEN",
    default=None,
    help="Also accept 'Authorization: Bearer TOKEN' (and refuse requests without credentials).",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Serve HTTPS with this certificate (PEM).",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Private key for --tls-cert (PEM).",
)
@click.option(
    "--tls-client-ca",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="With --tls-cert: require a client certificate signed by this CA (mutual TLS).",
)
@click.option(
    "--offer",
    "offers",
    multiple=True,
    metavar="NAME_OR_JSON_FILE",
    help="Also offer a service or fields the sandbox's own table lacks, as a newer release "
    "would: a built-in name (mixedbread) or a JSON file holding a GET _inference/_services "
    "entry or a list of them.",
)
def sandbox_command(
    port: int,
    data_file: str | None,
    es_version: str,
    eis: bool,
    latency_ms: float,
    faults: tuple[str, ...],
    request_log: str | None,
    require_api_key: str | None,
    require_bearer_token: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    tls_client_ca: str | None,
    offers: tuple[str, ...],
) -> None:
    """Run a local Elasticsearch-like sandbox cluster for inference endpoints."""
    parsed_faults = [parse_fault(text) for text in faults]
    offered = _offers(offers)
    if tls_key and not tls_cert:
        raise click.BadParameter("--tls-key needs --tls-cert", param_hint="--tls-key")
    if tls_client_ca and not tls_cert:
        raise click.BadParameter("--tls-client-ca needs --tls-cert", param_hint="--tls-client-ca")
    try:
        server = SandboxServer(
            host="127.0.0.1",
            port=port,
            data_file=data_file,
            version=es_version,
            eis=eis,
            latency_ms=latency_ms,
            api_key=require_api_key,
            request_log_file=request_log,
            certfile=tls_cert,
            keyfile=tls_key,
            bearer_token=require_bearer_token,
            client_ca=tls_client_ca,
            offered_services=offered,
        )
        for fault in parsed_faults:
            server.add_fault(fault)
        server.start()
    except SandboxDataError as error:
        raise click.ClickException(str(error)) from None
    except ssl.SSLError as error:
        raise click.ClickException(f"cannot load the TLS certificate or key: {error}") from None
    except OSError as error:
        raise click.ClickException(
            f"cannot listen on 127.0.0.1:{port}: {error.strerror or error}"
        ) from None
    click.echo(f"Sandbox cluster listening on {server.url}")
    sys.stdout.flush()
    stopped = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.2):
            pass
    except KeyboardInterrupt:
        stopped.set()
    finally:
        server.stop()


def _offers(texts: tuple[str, ...]) -> tuple[str | dict[str, Any], ...]:
    """``--offer`` values: built-in names as they are, JSON files read (one entry or a list)."""
    found: list[str | dict[str, Any]] = []
    for text in texts:
        if text in BUILT_IN:
            found.append(text)
            continue
        try:
            loaded = json.loads(Path(text).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise click.BadParameter(
                f"{text}: not a built-in offer ({', '.join(sorted(BUILT_IN))}) nor a readable "
                f"JSON file ({error})",
                param_hint="--offer",
            ) from None
        found.extend(loaded if isinstance(loaded, list) else [loaded])
    try:
        read_offers(found)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--offer") from None
    return tuple(found)


def main(argv: list[str] | None = None) -> Any:
    return sandbox_command.main(args=argv, prog_name="python -m reconciler.sandbox")
