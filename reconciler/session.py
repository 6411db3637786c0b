"""One connection to one cluster (or to the embedded sandbox), and the checks made on opening it.

Owns what a run holds open: the client, the state store, the settings and
the catalog; loading the directory's specs; and refusing specs the cluster is
too old for. The sequences of a run (plan, apply) are ``run``'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath

from reconciler.catalog import Catalog, load_catalog
from reconciler.client import Client, Connection, display_url
from reconciler.errors import InputError
from reconciler.model import EndpointSpec, LiveEndpoint
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
    origin: str  # which cluster: its URL without credentials, or the sandbox's data file


@contextlib.contextmanager
def open_session(
    *, connection: Connection | None, settings: Settings, sandbox_data: FsPath | None
) -> Iterator[Session]:
    """A connected session; with ``sandbox_data`` the embedded sandbox serves it."""
    with contextlib.ExitStack() as stack:
        if sandbox_data is not None:
            from reconciler.sandbox import SandboxServer

            sandbox_data.parent.mkdir(parents=True, exist_ok=True)
            # connected to EIS, as on Elastic Cloud: every example, `service: elastic` included,
            # plans and applies clean (`reconciler sandbox` keeps it off unless --eis)
            server = stack.enter_context(
                SandboxServer(port=0, data_file=str(sandbox_data), eis=True)
            )
            connection = Connection(url=server.url)
            origin = f"the sandbox of {sandbox_data.resolve()}"
        else:
            assert connection is not None
            origin = display_url(connection.url)
        client = stack.enter_context(Client(connection))
        store = StateStore(
            client,
            index=settings.state_index,
            doc_id=settings.state_id,
            invocation=settings.invocation,
        )
        yield Session(
            client=client, store=store, settings=settings, catalog=load_catalog(), origin=origin
        )


def load_specs(directory: FsPath, settings: Settings, *, allow_empty: bool = True) -> Validation:
    result = validate_directory(directory, variables=settings.variables)
    if not result.ok:
        raise InputError(
            f"{len(result.diagnostics)} problem(s) in {directory}; nothing was sent",
            result.diagnostics,
        )
    if not result.specs and result.region_policy is None and not allow_empty:
        raise InputError(no_specs(directory))
    return result


def no_specs(directory: FsPath) -> str:
    """A directory without a single spec is most often the wrong directory: say so."""
    return (
        f"no endpoint spec in {directory} (*.yaml / *.yml files, searched recursively); "
        "pass --allow-empty if an empty desired state is what you mean; nothing was sent"
    )


def check_versions(
    specs: tuple[EndpointSpec, ...],
    catalog: Catalog,
    version: str,
    *,
    offered: Mapping[str, frozenset[str]] | None = None,
    live: Iterable[LiveEndpoint] = (),
) -> None:
    """Anything newer than the cluster (service, task type, field) is an error naming both
    versions; where the cluster's ``_services`` lists a service and task type, its word decides
    over the catalog's dates, and an endpoint the cluster holds is never refused."""
    problems = too_new(
        specs,
        catalog=catalog,
        cluster_version=version,
        offered=offered,
        held=((e.inference_id, e.service, e.task_type) for e in live),
    )
    if problems:
        raise InputError("the cluster is too old for some specs; nothing was sent", problems)
