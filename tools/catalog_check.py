"""Compare ``schemas/catalog.json`` with a checkout of elastic/elasticsearch-specification.

A maintainer's tool, run once per Elasticsearch release:

    python tools/catalog_check.py PATH/TO/elasticsearch-specification [--changelog DIR]

It reads every ``specification/inference/put_<service>/*Request.ts`` (the create API of
one service) and the types it names (``_types/*.ts``): the service name, its task types,
its ``service_settings`` and ``task_settings`` fields, which of them are required (not
``?``), and ``@availability stack since=``. It prints one line per disagreement with the
catalog, ``service: subject: message``, and exits 2 when there is any (0 when none, 1 on
bad input). With ``--changelog DIR`` (Elasticsearch's
``docs/release-notes/changelog-bundles``) it also prints, per release, the inference
entries that name a service, for a person to compare with the catalog's dates.

The specification does not mark secret fields and has one settings class per service
(not per task type): secrets and per-task-type requirements are not compared.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CATALOG = Path(__file__).resolve().parent.parent / "schemas" / "catalog.json"
DECLARATION = re.compile(
    r"export\s+(class|interface|enum)\s+(\w+)(?:\s+extends\s+(\w+))?\s*\{(.*?)\n\}", re.S
)
FIELD = re.compile(r"^\s{2}(\w+)(\?)?\s*:\s*([^\n]+?)\s*$", re.M)
COMMENT = re.compile(r"/\*.*?\*/", re.S)
SINCE = re.compile(r"@availability\s+stack\s+since=(\S+)")


@dataclass(frozen=True)
class Declaration:
    kind: str
    fields: dict[str, tuple[bool, str]]  # name -> (required, type)
    members: tuple[str, ...]  # enum members
    parent: str | None


@dataclass
class SpecService:
    name: str
    since: str | None
    task_types: tuple[str, ...]
    fields: dict[str, dict[str, bool]] = field(default_factory=dict)  # block -> name -> required


def declarations(text: str) -> dict[str, Declaration]:
    """Classes, interfaces and enums of one TypeScript file, comments removed."""
    found = {}
    for kind, name, parent, body in DECLARATION.findall(COMMENT.sub("", text)):
        if kind == "enum":
            members = tuple(
                m.split("=")[0].strip().strip("'\"")
                for m in body.replace("\n", ",").split(",")
                if m.strip()
            )
            found[name] = Declaration(kind=kind, fields={}, members=members, parent=None)
        else:
            fields = {n: (not optional, t) for n, optional, t in FIELD.findall(body)}
            found[name] = Declaration(kind=kind, fields=fields, members=(), parent=parent or None)
    return found


def class_fields(types: dict[str, Declaration], name: str) -> dict[str, bool]:
    """name -> required, following ``extends``."""
    declared = types.get(name)
    if declared is None:
        return {}
    inherited = class_fields(types, declared.parent) if declared.parent else {}
    return {**inherited, **{n: req for n, (req, _) in declared.fields.items()}}


def read_spec(root: Path) -> dict[str, SpecService]:
    inference = root / "specification" / "inference"
    if not inference.is_dir():
        raise SystemExit(f"error: {root} is not a checkout of elasticsearch-specification")
    types: dict[str, Declaration] = {}
    for path in sorted(inference.rglob("*.ts")):
        types.update(declarations(path.read_text(encoding="utf-8")))
    services: dict[str, SpecService] = {}
    for directory in sorted(inference.glob("put_*")):
        requests = sorted(directory.glob("*Request.ts"))
        if not requests:
            continue
        text = requests[0].read_text(encoding="utf-8")
        request = declarations(text).get("Request")
        body = _body_fields(COMMENT.sub("", text))
        if request is None or "service" not in body:
            continue  # put_region_policy and the like: not a service
        service_type = types.get(body["service"][1])
        task_enum = re.search(r"task_type\??\s*:\s*(\w+)", COMMENT.sub("", text))
        if service_type is None or not service_type.members or task_enum is None:
            continue
        tasks = types.get(task_enum.group(1))
        since = SINCE.search(text)
        spec = SpecService(
            name=service_type.members[0],
            since=since.group(1) if since else None,
            task_types=tasks.members if tasks else (),
        )
        for block in ("service_settings", "task_settings"):
            if block in body:
                spec.fields[block] = class_fields(types, body[block][1])
        services[spec.name] = spec
    return services


def _body_fields(text: str) -> dict[str, tuple[bool, str]]:
    match = re.search(r"\n\s{2}body:\s*\{(.*?)\n\s{2}\}", text, re.S)
    if match is None:
        return {}
    return {
        n: (not optional, t) for n, optional, t in re.findall(r"(\w+)(\?)?\s*:\s*(\w+)", match[1])
    }


def disagreements(catalog: dict, spec: dict[str, SpecService]) -> Iterator[str]:
    """One ``service: subject: message`` line per difference; where the catalog already
    records why it differs (a field's ``doc`` naming the specification, or the evidence of
    a date), that reason follows ``-- catalog:``."""
    services = catalog["services"]
    for name in sorted(set(spec) - set(services)):
        yield f"{name}: service: in the specification (since {spec[name].since}); not in the catalog"
    for name in sorted(set(services) - set(spec)):
        if not services[name].get("alias_of"):
            line = f"{name}: service: in the catalog; no put API in the specification"
            reason = _recorded_reason(services[name], line)
            yield f"{line} -- catalog: {reason}" if reason else line
    for name in sorted(set(spec) & set(services)):
        for line in _service(name, services[name], spec[name]):
            reason = _recorded_reason(services[name], line)
            yield f"{line} -- catalog: {reason}" if reason else line


def _recorded_reason(ours: dict, line: str) -> str:
    subject = line.split(": ")[1]
    if (
        subject in ("service",)
        or subject.startswith("task_settings.")
        and "in the specification;" in line
    ):
        doc = str(ours.get("doc", ""))
        return " ".join(s for s in re.split(r"(?<=[.)])\s+", doc) if s.startswith("D:"))
    if subject == "since":
        evidence = str((ours.get("evidence") or {}).get("since", ""))
        return evidence if "specification" not in evidence.split(":")[0] else ""
    block, _, key = subject.partition(".")
    doc = str((ours.get(block) or {}).get(key, {}).get("doc", ""))
    sentences = [s.strip() for s in re.split(r"(?<=[.)])\s+", doc)]
    return " ".join(s for s in sentences if "spec" in s or s.startswith("D:"))


def _since_text(since: object) -> str:
    return " / ".join(since) if isinstance(since, list) else str(since)


def _first(since: object) -> str:
    return min(since, key=_version) if isinstance(since, list) else str(since)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _service(name: str, ours: dict, theirs: SpecService) -> Iterator[str]:
    if theirs.since and _version(_first(ours.get("since"))) != _version(theirs.since):
        yield (
            f"{name}: since: catalog {_since_text(ours.get('since'))}, specification {theirs.since}"
        )
    our_tasks, their_tasks = set(ours.get("task_types", ())), set(theirs.task_types)
    for task in sorted(their_tasks - our_tasks):
        yield f"{name}: task_type {task}: in the specification; not in the catalog"
    for task in sorted(our_tasks - their_tasks):
        yield f"{name}: task_type {task}: in the catalog; not in the specification"
    required = set((ours.get("required_service_settings") or {}).get("*", ()))
    for block in ("service_settings", "task_settings"):
        our_fields = ours.get(block, {})
        their_fields = theirs.fields.get(block, {})
        for key in sorted(set(their_fields) - set(our_fields)):
            yield f"{name}: {block}.{key}: in the specification; not in the catalog"
        for key in sorted(set(our_fields) - set(their_fields)):
            yield f"{name}: {block}.{key}: in the catalog; not in the specification"
        if block != "service_settings":
            continue
        for key in sorted(set(our_fields) & set(their_fields)):
            if their_fields[key] and key not in required and not _required_somewhere(ours, key):
                yield f"{name}: {block}.{key}: required by the specification; optional in the catalog"
            if not their_fields[key] and key in required:
                yield f"{name}: {block}.{key}: optional in the specification; required in the catalog"


def _required_somewhere(ours: dict, key: str) -> bool:
    """Required for some task type, or by a rule (one of a group) in the catalog."""
    by_task = ours.get("required_service_settings") or {}
    if any(key in names for names in by_task.values()):
        return True
    return any(
        key in rule.get(kind, ())
        for rule in ours.get("rules", ())
        for kind in ("exactly_one_of", "all_or_none", "at_most_one_of")
    )


def changelog_entries(directory: Path, services: list[str]) -> Iterator[str]:
    """Per release bundle, the inference entries that name a service of the catalog."""
    import yaml

    for path in sorted(directory.glob("*.y*ml"), key=lambda p: _version(p.stem) or (0,)):
        bundle = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for entry in bundle.get("changelogs") or ():
            summary = str(entry.get("summary", ""))
            if "inference" not in (summary + str(entry.get("area", ""))).lower():
                continue
            named = [s for s in services if re.search(rf"\b{re.escape(s)}\b", summary, re.I)]
            if named:
                yield f"{bundle.get('version', path.stem)}: PR {entry.get('pr')} ({', '.join(named)}): {summary}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specification", type=Path, help="checkout of elasticsearch-specification")
    parser.add_argument("--changelog", type=Path, help="Elasticsearch's changelog-bundles folder")
    args = parser.parse_args(argv)
    catalog = json.loads(CATALOG.read_text(encoding="utf-8"))
    found = list(disagreements(catalog, read_spec(args.specification)))
    for line in found:
        print(line)
    if args.changelog:
        for line in changelog_entries(args.changelog, sorted(catalog["services"])):
            print(f"changelog: {line}")
    print(f"{len(found)} disagreement(s) with the specification", file=sys.stderr)
    return 2 if found else 0


if __name__ == "__main__":
    sys.exit(main())
