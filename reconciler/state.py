"""The state document kept in the cluster: ownership, secret fingerprints, the lock.

Owns the reconciler's memory between runs (docs/state-document.md): which ids a
desired-state directory manages, a fingerprint (fingerprints.py) of each secret it
sent, and the apply lock. Writes use optimistic concurrency; a 403 degrades
to "state unavailable" with one warning. Uses only the document APIs.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.baseline import Baseline
from reconciler.client import Client
from reconciler.errors import AuthError, Conflict, HTTPError, LockError, NotFound, ReconcilerError
from reconciler.fingerprints import new_salt
from reconciler.settings import DEFAULT_INDEX, LOCK_TTL_SECONDS

__all__ = ["DEFAULT_INDEX", "LOCK_TTL_SECONDS", "State", "StateStore"]  # defaults live in settings
FORMAT_VERSION = 2  # 2: ids derived per directory; 1 (legacy): one shared 'default'


@dataclass(frozen=True, kw_only=True, slots=True)  # one per endpoint: no __dict__ each
class Managed:
    task_type: str
    service: str
    secrets: Mapping[str, str] = field(default_factory=dict)  # dotted path -> fingerprint
    declared: tuple[str, ...] | None = None  # dotted fields the spec declared at the last apply
    baseline: Baseline | None = None  # what the server filled in, as the last apply saw it


@dataclass(frozen=True, kw_only=True)
class Intended:
    """One endpoint an apply is about to write: the action, the entry it records when the write
    succeeds (with the fingerprints of the secrets it sends) and the endpoint it expects
    afterwards (``plan.Expected`` as JSON), so that a later run can tell whether it happened."""

    action: str
    entry: Managed | None  # None: a delete
    expected: Mapping[str, Any] | None = None  # plan.Expected.summary(): a digest of the view


@dataclass(frozen=True, kw_only=True)
class Intent:
    """What a run recorded before its first write (docs/state-document.md)."""

    run: str
    started_at: int
    endpoints: Mapping[str, Intended] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class State:
    salt: str
    managed: Mapping[str, Managed] = field(default_factory=dict)
    intent: Intent | None = None  # of a run that has not recorded its end (running, or killed)
    # the inference region policy this directory manages, as it last applied it (None: none)
    region_policy: Mapping[str, Any] | None = None
    problem: str = ""  # why the state is not available (said once, as a warning)
    available: bool = True
    exists: bool = False
    seq_no: int | None = None
    primary_term: int | None = None
    format_version: int = FORMAT_VERSION  # as read: a legacy document keeps its 1 when we edit it
    # recorded at each apply, for the other directories (a spec moving between two of them):
    declared_not_owned: tuple[str, ...] = ()  # declared here, managed by another document
    no_longer_declared: tuple[str, ...] = ()  # managed here, no longer declared here (kept)

    def to_source(self, doc_id: str, *, format_version: int = FORMAT_VERSION) -> dict[str, Any]:
        """The document as JSON values (what ``StateStore`` writes is ``DocumentText``'s)."""
        source: dict[str, Any] = json.loads(
            DocumentText().encode(self, doc_id, format_version=format_version)
        )
        return source

    @classmethod
    def from_source(cls, source: Mapping[str, Any], *, seq_no: int, primary_term: int) -> State:
        """The state a document holds; ValueError says what is wrong with one we did not write."""
        problem = _malformed(source)
        if problem:
            raise ValueError(problem)
        listed = source.get("baselines")
        baselines = [Baseline.from_json(b) for b in listed] if isinstance(listed, list) else []
        alike: dict[tuple[str, ...], tuple[str, ...]] = {}  # endpoints alike declare alike
        managed = {
            str(inference_id): _entry(entry, alike, baselines)
            for inference_id, entry in (source.get("managed") or {}).items()
        }
        version = source.get("format_version", 1)
        return cls(
            salt=str(source.get("salt") or new_salt()),
            managed=managed,
            declared_not_owned=_ids(source.get("declared_not_owned")),
            no_longer_declared=_ids(source.get("no_longer_declared")),
            intent=_intent(source.get("intent")),
            region_policy=policy
            if isinstance(policy := source.get("region_policy"), Mapping)
            else None,
            format_version=version if isinstance(version, int) else 1,
            exists=True,
            seq_no=seq_no,
            primary_term=primary_term,
        )


def _ids(listed: Any) -> tuple[str, ...]:
    return tuple(sorted(str(i) for i in listed)) if isinstance(listed, list) else ()


_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class DocumentText:
    """The state document as JSON text (docs/state-document.md), for a store that writes it
    several times in a run (apply: the intent, the outcomes, the end). Each write is the whole
    document, but the text of an entry (or an intent's item) that is the same value as at the
    previous write is reused, not built and encoded again: a write costs joining the entries'
    texts, plus encoding what changed since."""

    def __init__(self) -> None:
        # per id: the value last encoded, its baseline's place in the list, its text
        self._managed: dict[str, tuple[Managed, int | None, str]] = {}
        self._intended: dict[str, tuple[Intended, str]] = {}

    def encode(self, state: State, doc_id: str, *, format_version: int = FORMAT_VERSION) -> bytes:
        # equal baselines are written once (thousands of endpoints made from a few templates
        # share a handful): an entry names its baseline by its place in the list
        baselines: dict[str, int] = {}
        for entry in state.managed.values():
            if entry.baseline is not None:
                baselines.setdefault(entry.baseline.key, len(baselines))
        before, self._managed = self._managed, {}
        entries = []
        for inference_id, entry in sorted(state.managed.items()):
            number = None if entry.baseline is None else baselines[entry.baseline.key]
            known = before.get(inference_id)
            if known is None or known[0] is not entry or known[1] != number:
                known = (
                    entry,
                    number,
                    f"{_text(inference_id)}:{_text(_entry_json(entry, number))}",
                )
            self._managed[inference_id] = known
            entries.append(known[2])
        parts = [
            f'"format_version":{_text(format_version)}',
            f'"state_id":{_text(doc_id)}',
            f'"salt":{_text(state.salt)}',
            f'"updated_at":{int(time.time())}',
            f'"managed":{{{",".join(entries)}}}',
            f'"declared_not_owned":{_text(sorted(state.declared_not_owned))}',
            f'"no_longer_declared":{_text(sorted(state.no_longer_declared))}',
        ]
        if baselines:  # each key is the baseline's canonical JSON text
            parts.append(f'"baselines":[{",".join(baselines)}]')
        if state.region_policy is not None:
            parts.append(f'"region_policy":{_text(dict(state.region_policy))}')
        if state.intent is not None:
            parts.append(f'"intent":{self._intent(state.intent)}')
        return f"{{{','.join(parts)}}}".encode()

    def _intent(self, intent: Intent) -> str:
        before, self._intended = self._intended, {}
        items = []
        for inference_id, item in intent.endpoints.items():
            known = before.get(inference_id)
            if known is None or known[0] is not item:
                known = (item, f"{_text(inference_id)}:{_text(_intended_json(item))}")
            self._intended[inference_id] = known
            items.append(known[1])
        return (
            f'{{"run":{_text(intent.run)},"started_at":{_text(intent.started_at)},'
            f'"endpoints":{{{",".join(items)}}}}}'
        )


def _entry_json(entry: Managed, baseline: int | None) -> dict[str, Any]:
    return {
        "task_type": entry.task_type,
        "service": entry.service,
        "secrets": dict(entry.secrets),
        **({"declared": list(entry.declared)} if entry.declared is not None else {}),
        **({"baseline": baseline} if baseline is not None else {}),
    }


def _intended_json(item: Intended) -> dict[str, Any]:
    return {
        "action": item.action,
        # compact: the entry's task type and service are the expected state's, and the next
        # run records the declared fields from its own plan
        **({"secrets": dict(item.entry.secrets)} if item.entry else {}),
        **({"expected": item.expected} if item.expected is not None else {}),
    }


def _entry(
    document: Mapping[str, Any],
    alike: dict[tuple[str, ...], tuple[str, ...]],
    baselines: list[Baseline | None],
) -> Managed:
    declared = None
    listed = document.get("declared")
    if type(listed) is list:
        names = tuple(map(str, listed))
        declared = alike.get(names)  # one tuple for the entries that declare alike
        if declared is None:
            declared = alike[names] = names
    number = document.get("baseline")
    return Managed(
        baseline=baselines[number]
        if type(number) is int and 0 <= number < len(baselines)  # (not a bool)
        else None,
        task_type=sys.intern(str(document.get("task_type", ""))),
        service=sys.intern(str(document.get("service", ""))),
        secrets=dict(document.get("secrets") or {}),
        declared=declared,
    )


def _intent(document: Any) -> Intent | None:
    """The intent a document records; one we cannot read counts as none (it only adds to
    what the next run can know)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("endpoints"), Mapping):
        return None
    endpoints = {}
    for inference_id, item in document["endpoints"].items():
        if not isinstance(item, Mapping) or not isinstance(item.get("secrets") or {}, Mapping):
            continue
        action = str(item.get("action", ""))
        expected = item.get("expected") if isinstance(item.get("expected"), Mapping) else None
        described = expected or {}
        endpoints[str(inference_id)] = Intended(
            action=action,
            entry=None
            if action == "delete"
            else Managed(
                task_type=str(described.get("task_type", "")),
                service=str(described.get("service", "")),
                secrets=dict(item.get("secrets") or {}),
            ),
            expected=expected,
        )
    return Intent(
        run=str(document.get("run", "")),
        started_at=int(document.get("started_at") or 0),
        endpoints=endpoints,
    )


def _malformed(source: Any) -> str:
    if not isinstance(source, Mapping):
        return "not a JSON object"
    version = source.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        return f"format_version {version!r}: written by a newer reconciler; upgrade this one"
    managed = source.get("managed") or {}
    if not isinstance(managed, Mapping):
        return "'managed' is not an object"
    salted = isinstance(source.get("salt"), str)
    for inference_id, entry in managed.items():
        # JSON objects are dicts: the ABC check only for what is not one
        if not (type(entry) is dict or isinstance(entry, Mapping)):
            return f"the entry of '{inference_id}' is not an object with a 'secrets' object"
        secrets = entry.get("secrets") or {}
        if not (type(secrets) is dict or isinstance(secrets, Mapping)):
            return f"the entry of '{inference_id}' is not an object with a 'secrets' object"
        for value in secrets.values():  # (a loop: one generator per entry costs more)
            if not isinstance(value, str):
                return f"a secret fingerprint of '{inference_id}' is not a string"
        if secrets and not salted:
            return "fingerprints without a salt"
    return ""


def lock_id_of(document: Mapping[str, Any]) -> str:
    """The id a person names a lock by: its token (a lock written without one: its version)."""
    source = document.get("_source") or {}
    token = source.get("token") if isinstance(source, Mapping) else None
    return str(token) if token else f"v{document.get('_seq_no')}-{document.get('_primary_term')}"


def holder_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


class StateStore:
    def __init__(
        self,
        client: Client,
        *,
        index: str = DEFAULT_INDEX,
        doc_id: str = "default",
        invocation: str = ".",
    ) -> None:
        self.client = client
        self.index = index
        self.doc_id = doc_id
        self.invocation = invocation  # DIR [--env NAME]: what `reconciler unlock` needs to find us
        self._token: str | None = None  # of the lock this store took, if any
        # (_seq_no, _primary_term) of its last write of that lock, when the answer told them
        self._lock_version: tuple[int, int] | None = None
        self._index_ready = False  # known to exist: no need to ask for it again
        self._text = DocumentText()  # what it wrote last, reused for the entries that stay
        self.lock_left = ""  # why the lock this store took is still there after the run

    def unlock_command(self, lock_id: str) -> str:
        """The command that removes exactly this lock, complete but for the connection options."""
        return f"reconciler unlock {self.invocation} --lock-id {lock_id}"

    @property
    def lock_id(self) -> str:  # the lock document's id; a person names a lock by lock_id_of()
        return f"{self.doc_id}.lock"

    @property
    def token(self) -> str | None:
        """The id of the lock this store holds, if it holds one."""
        return self._token

    def read(self) -> State:
        try:
            answer = self.client.request("GET", f"/{self.index}/_doc/{self.doc_id}", ok=(404,))
        except AuthError as error:
            return self.unreadable(error.status)
        body = answer.body if isinstance(answer.body, Mapping) else {}
        self._index_ready = (
            self._index_ready or "found" in body
        )  # a missing index answers with an error
        if answer.status == 404 or not body.get("found"):
            return State(salt=new_salt())
        return self.parse(body)

    def unreadable(self, status: int) -> State:
        """The state when the credentials may not read the index: planning goes on without it."""
        return State(
            salt=new_salt(),
            available=False,
            problem=(
                f"cannot read the state index {self.index} ({status}); planning without "
                "ownership or secret fingerprints: prune and rotation detection are off"
            ),
        )

    def found(self, hit: Mapping[str, Any] | None, *, index_exists: bool) -> State:
        """The state from a search hit of this document (None: there is none yet)."""
        self._index_ready = self._index_ready or index_exists
        return self.parse(hit) if hit is not None else State(salt=new_salt())

    def parse(self, body: Mapping[str, Any]) -> State:
        """The state a document (a GET answer or a search hit, with its sequence numbers) holds."""
        try:
            return State.from_source(
                body.get("_source") or {},
                seq_no=int(body["_seq_no"]),
                primary_term=int(body["_primary_term"]),
            )
        except ValueError as error:  # never overwrite what we cannot read: ownership would be lost
            raise ReconcilerError(
                f"the state document {self.index}/{self.doc_id} cannot be read ({error}); nothing was "
                f"written. If it is damaged, delete it (DELETE /{self.index}/_doc/{self.doc_id}); the next "
                "apply adopts the declared endpoints again"
            ) from None

    def write(self, state: State) -> State:
        """Store ``state``; on a concurrent change, merge ours over theirs and retry."""
        if not state.available:
            return state
        for _ in range(5):
            try:
                return self._write_once(state)
            except AuthError as error:
                return replace(
                    state,
                    available=False,
                    problem=f"cannot write the state index {self.index} ({error.status}); "
                    "ownership not recorded",
                )
            except Conflict:
                theirs = self.read()
                state = replace(
                    state,
                    managed={**theirs.managed, **state.managed},
                    salt=theirs.salt if theirs.exists else state.salt,
                    exists=theirs.exists,
                    seq_no=theirs.seq_no,
                    primary_term=theirs.primary_term,
                )
        raise LockError(f"the state document {self.index}/{self.doc_id} keeps changing under us")

    def drop(self, inference_ids: set[str]) -> State:
        """Stop listing these endpoints (forget, or handed over to another document): read,
        remove, write back conditionally, again on a concurrent change."""
        for _ in range(5):
            state = self.read()
            if not state.exists or not inference_ids & set(state.managed):
                return state
            kept = {k: v for k, v in state.managed.items() if k not in inference_ids}
            try:  # another directory's document, maybe a legacy one: it keeps its format
                return self._write_once(
                    replace(state, managed=kept), format_version=state.format_version
                )
            except Conflict:
                continue
        raise LockError(f"the state document {self.index}/{self.doc_id} keeps changing under us")

    def _write_once(self, state: State, *, format_version: int = FORMAT_VERSION) -> State:
        text = self._text.encode(state, self.doc_id, format_version=format_version)
        if state.exists:
            path = f"/{self.index}/_doc/{self.doc_id}"
            params: dict[str, Any] = {
                "if_seq_no": state.seq_no,
                "if_primary_term": state.primary_term,
                "refresh": "true",
            }
        else:
            self._ensure_index()
            path, params = f"/{self.index}/_create/{self.doc_id}", {"refresh": "true"}
        answer = self.client.request("PUT", path, params=params, content=text).body
        return replace(
            state,
            exists=True,
            seq_no=int(answer["_seq_no"]),
            primary_term=int(answer["_primary_term"]),
        )

    def _ensure_index(self) -> None:
        if self._index_ready:
            return
        try:
            self.client.request("PUT", f"/{self.index}", json={"settings": {"index.hidden": True}})
        except HTTPError as error:
            if "already_exists" not in error.error_type:
                raise
        self._index_ready = True

    # -- the lock ---------------------------------------------------------------------------

    def acquire_lock(self, *, holder: str, ttl: float = LOCK_TTL_SECONDS) -> str:
        """Take the lock or raise LockError naming its holder; returns a takeover message or ""."""
        now = time.time()
        # the token tells our own lock from another's: a create whose answer was lost and that is
        # retried meets the lock it made, which is not "another apply"
        token = uuid.uuid4().hex
        document = {
            "holder": holder,
            "acquired_at": int(now),
            "expires_at": int(now + ttl),
            "token": token,
        }
        self._ensure_index()
        self._lock_version = None
        try:
            created = self.client.request(
                "PUT",
                f"/{self.index}/_create/{self.lock_id}",
                params={"refresh": "true"},
                json=document,
            )
            self._token = token
            self.lock_written(created.body)
            return ""
        except Conflict:
            pass
        current = (
            self.client.request("GET", f"/{self.index}/_doc/{self.lock_id}", ok=(404,)).body or {}
        )
        lock = current.get("_source") or {}
        if current.get("found") and lock.get("token") == token:
            self._token = token
            return ""
        if current.get("found") and lock.get("expires_at", 0) > now:
            raise LockError(
                f"another apply holds the lock: {lock.get('holder', 'unknown')} since "
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(lock.get('acquired_at', 0)))} UTC "
                f"(expires in {int(lock.get('expires_at', 0) - now)} s), lock id "
                f"{lock_id_of(current)}; if that run is dead, run "
                f"`{self.unlock_command(lock_id_of(current))}` (with the same connection options)"
            )
        try:  # expired (or vanished): take it over, but only if nobody else did first
            if current.get("found"):
                self.client.request(
                    "PUT",
                    f"/{self.index}/_doc/{self.lock_id}",
                    json=document,
                    params={
                        "if_seq_no": current["_seq_no"],
                        "refresh": "true",
                        "if_primary_term": current["_primary_term"],
                    },
                )
            else:
                self.client.request(
                    "PUT",
                    f"/{self.index}/_create/{self.lock_id}",
                    json=document,
                    params={"refresh": "true"},
                )
        except Conflict:
            again = (
                self.client.request("GET", f"/{self.index}/_doc/{self.lock_id}", ok=(404,)).body
                or {}
            )
            if (again.get("_source") or {}).get("token") != token:  # not our own retried takeover
                raise LockError("another apply took the expired lock first; try again") from None
        self._token = token
        return f"took over an expired lock held by {lock.get('holder', 'unknown')}" if lock else ""

    def lock_written(self, answer: Any) -> None:
        """Note the ``_seq_no``/``_primary_term`` of the answer to a write of our lock (its
        create, or a renewal): release deletes on them without reading the lock first."""
        body = answer if isinstance(answer, Mapping) else {}
        seq_no, term = body.get("_seq_no"), body.get("_primary_term")
        self._lock_version = (
            (seq_no, term) if isinstance(seq_no, int) and isinstance(term, int) else None
        )

    def release_lock(self) -> bool:
        """Remove the lock this store took (never one another apply took over since), or, for
        ``reconciler unlock`` (a store that took none), whatever lock there is. Our own lock is
        deleted on the version our last write of it left (one request); if that is not the
        current one, or not known, the lock is read first and removed only if it holds our
        token."""
        params: dict[str, Any] = {"refresh": "true"}
        token, self._token = self._token, None
        version, self._lock_version = self._lock_version, None
        path = f"/{self.index}/_doc/{self.lock_id}"
        if token is not None and version is not None:
            try:
                self.client.request(
                    "DELETE",
                    path,
                    params={**params, "if_seq_no": version[0], "if_primary_term": version[1]},
                )
                return True
            except NotFound:
                return False
            except Conflict:
                pass  # written since (a renewal whose answer was lost?): read it
        try:
            if token is not None:
                current = (
                    self.client.request("GET", f"/{self.index}/_doc/{self.lock_id}", ok=(404,)).body
                    or {}
                )
                if not current.get("found") or (current.get("_source") or {}).get("token") != token:
                    return False
                params.update(
                    if_seq_no=current["_seq_no"], if_primary_term=current["_primary_term"]
                )
            self.client.request("DELETE", f"/{self.index}/_doc/{self.lock_id}", params=params)
            return True
        except (NotFound, Conflict):
            return False
