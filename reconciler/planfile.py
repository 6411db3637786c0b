"""The saved plan: the JSON plan document plus what apply needs, and its staleness check.

Owns the versioned file ``plan --out`` writes: the rendering scripts read
(``format_version`` "1", ``changes``, ``summary``) and a ``saved`` section with
the specs as written (secret references, never values), the fingerprint of the
live listing the plan was made from, and the fingerprint of the specs.
Reading one checks the specs in it again (schemas, duplicate ids): the file
is input like any spec, and may have been edited since it was written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from reconciler.errors import InputError, StalePlanError
from reconciler.model import EndpointSpec, Source
from reconciler.plan import Plan
from reconciler.render.json import to_document

SAVED_VERSION = 1


def specs_fingerprint(specs: tuple[EndpointSpec, ...]) -> str:
    canonical = json.dumps(
        [dict(s.body) for s in sorted(specs, key=lambda s: s.inference_id)],
        sort_keys=True,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def write_plan_file(
    path: FsPath,
    *,
    plan: Plan,
    specs: tuple[EndpointSpec, ...],
    listing_fingerprint: str,
    directory: FsPath,
    state_index: str,
    state_id: str,
    environment: str | None = None,
) -> None:
    document = to_document(plan)
    document["saved"] = {
        "version": SAVED_VERSION,
        "directory": str(directory),
        "listing_fingerprint": listing_fingerprint,
        "specs_fingerprint": specs_fingerprint(specs),
        "cluster_version": plan.cluster_version,
        "prune": plan.prune,
        "state_index": state_index,
        "state_id": state_id,
        "environment": environment,
        "specs": [{"file": s.source.file, "line": s.source.line, "body": s.body} for s in specs],
    }
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write the plan to {path}: {error.strerror or error}") from None


def read_plan_file(path: FsPath) -> tuple[Mapping[str, Any], tuple[EndpointSpec, ...]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        saved = dict(document["saved"])
        saved["changes"] = [
            {"inference_id": c["inference_id"], "action": c["action"]} for c in document["changes"]
        ]
        if saved.get("version") != SAVED_VERSION:
            raise InputError(f"{path}: saved plan version {saved.get('version')} is not supported")
        specs = tuple(
            EndpointSpec(
                inference_id=s["body"]["inference_id"],
                task_type=s["body"]["task_type"],
                service=s["body"]["service"],
                body=s["body"],
                source=Source(file=s["file"], line=s.get("line", 0)),
            )
            for s in saved["specs"]
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputError(
            f"{path} is not a saved plan written by `reconciler plan --out` ({error})"
        ) from None
    _check_specs(path, saved)
    return saved, specs


def _check_specs(path: FsPath, saved: Mapping[str, Any]) -> None:
    from reconciler.loader import Document
    from reconciler.validate import validate_documents

    documents = [
        Document(
            body=s["body"], source=Source(file=str(s["file"]), line=int(s.get("line") or 1), col=1)
        )
        for s in saved["specs"]
    ]
    result = validate_documents(documents, [])
    if not result.ok:
        raise InputError(
            f"{path}: the specs saved in the plan are not valid (was it edited?); nothing was sent",
            result.diagnostics,
        )


def check_fresh(saved: Mapping[str, Any], *, listing_fingerprint: str, replanned: Plan) -> None:
    """Refuse a plan whose cluster moved since it was made, or whose actions no longer hold."""
    if saved["listing_fingerprint"] != listing_fingerprint:
        raise StalePlanError(
            "the saved plan is stale: the cluster's endpoints changed since it was made; "
            "run `reconciler plan` again (nothing was written)"
        )
    expected = {(c["inference_id"], c["action"]) for c in saved_changes(saved)}
    actual = {(c.inference_id, c.action.value) for c in replanned.changes}
    if expected and expected != actual:
        raise StalePlanError(
            "the saved plan is stale: its changes no longer match the cluster; "
            "run `reconciler plan` again (nothing was written)"
        )


def saved_changes(saved: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(saved.get("changes", []))
