"""The saved plan: a versioned document that loads back into the same executable ``Plan``.

Owns the file ``plan --out`` writes and ``apply --plan`` and ``show`` read. It
holds the rendering scripts read (``format_version`` "1", ``changes``,
``summary``, given by the caller: this module does not import a renderer) and
a ``saved`` section: the typed plan, which is all apply needs (each change's
requests with secret references, never values, and where each reference was
written; its state step; its expected state; the fingerprint of the snapshot
the plan was made from), and where the plan was made (directory, environment,
cluster URL, state document, the flags it was made with). An ``integrity``
digest covers the whole document: any edit is refused. Paths are stored
relative to the plan file, so it applies from any working directory. Pure
apart from reading and writing the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path as FsPath
from typing import Any

from reconciler.errors import InputError
from reconciler.model import Request, content_digest
from reconciler.plan import (
    Action,
    Change,
    Expected,
    Move,
    Plan,
    Reason,
    Requested,
    SnapshotFingerprint,
    StateStep,
    Usage,
)
from reconciler.region_policy import PolicyChange

SAVED_VERSION = 3  # 3: the executable plan (requests, state steps, expected states)


@dataclass(frozen=True, kw_only=True)
class SavedPlan:
    """A plan and everything apply needs to carry it out later, elsewhere."""

    plan: Plan
    directory: FsPath  # the desired-state directory (relative to the working directory when read)
    environment: str | None = None
    cluster: str = ""  # the cluster URL, without credentials
    state_index: str = ""
    state_id: str = ""
    requested: Requested = field(default_factory=Requested)


def write_plan_file(path: FsPath, saved: SavedPlan, *, rendered: Mapping[str, Any]) -> None:
    """Write ``rendered`` (the JSON plan document) plus the saved section and its digest."""
    base = path.resolve().parent
    document = dict(rendered)
    document["saved"] = {
        "version": SAVED_VERSION,
        "directory": _relative(saved.directory, base),
        "environment": saved.environment,
        "cluster": saved.cluster,
        "state_index": saved.state_index,
        "state_id": saved.state_id,
        "requested": _requested_json(saved.requested),
        "plan": _plan_json(saved.plan, lambda file: _relative(FsPath(file), base)),
    }
    document["integrity"] = content_digest(document)
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write the plan to {path}: {error.strerror or error}") from None


def read_plan_file(path: FsPath) -> SavedPlan:
    """The saved plan in ``path``; InputError (exit 1) if it is not one, or was edited."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or "saved" not in document:
            raise ValueError("no 'saved' section")
        claimed = document.pop("integrity", None)
        saved = document["saved"]
        if saved.get("version") != SAVED_VERSION:
            raise InputError(
                f"{path}: saved plan version {saved.get('version')} is not supported; "
                "make the plan again with this reconciler"
            )
        base = path.resolve().parent
        if claimed != content_digest(document):
            raise InputError(
                f"{path}: the saved plan was changed after `reconciler plan --out` wrote it; "
                "nothing was sent. Make the plan again"
            )
        result = SavedPlan(
            plan=_plan(saved["plan"], lambda file: str(_local(file, base))),
            directory=_local(str(saved["directory"]), base),
            environment=saved.get("environment"),
            cluster=str(saved.get("cluster") or ""),
            state_index=str(saved.get("state_index") or ""),
            state_id=str(saved.get("state_id") or ""),
            requested=_requested(saved.get("requested") or {}),
        )
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputError(
            f"{path} is not a saved plan written by `reconciler plan --out` ({error})"
        ) from None
    return result


def _relative(target: FsPath, base: FsPath) -> str:
    return os.path.relpath(target.resolve(), base)


def _local(stored: str, base: FsPath) -> FsPath:
    """A path stored relative to the plan file, as a path relative to the working directory."""
    absolute = (base / stored).resolve()
    try:
        return FsPath(os.path.relpath(absolute))
    except ValueError:  # another drive (Windows)
        return absolute


# -- the typed plan as JSON -------------------------------------------------------------------


def _requested_json(requested: Requested) -> dict[str, Any]:
    return {
        "replace": sorted(requested.replace),
        "adopt": sorted(requested.adopt),
        "send_secrets": sorted(requested.send_secrets),
        "send_untracked": requested.send_untracked,
        "targets": sorted(requested.targets) if requested.targets is not None else None,
        "create_timeout": requested.create_timeout,
    }


def _requested(document: Mapping[str, Any]) -> Requested:
    targets = document.get("targets")
    return Requested(
        replace=frozenset(document.get("replace") or ()),
        adopt=frozenset(document.get("adopt") or ()),
        send_secrets=frozenset(document.get("send_secrets") or ()),
        send_untracked=bool(document.get("send_untracked")),
        targets=frozenset(targets) if targets is not None else None,
        create_timeout=document.get("create_timeout"),
    )


def _plan_json(plan: Plan, place: Callable[[str], str]) -> dict[str, Any]:
    return {
        "cluster_version": plan.cluster_version,
        "declared": plan.declared,
        "snapshot": plan.snapshot.to_json(),
        "prune": plan.prune,
        "unmanaged": list(plan.unmanaged),
        "elsewhere": list(plan.elsewhere),
        "orphaned": list(plan.orphaned),
        "moves": [
            {"inference_id": m.inference_id, "task_type": m.task_type, "to": m.to}
            for m in plan.moves
        ],
        "warnings": list(plan.warnings),
        "state": plan.state,
        "invocation": plan.invocation,
        "relists": plan.relists,
        "blocked": list(plan.blocked),
        "changes": [_change_json(change, place) for change in plan.changes],
        "region_policy": plan.region_policy.to_json() if plan.region_policy else None,
    }


def _request_json(request: Request, place: Callable[[str], str]) -> dict[str, Any]:
    document = request.to_json()
    for ref in document["secrets"]:
        ref["file"] = place(ref["file"])
    return document


def _change_json(change: Change, place: Callable[[str], str]) -> dict[str, Any]:
    return {
        "action": change.action.value,
        "inference_id": change.inference_id,
        "task_type": change.task_type,
        "service": change.service,
        "reason": change.reason.value,
        "paths": [list(p) for p in change.paths],
        "secret_paths": [list(p) for p in change.secret_paths],
        "replace_paths": [list(p) for p in change.replace_paths],
        "before": change.before,
        "after": change.after,
        "notes": list(change.notes),
        "in_use_by": {
            "pipelines": list(change.in_use_by.pipelines),
            "indices": list(change.in_use_by.indices),
            **({"unknown": True} if change.in_use_by.unknown else {}),
        },
        "live_task_type": change.live_task_type,
        "live_service": change.live_service,
        "requests": [_request_json(request, place) for request in change.requests],
        "drift": [list(p) for p in change.drift],
        "adopt": change.adopt,
        "owners": list(change.owners),
        "moved": change.moved,
        "expected": change.expected.to_json() if change.expected is not None else None,
        "step": change.step.to_json() if change.step is not None else None,
    }


def _plan(document: Mapping[str, Any], place: Callable[[str], str]) -> Plan:
    return Plan(
        changes=tuple(_change(c, place) for c in document["changes"]),
        cluster_version=str(document["cluster_version"]),
        declared=int(document.get("declared") or 0),
        snapshot=SnapshotFingerprint.from_json(document["snapshot"]),
        unmanaged=tuple(document.get("unmanaged") or ()),
        elsewhere=tuple(document.get("elsewhere") or ()),
        orphaned=tuple(document.get("orphaned") or ()),
        moves=tuple(
            Move(
                inference_id=str(m["inference_id"]), task_type=str(m["task_type"]), to=str(m["to"])
            )
            for m in document.get("moves") or ()
        ),
        warnings=tuple(document.get("warnings") or ()),
        prune=bool(document.get("prune")),
        state=str(document.get("state") or ""),
        region_policy=PolicyChange.from_json(document["region_policy"])
        if document.get("region_policy")
        else None,
        invocation=str(document.get("invocation") or ""),
        relists=bool(document.get("relists")),
        blocked=tuple(document.get("blocked") or ()),
    )


def _request(document: Mapping[str, Any], place: Callable[[str], str]) -> Request:
    request = Request.from_json(document)
    return replace(
        request,
        secrets=tuple(replace(ref, file=place(ref.file)) for ref in request.secrets),
    )


def _change(document: Mapping[str, Any], place: Callable[[str], str]) -> Change:
    usage = document.get("in_use_by") or {}
    return Change(
        action=Action(document["action"]),
        inference_id=str(document["inference_id"]),
        task_type=str(document["task_type"]),
        service=str(document["service"]),
        reason=Reason(document["reason"]),
        paths=tuple(tuple(p) for p in document.get("paths") or ()),
        secret_paths=tuple(tuple(p) for p in document.get("secret_paths") or ()),
        replace_paths=tuple(tuple(p) for p in document.get("replace_paths") or ()),
        before=document.get("before"),
        after=document.get("after"),
        notes=tuple(document.get("notes") or ()),
        in_use_by=Usage(
            pipelines=tuple(usage.get("pipelines") or ()),
            indices=tuple(usage.get("indices") or ()),
            unknown=bool(usage.get("unknown")),
        ),
        live_task_type=str(document.get("live_task_type") or ""),
        live_service=str(document.get("live_service") or ""),
        requests=tuple(_request(r, place) for r in document.get("requests") or ()),
        drift=tuple(tuple(p) for p in document.get("drift") or ()),
        adopt=bool(document.get("adopt")),
        owners=tuple(str(o) for o in document.get("owners") or ()),
        moved=bool(document.get("moved")),
        expected=Expected.from_json(document["expected"]) if document.get("expected") else None,
        step=StateStep.from_json(document["step"]) if document.get("step") else None,
    )
