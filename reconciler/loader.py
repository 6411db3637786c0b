"""YAML files -> raw endpoint documents that remember file, line and column.

Owns reading a desired-state directory: which files count, decoding, YAML
parsing with positions, duplicate keys, alias bombs, and the cross-file id
check. Does not check schemas (``schema``) nor resolve secrets (``secrets``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml

from reconciler.diagnostics import Diagnostic
from reconciler.model import FieldPath, Source

SETTINGS_FILE = "reconciler.yaml"
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 100_000  # bounds alias expansion ("billion laughs") and huge documents
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# scalar tags whose constructor is a plain function of the node: called directly, without
# construct_object's bookkeeping (which is for collections and recursion)
_PLAIN_SCALARS = {
    f"tag:yaml.org,2002:{name}": yaml.constructor.SafeConstructor.yaml_constructors[
        f"tag:yaml.org,2002:{name}"
    ]
    for name in ("str", "int", "float", "bool", "null")
}


@dataclass(frozen=True, kw_only=True)
class Document:
    """One YAML document of a spec file, as plain data plus positions."""

    body: Any
    source: Source


class _TooLarge(Exception):
    pass


class _Builder:
    """Turns a composed YAML node tree into plain data, recording positions."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.nodes = 0
        self.positions: dict[FieldPath, tuple[int, int]] = {}
        self.diagnostics: list[Diagnostic] = []
        self._constructor = (
            yaml.constructor.SafeConstructor()
        )  # the scalars' rules, without a parser

    def build(self, node: yaml.Node, path: FieldPath, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge(f"document expands to more than {MAX_NODES} nodes (alias bomb?)")
        if depth > MAX_DEPTH:
            raise _TooLarge(f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.positions.setdefault(path + (index,), _mark(item))
                items.append(self.build(item, path + (index,), depth + 1))
            return items
        plain = _PLAIN_SCALARS.get(node.tag) if isinstance(node, yaml.ScalarNode) else None
        if plain is not None:
            return plain(self._constructor, node)
        return self._constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: FieldPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[Any, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._error(key_node, "merge keys (<<) are not supported in spec files")
                continue
            key = self.build(key_node, path, depth + 1)
            if not isinstance(key, str):
                key = str(key)
            position = _mark(key_node)
            if key in first_seen:
                line, col = first_seen[key]
                self._error(key_node, f"duplicate key '{key}' (first defined at line {line})")
                continue
            first_seen[key] = position
            self.positions[path + (key,)] = position
            result[key] = self.build(value_node, path + (key,), depth + 1)
        return result

    def _error(self, node: yaml.Node, message: str) -> None:
        line, col = _mark(node)
        self.diagnostics.append(Diagnostic(file=self.file, line=line, col=col, message=message))


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def find_spec_files(root: FsPath) -> list[FsPath]:
    """Every *.yaml / *.yml (any case: .YAML too) under root, recursively, hidden folders
    skipped, sorted."""
    if root.is_file():
        return [root]
    found: list[FsPath] = []
    real_root = _resolved(root)
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for (
            name
        ) in dirnames:  # os.walk does not enter a linked folder; one leaving root is reported
            linked = FsPath(folder) / name
            if linked.is_symlink():
                target = _resolved(linked)
                if target is None or real_root is None or not target.is_relative_to(real_root):
                    found.append(linked)
        for name in filenames:
            if name.startswith(".") or not name.lower().endswith((".yaml", ".yml")):
                continue
            if folder == str(root) and name == SETTINGS_FILE:
                continue
            found.append(FsPath(folder) / name)
    return sorted(found)


def display_path(path: FsPath) -> str:
    """A path as users should see it: relative to the working directory when inside it.

    A symbolic link is shown where it is, not where it points (the parent is resolved, the name kept).
    """
    parent = _resolved(path.parent)
    return (
        _relative_to_cwd(parent / path.name, FsPath.cwd().resolve(), path) if parent else str(path)
    )


def _resolved(path: FsPath) -> FsPath | None:
    """Where a path really is; None for a loop of symbolic links."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: "Symlink loop from ..." (Python < 3.13)
        return None


def _relative_to_cwd(real: FsPath, cwd: FsPath, path: FsPath) -> str:
    try:
        return str(real.relative_to(cwd))
    except ValueError:
        return str(path)


class _Displayer:
    """``display_path`` for the files of one directory walk, resolving the root once, not every file.

    ``os.walk`` does not descend into symbolic links, so below the root only a file itself can be
    one; it alone is resolved on its own.
    """

    def __init__(self, root: FsPath) -> None:
        self.root = root
        self.real_root = root.resolve()
        self.cwd = FsPath.cwd().resolve()

    def __call__(self, path: FsPath) -> str:
        if path == self.root or path.is_symlink():
            return display_path(path)
        else:
            real = self.real_root / path.relative_to(self.root)
        return _relative_to_cwd(real, self.cwd, path)


def read_text(
    path: FsPath, *, root: FsPath | None, file: str
) -> tuple[str | None, Diagnostic | None]:
    """The file's text, or a diagnostic saying why it cannot be read."""

    def problem(message: str) -> tuple[None, Diagnostic]:
        return None, Diagnostic(file=file, line=1, col=1, message=message)

    try:
        if path.is_symlink():
            target = _resolved(path)
            if target is None:
                return problem("symbolic link loop")
            if root is not None and not target.is_relative_to(root.resolve()):
                return problem(
                    f"symbolic link points outside the desired-state directory ({target})"
                )
        if path.is_dir():
            return problem("a folder where a file was expected")
        if path.stat().st_size > MAX_FILE_BYTES:
            return problem(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        raw = path.read_bytes()
    except OSError as error:
        return problem(f"cannot read file: {error.strerror or error}")
    encoding = _wide_encoding(raw)
    if encoding:
        return problem(f"file is {encoding} encoded; spec files must be UTF-8 text")
    if b"\x00" in raw:
        return problem("binary file (contains NUL bytes); spec files must be UTF-8 text")
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return None, Diagnostic(file=file, line=line, col=1, message="file is not valid UTF-8")


def _wide_encoding(raw: bytes) -> str:
    """ "UTF-16" / "UTF-32" when the bytes are text in it (with a byte-order mark, or ASCII padded with NULs)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        candidates = ["utf-32", "utf-16"]
    elif b"\x00" in raw[:512]:
        candidates = ["utf-16-le", "utf-16-be"]
    else:
        return ""  # UTF-8 (or Latin-1, reported by the UTF-8 decoder)
    for encoding in candidates:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if text and "\x00" not in text and _mostly_text(text):
            return encoding[:6].upper()
    return ""


def _mostly_text(text: str) -> bool:
    sample = text[:256]
    return sum(ch.isprintable() or ch in "\r\n\t" for ch in sample) >= 0.95 * len(sample)


def parse_documents(text: str, *, file: str) -> tuple[list[Document], list[Diagnostic]]:
    """Every document of one YAML text, with positions; problems as diagnostics."""
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    try:
        for node in _compose_all(text):
            if node is None or _empty_document(node):
                continue
            builder = _Builder(file)
            line, col = _mark(node)
            try:
                body = builder.build(node, ())
            except _TooLarge as error:
                diagnostics.append(Diagnostic(file=file, line=line, col=col, message=str(error)))
                continue
            diagnostics.extend(builder.diagnostics)
            positions = {(): (line, col), **builder.positions}
            source = Source(file=file, line=line, col=col, positions=positions)
            documents.append(Document(body=body, source=source))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = error.problem or error.context or "invalid YAML"
        diagnostics.append(
            Diagnostic(file=file, line=line, col=col, message=f"YAML syntax error: {reason}")
        )
    except yaml.YAMLError as error:
        diagnostics.append(Diagnostic(file=file, line=1, col=1, message=f"YAML error: {error}"))
    except RecursionError:
        diagnostics.append(Diagnostic(file=file, line=1, col=1, message="YAML nesting is too deep"))
    return documents, diagnostics


def _empty_document(node: yaml.Node) -> bool:
    """A document with nothing in it (a trailing ``---``, only comments): skipped, as kubectl does.

    PyYAML composes it as an empty plain null scalar; an explicit ``null`` or ``~`` is not empty.
    """
    return (
        isinstance(node, yaml.ScalarNode)
        and node.tag == "tag:yaml.org,2002:null"
        and node.value == ""
    )


def _compose_all(text: str) -> Iterator[yaml.Node | None]:
    loader = _Loader(text)
    try:
        while loader.check_node():
            yield loader.get_node()
    finally:
        loader.dispose()


def load_directory(root: FsPath) -> tuple[list[Document], list[Diagnostic]]:
    """All documents of a desired-state directory; a file without any document is reported."""
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    if not root.exists():
        return [], [Diagnostic(file=str(root), message="no such file or directory")]
    base = root if root.is_dir() else root.parent
    display = _Displayer(root)
    for path in find_spec_files(root):
        file = display(path)
        text, problem = read_text(path, root=base, file=file)
        if problem is not None or text is None:
            diagnostics.append(problem or Diagnostic(file=file, message="cannot read file"))
            continue
        found, problems = parse_documents(text, file=file)
        diagnostics.extend(problems)
        if not found and not problems:
            diagnostics.append(
                Diagnostic(
                    file=file,
                    line=1,
                    col=1,
                    message="file holds no document (only comments or empty documents)",
                )
            )
        documents.extend(found)
    return documents, diagnostics
