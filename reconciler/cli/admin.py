"""Commands that look after a directory's state or the catalog: forget, unlock, doctor, import,
convert, schema."""

from __future__ import annotations

import sys
import time
from pathlib import Path as FsPath
from typing import Any

import click

from reconciler.cli.group import EXIT_CHANGES, EXIT_OK, cli
from reconciler.cli.options import DIRECTORY, _session, connection_options
from reconciler.errors import InputError, ReconcilerError


@cli.command()
@click.argument("arguments", nargs=-1, required=True, metavar="[DIR] [TASK_TYPE/]ID...")
@connection_options
def forget(arguments: tuple[str, ...], **options: Any) -> int:
    """Stop managing endpoints (ID or TASK_TYPE/ID) without touching them; another directory may
    then adopt them. DIR (default .) is the desired-state directory; an endpoint it still declares
    is refused (the next apply would adopt it again)."""
    from reconciler.run import forget as forget_endpoints
    from reconciler.session import load_specs

    directory, written = _directory_then_ids(arguments)
    opened, settings = _session(directory, options)
    specs = load_specs(directory, settings).specs
    with opened as session:
        forgotten = forget_endpoints(session, written, specs)
        where = f"{session.store.index}/{session.store.doc_id}"
    for inference_id in forgotten:
        click.echo(
            f"Forgot {inference_id}: no longer managed by {where}; the endpoint is untouched."
        )
    return EXIT_OK


def _directory_then_ids(arguments: tuple[str, ...]) -> tuple[FsPath, tuple[str, ...]]:
    """``[DIR] ID...``: the first argument is the directory when it is one and ids follow."""
    first, rest = FsPath(arguments[0]), arguments[1:]
    if first.is_dir():
        if not rest:
            raise click.UsageError(f"{first} is a directory: name the endpoints to forget after it")
        return first, rest
    return FsPath("."), arguments


@cli.command()
@DIRECTORY
@click.option("--lock-id", help="Remove exactly this lock: the id shown where the lock was met.")
@connection_options
def unlock(directory: FsPath, lock_id: str | None, **options: Any) -> int:
    """Remove an apply lock left by a run that died (asks on a terminal without --lock-id)."""

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
                    f"the lock is {described}; to remove it, run "
                    f"`{session.store.unlock_command(held.lock_id)}` (no terminal to confirm on; "
                    "nothing was removed)"
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
@click.option("--force", is_flag=True, help="Overwrite spec files that exist already.")
@click.argument("ids", nargs=-1, metavar="[[TASK_TYPE/]ID]...")
@connection_options
def import_(out: FsPath, force: bool, ids: tuple[str, ...], **options: Any) -> int:
    """Write spec files for endpoints that exist in the cluster (all, or IDS; ``region_policy``
    names the cluster's region policy). An existing file is overwritten only with --force; an id
    a spec under --out declares already is not written again."""
    from reconciler import addresses
    from reconciler.availability import read_services
    from reconciler.catalog import load_catalog, parse_version
    from reconciler.described import extended
    from reconciler.importer import (
        POLICY_FILE,
        preconfigured_message,
        recorded_from,
        refuse_existing,
        schema_reference,
        write_region_policy,
        write_specs,
    )
    from reconciler.live import read_endpoints, read_region_policy, read_version
    from reconciler.ownership import read_records
    from reconciler.region_policy import ADDRESS, SINCE

    wanted_ids = addresses.ids_of(ids)
    if any(i.startswith(".") for i in wanted_ids):  # before any request: they cannot be managed
        raise InputError(preconfigured_message(i for i in wanted_ids if i.startswith(".")))
    opened, settings = _session(out, options)
    with opened as session:
        version = read_version(session.client)
        endpoints = read_endpoints(session.client)
        recorded = recorded_from(read_records(session.client, settings.state_index))
        # services and fields newer than the catalog: their secrets as the cluster describes them
        catalog = extended(load_catalog(), read_services(session.client), version=version)
        wants_policy = (ADDRESS in ids or not ids) and parse_version(version) >= SINCE
        policy = read_region_policy(session.client) if wants_policy else None
    if ADDRESS in ids and policy is None:
        raise ReconcilerError("the cluster has no region policy to import")
    known = addresses.known_endpoints((e.inference_id, e.task_type) for e in endpoints)
    endpoint_ids = [i for i in ids if i != ADDRESS]
    named, problems = addresses.resolve(
        "import", endpoint_ids, known=known, where="exists in the cluster"
    )
    addresses.check(problems)
    wanted = [e for e in endpoints if (e.inference_id in named if ids else not e.preconfigured)]
    kept = _declared_under(out, force=force)
    if policy is not None and not force:  # before any file is written
        refuse_existing([out / POLICY_FILE])
    written = write_specs(  # refuses (nothing written) to replace a file unless --force
        [e for e in wanted if e.inference_id not in kept],
        out,
        catalog,
        schema_ref=schema_reference(out),
        version=version,
        recorded=recorded,
        overwrite=force,
    )
    if policy is not None:
        written.append(
            write_region_policy(policy, out, schema_ref=schema_reference(out), overwrite=force)
        )
    skipped = len(endpoints) - len(wanted) if not ids else 0
    click.echo(
        f"Wrote {len(written)} spec file(s) to {out}"
        + (f" (skipped {skipped} preconfigured '.' endpoint(s))" if skipped else "")
        + ". Set the secret variables named in each file's header, then run "
        f"`reconciler plan {settings.invocation}` (the next apply adopts them)."
    )
    not_written = [
        f"{e.inference_id} ({kept[e.inference_id]})" for e in wanted if e.inference_id in kept
    ]
    if not_written:
        click.echo(
            f"Not written ({len(not_written)}), declared already under {out}: "
            + ", ".join(not_written)
            + ("" if force else "; --force overwrites a spec file of that endpoint's own name"),
            err=True,
        )
    return EXIT_OK


def _declared_under(out: FsPath, *, force: bool) -> dict[str, str]:
    """Ids the spec files under ``out`` declare already -> where ("file:line"). With ``force``,
    those declared in the file import would write (``ID.yaml``, alone in it) are not counted:
    that file is overwritten."""
    from reconciler.loader import load_directory

    if not out.is_dir():
        return {}
    documents, _ = load_directory(out)
    found: dict[str, list[Any]] = {}
    for document in documents:
        if isinstance(document.body, dict) and isinstance(document.body.get("inference_id"), str):
            found.setdefault(document.body["inference_id"], []).append(document.source)
    return {
        inference_id: f"{sources[0].file}:{sources[0].line}"
        for inference_id, sources in found.items()
        if not (force and [FsPath(s.file).name for s in sources] == [f"{inference_id}.yaml"])
    }


@cli.command()
@click.argument("source", default="-", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=FsPath),
    help="Directory to write one spec file per request into (existing files are never replaced).",
)
@click.option(
    "--modernise",
    "--modernize",
    is_flag=True,
    help="Write old layouts Elasticsearch still accepts in the current layout.",
)
def convert(source: str, out: FsPath, modernise: bool) -> int:
    """Turn Kibana Dev Tools requests (PUT _inference/...) from SOURCE (default: stdin) into specs."""
    from reconciler.catalog import load_catalog
    from reconciler.convert import convert_text, write_converted
    from reconciler.importer import schema_reference
    from reconciler.loader import read_text

    if source == "-":
        text, name = sys.stdin.read(), "<stdin>"
    else:
        name = source
        text, problem = read_text(FsPath(source), root=None, file=source)
        if problem is not None or text is None:
            raise InputError(f"cannot convert {source}", [problem] if problem else [])
    conversion = convert_text(text, file=name, catalog=load_catalog(), modernise=modernise)
    written = write_converted(conversion, out, source=name, schema_ref=schema_reference(out))
    for message in conversion.skipped:
        click.echo(message, err=True)
    for converted in conversion.specs:
        for field, variable in zip(converted.replaced, converted.variables, strict=False):
            click.echo(
                f"replaced the literal {field} of {converted.inference_id} with "
                f"${{env:{variable}}}",
                err=True,
            )
    variables = [v for converted in conversion.specs for v in converted.variables]
    click.echo(
        f"Wrote {len(written)} spec file(s) to {out}."
        + (f" Set {', '.join(variables)} before plan or apply." if variables else "")
        + f" Then run `reconciler validate {out}`."
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


@cli.command()
@click.argument("directories", nargs=-1, type=click.Path(path_type=FsPath))
@click.option(
    "--root",
    default=".",
    show_default=True,
    type=click.Path(path_type=FsPath, file_okay=False),
    help="Where to look for directories holding a reconciler.yaml (and what paths are relative to).",
)
@click.option(
    "--changed-since",
    metavar="COMMIT",
    help="Only the pairs of directories where a file differs between COMMIT and HEAD (git).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github-matrix"]),
    default="text",
    show_default=True,
    help="github-matrix: one line of JSON for a GitHub Actions `strategy.matrix` (fromJSON).",
)
def targets(
    directories: tuple[FsPath, ...], root: FsPath, changed_since: str | None, fmt: str
) -> int:
    """List the (directory, environment) pairs to plan: each directory holding a reconciler.yaml, times its environments (offline)."""
    import json

    from reconciler.targets import find_targets

    found = find_targets(root, directories=directories, changed_since=changed_since)
    entries = [target.as_matrix_entry() for target in found]
    if fmt == "github-matrix":
        click.echo(json.dumps({"include": entries}, separators=(",", ":")))
    elif fmt == "json":
        click.echo(json.dumps(entries, indent=2))
    elif not entries:
        click.echo("No directory to plan." if changed_since is None else "No directory changed.")
    else:
        for entry in entries:
            click.echo(f"{entry['directory']}\t{entry['label']}")
    return EXIT_OK
