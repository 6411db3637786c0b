"""Each secret reference is resolved once per command (``secrets.SecretValues``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SecretError
from reconciler.secrets import SecretValues

API_KEY = ("service_settings", "api_key")


def test_a_reference_is_read_once_per_command_wherever_it_is_written(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text("first-secret-value\n")
    values = SecretValues()
    first = values.value(
        "${file:key.txt}", file=str(tmp_path / "a.yaml"), line=4, col=12, path=API_KEY
    )
    (tmp_path / "key.txt").write_text("second-secret-value\n")  # rotated during the command
    again = values.value(
        "${file:key.txt}", file=str(tmp_path / "b.yaml"), line=9, col=12, path=API_KEY
    )
    assert first == again == "first-secret-value"  # one command sends one value
    fresh = SecretValues().value(
        "${file:key.txt}", file=str(tmp_path / "a.yaml"), line=4, col=12, path=API_KEY
    )
    assert fresh == "second-secret-value"  # the next command reads it again


def test_the_same_file_name_in_another_directory_is_another_reference(tmp_path: Path) -> None:
    for name, secret in (("one", "secret-of-one"), ("two", "secret-of-two")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "key.txt").write_text(secret)
    values = SecretValues()
    found = [
        values.value(
            "${file:key.txt}", file=str(tmp_path / d / "s.yaml"), line=1, col=1, path=API_KEY
        )
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
        SecretValues().value(
            "${env:NO_SUCH_KEY}", file="specs/a.yaml", line=7, col=13, path=API_KEY
        )
