"""In-process tests of the stages that do I/O, each against a sandbox server on 127.0.0.1.

They call the reconciler's own modules (the apply sequence, the state store, the
client, the importer, the plan file) directly, and fake nothing of ours: the
wire is real HTTP to the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.client import Connection
from reconciler.model import EndpointSpec
from reconciler.sandbox import SandboxServer
from reconciler.session import Session, load_specs, open_session
from reconciler.settings import Settings

RERANK = {
    "inference_id": "team-rerank",
    "task_type": "rerank",
    "service": "openshift_ai",
    "service_settings": {
        "url": "https://rerank.example/v1",
        "api_key": "${env:RERANK_KEY}",
        "model_id": "bge-reranker",
    },
    "task_settings": {"top_n": 3},
}
EMBED = {
    "inference_id": "team-embed",
    "task_type": "text_embedding",
    "service": "openai",
    "service_settings": {"api_key": "${env:OPENAI_KEY}", "model_id": "text-embedding-3-small"},
}


@pytest.fixture(autouse=True)
def secret_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RERANK_KEY", "rerank-secret-value-1")
    monkeypatch.setenv("OPENAI_KEY", "openai-secret-value-1")


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as started:
        yield started


@pytest.fixture
def connect(server: SandboxServer) -> Callable[..., Any]:
    """``with connect() as session:`` a session on the sandbox (settings may be given)."""

    def make(settings: Settings | None = None) -> Any:
        return open_session(
            connection=Connection(url=server.url),
            settings=settings or Settings(),
            sandbox_data=None,
        )

    return make


def write_specs(directory: Path, *bodies: dict[str, Any]) -> tuple[EndpointSpec, ...]:
    """Write one spec file per body into ``directory`` and load them as the CLI would."""
    directory.mkdir(parents=True, exist_ok=True)
    for body in bodies:
        (directory / f"{body['inference_id']}.yaml").write_text(
            yaml.safe_dump(body, sort_keys=False), encoding="utf-8"
        )
    return load_specs(directory, Settings()).specs


def writes(server: SandboxServer) -> list[str]:
    """``METHOD path`` of every request that wrote to the cluster (dry runs are reads)."""
    return [
        f"{r['method']} {r['path']}"
        for r in server.requests
        if r["method"] in ("PUT", "POST", "DELETE") and "dry_run" not in str(r.get("query", ""))
    ]


def recorded_writes(server: SandboxServer) -> list[str]:
    """``writes`` without the apply lock's own (apply takes the lock before it reads anything,
    as Terraform does, so even a run that changes nothing takes and releases it)."""
    return [
        w
        for w in writes(server)
        if not w.endswith(".lock") and w.split()[1].strip("/").count("/") > 0
    ]


__all__ = ["EMBED", "RERANK", "Session", "recorded_writes", "write_specs", "writes"]
