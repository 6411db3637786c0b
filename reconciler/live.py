"""Reading what the cluster has now: version, endpoint listing, state, usage.

Owns the read side of a run in a constant number of requests: ``GET /``,
``GET /_inference/_all`` and the state document, whatever the number of
endpoints; plus one ``DELETE ?dry_run=true`` per destructive change to learn
which pipelines and indices use it. Also computes, from the state's
fingerprints, which secrets moved, and re-keys fingerprints of an older form.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.availability import read_services
from reconciler.calls import endpoint_path
from reconciler.catalog import Catalog, parse_version
from reconciler.client import Client
from reconciler.described import Described
from reconciler.errors import SecretError
from reconciler.fingerprints import fingerprint, is_current, matches, self_contained
from reconciler.model import EndpointSpec, FieldPath, LiveEndpoint, content_digest, dotted
from reconciler.ownership import Records, read_records
from reconciler.plan import UNCHANGED, Change, SecretStatus, SnapshotFingerprint, Usage
from reconciler.region_policy import PATH as POLICY_PATH
from reconciler.region_policy import SINCE as POLICY_SINCE
from reconciler.region_policy import LivePolicy, canonical
from reconciler.secrets import SecretValues, secret_paths
from reconciler.state import Managed, State, StateStore

DRY_RUN_SINCE = (8, 15, 0)


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    version: str
    endpoints: tuple[LiveEndpoint, ...]
    state: State
    records: Records = field(default_factory=Records)  # every owner in the state index
    offered: Mapping[str, frozenset[str]] | None = None  # _services: service -> task types
    described: Described | None = None  # _services: how it describes each service
    warnings: tuple[str, ...] = ()
    cluster_uuid: str = ""
    region_policy: LivePolicy | None = None
    region_policy_read: bool = False  # read only where a run needs it (declared, or ours)

    @property
    def fingerprint(self) -> SnapshotFingerprint:
        """What a plan made from this snapshot was made from (``plan.SnapshotFingerprint``)."""
        return self.fingerprint_for(None)

    def fingerprint_for(self, scope: frozenset[str] | None) -> SnapshotFingerprint:
        """The fingerprint of what a plan reads (``Plan.scope``): endpoints and other owners'
        records of other ids are left out, so that another directory's apply in the same
        cluster does not make this directory's saved plan stale."""
        state = self.state

        def read(inference_id: str) -> bool:
            return scope is None or inference_id in scope

        documents = {d: sorted(filter(read, o.managed)) for d, o in self.records.documents.items()}
        return SnapshotFingerprint(
            endpoints={
                e.inference_id: endpoint_digest(e) for e in self.endpoints if read(e.inference_id)
            },
            state=f"{state.seq_no}/{state.primary_term}" if state.exists else "",
            owners=content_digest(
                {
                    "claims": {
                        i: c.owner for i, c in sorted(self.records.claims.items()) if read(i)
                    },
                    "documents": {d: ids for d, ids in sorted(documents.items()) if ids},
                }
            ),
            cluster_uuid=self.cluster_uuid,
            cluster_version=self.version,
            services=services_digest(self.offered, self.described),
            region_policy=content_digest(
                canonical(self.region_policy.policy) if self.region_policy else None
            )
            if self.region_policy_read
            else "",
        )


def services_digest(
    offered: Mapping[str, frozenset[str]] | None, described: Described | None
) -> str:
    """What ``_services`` offers, and how it describes each field (required, sensitive,
    updatable, type, task types): a saved plan made from another description is stale.
    "" when the cluster did not answer it."""
    if offered is None:
        return ""
    fields = {
        name: {
            key: [f.required, f.sensitive, f.updatable, f.type, sorted(f.task_types or ())]
            for key, f in sorted(service.fields.items())
        }
        for name, service in sorted((described or {}).items())
    }
    return content_digest(
        {"offered": {k: sorted(v) for k, v in sorted(offered.items())}, "fields": fields}
    )


def endpoint_digest(endpoint: LiveEndpoint) -> str:
    return content_digest(dict(endpoint.body))[len("sha256:") :][:16]


def read_cluster(client: Client) -> tuple[str, str]:
    """The cluster's version and uuid (``GET /``)."""
    info = client.request("GET", "/").body or {}
    return str((info.get("version") or {}).get("number", "0.0.0")), str(
        info.get("cluster_uuid") or ""
    )


def read_version(client: Client) -> str:
    return read_cluster(client)[0]


def read_endpoints(client: Client) -> tuple[LiveEndpoint, ...]:
    body = client.request("GET", "/_inference/_all").body or {}
    documents = body.get("endpoints", body.get("models", []))  # "models" before 8.15
    alike: dict[str, Any] = {}
    return tuple(
        sorted(
            (LiveEndpoint.from_api(_sharing(d, alike)) for d in documents),
            key=lambda e: e.inference_id,
        )
    )


def _sharing(document: Any, alike: dict[str, Any]) -> Any:
    """``document`` with each settings object replaced by the first equal one of the listing:
    endpoints made alike list the same blocks, and 50,000 of them would hold 50,000 copies.
    Equal means the same ``repr``: JSON's types kept (1, 1.0 and True are equal in Python, and
    must stay as the cluster wrote them). Nothing changes the listing once read (views copy
    what they change)."""
    if type(document) is not dict:
        return document
    shared = {}
    for name, value in document.items():
        if type(value) is dict or type(value) is list:
            value = alike.setdefault(f"{name}={value!r}", value)
        elif type(value) is str:
            value = sys.intern(value)
        shared[name] = value
    return shared


def read_region_policy(client: Client) -> LivePolicy | None:
    """``GET _inference/_region_policy``: None when the cluster has none (404; a cluster older
    than 9.5.0 answers 404 too, and the caller looks at the version)."""
    answer = client.request("GET", POLICY_PATH, ok=(404,))
    if answer.status == 404 or not isinstance(answer.body, Mapping):
        return None
    return LivePolicy.from_api(answer.body)


def read_snapshot(
    client: Client,
    store: StateStore,
    *,
    region_policy: bool = False,
    meanwhile: Callable[[str], object] | None = None,
) -> Snapshot:
    """Version and uuid, listing, and the state index (this directory's document and every
    other owner's, in one search): independent reads, sent at once, so a plan costs one round
    trip whatever its size. ``_services`` is read too (its absence tolerated), and the region
    policy when the caller asks (a directory that declares one). ``meanwhile`` is called with
    the cluster's version as soon as it is known, in this thread, while the larger answers
    are on their way (the cluster builds a listing of 50,000 endpoints for half a second)."""
    with ThreadPoolExecutor(max_workers=5) as pool:
        cluster = pool.submit(read_cluster, client)
        listing = pool.submit(read_endpoints, client)
        searched = pool.submit(read_records, client, store.index)
        services = pool.submit(read_services, client)
        policy = pool.submit(read_region_policy, client) if region_policy else None
        if meanwhile is not None and not cluster.exception():
            meanwhile(cluster.result()[0])
        endpoints = listing.result()
        records = searched.result()
        described = services.result()
        version, uuid = cluster.result()
        live_policy = policy.result() if policy is not None else None
    if not records.readable:
        state = store.unreadable(records.status)
    else:
        state = store.found(records.hits.get(store.doc_id), index_exists=records.index_exists)
        # this directory's document is ``state`` now: its raw copy (a few hundred bytes per
        # endpoint) is not kept beside it
        others = {doc_id: hit for doc_id, hit in records.hits.items() if doc_id != store.doc_id}
        records = replace(records, hits=others)
    snapshot = Snapshot(
        version=version,
        endpoints=endpoints,
        state=state,
        records=records,
        offered=None
        if described is None
        else {name: service.task_types for name, service in described.items()},
        described=described,
        cluster_uuid=uuid,
        region_policy=live_policy if parse_version(version) >= POLICY_SINCE else None,
        region_policy_read=region_policy,
    )
    warnings = (state.problem,) if state.problem else ()
    return replace(snapshot, warnings=warnings)


def _usage(client: Client, task_type: str, inference_id: str) -> Usage:
    """Who uses one endpoint: ``DELETE ?dry_run=true`` answers without deleting."""
    answer = client.request(
        "DELETE",
        endpoint_path(task_type, inference_id),
        params={"dry_run": True},
        ok=(403, 404),
    )
    if answer.status == 403:
        return Usage(unknown=True)
    body = answer.body if isinstance(answer.body, Mapping) else {}
    return Usage(
        pipelines=tuple(body.get("pipelines") or ()),
        indices=tuple(body.get("indexes") or body.get("indices") or ()),
    )


def read_usage(client: Client, changes: Iterable[Change], version: str) -> dict[str, Usage]:
    """Pipelines and indices using each endpoint a destructive change would remove; unknown
    where the key may not ask (403: ``DELETE ?dry_run=true`` needs ``manage_inference``,
    which a read-only plan key lacks; apply asks again with its own key)."""
    if parse_version(version) < DRY_RUN_SINCE:
        return {}
    return {
        c.inference_id: _usage(client, c.live_task_type or c.task_type, c.inference_id)
        for c in changes
        if c.action.destructive
    }


def read_usage_of(
    client: Client, endpoints: Iterable[LiveEndpoint], version: str
) -> dict[str, Usage]:
    """Pipelines and indices using each of ``endpoints`` (those a region policy would deny)."""
    if parse_version(version) < DRY_RUN_SINCE:
        return {}
    return {e.inference_id: _usage(client, e.task_type, e.inference_id) for e in endpoints}


def secret_statuses(
    specs: Iterable[EndpointSpec],
    state: State,
    catalog: Catalog,
    *,
    live_ids: frozenset[str],
    version: str,
    values: SecretValues,
    send: frozenset[str] = frozenset(),
    send_untracked: bool = False,
) -> dict[str, SecretStatus]:
    """Per endpoint: which secrets moved since we last sent them, and which we cannot know.
    The secrets of the ids in ``send`` count as moved (``--send-secrets``), and with
    ``send_untracked`` so do those never sent by us (``--send-secrets UNTRACKED``)."""
    statuses: dict[str, SecretStatus] = {}
    cluster = parse_version(version)
    for spec in specs:
        if spec.inference_id not in live_ids:
            continue  # a create sends every secret anyway
        recorded = state.managed.get(spec.inference_id)
        changed: list[FieldPath] = []
        untracked: list[FieldPath] = []
        unresolved: list[FieldPath] = []
        facts = catalog.facts(spec.service, spec.task_type, cluster)
        for path in secret_paths(spec, facts.secret_fields):
            known = recorded.secrets.get(dotted(path)) if recorded else None
            if spec.inference_id in send:
                changed.append(path)
                continue
            if not state.available or known is None:
                (changed if send_untracked and state.available else untracked).append(path)
                continue
            try:
                value = values.of_spec(spec, path)
            except SecretError:
                unresolved.append(path)
                continue
            same = matches(known, value, salt=state.salt)
            if same is None:  # made with a fingerprint key this run does not have
                (changed if send_untracked else untracked).append(path)
            elif not same:
                changed.append(path)
        statuses[spec.inference_id] = (
            SecretStatus(
                changed=tuple(changed), untracked=tuple(untracked), unresolved=tuple(unresolved)
            )
            if changed or untracked or unresolved
            else UNCHANGED
        )
    return statuses


def stale_fingerprints(state: State) -> bool:
    """Whether the state holds fingerprints in an older form than ``fingerprint`` makes now."""
    return state.available and any(
        not is_current(recorded)
        for entry in state.managed.values()
        for recorded in entry.secrets.values()
    )


def rekeyed(
    state: State,
    specs: Iterable[EndpointSpec],
    catalog: Catalog,
    *,
    version: str,
    values: SecretValues,
) -> State:
    """The state with each fingerprint of an older form (the legacy salt-keyed HMAC a reader can
    test guesses against, or another key's) made again in the current form, where the declared
    secret still matches it: no rotation is invented and none is hidden. One that no longer
    matches stays (the plan's update sends the secret and records it anew); one of an endpoint
    no spec declares cannot be checked, and a legacy one is dropped rather than left guessable."""
    if not stale_fingerprints(state):
        return state
    by_id = {spec.inference_id: spec for spec in specs}
    cluster = parse_version(version)
    managed: dict[str, Managed] = {}
    for inference_id, entry in state.managed.items():
        spec = by_id.get(inference_id)
        resolved: dict[str, str] = {}
        if spec is not None:
            facts = catalog.facts(spec.service, spec.task_type, cluster)
            for path in secret_paths(spec, facts.secret_fields):
                try:
                    resolved[dotted(path)] = values.of_spec(spec, path)
                except SecretError:
                    continue
        secrets: dict[str, str] = {}
        for name, recorded in entry.secrets.items():
            value = resolved.get(name)
            if is_current(recorded):
                secrets[name] = recorded
            elif value is not None and matches(recorded, value, salt=state.salt):
                secrets[name] = fingerprint(value, salt=state.salt)
            elif value is not None or self_contained(recorded):
                secrets[name] = recorded  # a rotation the plan shows, or one another run can check
        managed[inference_id] = replace(entry, secrets=secrets)
    return replace(state, managed=managed)
