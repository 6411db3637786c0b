"""YAML files -> raw endpoint documents that remember file, line and column.

Owns reading a desired-state directory: which files count, decoding, YAML
parsing with positions, duplicate keys, alias bombs, and the cross-file id
check. Does not check schemas (``schema``) nor resolve secrets (``secrets``).

Positions cost more than the parse: a document is built without them (PyYAML's
C composer, then plain data), and its file is composed again with marks only
when a diagnostic asks where a field is. A document the plain builder cannot
vouch for (a duplicate or non-string key, a merge key, a tag, too many nodes)
is built with positions at once, by the builder that reports those problems.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml

from reconciler.diagnostics import Diagnostic
from reconciler.forked import in_order
from reconciler.model import FieldPath, Source

SETTINGS_FILE = "reconciler.yaml"
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 100_000  # bounds alias expansion ("billion laughs") and huge documents
MAX_DEPTH = 64

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc,valid-type]  # yaml.CSafeLoader is typed Any
    """PyYAML's safe loader, its scalars' tags remembered: the composer asks for the tag of
    every scalar (keys included), and most are the same few words in every file."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        if not implicit[0]:  # quoted (or a tag-less non-plain scalar): a string
            return _STR
        tag = _TAGS.get(value)
        if tag is None:
            # without path resolvers (none are added) a plain scalar's tag depends on its text
            tag = super().resolve(kind, value, implicit)
            if len(_TAGS) < _TAGS_KEPT and len(value) <= 64:
                _TAGS[value] = tag
        return tag


_TAGS: dict[str, str] = {}  # a plain scalar's text -> its tag (a bounded few)
_TAGS_KEPT = 4096
# scalar tags whose constructor is a plain function of the node: called directly, without
# construct_object's bookkeeping (which is for collections and recursion)
_PLAIN_SCALARS = {
    f"tag:yaml.org,2002:{name}": yaml.constructor.SafeConstructor.yaml_constructors[
        f"tag:yaml.org,2002:{name}"
    ]
    for name in ("str", "int", "float", "bool", "null")
}
_STR = "tag:yaml.org,2002:str"


@dataclass(frozen=True, kw_only=True, slots=True)
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


class _NeedsMarks(Exception):
    """The plain builder met something only ``_Builder`` reports or constructs."""


class _PlainBuilder:
    """A composed YAML node tree -> plain data, no positions: the common case, kept tight.

    Anything unusual raises ``_NeedsMarks`` and the document is built again by ``_Builder``,
    which turns it into the same data or a diagnostic; so both give one answer per document.
    """

    __slots__ = ("nodes", "_constructor")

    def __init__(self, constructor: yaml.constructor.SafeConstructor) -> None:
        self.nodes = 0
        self._constructor = constructor

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise _NeedsMarks
        kind = node.__class__
        if kind is yaml.ScalarNode:
            if node.tag == _STR:
                return sys.intern(node.value)  # one copy of what many specs repeat
            plain = _PLAIN_SCALARS.get(node.tag)
            if plain is None:
                raise _NeedsMarks
            return plain(self._constructor, node)
        if kind is yaml.MappingNode:
            result: dict[str, Any] = {}
            self.nodes += len(node.value)  # the keys, as ``_Builder`` counts them
            for key_node, value_node in node.value:
                if key_node.__class__ is not yaml.ScalarNode or key_node.tag != _STR:
                    raise _NeedsMarks  # merge key, non-string key: _Builder's to judge
                key = sys.intern(key_node.value)
                if key in result:
                    raise _NeedsMarks  # duplicate key: _Builder reports both lines
                result[key] = self.build(value_node, depth + 1)
            return result
        if kind is yaml.SequenceNode:
            return [self.build(item, depth + 1) for item in node.value]
        raise _NeedsMarks


class _FileMarks:
    """One file, composed again with marks when a diagnostic first needs a position.

    A file read from disk is read again then (its text is not kept: at 50,000 specs that is
    memory spent for the few that ever report a problem); a text given as such is kept.
    """

    __slots__ = ("text", "path", "file")

    def __init__(self, *, text: str | None, path: str | None, file: str) -> None:
        self.text = text
        self.path = path
        self.file = file

    def positions(self, ordinal: int) -> dict[FieldPath, tuple[int, int]]:
        """The positions of the file's ``ordinal``-th composed document (empty ones counted)."""
        text = self.text
        if text is None and self.path is not None:
            text, _ = _read_file(self.path, file=self.file)
        try:
            for index, node in enumerate(_compose_all(text or "")):
                if index == ordinal and node is not None:
                    positions: dict[FieldPath, tuple[int, int]] = {(): _mark(node)}
                    _record_marks(node, (), positions, 0)
                    return positions
        except (yaml.YAMLError, RecursionError):
            pass  # parsed once already: cannot happen; positions fall back to the document's
        return {}


def _record_marks(
    node: yaml.Node, path: FieldPath, positions: dict[FieldPath, tuple[int, int]], depth: int
) -> None:
    """The positions ``_Builder`` records, for a document ``_PlainBuilder`` built (every key a
    plain string, none twice, no merge key): marks only, no values."""
    if depth > MAX_DEPTH:
        return
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            here = path + (key_node.value,)
            positions[here] = _mark(key_node)
            _record_marks(value_node, here, positions, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            here = path + (index,)
            positions.setdefault(here, _mark(item))
            _record_marks(item, here, positions, depth + 1)


class _Positions(Mapping[FieldPath, tuple[int, int]]):
    """``Source.positions`` of a document built without them: computed on first use."""

    __slots__ = ("_marks", "_ordinal", "_cache")

    def __init__(self, marks: _FileMarks, ordinal: int) -> None:
        self._marks = marks
        self._ordinal = ordinal
        self._cache: dict[FieldPath, tuple[int, int]] | None = None

    def _positions(self) -> dict[FieldPath, tuple[int, int]]:
        if self._cache is None:
            self._cache = self._marks.positions(self._ordinal)
        return self._cache

    def __getitem__(self, path: FieldPath) -> tuple[int, int]:
        return self._positions()[path]

    def __iter__(self) -> Iterator[FieldPath]:
        return iter(self._positions())

    def __len__(self) -> int:
        return len(self._positions())


def _mark(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def find_spec_files(root: FsPath) -> list[FsPath]:
    """Every *.yaml / *.yml (any case: .YAML too) under root, recursively, hidden folders
    skipped, sorted."""
    if root.is_file():
        return [root]
    return [FsPath(root, *parts) for parts in _spec_files(root)]


def _spec_files(root: FsPath, links: set[tuple[str, ...]] | None = None) -> list[tuple[str, ...]]:
    """``find_spec_files`` below a folder, as path parts relative to it (no ``Path`` per file,
    the same order as sorting the paths); with ``links``, the files among them that are
    symbolic links are added to it (from the folder's listing: no system call per file)."""
    found: list[tuple[str, ...]] = []
    real_root = _resolved(root)
    top = str(root)
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        relative = os.path.relpath(folder, top)
        parts = () if relative == "." else tuple(relative.split(os.sep))
        if links is not None:
            with os.scandir(folder) as entries:
                links.update((*parts, e.name) for e in entries if e.is_symlink())
        for (
            name
        ) in dirnames:  # os.walk does not enter a linked folder; one leaving root is reported
            linked = FsPath(folder) / name
            if linked.is_symlink():
                target = _resolved(linked)
                if target is None or real_root is None or not target.is_relative_to(real_root):
                    found.append((*parts, name))
        for name in filenames:
            if name.startswith(".") or not name.lower().endswith((".yaml", ".yml")):
                continue
            if not parts and name == SETTINGS_FILE:
                continue
            found.append((*parts, name))
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
        real_root = root.resolve()
        try:  # inside the working directory: shown relative to it, as display_path shows it
            self.base = str(real_root.relative_to(FsPath.cwd().resolve()))
        except ValueError:
            self.base = str(root)
        self.prefix = "" if self.base == "." else os.path.join(self.base, "")

    def __call__(self, parts: tuple[str, ...]) -> str:
        """How the file at ``parts`` (below the root; not a symbolic link) is shown."""
        # = os.path.join(base, *parts) for plain names, without its checks per part
        return "/".join(parts) if not self.prefix else self.prefix + os.sep.join(parts)


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
    except OSError as error:
        return problem(f"cannot read file: {error.strerror or error}")
    return _read_file(str(path), file=file)


def _read_file(path: str, *, file: str) -> tuple[str | None, Diagnostic | None]:
    """The text of a file that is no symbolic link: one open and one read."""

    def problem(message: str) -> tuple[None, Diagnostic]:
        return None, Diagnostic(file=file, line=1, col=1, message=message)

    try:  # a file descriptor, no file object: this is done for every spec file
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            # asked for MAX_FILE_BYTES at once, read() allocates that much for every file (an
            # mmap, page faults, a shrink): the size the file says it has, then the rest if any
            size = min(os.fstat(descriptor).st_size, MAX_FILE_BYTES)
            raw = os.read(descriptor, size + 1)
            if len(raw) > size:  # larger than it said (or a special file): up to the limit
                raw += os.read(descriptor, MAX_FILE_BYTES + 1 - len(raw))
        finally:
            os.close(descriptor)
    except IsADirectoryError:
        return problem("a folder where a file was expected")
    except OSError as error:
        return problem(f"cannot read file: {error.strerror or error}")
    if len(raw) > MAX_FILE_BYTES:
        return problem(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
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


def parse_documents(
    text: str, *, file: str, path: str | None = None
) -> tuple[list[Document], list[Diagnostic]]:
    """Every document of one YAML text, with positions; problems as diagnostics. With ``path``
    (where the text was read from), the positions are read from there if ever asked for."""
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    marks = _FileMarks(text=None if path else text, path=path, file=file)
    constructor = yaml.constructor.SafeConstructor()
    try:
        for ordinal, node in enumerate(_compose_all(text)):
            if node is None or _empty_document(node):
                continue
            line, col = _mark(node)
            try:
                body = _PlainBuilder(constructor).build(node)
                positions: Mapping[FieldPath, tuple[int, int]] = _Positions(marks, ordinal)
            except _NeedsMarks:
                builder = _Builder(file)
                try:
                    body = builder.build(node, ())
                except _TooLarge as error:
                    diagnostics.append(
                        Diagnostic(file=file, line=line, col=col, message=str(error))
                    )
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
    """All documents of a desired-state directory; a file without any document is reported.
    Many files are read by several processes at once (``forked``), with the same result."""
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    if not root.exists():
        return [], [Diagnostic(file=str(root), message="no such file or directory")]
    files: list[tuple[str, tuple[str, ...] | None]]
    if root.is_dir():
        display = _Displayer(root)
        links: set[tuple[str, ...]] = set()
        top = os.path.join(root, "")  # = os.path.join(root, *parts) for plain names, quicker
        files = [(top + os.sep.join(parts), parts) for parts in _spec_files(root, links)]
    else:
        links, files = set(), [(str(root), None)]
    base = root if root.is_dir() else root.parent

    def load(some: Sequence[tuple[str, tuple[str, ...] | None]]) -> list[_Loaded]:
        # plain strings: a Path per file costs more than reading it
        return [
            _load_file(
                path,
                file=display(parts) if parts is not None and parts not in links else None,
                base=base,
            )
            for path, parts in some
        ]

    for found, problems in in_order(load, files, pack=_pack, unpack=_unpack):
        documents.extend(found)
        diagnostics.extend(problems)
    return documents, diagnostics


_Loaded = tuple[list[Document], list[Diagnostic]]
# one file's documents as plain data: (file, its text if kept, its path, diagnostics, and per
# document its body, line, column and positions: a dict, or the document's ordinal in the file
# when they are worked out on first use)
_Packed = tuple[str, str | None, str | None, list[Diagnostic], list[tuple[Any, int, int, Any]]]


def _pack(loaded: list[_Loaded]) -> list[_Packed | _Loaded]:
    """What a forked reader sends back: 25,000 ``Document``s with their ``Source``s took
    0.6 s to pickle and 0.37 s to unpickle; their plain parts take 0.15 s and 0.22 s (the
    ``_unpack`` included)."""
    packed: list[_Packed | _Loaded] = []
    for found, problems in loaded:
        marks = found[0].source.positions if found else None
        marks = marks._marks if isinstance(marks, _Positions) else None
        rows = []
        for document in found:
            source, positions = document.source, document.source.positions
            if isinstance(positions, _Positions):
                if positions._marks is not marks:
                    break  # not one file's documents (cannot happen): sent as they are
                positions = positions._ordinal
            rows.append((document.body, source.line, source.col, positions))
        else:
            file = found[0].source.file if found else ""
            text, path = (marks.text, marks.path) if marks is not None else (None, None)
            packed.append((file, text, path, problems, rows))
            continue
        packed.append((found, problems))
    return packed


def _unpack(packed: list[_Packed | _Loaded]) -> list[_Loaded]:
    loaded: list[_Loaded] = []
    for entry in packed:
        if len(entry) == 2:
            loaded.append(entry)  # type: ignore[arg-type]
            continue
        file, text, path, problems, rows = entry  # type: ignore[misc]
        marks = _FileMarks(text=text, path=path, file=file)
        found = [
            Document(
                body=body,
                source=Source(
                    file=file,
                    line=line,
                    col=col,
                    positions=_Positions(marks, positions) if type(positions) is int else positions,
                ),
            )
            for body, line, col, positions in rows
        ]
        loaded.append((found, problems))
    return loaded


def _load_file(path: str, *, file: str | None, base: FsPath) -> _Loaded:
    """One file's documents and problems. ``file``: how it is shown, when it is no symbolic
    link (None: it may be one, and is checked and shown as such)."""
    if file is None:
        file = display_path(FsPath(path))
        text, problem = read_text(FsPath(path), root=base, file=file)
    else:
        text, problem = _read_file(path, file=file)
    if problem is not None or text is None:
        return [], [problem or Diagnostic(file=file, message="cannot read file")]
    found, problems = parse_documents(text, file=file, path=os.path.abspath(path))
    if not found and not problems:
        message = "file holds no document (only comments or empty documents)"
        problems.append(Diagnostic(file=file, line=1, col=1, message=message))
    return found, problems
