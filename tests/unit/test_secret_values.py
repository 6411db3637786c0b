"""Each secret reference is resolved once per command (``secrets.SecretValues``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SecretError
from reconciler.model import SecretRef
from reconciler.secrets import SecretValues
from tests.specs import SHIFT

API_KEY = ("service_settings", "api_key")


def at(file: str, line: int, col: int) -> SecretRef:
    return SecretRef(path=API_KEY, file=file, line=line, col=col)


def test_a_reference_is_read_once_per_command_wherever_it_is_written(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text("first-secret-value\n")
    values = SecretValues()
    first = values.value("${file:key.txt}", ref=at(str(tmp_path / "a.yaml"), 4, 12))
    (tmp_path / "key.txt").write_text("second-secret-value\n")  # rotated during the command
    again = values.value("${file:key.txt}", ref=at(str(tmp_path / "b.yaml"), 9, 12))
    assert first == again == "first-secret-value"  # one command sends one value
    fresh = SecretValues().value("${file:key.txt}", ref=at(str(tmp_path / "a.yaml"), 4, 12))
    assert fresh == "second-secret-value"  # the next command reads it again


def test_the_same_file_name_in_another_directory_is_another_reference(tmp_path: Path) -> None:
    for name, secret in (("one", "secret-of-one"), ("two", "secret-of-two")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "key.txt").write_text(secret)
    values = SecretValues()
    found = [
        values.value("${file:key.txt}", ref=at(str(tmp_path / d / "s.yaml"), 1, 1))
        for d in ("one", "two")
    ]
    assert found == ["secret-of-one", "secret-of-two"]


def test_an_unresolvable_reference_names_where_it_was_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    with pytest.raises(
        SecretError, match=r"^specs/a\.yaml:7:13: service_settings\.api_key: .*NO_SUCH_KEY"
    ):
        SecretValues().value("${env:NO_SUCH_KEY}", ref=at("specs/a.yaml", 7, 13))


SPEC = SHIFT.replace("${env:SHIFT_KEY}", "${env:NO_SUCH_KEY}")  # api_key at line 7, column 3


def test_a_planned_reference_finds_where_it_was_written_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # planning thousands of requests does not parse each file again for the positions of their
    # secrets: a reference finds its line when an error or a saved plan asks for it
    from reconciler.calls import create_call
    from reconciler.catalog import load_catalog, parse_version
    from reconciler.loader import parse_documents
    from reconciler.validate import validate_documents

    documents, problems = parse_documents(SPEC, file="specs/lazy.yaml")
    (spec,) = validate_documents(documents, problems).specs
    facts = load_catalog().facts(spec.service, spec.task_type, parse_version("9.5.0"))
    (ref,) = create_call(spec, facts).secrets
    assert (ref.line, ref.col) == (0, 0)  # not looked up while planning
    assert ref.position() == (7, 3)
    assert ref.to_json() == {"path": list(API_KEY), "file": "specs/lazy.yaml", "line": 7, "col": 3}
    assert SecretRef.from_json(ref.to_json()) == SecretRef(
        path=API_KEY, file="specs/lazy.yaml", line=7, col=3
    )
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    with pytest.raises(SecretError, match=r"^specs/lazy\.yaml:7:3: service_settings\.api_key"):
        SecretValues().value("${env:NO_SUCH_KEY}", ref=ref)
