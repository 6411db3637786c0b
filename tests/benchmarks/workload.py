"""The benchmark's desired state: N spec files made from the service examples.

Owns turning ``examples/services/*/*.yaml`` into N specs (each example used in
turn, its ``inference_id`` suffixed with the spec's number) and the dummy
values of the secret variables they reference. Does not run anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "services"
ID_LINE = re.compile(r"^inference_id:\s*(\S+)\s*$", re.MULTILINE)
ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
SCHEMA_COMMENT = re.compile(r"^# yaml-language-server:.*\n", re.MULTILINE)


@dataclass(frozen=True, kw_only=True)
class Template:
    service: str
    name: str
    inference_id: str
    text: str


def templates() -> tuple[Template, ...]:
    found = []
    for path in sorted(EXAMPLES.glob("*/*.yaml")):
        text = SCHEMA_COMMENT.sub("", path.read_text(encoding="utf-8"))
        match = ID_LINE.search(text)
        if match is None:
            continue
        found.append(
            Template(
                service=path.parent.name, name=path.stem, inference_id=match.group(1), text=text
            )
        )
    return tuple(found)


def write_specs(directory: Path, count: int) -> tuple[str, ...]:
    """Write ``count`` spec files under ``directory``; return their inference ids."""
    available = templates()
    ids = []
    for number in range(count):
        template = available[number % len(available)]
        inference_id = f"{template.inference_id}-{number:05d}"
        folder = directory / template.service
        folder.mkdir(parents=True, exist_ok=True)
        text = ID_LINE.sub(f"inference_id: {inference_id}", template.text, count=1)
        (folder / f"{template.name}-{number:05d}.yaml").write_text(text, encoding="utf-8")
        ids.append(inference_id)
    return tuple(ids)


def secret_environment() -> dict[str, str]:
    """A dummy value for every ``${env:NAME}`` the examples reference."""
    names = set()
    for template in templates():
        names.update(ENV_REFERENCE.findall(template.text))
    values = {name: f"dummy-{name.lower()}" for name in sorted(names)}
    values["GOOGLE_VERTEX_SERVICE_ACCOUNT_JSON"] = (
        '{"type": "service_account", "project_id": "bench"}'
    )
    return values
