"""Import round-trips every service: each example under examples/services is created by hand
(a raw PUT with literal secrets, as endpoints exist before a team adopts the tool), imported
with the real CLI, and the imported files then validate, plan as no change, and re-create the
same endpoint on an empty cluster.

The round trip runs once per module (one import, one validate, one plan, one apply) so that
83 examples cost a handful of CLI runs; each example is then its own test case.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import REPO, run_cli
from tests.sandbox.helpers import plain

SERVICES = REPO / "examples" / "services"
EXAMPLES = sorted(SERVICES.glob("*/*.yaml"))
REFERENCE = re.compile(r"^\$\{env:([A-Za-z0-9_]+)\}$")


def fake_secret(path: str) -> str:
    return f"fake-{path.replace('.', '-')}"


def literal_body(value: Any, path: str = "") -> Any:
    """The example with every ``${env:...}`` secret replaced by a literal fake value."""
    if isinstance(value, dict):
        return {k: literal_body(v, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, str) and REFERENCE.match(value):
        return fake_secret(path)
    return value


def references(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(variable name, dotted path) of every ``${env:NAME}`` in an imported spec."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from references(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, str) and (found := REFERENCE.match(value)):
        yield found.group(1), path


def listing(url: str) -> dict[str, dict[str, Any]]:
    endpoints = plain.get(f"{url}/_inference/_all").json()["endpoints"]
    return {e["inference_id"]: e for e in endpoints if not e["inference_id"].startswith(".")}


@dataclass(frozen=True)
class RoundTrip:
    imported: Path
    import_output: str
    diagnostics: dict[str, list[str]]  # file name -> validate messages
    plan: dict[str, dict[str, Any]]  # inference id -> change of the json plan
    plan_output: str
    original: dict[str, dict[str, Any]]
    recreated: dict[str, dict[str, Any]]
    apply_output: str


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoundTrip]:
    work = tmp_path_factory.mktemp("import-roundtrip")
    imported = work / "imported"
    with SandboxServer(port=0, eis=True) as cluster, SandboxServer(port=0, eis=True) as empty:
        for example in EXAMPLES:
            body = yaml.safe_load(example.read_text(encoding="utf-8"))
            request = {
                k: v
                for k, v in literal_body(body).items()
                if k not in ("inference_id", "task_type")
            }
            plain.put(
                f"{cluster.url}/_inference/{body['task_type']}/{body['inference_id']}",
                json=request,
                timeout=10,
            ).raise_for_status()
        original = listing(cluster.url)
        done = run_cli("import", "--out", str(imported), "--url", cluster.url)
        validated = run_cli("validate", str(imported))
        diagnostics: dict[str, list[str]] = {}
        for line in validated.stderr.splitlines():
            found = re.search(r"([^/\s]+\.yaml):\d+", line)
            if found:
                diagnostics.setdefault(found.group(1), []).append(line)
        valid = work / "valid"
        valid.mkdir()
        env: dict[str, str] = {}
        for path in imported.glob("*.yaml"):
            if path.name in diagnostics:
                continue
            shutil.copy(path, valid / path.name)
            for name, dotted in references(yaml.safe_load(path.read_text(encoding="utf-8"))):
                env[name] = fake_secret(dotted)
        planned = run_cli("plan", str(valid), "--url", cluster.url, "--format", "json", env=env)
        document = json.loads(planned.stdout) if planned.stdout.strip().startswith("{") else {}
        changes = {c["inference_id"]: c for c in document.get("changes", ())}
        applied = run_cli(
            "apply", str(valid), "--url", empty.url, "--auto-approve", env=env, timeout=300
        )
        yield RoundTrip(
            imported=imported,
            import_output=done.output,
            diagnostics=diagnostics,
            plan=changes,
            plan_output=planned.output,
            original=original,
            recreated=listing(empty.url),
            apply_output=applied.output,
        )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_round_trips(example: Path, round_trip: RoundTrip) -> None:
    inference_id = yaml.safe_load(example.read_text(encoding="utf-8"))["inference_id"]
    written = round_trip.imported / f"{inference_id}.yaml"
    assert written.is_file(), round_trip.import_output
    assert written.name not in round_trip.diagnostics, round_trip.diagnostics[written.name]
    text = written.read_text(encoding="utf-8")
    if "the cluster does not say wh" not in text:  # a guess is named in the header
        example_secrets = sorted(p for _, p in references(yaml.safe_load(example.read_text())))
        assert sorted(p for _, p in references(yaml.safe_load(text))) == example_secrets, text
    change = round_trip.plan.get(inference_id)
    assert change is not None, round_trip.plan_output
    assert change["action"] == "no-op", change
    recreated = round_trip.recreated.get(inference_id)
    assert recreated is not None, re.findall(
        rf".*{re.escape(inference_id)}: .*", round_trip.apply_output
    )
    assert recreated == round_trip.original[inference_id]


@dataclass(frozen=True)
class Reimport:
    imported: Path
    output: str
    plan: dict[str, dict[str, Any]]
    plan_output: str


@pytest.fixture(scope="module")
def reimport(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reimport]:
    """The examples applied by the reconciler (so the state records the secrets it sent),
    then imported again into a directory that has lost its files."""
    work = tmp_path_factory.mktemp("reimport")
    env = {
        name: f"value-of-{name.lower()}"
        for path in EXAMPLES
        for name, _ in references(yaml.safe_load(path.read_text(encoding="utf-8")))
    }
    specs = work / "specs"
    shutil.copytree(SERVICES, specs)
    with SandboxServer(port=0, eis=True) as cluster:
        applied = run_cli(
            "apply", str(specs), "--url", cluster.url, "--auto-approve", env=env, timeout=300
        )
        assert applied.code == 0, applied.output
        for path in specs.rglob("*.yaml"):
            path.unlink()
        imported = specs / "imported"
        done = run_cli("import", "--out", str(imported), "--url", cluster.url)
        variables = {
            name: env[original]
            for path in imported.glob("*.yaml")
            for name, dotted in references(yaml.safe_load(path.read_text(encoding="utf-8")))
            for original in _example_variable(path.stem, dotted)
        }
        planned = run_cli(
            "plan", str(specs), "--url", cluster.url, "--format", "json", env=variables
        )
    document = json.loads(planned.stdout) if planned.stdout.strip().startswith("{") else {}
    yield Reimport(
        imported=imported,
        output=done.output,
        plan={c["inference_id"]: c for c in document.get("changes", ())},
        plan_output=planned.output,
    )


def _example_variable(inference_id: str, dotted: str) -> list[str]:
    """The variable the example used at ``dotted`` (none when the import chose another field)."""
    for path in EXAMPLES:
        body = yaml.safe_load(path.read_text(encoding="utf-8"))
        if body["inference_id"] == inference_id:
            return [name for name, where in references(body) if where == dotted]
    return []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_reimport_writes_the_secrets_apply_sent(example: Path, reimport: Reimport) -> None:
    body = yaml.safe_load(example.read_text(encoding="utf-8"))
    written = reimport.imported / f"{body['inference_id']}.yaml"
    assert written.is_file(), reimport.output
    imported = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert sorted(p for _, p in references(imported)) == sorted(p for _, p in references(body))
    # the same directory that applied them plans them: fingerprints match, nothing changes
    change = reimport.plan.get(body["inference_id"])
    assert change is not None, reimport.plan_output
    assert change["action"] == "no-op", change


def test_a_preconfigured_id_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    with SandboxServer(port=0) as cluster:
        preconfigured = sorted(i for i in listing_all(cluster.url) if i.startswith("."))[0]
        before = len(cluster.requests)
        result = run_cli("import", "--out", str(out), "--url", cluster.url, preconfigured)
        requests = cluster.requests[before:]
    assert result.code == 1, result.output
    assert f"cannot import {preconfigured}" in result.stderr and "preconfigured" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and requests == []


def test_an_existing_spec_file_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    out.mkdir()
    with SandboxServer(port=0) as cluster:
        made = plain.put(
            f"{cluster.url}/_inference/sparse_embedding/my-elser",
            json={
                "service": "elasticsearch",
                "service_settings": {
                    "model_id": ".elser_model_2",
                    "num_allocations": 1,
                    "num_threads": 1,
                },
            },
            timeout=10,
        )
        assert made.status_code == 200, made.text
        (out / "my-elser.yaml").write_text("# my own edits\n", encoding="utf-8")
        result = run_cli("import", "--out", str(out), "--url", cluster.url, "my-elser")
    assert result.code == 1 and "refusing to overwrite" in result.stderr, result.output
    assert (out / "my-elser.yaml").read_text(encoding="utf-8") == "# my own edits\n"


def test_import_of_everything_names_the_skipped_preconfigured_endpoints(tmp_path: Path) -> None:
    with SandboxServer(port=0) as cluster:
        count = len([i for i in listing_all(cluster.url) if i.startswith(".")])
        result = run_cli("import", "--out", str(tmp_path / "out"), "--url", cluster.url)
    assert result.code == 0, result.output
    assert f"skipped {count} preconfigured '.' endpoint(s)" in result.stdout
    assert not list((tmp_path / "out").glob(".*"))


def test_schema_line_points_into_the_repository_or_is_left_out(tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    (repository / ".git").mkdir(parents=True)
    (repository / "schemas").mkdir()
    (repository / "schemas" / "endpoint.schema.json").write_text("{}")
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    with SandboxServer(port=0) as cluster:
        body = {"service": "openai", "service_settings": {"api_key": "k", "model_id": "gpt-4o"}}
        plain.put(f"{cluster.url}/_inference/completion/chat", json=body).raise_for_status()
        inside = run_cli(
            "import", "--out", str(repository / "endpoints" / "prod"), "--url", cluster.url
        )
        outside = run_cli("import", "--out", str(elsewhere / "out"), "--url", cluster.url)
    assert inside.code == 0 and outside.code == 0, inside.output + outside.output
    written = (repository / "endpoints" / "prod" / "chat.yaml").read_text()
    assert written.startswith(
        "# yaml-language-server: $schema=../../schemas/endpoint.schema.json\n"
    )
    other = (elsewhere / "out" / "chat.yaml").read_text()
    assert "$schema" not in other and "site-packages" not in other


def listing_all(url: str) -> list[str]:
    return [e["inference_id"] for e in plain.get(f"{url}/_inference/_all").json()["endpoints"]]
