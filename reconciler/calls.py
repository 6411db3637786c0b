"""The HTTP calls each kind of change sends, built while planning (pure: no I/O).

Owns the request bodies: what a create PUTs, what an ``_update`` may carry (only
the changed fields that can change in place, whole blocks where the server
replaces a block, every secret when one of them moved), what a delete asks.
Secrets stay references here; the applier resolves them just before sending.
Does not decide an action (``plan`` does) nor send anything (``apply`` does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace as replace_dataclass
from typing import Any

from reconciler.catalog import EndpointFacts
from reconciler.model import CallKind, EndpointSpec, FieldPath, Request, SecretRef, copied
from reconciler.normalize import View
from reconciler.secrets import secret_paths

PUT_KEYS = ("service", "service_settings", "task_settings", "chunking_settings")


def endpoint_path(task_type: str, inference_id: str) -> str:
    return f"/_inference/{task_type}/{inference_id}"


def create_call(
    spec: EndpointSpec, facts: EndpointFacts, *, create_timeout: float | None = None
) -> Request:
    """``PUT _inference/{task}/{id}`` with the spec as written (its secrets as references), and
    how long the cluster may take to create it: ``create_timeout`` (--create-timeout,
    reconciler.yaml), else the service's default, else none sent (the server's own 30s), and
    none on a release without the parameter."""
    body = {key: copied(spec.body[key]) for key in PUT_KEYS if key in spec.body}
    wait = create_timeout if create_timeout is not None else facts.create_timeout
    return Request(
        kind=CallKind.CREATE,
        method="PUT",
        path=endpoint_path(spec.task_type, spec.inference_id),
        params={"timeout": f"{wait:g}s"} if wait and facts.create_timeout_api else {},
        body=body,
        secrets=secret_refs(spec, secret_paths(spec, facts.secret_fields)),
    )


def secret_refs(spec: EndpointSpec, paths: Iterable[FieldPath]) -> tuple[SecretRef, ...]:
    """The references at ``paths`` of a request body built from ``spec``, with where each was
    written (request bodies keep the spec's own paths; the line is found when asked)."""
    return tuple(SecretRef(path=path, file=spec.source.file, source=spec.source) for path in paths)


def update_call(
    spec: EndpointSpec,
    facts: EndpointFacts,
    *,
    desired: View,
    paths: Iterable[FieldPath],
    secrets_moved: bool,
) -> Request | None:
    """``PUT .../_update`` carrying only what changes; None when there is nothing to send.

    Newer Elasticsearch rejects any key ``_update`` cannot change, even an unchanged one, and
    older releases ignore it silently: so nothing else travels. Chunking settings, and task
    settings where the server replaces them whole, go as whole blocks. When any secret moved,
    every secret goes: AWS keys must travel as a pair, and 8.17-9.4 re-parse all of them.
    """
    body: dict[str, Any] = {}
    for path in paths:
        block = str(path[0])
        if block == "chunking_settings" or (
            block == "task_settings" and facts.task_settings_mode == "replace"
        ):
            body[block] = copied(desired.get(block, {}))
        elif len(path) > 1 and path[1] in desired.get(block, {}):
            body.setdefault(block, {})[path[1]] = copied(desired[block][path[1]])
    sent_secrets: tuple[SecretRef, ...] = ()
    if secrets_moved:
        settings = spec.block("service_settings")
        for name in facts.secret_fields:
            if name in settings:
                body.setdefault("service_settings", {})[name] = copied(settings[name])
        sent_secrets = secret_refs(spec, secret_paths(spec, facts.secret_fields))
    if not body:
        return None
    return Request(
        kind=CallKind.UPDATE,
        method="PUT",
        path=endpoint_path(spec.task_type, spec.inference_id) + "/_update",
        body=body,
        secrets=sent_secrets,
    )


def probe_id(inference_id: str) -> str:
    """The scratch id a replace tries its new configuration under (the same for the same id,
    so a saved plan and the plan made again under the lock agree)."""
    digest = hashlib.sha256(inference_id.encode()).hexdigest()[:10]
    return f"reconciler-probe-{digest}"


def replace_calls(
    spec: EndpointSpec,
    facts: EndpointFacts,
    *,
    live_task_type: str,
    create_timeout: float | None = None,
) -> tuple[Request, ...]:
    """Delete then create; first, where the service allows it, the new configuration is created
    under a scratch id and removed, so that a create the cluster refuses fails before the delete."""
    create = create_call(spec, facts, create_timeout=create_timeout)
    calls: list[Request] = []
    if facts.probe_on_replace:
        scratch = endpoint_path(spec.task_type, probe_id(spec.inference_id))
        calls += [
            replace_dataclass(create, kind=CallKind.PROBE, path=scratch),
            Request(kind=CallKind.PROBE_DELETE, method="DELETE", path=scratch),
        ]
    calls += [delete_call(task_type=live_task_type, inference_id=spec.inference_id), create]
    return tuple(calls)


def delete_call(*, task_type: str, inference_id: str, force: bool = False) -> Request:
    """``DELETE _inference/{task}/{id}``; ``force`` removes it even while pipelines or indices use it."""
    return Request(
        kind=CallKind.DELETE,
        method="DELETE",
        path=endpoint_path(task_type, inference_id),
        params={"force": "true"} if force else {},
    )
