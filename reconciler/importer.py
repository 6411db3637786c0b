"""``reconciler import``: write spec files for endpoints that already exist.

Owns turning a live endpoint back into what a person would have written, such
that the file validates, plans as no change, and re-creates the same endpoint:
server-filled values left out unless a re-create needs them (the allocations
of an Elasticsearch model, a ``dimensions`` someone may have chosen), secrets
as ``${env:...}`` references named after the id (``import_secrets`` picks the
fields), one YAML file per endpoint with a header naming the variables and
every guess. What the state document recorded at the last apply (which keys were
declared, which secrets were sent) beats every guess. Reading the cluster is
the CLI's; the choice of secret fields is ``import_secrets``'.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml

from reconciler.catalog import ANY_VALUE, Catalog, EndpointFacts, ServiceFacts, parse_version
from reconciler.errors import InputError
from reconciler.import_secrets import choose_secrets
from reconciler.model import LiveEndpoint
from reconciler.ownership import Records
from reconciler.region_policy import LivePolicy, canonical

BLOCKS = ("service_settings", "task_settings", "chunking_settings")
SCHEMA_FILE = FsPath("schemas") / "endpoint.schema.json"
POLICY_SCHEMA = "region-policy.schema.json"
# A create needs one of these; the server fills in num_allocations from live stats when
# adaptive allocations are on, so only then is it left out.
ALLOCATIONS = ("adaptive_allocations", "num_allocations")


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """What a state document recorded for one endpoint at its last apply."""

    secrets: tuple[str, ...] = ()  # dotted secret paths apply sent
    declared: tuple[str, ...] | None = None  # dotted fields the spec declared


@dataclass(frozen=True, kw_only=True)
class Imported:
    """One endpoint as a spec, the variables its references name, and the notes on guesses."""

    spec: Mapping[str, Any]
    variables: tuple[str, ...]
    notes: tuple[str, ...]


def env_name(inference_id: str, field: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", f"{inference_id}_{field}".upper()).strip("_")


def recorded_from(records: Records) -> dict[str, Recorded]:
    """Per endpoint id, what any state document of the index recorded about it."""
    found: dict[str, Recorded] = {}
    for hit in records.hits.values():
        managed = (hit.get("_source") or {}).get("managed")
        if not isinstance(managed, Mapping):
            continue
        for inference_id, entry in managed.items():
            if not isinstance(entry, Mapping):
                continue
            secrets = entry.get("secrets")
            declared = entry.get("declared")
            found[str(inference_id)] = Recorded(
                secrets=tuple(sorted(secrets)) if isinstance(secrets, Mapping) else (),
                declared=tuple(map(str, declared)) if isinstance(declared, list) else None,
            )
    return found


def spec_for(
    endpoint: LiveEndpoint,
    facts: EndpointFacts,
    service: ServiceFacts | None,
    *,
    recorded: Recorded | None = None,
) -> Imported:
    """The spec a person would write for ``endpoint``."""
    recorded = recorded or Recorded()
    blocks = {name: dict(endpoint.block(name)) for name in BLOCKS}
    notes = _drop_server_filled(blocks, facts, service, declared=recorded.declared)
    choice = choose_secrets(
        endpoint, facts, service, sent=recorded.secrets, declared=recorded.declared
    )
    names: list[str] = []
    settings = blocks["service_settings"]
    for path in choice.paths:
        names.append(env_name(endpoint.inference_id, "_".join(path)))
        reference = f"${{env:{names[-1]}}}"
        if len(path) == 1:
            settings[path[0]] = reference
        else:
            settings.setdefault(path[0], {})[path[1]] = reference
    if choice.note:
        notes.append(f"service_settings.{choice.note}")
    if blocks["chunking_settings"] == dict(facts.default_chunking):
        del blocks["chunking_settings"]
    spec: dict[str, Any] = {
        "inference_id": endpoint.inference_id,
        "task_type": endpoint.task_type,
        "service": endpoint.service,
    }
    for name, values in blocks.items():
        if values or name == "service_settings":
            spec[name] = values
    return Imported(spec=spec, variables=tuple(names), notes=tuple(notes))


def _drop_server_filled(
    blocks: dict[str, dict[str, Any]],
    facts: EndpointFacts,
    service: ServiceFacts | None,
    *,
    declared: tuple[str, ...] | None,
) -> list[str]:
    """Leave out what the server filled in; return notes on values kept without certainty."""
    notes: list[str] = []
    # resolved against the endpoint: model_id is the server's only where deployment_id is set
    for (block, key), default in facts.server_filled_for(blocks).items():
        values = blocks.get(block, {})
        if key not in values:
            continue
        if declared is not None:  # the state knows what the user wrote
            if f"{block}.{key}" not in declared and (
                default == ANY_VALUE or values[key] == default
            ):
                del values[key]
            continue
        keep, note = _keep_without_state(block, key, values, facts, service)
        if note:
            notes.append(note)
        if not keep and (default == ANY_VALUE or values[key] == default or values[key] is None):
            del values[key]
    for dotted in (service.raw.get("response_only") or {}) if service else ():
        block, _, key = dotted.partition(".")  # shown by GET, refused in a request
        blocks.get(block, {}).pop(key, None)
    return notes


def _keep_without_state(
    block: str,
    key: str,
    values: Mapping[str, Any],
    facts: EndpointFacts,
    service: ServiceFacts | None,
) -> tuple[bool, str]:
    """Whether a server-filled value must be written because a re-create needs it."""
    if values[key] is None:  # the server writes null for an unset value (vertex max_tokens)
        return False, ""
    if key in ALLOCATIONS:
        return key == next(name for name in ALLOCATIONS if name in values), ""
    if (
        block == "task_settings"
    ):  # the server fills no task setting with a non-null value we cannot name
        return True, ""
    if key == "dimensions":
        return _keep_dimensions(values, facts, service)
    return False, ""


def _keep_dimensions(
    values: Mapping[str, Any], facts: EndpointFacts, service: ServiceFacts | None
) -> tuple[bool, str]:
    # Some services show whether the user sent dimensions; the catalog names the flag where it
    # is truthful (amazon_sagemaker shows one that the server resets to false).
    flag = (
        service.field("service_settings", "dimensions").get("set_by_user_flag") if service else None
    )
    if flag and isinstance(values.get(flag), bool):
        return bool(values[flag]), ""
    accepted = service is not None and "dimensions" in service.fields_at(
        block="service_settings", task_type=facts.task_type, version=facts.version
    )
    if not accepted:
        return False, ""
    return True, (
        f"service_settings.dimensions: {values['dimensions']} is written because the cluster "
        "does not say whether someone chose it (a re-create without it may give another size); "
        "remove it if the model chose it"
    )


def schema_reference(out: FsPath) -> str | None:
    """A ``$schema`` path relative to ``out``, when its git repository holds the schemas."""
    start = out.resolve()
    for directory in (start, *start.parents):
        if (directory / SCHEMA_FILE).is_file():
            return os.path.relpath(directory / SCHEMA_FILE, start)
        if (directory / ".git").exists():
            return None
    return None


def header(imported: Imported) -> list[str]:
    lines = []
    if imported.variables:
        names = ", ".join(imported.variables)
        lines.append(
            "Imported by `reconciler import`. Elasticsearch never returns secrets: "
            f"set {names} to the endpoint's secret values."
        )
    else:
        lines.append("Imported by `reconciler import`. No secrets.")
    lines.extend(f"Note: {note}." for note in imported.notes)
    return lines


def spec_file_text(spec: Mapping[str, Any], comments: list[str], *, schema_ref: str | None) -> str:
    """A spec file: the editor's ``$schema`` line, the comment lines, then the YAML."""
    lines = [f"# yaml-language-server: $schema={schema_ref}"] if schema_ref else []
    lines.extend(f"# {comment}" for comment in comments)
    body = yaml.safe_dump(dict(spec), sort_keys=False, allow_unicode=True)
    return "\n".join(lines) + ("\n" if lines else "") + body


def write_specs(
    endpoints: Iterable[LiveEndpoint],
    out: FsPath,
    catalog: Catalog,
    *,
    schema_ref: str | None,
    version: str,
    recorded: Mapping[str, Recorded] | None = None,
    overwrite: bool = False,
) -> list[FsPath]:
    """Write one spec file per endpoint into ``out``; preconfigured (``.``) ids are refused."""
    chosen = list(endpoints)
    preconfigured = [e.inference_id for e in chosen if e.preconfigured]
    if preconfigured:
        raise InputError(preconfigured_message(preconfigured))
    if not overwrite:
        refuse_existing(
            [out / f"{endpoint.inference_id}.yaml" for endpoint in chosen],
            remedy="move them away, choose another --out, or pass --force to overwrite them",
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    cluster = parse_version(version)
    for endpoint in chosen:
        facts = catalog.facts(endpoint.service, endpoint.task_type, cluster)
        imported = spec_for(
            endpoint,
            facts,
            catalog.service(endpoint.service),
            recorded=(recorded or {}).get(endpoint.inference_id),
        )
        path = out / f"{endpoint.inference_id}.yaml"
        text = spec_file_text(imported.spec, header(imported), schema_ref=schema_ref)
        # "x": never replaces a file, unless the user said --force
        with open(path, "w" if overwrite else "x", encoding="utf-8") as handle:
            handle.write(text)
        written.append(path)
    return written


def refuse_existing(
    paths: Iterable[FsPath], *, remedy: str = "move them away or choose another --out"
) -> None:
    """Stop before writing anything when a spec file would replace one that exists."""
    existing = [str(path) for path in paths if path.exists()]
    if existing:
        raise InputError(
            f"refusing to overwrite {', '.join(existing)}; nothing was written ({remedy})"
        )


POLICY_FILE = "region-policy.yaml"


def write_region_policy(
    policy: LivePolicy, out: FsPath, *, schema_ref: str | None, overwrite: bool = False
) -> FsPath:
    """The cluster's region policy as a document of ``out`` (its audit fields left out: they are
    the cluster's record of who changed it, never desired state). An existing file is kept."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / POLICY_FILE
    ref = schema_ref.replace(SCHEMA_FILE.name, POLICY_SCHEMA) if schema_ref else None
    comments = ["Imported by `reconciler import`: the cluster's inference region policy."]
    text = spec_file_text({"region_policy": canonical(policy.policy)}, comments, schema_ref=ref)
    if not overwrite:
        refuse_existing([path])
    path.write_text(text, encoding="utf-8")
    return path


def preconfigured_message(inference_ids: Iterable[str]) -> str:
    return (
        f"cannot import {', '.join(sorted(inference_ids))}: ids beginning with '.' are "
        "Elasticsearch's preconfigured endpoints, which no spec may declare; nothing written"
    )
