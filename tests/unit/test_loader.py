"""The loader: what a user sees for files that cannot become specs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.loader import find_spec_files, load_directory, parse_documents


def messages(text: str) -> list[str]:
    _, diagnostics = parse_documents(text, file="x.yaml")
    return [str(d) for d in diagnostics]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: [1, 2\n", "x.yaml:2:1: YAML syntax error"),
        ("a: 1\n  b: 2\n", "x.yaml:2:4: YAML syntax error"),
        ("a: 1\nb: 2\na: 3\n", "x.yaml:3:1: duplicate key 'a' (first defined at line 1)"),
        ("s:\n  k: 1\n  k: 2\n", "x.yaml:3:3: duplicate key 'k' (first defined at line 2)"),
        ("base: &b {x: 1}\nm:\n  <<: *b\n", "x.yaml:3:3: merge keys (<<) are not supported"),
        ('a: "unterminated\n', "YAML syntax error"),
        ("\t- tab\n", "YAML syntax error"),
    ],
)
def test_bad_yaml_is_reported_with_file_line_and_column(text: str, expected: str) -> None:
    assert any(expected in m for m in messages(text)), messages(text)


def test_positions_point_at_keys_in_every_document() -> None:
    documents, diagnostics = parse_documents("a: 1\n---\nx:\n  y:\n    - z: 2\n", file="f.yaml")
    assert not diagnostics
    assert len(documents) == 2
    second = documents[1].source
    assert second.at(("x", "y")) == (4, 3)
    assert second.at(("x", "y", 0, "z")) == (5, 7)
    assert second.at(("x", "missing")) == (3, 1)  # nearest ancestor


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n---\n",  # a trailing separator
        "a: 1\n---\n# a comment-only document\n",
        "---\n# leading comment-only document\n---\na: 1\n",
        "a: 1\n---\n---\n\n---\n",
    ],
)
def test_empty_and_comment_only_documents_are_skipped(text: str) -> None:
    documents, diagnostics = parse_documents(text, file="x.yaml")
    assert not diagnostics
    assert [d.body for d in documents] == [{"a": 1}]


def test_an_explicit_null_document_is_not_empty() -> None:
    documents, _ = parse_documents("a: 1\n--- ~\n---\nnull\n", file="x.yaml")
    assert [d.body for d in documents] == [{"a": 1}, None, None]


def test_alias_bomb_fails_fast() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    started = time.monotonic()
    found = messages("\n".join(lines) + "\n")
    assert time.monotonic() - started < 5
    assert any("alias bomb" in m for m in found)


def test_deep_nesting_is_a_diagnostic_not_a_crash() -> None:
    text = "a: " + "[" * 3000 + "]" * 3000 + "\n"
    assert messages(text)


def write(root: Path, name: str, content: bytes | str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_directory_walk_skips_hidden_folders_and_settings(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "x: 1\n")
    write(tmp_path, "sub/b.yml", "x: 1\n")
    write(tmp_path, ".hidden/c.yaml", "x: 1\n")
    write(tmp_path, "reconciler.yaml", "state_id: x\n")
    write(tmp_path, "notes.txt", "x: 1\n")
    names = [p.relative_to(tmp_path).as_posix() for p in find_spec_files(tmp_path)]
    assert names == ["a.yaml", "sub/b.yml"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfe\x00a: 1", "binary file"),
        (b"a: 1\nb: \xe9t\xe9\n", "2:1: file is not valid UTF-8"),
        (b"", "file holds no document"),
        (b"# only a comment\n", "file holds no document"),
        (b"---\n# only comments\n---\n", "1:1: file holds no document"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, expected: str) -> None:
    write(tmp_path, "bad.yaml", content)
    _, diagnostics = load_directory(tmp_path)
    assert any(expected in str(d) for d in diagnostics), diagnostics


def test_symlink_outside_directory_is_refused(tmp_path: Path) -> None:
    outside = write(tmp_path, "outside/secret.yaml", "x: 1\n")
    root = tmp_path / "specs"
    root.mkdir()
    (root / "link.yaml").symlink_to(outside)
    _, diagnostics = load_directory(root)
    assert any("points outside" in str(d) for d in diagnostics)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    write(tmp_path, "bom.yaml", "\ufeffa: 1\n".encode())
    documents, diagnostics = load_directory(tmp_path)
    assert not diagnostics and documents[0].body == {"a": 1}


def test_positions_found_after_loading_skip_empty_and_rejected_documents() -> None:
    """Positions are looked up again when a diagnostic first needs one: the right document's."""
    text = "# header\n\na: 1\n---\n---\nb: 1\nb: 2\n---\nc:\n  d:\n    - e: 1\n      f: 2\n"
    documents, diagnostics = parse_documents(text, file="f.yaml")
    assert [str(d) for d in diagnostics] == [
        "f.yaml:7:1: duplicate key 'b' (first defined at line 6)"
    ]
    first, second, third = (d.source for d in documents)
    assert (first.line, first.at(("a",))) == (3, (3, 1))
    assert second.at(("b",)) == (6, 1)
    assert third.at(("c", "d", 0, "f")) == (12, 7)
    assert third.problem(("c", "missing"), "x").line == 9
