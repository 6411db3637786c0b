"""One run against one cluster: connect (or start the embedded sandbox), then plan.

Owns the glue between the pure stages and the I/O ones: validate the
directory, read the snapshot, work out secret statuses and usage, build the
plan. Commands in ``cli.py`` and ``apply.py`` start from here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from reconciler.catalog import Catalog, load_catalog
from reconciler.client import Client, Connection
from reconciler.errors import InputError
from reconciler.live import Snapshot, read_snapshot, read_usage, secret_statuses
from reconciler.model import EndpointSpec
from reconciler.plan import Plan, build_plan, with_usage
from reconciler.settings import Settings
from reconciler.state import StateStore
from reconciler.validate import Validation, validate_directory
from reconciler.versions import too_new


@dataclass(frozen=True, kw_only=True)
class Session:
    client: Client
    store: StateStore
    settings: Settings
    catalog: Catalog


@contextlib.contextmanager
def open_session(
    *, connection: Connection | None, settings: Settings, sandbox_data: FsPath | None
) -> Iterator[Session]:
    """A connected session; with ``sandbox_data`` the embedded sandbox serves it."""
    with contextlib.ExitStack() as stack:
        if sandbox_data is not None:
            from reconciler.sandbox import SandboxServer

            sandbox_data.parent.mkdir(parents=True, exist_ok=True)
            server = stack.enter_context(SandboxServer(port=0, data_file=str(sandbox_data)))
            connection = Connection(url=server.url)
        assert connection is not None
        client = stack.enter_context(Client(connection))
        store = StateStore(client, index=settings.state_index, doc_id=settings.state_id)
        yield Session(client=client, store=store, settings=settings, catalog=load_catalog())


def load_specs(directory: FsPath, settings: Settings) -> Validation:
    result = validate_directory(directory, variables=settings.variables)
    if not result.ok:
        raise InputError(
            f"{len(result.diagnostics)} problem(s) in {directory}; nothing was sent",
            result.diagnostics,
        )
    return result


def check_versions(specs: tuple[EndpointSpec, ...], catalog: Catalog, version: str) -> None:
    """Anything newer than the cluster (service, task type, field) is an error naming both versions."""
    problems = too_new(specs, catalog=catalog, cluster_version=version)
    if problems:
        raise InputError("the cluster is too old for some specs; nothing was sent", problems)


def make_plan(
    session: Session, specs: tuple[EndpointSpec, ...], *, prune: bool, version: str | None = None
) -> tuple[Plan, Snapshot]:
    snapshot = read_snapshot(session.client, session.store, version=version)
    check_versions(specs, session.catalog, snapshot.version)
    live_ids = frozenset(e.inference_id for e in snapshot.endpoints)
    warnings: list[Any] = list(snapshot.warnings)
    if prune and not snapshot.state.available:
        warnings.append("--prune ignored: the state index is not readable, so ownership is unknown")
    plan = build_plan(
        specs=specs,
        live=snapshot.endpoints,
        catalog=session.catalog,
        cluster_version=snapshot.version,
        managed=frozenset(snapshot.state.managed),
        secrets=secret_statuses(specs, snapshot.state, session.catalog, live_ids),
        prune=prune and snapshot.state.available,
        warnings=tuple(warnings),
    )
    usage = read_usage(session.client, plan.changes, snapshot.version)
    return (with_usage(plan, usage) if usage else plan), snapshot
