"""``reconciler import``: write spec files for endpoints that already exist.

Owns turning a live endpoint back into what a person would have written:
server-filled values left out, secrets as ``${env:...}`` references named
after the id (GET never returns them), one YAML file per endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path as FsPath
from typing import Any

import yaml

from reconciler.catalog import ANY_VALUE, Catalog, EndpointFacts, parse_version
from reconciler.model import LiveEndpoint

HEADER = "# yaml-language-server: $schema={schema}\n# Imported by `reconciler import`; secrets are references: set {names}.\n"


def env_name(inference_id: str, field: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", f"{inference_id}_{field}".upper()).strip("_")


def spec_for(endpoint: LiveEndpoint, facts: EndpointFacts) -> tuple[dict[str, Any], list[str]]:
    """The spec a person would write for ``endpoint``, and the env variables it needs."""
    service = endpoint.service
    spec: dict[str, Any] = {
        "inference_id": endpoint.inference_id,
        "task_type": endpoint.task_type,
        "service": service,
    }
    blocks = {
        name: dict(endpoint.block(name))
        for name in ("service_settings", "task_settings", "chunking_settings")
    }
    names: list[str] = []
    # resolved against the endpoint: model_id is the server's only where deployment_id is set
    for (block, key), default in facts.server_filled_for(blocks).items():
        if key in blocks.get(block, {}) and (default == ANY_VALUE or blocks[block][key] == default):
            del blocks[block][key]
    secret = _secret_field(facts, blocks["service_settings"])
    if secret:
        names.append(env_name(endpoint.inference_id, secret))
        blocks["service_settings"][secret] = f"${{env:{names[-1]}}}"
    if blocks["chunking_settings"] == dict(facts.default_chunking):
        del blocks["chunking_settings"]
    for name, values in blocks.items():
        if values or name == "service_settings":
            spec[name] = values
    return spec, names


def _secret_field(facts: EndpointFacts, settings: dict[str, Any]) -> str | None:
    fields = list(facts.secret_fields)
    if not fields:
        return None
    if "client_secret" in fields and "client_id" in settings:
        return "client_secret"
    required = set(facts.required_service_settings)
    for name in fields:
        if name in required:
            return name
    return "api_key" if "api_key" in fields else fields[0]


def write_specs(
    endpoints: Iterable[LiveEndpoint],
    out: FsPath,
    catalog: Catalog,
    *,
    schema_ref: str,
    version: str,
) -> list[FsPath]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    cluster = parse_version(version)
    for endpoint in endpoints:
        spec, names = spec_for(
            endpoint, catalog.facts(endpoint.service, endpoint.task_type, cluster)
        )
        path = out / f"{endpoint.inference_id}.yaml"
        header = HEADER.format(schema=schema_ref, names=", ".join(names) or "nothing")
        path.write_text(
            header + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        written.append(path)
    return written
