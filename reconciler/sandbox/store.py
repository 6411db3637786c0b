"""The sandbox cluster's state and its persistence.

Owns the in-memory model (inference endpoints, ingest pipelines, indices
with their documents), the lock that serialises every read-modify-write,
secret fingerprints, and the JSON data file: written atomically (temp file
+ rename) after every mutation and read back at start, so separate
processes (`plan`, then `apply`) see the same cluster. The file never holds
a secret value: only salted SHA-256 fingerprints. When the file lives in a
folder named `.reconciler`, that folder gets a `.gitignore` of `*`.
It does not validate requests; the handler modules do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "reconciler-sandbox/1"


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
        self.salt = secrets.token_hex(16)
        self.cluster_uuid = uuid.uuid4().hex[:22]
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

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "format": FORMAT,
                "note": "reconciler sandbox cluster state; secrets are kept only as salted fingerprints",
                "salt": self.salt,
                "cluster_uuid": self.cluster_uuid,
                "endpoints": {
                    key: {
                        "config": ep.config,
                        "secret_fingerprints": ep.secret_fingerprints,
                        "hidden": ep.hidden,
                    }
                    for key, ep in sorted(self.endpoints.items())
                },
                "pipelines": self.pipelines,
                "indices": {name: _index_to_json(index) for name, index in sorted(self.indices.items())},
            }

    def save(self) -> None:
        if self.data_file is None:
            return
        with self.lock:
            text = json.dumps(self.snapshot(), separators=(",", ":"))
            folder = self.data_file.parent
            folder.mkdir(parents=True, exist_ok=True)
            handle = tempfile.NamedTemporaryFile(
                "w", dir=folder, prefix=f".{self.data_file.name}.", suffix=".tmp", delete=False, encoding="utf-8"
            )
            try:
                # rename is atomic against a killed process; no fsync: a sandbox need not survive power loss
                with handle:
                    handle.write(text)
                os.replace(handle.name, self.data_file)
            except OSError:
                Path(handle.name).unlink(missing_ok=True)
                raise

    def _load(self) -> None:
        assert self.data_file is not None
        try:
            state = json.loads(self.data_file.read_text(encoding="utf-8"))
            if state.get("format") != FORMAT:
                raise SandboxDataError(f"{self.data_file}: not a sandbox data file (format {state.get('format')!r})")
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
            self.indices = {name: _index_from_json(name, value) for name, value in state.get("indices", {}).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            if isinstance(error, SandboxDataError):
                raise
            raise SandboxDataError(f"{self.data_file}: cannot read sandbox state: {error}") from error


def _index_to_json(index: Index) -> dict[str, Any]:
    return {
        "uuid": index.uuid,
        "settings": index.settings,
        "mappings": index.mappings,
        "creation_date": index.creation_date,
        "next_seq_no": index.next_seq_no,
        "docs": {
            doc_id: {"_source": doc.source, "_version": doc.version, "_seq_no": doc.seq_no,
                     "_primary_term": doc.primary_term}
            for doc_id, doc in index.docs.items()
        },
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
            source=doc["_source"], version=doc["_version"], seq_no=doc["_seq_no"],
            primary_term=doc.get("_primary_term", 1),
        )
    return index
