"""The sandbox cluster's state and its persistence.

Owns the in-memory model (inference endpoints, ingest pipelines, indices
with their documents), the lock that serialises every read-modify-write,
secret fingerprints, and the data file, read back at start so that separate
processes (`plan`, then `apply`) see the same cluster. Every mutation is on
disk before the request that made it is answered, at a cost proportional to
the change, not to the cluster: the file is one JSON document (the whole
cluster, written atomically: temp file + rename) followed by a journal, one
JSON line per endpoint, document, index, pipelines or region policy changed
since (appended). The journal is folded into a new whole document once it is
longer than the document (so each byte of a change is written a bounded number
of times), at the first write of a process and when the sandbox stops; a file
at rest is plain JSON. Requests handled at the same time share one write. A
line cut short by a killed process was never answered, and is ignored.
``read_data_file`` reads a file as the cluster it holds. The file never holds a
secret value: only salted SHA-256 fingerprints. When the file lives in a
folder named `.reconciler`, that folder gets a `.gitignore` of `*`.
It does not validate requests; the handler modules do.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "reconciler-sandbox/1"
COMPACT = (",", ":")
JOURNAL_FLOOR = 1 << 20  # bytes: a shorter journal is not folded in for its length alone


class SandboxDataError(ValueError):
    """The data file exists but cannot be read as sandbox state."""


@dataclass
class StoredEndpoint:
    config: dict[str, Any]
    secret_fingerprints: dict[str, str] = field(default_factory=dict)
    hidden: dict[str, Any] = field(default_factory=dict)


@dataclass
class Document:
    source: Any
    version: int
    seq_no: int
    primary_term: int = 1
    # its JSON in the data file, made once: a document is replaced, never changed in place, and
    # a state document of 10,000 endpoints (3.5 MB) was encoded for the journal and again for
    # each rewrite of the whole file
    text: str | None = field(default=None, init=False, repr=False, compare=False)


@dataclass
class Index:
    name: str
    uuid: str
    settings: dict[str, Any]
    mappings: dict[str, Any]
    creation_date: int
    docs: dict[str, Document] = field(default_factory=dict)
    next_seq_no: int = 0

    def take_seq_no(self) -> int:
        seq_no = self.next_seq_no
        self.next_seq_no += 1
        return seq_no


def new_index(name: str, settings: dict[str, Any], mappings: dict[str, Any]) -> Index:
    return Index(
        name=name,
        uuid=uuid.uuid4().hex[:22],
        settings=settings,
        mappings=mappings,
        creation_date=int(time.time() * 1000),
    )


class Store:
    """All cluster state behind one re-entrant lock."""

    def __init__(self, data_file: str | os.PathLike[str] | None = None) -> None:
        self.lock = threading.RLock()
        self.data_file = Path(data_file) if data_file is not None else None
        self.endpoints: dict[str, StoredEndpoint] = {}
        self.pipelines: dict[str, Any] = {}
        self.indices: dict[str, Index] = {}
        self.region_policy: dict[str, Any] | None = None  # the document GET _region_policy answers
        self.salt = secrets.token_hex(16)
        self.cluster_uuid = uuid.uuid4().hex[:22]
        self._endpoints_json = _EndpointsJson()
        self._documents_json: dict[
            tuple[str, str], tuple[Document, str]
        ] = {}  # (index, id) -> (doc, text)
        self._generation = 0  # mutations so far; this and the next ones under `lock`
        self._written = 0  # mutations the file holds
        self._writing = False  # one writer at a time
        self._changed: dict[tuple[str, ...], None] = {}  # what the journal must say next, in order
        self._whole = True  # the next write is the whole document (the first one of a process)
        self._document_bytes = 0  # of the whole document, as last written
        self._journal_bytes = 0  # appended since
        self._file_changed = threading.Condition(self.lock)
        self._request = threading.local()
        if self.data_file is not None:
            self._guard_folder()
            if self.data_file.exists():
                self._load()

    def fingerprint(self, value: str) -> str:
        digest = hmac.new(self.salt.encode(), value.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"hmac-sha256:{digest}"

    def fingerprints(self, secret_values: dict[str, str]) -> dict[str, str]:
        return {name: self.fingerprint(value) for name, value in secret_values.items()}

    def reset(self) -> None:
        with self.lock:
            self.endpoints.clear()
            self.pipelines.clear()
            self.indices.clear()
            self.region_policy = None
            self.save()

    # -- persistence ----------------------------------------------------------

    def _guard_folder(self) -> None:
        assert self.data_file is not None
        folder = self.data_file.parent
        if folder.name == ".reconciler":
            folder.mkdir(parents=True, exist_ok=True)
            ignore = folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("*\n", encoding="utf-8")

    def _header(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "note": "reconciler sandbox cluster state; secrets are kept only as salted fingerprints",
            "salt": self.salt,
            "cluster_uuid": self.cluster_uuid,
        }

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                **self._header(),
                "endpoints": {
                    key: _endpoint_to_json(ep) for key, ep in sorted(self.endpoints.items())
                },
                "pipelines": self.pipelines,
                "indices": {
                    name: _index_to_json(index) for name, index in sorted(self.indices.items())
                },
                "region_policy": self.region_policy,
            }

    def save(
        self,
        *,
        endpoint: str | None = None,
        document: tuple[str, str] | None = None,
        index: str | None = None,
        pipelines: bool = False,
        region_policy: bool = False,
    ) -> None:
        """Persist a mutation: now, or inside ``request_scope()`` once the request is handled.
        Naming what changed (an endpoint's id, an (index, id) document, an index created or
        deleted, the pipelines, the region policy) writes only that; nothing named writes the
        whole cluster."""
        if self.data_file is None:
            return
        changed = [
            key
            for key, given in (
                (("endpoint", endpoint or ""), endpoint is not None),
                (("doc", *(document or ("", ""))), document is not None),
                (("index", index or ""), index is not None),
                (("pipelines",), pipelines),
                (("region_policy",), region_policy),
            )
            if given
        ]
        with self.lock:
            self._generation += 1
            generation = self._generation
            if not changed:
                self._whole = True
            for key in changed:
                self._changed[key] = None
        if getattr(self._request, "active", False):
            self._request.pending = generation
            return
        self._commit(generation)

    @contextlib.contextmanager
    def request_scope(self) -> Iterator[None]:
        """Around the handling of one request: its mutations are on disk when the block ends.

        Requests handled at the same time share writes: a write snapshots every mutation so far, so
        a request whose mutation an earlier write already holds writes nothing. The file is the whole
        cluster, and a thousand creates must not write it a thousand times.
        """
        self._request.active, self._request.pending = True, 0
        try:
            yield
        finally:
            self._request.active = False
            if self._request.pending:
                self._commit(self._request.pending)

    def compact(self) -> None:
        """Fold the journal into the whole document (when the sandbox stops: a file at rest is
        one JSON document)."""
        if self.data_file is None:
            return
        with self.lock:
            if not self._journal_bytes:
                return
            self._whole = True
            self._generation += 1
            generation = self._generation
        self._commit(generation)

    def _commit(self, generation: int) -> None:
        """Return once the file holds mutation ``generation`` (and every earlier one)."""
        with self._file_changed:  # the store's lock: one lock, so no order of locks to get wrong
            while self._written < generation and self._writing:
                self._file_changed.wait()  # another request's write is under way; it may hold ours
            if self._written >= generation:
                return
            latest = self._generation
            whole = self._whole or self._journal_bytes > max(self._document_bytes, JOURNAL_FLOOR)
            text = self._encode() + "\n" if whole else ""
            lines = [] if whole else [self._journal_line(key) for key in self._changed]
            self._changed, self._whole = {}, False
            self._writing = True
        written = False
        try:
            # outside the lock: requests go on while the file is written (what a line encodes
            # here is replaced, never changed in place)
            if whole:
                self._write_file(text)
            else:
                text = "".join(line() for line in lines)
                assert self.data_file is not None
                with open(self.data_file, "a", encoding="utf-8") as handle:
                    handle.write(text)
            written = True
        finally:
            with self._file_changed:
                self._writing = False
                if written:
                    self._written = latest
                    if whole:
                        self._document_bytes, self._journal_bytes = len(text), 0
                    else:
                        self._journal_bytes += len(text)
                else:  # what this write held is not on disk: the next one writes everything
                    self._whole = True
                self._file_changed.notify_all()

    def _journal_line(self, key: tuple[str, ...]) -> Callable[[], str]:
        """Under the lock: what the journal says of ``key`` now, as a function that encodes it
        (outside the lock; endpoints and documents are replaced, never changed in place)."""
        kind = key[0]
        entry: dict[str, Any]
        if kind == "endpoint":
            stored = self.endpoints.get(key[1])
            entry = {"op": kind, "id": key[1], "value": None}
            if stored is not None:
                entry["value"] = _endpoint_to_json(stored)
        elif kind == "doc":
            index = self.indices.get(key[1])
            doc = index.docs.get(key[2]) if index is not None else None
            head = {
                "op": kind,
                "index": key[1],
                "id": key[2],
                "meta": json.loads(json.dumps(_index_metadata(index))) if index else None,
            }
            return lambda: (
                json.dumps(head, separators=COMPACT)[:-1]
                + ',"value":'
                + (_document_text(doc) if doc is not None else "null")
                + "}\n"
            )
        elif kind == "index":
            index = self.indices.get(key[1])
            entry = {"op": kind, "name": key[1], "value": None}
            if index is not None:
                entry["value"] = {
                    **json.loads(json.dumps(_index_metadata(index))),
                    "docs": {i: _document_to_json(d) for i, d in index.docs.items()},
                }
        else:  # small, and changed in place: encoded now
            text = json.dumps({"op": kind, "value": getattr(self, kind)}, separators=COMPACT)
            return lambda: text + "\n"
        return lambda: json.dumps(entry, separators=COMPACT) + "\n"

    def _write_file(self, text: str) -> None:
        assert self.data_file is not None
        folder = self.data_file.parent
        folder.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            "w",
            dir=folder,
            prefix=f".{self.data_file.name}.",
            suffix=".tmp",
            delete=False,
            encoding="utf-8",
        )
        try:
            # rename is atomic against a killed process; no fsync: a sandbox need not survive power loss
            with handle:
                handle.write(text)
            os.replace(handle.name, self.data_file)
        except OSError:
            Path(handle.name).unlink(missing_ok=True)
            raise

    def _encode(self) -> str:
        """The compact JSON of ``snapshot()``, re-encoding only the endpoints and documents replaced
        since the last write (the state document of 10,000 endpoints is a megabyte)."""
        head = json.dumps(self._header(), separators=COMPACT)
        endpoints = self._endpoints_json.encode(self.endpoints)
        documents: dict[tuple[str, str], tuple[Document, str]] = {}
        indices = []
        for name, index in sorted(self.indices.items()):
            metadata = _index_metadata(index)
            texts = []
            for doc_id, doc in index.docs.items():
                cached = self._documents_json.get((name, doc_id))
                if cached is None or cached[0] is not doc:
                    cached = (doc, json.dumps(doc_id) + ":" + _document_text(doc))
                documents[(name, doc_id)] = cached
                texts.append(cached[1])
            indices.append(
                f'{json.dumps(name)}:{json.dumps(metadata, separators=COMPACT)[:-1]},"docs":{{{",".join(texts)}}}}}'
            )
        self._documents_json = documents
        pipelines = json.dumps(self.pipelines, separators=COMPACT)
        policy = json.dumps(self.region_policy, separators=COMPACT)
        return (
            f'{head[:-1]},"endpoints":{{{endpoints}}},"pipelines":{pipelines},'
            f'"indices":{{{",".join(indices)}}},"region_policy":{policy}}}'
        )

    def _load(self) -> None:
        assert self.data_file is not None
        try:
            state = read_data_file(self.data_file)
            if state.get("format") != FORMAT:
                raise SandboxDataError(
                    f"{self.data_file}: not a sandbox data file (format {state.get('format')!r})"
                )
            self.salt = state["salt"]
            self.cluster_uuid = state.get("cluster_uuid", self.cluster_uuid)
            self.endpoints = {
                key: StoredEndpoint(
                    config=value["config"],
                    secret_fingerprints=value.get("secret_fingerprints", {}),
                    hidden=value.get("hidden", {}),
                )
                for key, value in state.get("endpoints", {}).items()
            }
            self.pipelines = dict(state.get("pipelines", {}))
            self.indices = {
                name: _index_from_json(name, value)
                for name, value in state.get("indices", {}).items()
            }
            self.region_policy = state.get("region_policy")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            if isinstance(error, SandboxDataError):
                raise
            raise SandboxDataError(
                f"{self.data_file}: cannot read sandbox state: {error}"
            ) from error


def read_data_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The cluster a data file holds (the shape of ``Store.snapshot()``): its document with
    the journal after it replayed. A last line cut short (a killed process) was never
    answered and is left out; any other line that is not JSON is an error (ValueError)."""
    text = Path(path).read_text(encoding="utf-8")
    start = len(text) - len(text.lstrip())
    state, end = json.JSONDecoder().raw_decode(text, start)
    if not isinstance(state, dict):
        raise SandboxDataError(f"{path}: not a sandbox data file (not a JSON object)")
    lines = text[end:].split("\n")
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            if number == len(lines) - 1:  # no newline after it: its write was cut short
                break
            raise
        _replay(state, entry)
    return state


def _replay(state: dict[str, Any], entry: dict[str, Any]) -> None:
    """Apply one journal line to a data file's document."""
    kind, value = entry["op"], entry.get("value")
    if kind == "endpoint":
        _put(state.setdefault("endpoints", {}), entry["id"], value)
    elif kind == "index":
        _put(state.setdefault("indices", {}), entry["name"], value)
    elif kind == "doc":
        indices, meta = state.setdefault("indices", {}), entry["meta"]
        if meta is None:
            indices.pop(entry["index"], None)
            return
        index = indices.get(entry["index"])
        if index is None or index.get("uuid") != meta["uuid"]:
            index = indices[entry["index"]] = {**meta, "docs": {}}
        index.update(meta)
        _put(index.setdefault("docs", {}), entry["id"], value)
    elif kind in ("pipelines", "region_policy"):
        state[kind] = value
    else:
        raise ValueError(f"unknown journal entry {kind!r}")


def _put(mapping: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


class _EndpointsJson:
    """The endpoints' part of the data file, kept between writes.

    A ``StoredEndpoint`` is replaced, never changed in place, so an endpoint whose object is the
    one encoded last time keeps its text; a write of a thousand endpoints after one create encodes
    one endpoint and joins the rest.
    """

    def __init__(self) -> None:
        self.sources: dict[str, StoredEndpoint] = {}  # id -> the object its text was made from
        self.texts: dict[str, str] = {}  # id -> '"id":{...}'
        self.order: list[str] = []  # ids, sorted

    def encode(self, endpoints: dict[str, StoredEndpoint]) -> str:
        sources, texts = self.sources, self.texts
        added = []
        for key, endpoint in endpoints.items():
            if sources.get(key) is not endpoint:
                if key not in sources:
                    added.append(key)
                sources[key] = endpoint
                texts[key] = (
                    json.dumps(key)
                    + ":"
                    + json.dumps(_endpoint_to_json(endpoint), separators=COMPACT)
                )
        if len(sources) != len(endpoints):
            for key in [key for key in sources if key not in endpoints]:
                del sources[key], texts[key]
            self.order = sorted(sources)
        elif len(added) > 8:
            self.order = sorted(sources)
        else:
            for key in added:
                bisect.insort(self.order, key)
        return ",".join([texts[key] for key in self.order])


def _endpoint_to_json(endpoint: StoredEndpoint) -> dict[str, Any]:
    return {
        "config": endpoint.config,
        "secret_fingerprints": endpoint.secret_fingerprints,
        "hidden": endpoint.hidden,
    }


def _index_metadata(index: Index) -> dict[str, Any]:
    return {
        "uuid": index.uuid,
        "settings": index.settings,
        "mappings": index.mappings,
        "creation_date": index.creation_date,
        "next_seq_no": index.next_seq_no,
    }


def _index_to_json(index: Index) -> dict[str, Any]:
    docs = {doc_id: _document_to_json(doc) for doc_id, doc in index.docs.items()}
    return {**_index_metadata(index), "docs": docs}


def _document_text(doc: Document) -> str:
    """``_document_to_json(doc)`` as compact JSON, encoded once per document."""
    if doc.text is None:
        doc.text = json.dumps(_document_to_json(doc), separators=COMPACT)
    return doc.text


def _document_to_json(doc: Document) -> dict[str, Any]:
    return {
        "_source": doc.source,
        "_version": doc.version,
        "_seq_no": doc.seq_no,
        "_primary_term": doc.primary_term,
    }


def _index_from_json(name: str, value: dict[str, Any]) -> Index:
    index = Index(
        name=name,
        uuid=value["uuid"],
        settings=value.get("settings", {}),
        mappings=value.get("mappings", {}),
        creation_date=value.get("creation_date", 0),
        next_seq_no=value.get("next_seq_no", 0),
    )
    for doc_id, doc in value.get("docs", {}).items():
        index.docs[doc_id] = Document(
            source=doc["_source"],
            version=doc["_version"],
            seq_no=doc["_seq_no"],
            primary_term=doc.get("_primary_term", 1),
        )
    return index
