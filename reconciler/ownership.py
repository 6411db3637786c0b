"""Who manages which endpoint: every state document and claim of the state index, in one read.

Owns exclusive ownership across desired-state directories. Each directory's
state document lists the endpoints it manages; where a create cannot decide
who owns an endpoint (adopting one that exists, taking one over with
``--adopt``, moving one out of a legacy shared document), a create-only
*claim* document ``claim.<id>`` decides: the first writer wins, and a claim
outranks any list. ``read_records`` reads them all with one ``_search``;
``resolve`` (pure) turns them into the planner's ``Ownership``; ``claim``,
``release`` and ``hand_over`` write claims with optimistic concurrency.
Documents written before ids were derived per directory (format version 1,
shared by every directory as ``default``) are legacy: an endpoint such a
document lists moves to the directory that declares it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler import addresses
from reconciler.client import Client
from reconciler.errors import AuthError, Conflict, NotFound, OwnershipConflict
from reconciler.model import FieldPath, undotted
from reconciler.plan import Move, Ownership
from reconciler.state import State, StateStore

CLAIM_PREFIX = "claim."
LOCK_SUFFIX = ".lock"  # the apply lock of a state document (state.py)
SEARCH_SIZE = 10_000  # Elasticsearch's default index.max_result_window


@dataclass(frozen=True, kw_only=True)
class Claim:
    inference_id: str
    owner: str
    seq_no: int
    primary_term: int


@dataclass(frozen=True, kw_only=True)
class OtherDocument:
    doc_id: str
    managed: frozenset[str]
    legacy: bool  # format version 1: shared by every directory before ids were derived
    declares: frozenset[str] = frozenset()  # declared there, managed by another document
    releases: frozenset[str] = frozenset()  # managed there, no longer declared there


@dataclass(frozen=True, kw_only=True)
class Records:
    """The state index as one ``_search`` returned it."""

    claims: Mapping[str, Claim] = field(default_factory=dict)
    documents: Mapping[str, OtherDocument] = field(default_factory=dict)  # by document id
    hits: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # state documents, raw
    readable: bool = True
    status: int = 200  # of the search: 403 when the credentials may not read the index
    index_exists: bool = True
    truncated: bool = False


def read_records(client: Client, index: str) -> Records:
    """Every claim and state document of ``index`` (none when the index does not exist yet)."""
    try:
        answer = client.request(
            "GET",
            f"/{index}/_search",
            json={"size": SEARCH_SIZE, "seq_no_primary_term": True, "query": {"match_all": {}}},
            ok=(404,),
        )
    except AuthError as error:
        return Records(readable=False, status=error.status)
    if answer.status == 404 or not isinstance(answer.body, Mapping):
        return Records(index_exists=False)
    hits = (answer.body.get("hits") or {}).get("hits") or []
    total = ((answer.body.get("hits") or {}).get("total") or {}).get("value", len(hits))
    claims: dict[str, Claim] = {}
    documents: dict[str, OtherDocument] = {}
    raw: dict[str, Mapping[str, Any]] = {}
    for hit in hits:
        doc_id, source = str(hit.get("_id", "")), hit.get("_source")
        if not isinstance(source, Mapping):
            continue
        if source.get("kind") == "claim" and doc_id.startswith(CLAIM_PREFIX):
            inference_id = doc_id[len(CLAIM_PREFIX) :]
            claims[inference_id] = Claim(
                inference_id=inference_id,
                owner=str(source.get("owner", "")),
                seq_no=int(hit.get("_seq_no", 0)),
                primary_term=int(hit.get("_primary_term", 1)),
            )
        elif not doc_id.endswith(LOCK_SUFFIX):  # a state document (possibly a damaged one)
            raw[doc_id] = hit
            managed = source.get("managed")
            documents[doc_id] = OtherDocument(
                doc_id=doc_id,
                managed=frozenset(str(i) for i in managed)
                if isinstance(managed, Mapping)
                else frozenset(),
                legacy=_version(source) < 2,
                declares=_listed(source.get("declared_not_owned")),
                releases=_listed(source.get("no_longer_declared")),
            )
    return Records(claims=claims, documents=documents, hits=raw, truncated=int(total) > len(hits))


def _listed(ids: Any) -> frozenset[str]:
    return frozenset(str(i) for i in ids) if isinstance(ids, list) else frozenset()


def _version(source: Mapping[str, Any]) -> int:
    version = source.get("format_version", 1)
    return version if isinstance(version, int) else 1


@dataclass(frozen=True, kw_only=True)
class Resolved:
    ownership: Ownership
    moving: Mapping[str, str]  # id -> the legacy document it moves out of at the next apply
    warnings: tuple[str, ...] = ()


def resolve(records: Records, *, mine: str, state: State, declared: Iterable[str]) -> Resolved:
    """Who owns what, from this directory's point of view (``mine`` is its document id). Pure."""
    if not records.readable or not state.available:
        return Resolved(ownership=_from_state(state, frozenset(state.managed)), moving={})
    wanted = set(declared)
    ours = set(state.managed)
    listed: dict[str, set[str]] = {}
    moving: dict[str, str] = {}
    for document in records.documents.values():
        if document.doc_id == mine:
            continue
        for inference_id in document.managed:
            if document.legacy and inference_id in wanted and inference_id not in ours:
                moving.setdefault(inference_id, document.doc_id)
            elif not document.legacy or inference_id not in ours:
                listed.setdefault(inference_id, set()).add(document.doc_id)
    for inference_id, claim in records.claims.items():
        if claim.owner == mine:
            ours.add(inference_id)
            listed.pop(inference_id, None)
            moving.pop(inference_id, None)
        else:
            listed[inference_id] = {claim.owner}
            ours.discard(inference_id)
            moving.pop(inference_id, None)
    ours |= set(moving)
    # an id another directory lists too, with no claim to decide, is nobody's to touch alone
    others = {inference_id: tuple(sorted(owners)) for inference_id, owners in listed.items()}
    ours -= set(others)
    documents = records.documents
    # a spec moving between directories: every owner that no longer declares it lets it go ...
    released = {
        inference_id
        for inference_id, owners in listed.items()
        if all(inference_id in _releases(documents, owner) for owner in owners)
    }
    # ... and ours that another directory declares move there instead of being kept or pruned
    declared_elsewhere = {
        inference_id: document.doc_id
        for document in sorted(documents.values(), key=lambda d: d.doc_id, reverse=True)
        if document.doc_id != mine
        for inference_id in document.declares & ours
    }
    warnings = []
    if records.truncated:
        warnings.append(
            f"the state index holds more than {SEARCH_SIZE} documents; owners beyond them are unknown"
        )
    return Resolved(
        ownership=replace(
            _from_state(state, frozenset(ours), others=others, moving=moving),
            declared_elsewhere=declared_elsewhere,
            released=frozenset(released),
        ),
        moving=moving,
        warnings=tuple(warnings),
    )


def _releases(documents: Mapping[str, OtherDocument], doc_id: str) -> frozenset[str]:
    document = documents.get(doc_id)
    return document.releases if document is not None else frozenset()


def _from_state(
    state: State,
    mine: frozenset[str],
    *,
    others: Mapping[str, tuple[str, ...]] | None = None,
    moving: Mapping[str, str] | None = None,
) -> Ownership:
    return Ownership(
        mine=mine,
        recorded=frozenset(state.managed),
        moving=dict(moving or {}),
        others=dict(others or {}),
        declared=_declared_fields(state),
        baselines={i: e.baseline for i, e in state.managed.items() if e.baseline is not None},
        known=state.available,
    )


def _declared_fields(state: State) -> dict[str, frozenset[FieldPath]]:
    """Each managed id's declared fields; endpoints declaring the same fields share one set
    (thousands of endpoints made from a few templates: one set each would be most of the memory)."""
    shared: dict[tuple[str, ...], frozenset[FieldPath]] = {}
    declared = {}
    for inference_id, entry in state.managed.items():
        if entry.declared is None:
            continue
        fields = shared.get(entry.declared)
        if fields is None:
            fields = shared[entry.declared] = frozenset(undotted(n) for n in entry.declared)
        declared[inference_id] = fields
    return declared


# -- writes -----------------------------------------------------------------------------------


def claim(client: Client, index: str, inference_id: str, *, owner: str, over: str = "") -> None:
    """Make ``owner`` the endpoint's one owner; ``over`` names the owner it is taken from on
    purpose (``--adopt``). Raises OwnershipConflict if anyone else got there first."""
    path = f"/{index}/_create/{CLAIM_PREFIX}{inference_id}"
    document = {
        "kind": "claim",
        "inference_id": inference_id,
        "owner": owner,
        "claimed_at": int(time.time()),
    }
    try:
        client.request("PUT", path, params={"refresh": "true"}, json=document)
        return
    except Conflict:
        pass
    current = _read_claim(client, index, inference_id)
    if current is None:  # released meanwhile: try once more
        client.request("PUT", path, params={"refresh": "true"}, json=document)
        return
    if current.owner == owner:
        return
    if not over or current.owner != over:
        raise OwnershipConflict(
            f"{inference_id} is claimed by the state document {current.owner}; nothing was sent"
        )
    try:
        client.request(
            "PUT",
            f"/{index}/_doc/{CLAIM_PREFIX}{inference_id}",
            params={
                "if_seq_no": current.seq_no,
                "if_primary_term": current.primary_term,
                "refresh": "true",
            },
            json=document,
        )
    except Conflict:
        raise OwnershipConflict(
            f"{inference_id}: its claim changed while it was taken over; nothing was sent"
        ) from None


def release(client: Client, index: str, inference_id: str, *, owner: str) -> None:
    """Remove ``owner``'s claim of the endpoint, if it has one (never another's)."""
    current = _read_claim(client, index, inference_id)
    if current is None or current.owner != owner:
        return
    try:
        client.request(
            "DELETE",
            f"/{index}/_doc/{CLAIM_PREFIX}{inference_id}",
            params={
                "if_seq_no": current.seq_no,
                "if_primary_term": current.primary_term,
                "refresh": "true",
            },
        )
    except (Conflict, NotFound):
        pass


def _read_claim(client: Client, index: str, inference_id: str) -> Claim | None:
    answer = client.request("GET", f"/{index}/_doc/{CLAIM_PREFIX}{inference_id}", ok=(404,))
    body = answer.body if isinstance(answer.body, Mapping) else {}
    if answer.status == 404 or not body.get("found"):
        return None
    source = body.get("_source") or {}
    return Claim(
        inference_id=inference_id,
        owner=str(source.get("owner", "")),
        seq_no=int(body["_seq_no"]),
        primary_term=int(body["_primary_term"]),
    )


def take_claims(
    client: Client, store: StateStore, wanted: Mapping[str, str]
) -> tuple[frozenset[str], dict[str, str]]:
    """Claim each wanted id for ``store``'s document (the value names the owner it is taken
    from on purpose, or ""). Returns the ids taken, and those refused (claimed by someone else
    first) with why. Credentials that may not write the index take nothing from anyone."""
    taken: set[str] = set()
    refused: dict[str, str] = {}
    for inference_id, over in sorted(wanted.items()):
        try:
            claim(client, store.index, inference_id, owner=store.doc_id, over=over)
        except OwnershipConflict as error:
            refused[inference_id] = str(error)
        except AuthError:  # may read the state index but not write it: nothing can be recorded
            taken.add(inference_id)
        else:
            taken.add(inference_id)
    return frozenset(taken), refused


def hand_over(
    client: Client,
    store: StateStore,
    *,
    previous: Mapping[str, set[str]],
    deleted: Iterable[str],
) -> None:
    """The documents endpoints were taken from stop listing them; claims of deleted ones go."""
    for doc_id, ids in sorted(previous.items()):
        StateStore(client, index=store.index, doc_id=doc_id).drop(ids)
    for inference_id in deleted:
        release(client, store.index, inference_id, owner=store.doc_id)


def move_out(client: Client, store: StateStore, moves: Iterable[Move]) -> tuple[str, ...]:
    """Hand endpoints this document manages to the directories that declare them now: each
    claim passes to the new owner, then this document stops listing them. The endpoints are not
    touched. Returns a note per endpoint that could not be handed over (another claim won)."""
    handed: set[str] = set()
    notes = []
    for move in moves:
        try:
            claim(client, store.index, move.inference_id, owner=move.to, over=store.doc_id)
        except OwnershipConflict as error:
            notes.append(f"{move.address} was not handed over to {move.to}: {error}")
        else:
            handed.add(move.inference_id)
    if handed:
        store.drop(handed)
    return tuple(notes)


def forget_ids(client: Client, store: StateStore, written: Iterable[str]) -> tuple[str, ...]:
    """Stop managing the endpoints ``written`` names (``ID`` or ``TASK_TYPE/ID``), touching none
    of them (the caller holds the lock); the ids forgotten. One that this document does not
    manage is an error before anything is written."""
    state = store.read()
    known = {i: frozenset({entry.task_type}) for i, entry in state.managed.items()}
    ids, problems = addresses.resolve(
        "forget", written, known=known, where=f"is managed by {store.index}/{store.doc_id}"
    )
    addresses.check(problems)
    store.drop(set(ids))
    for inference_id in sorted(ids):
        release(client, store.index, inference_id, owner=store.doc_id)
    return tuple(sorted(ids))
