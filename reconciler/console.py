"""Kibana Dev Tools console text -> requests (method, path, JSON body), with line numbers.

Owns reading what people copy from Elastic's documentation, tutorials and
notebooks: one or more requests (``PUT _inference/...``), each a method line
followed by an optional body in the console's relaxed JSON: ``//``, ``#`` and
``/* */`` comments, trailing commas, and triple-quoted strings (``\"\"\"...\"\"\"``,
taken verbatim, as the console sends them). Errors name the line and column
and never quote the text, since a body may hold an API key. Pure: no I/O;
what a request means is ``convert``'s.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD", "PATCH")
MAX_DEPTH = 64  # as the spec loader: deeper text is refused, not a RecursionError
_METHOD_LINE = re.compile(r"(?P<method>[A-Za-z]+)[ \t]+(?P<path>[^\s]+)[ \t]*(?:$|\n)")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class ConsoleError(Exception):
    """Text that is not console requests; ``line``/``col`` say where (1-based)."""

    def __init__(self, message: str, *, line: int, col: int) -> None:
        super().__init__(message)
        self.line = line
        self.col = col


@dataclass(frozen=True, kw_only=True)
class ConsoleRequest:
    method: str  # upper case
    path: str  # as written, without the query string
    body: Any  # None without a body
    line: int  # of the method line
    body_lines: dict[tuple[str, ...], int]  # line of each body key, by path of keys


def parse_console(text: str) -> list[ConsoleRequest]:
    return _Reader(text).requests()


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[tuple[str, ...], int] = {}
        self.newlines = [index for index, char in enumerate(text) if char == "\n"]

    # positions -----------------------------------------------------------------------------
    def where(self, pos: int | None = None) -> tuple[int, int]:
        at = self.pos if pos is None else pos
        line = bisect.bisect_left(self.newlines, at)  # newlines before ``at``
        start = self.newlines[line - 1] + 1 if line else 0
        return line + 1, at - start + 1

    def fail(self, message: str, pos: int | None = None) -> ConsoleError:
        line, col = self.where(pos)
        return ConsoleError(message, line=line, col=col)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    # between and inside values ------------------------------------------------------------------
    def skip_blank(self) -> None:
        """Whitespace and comments (``#``, ``//`` to the end of the line; ``/* ... */``)."""
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r\n\ufeff":
                self.pos += 1
            elif char == "#" or text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("comment opened with /* is never closed")
                self.pos = end + 2
            else:
                return

    # requests ----------------------------------------------------------------------------------
    def requests(self) -> list[ConsoleRequest]:
        found = []
        self.skip_blank()
        while self.pos < len(self.text):
            match = _METHOD_LINE.match(self.text, self.pos)
            if not match or match["method"].upper() not in METHODS:
                raise self.fail(
                    "expected a request line such as 'PUT _inference/TASK_TYPE/ID' "
                    f"(a method: {', '.join(METHODS)}, then a path)"
                )
            line, _ = self.where()
            self.pos = match.end()
            self.lines = {}
            self.skip_blank()
            body = None
            if self.peek() in ("{", "["):
                body = self.value(())
                self.skip_blank()
            found.append(
                ConsoleRequest(
                    method=match["method"].upper(),
                    path=match["path"].split("?", 1)[0],
                    body=body,
                    line=line,
                    body_lines=self.lines,
                )
            )
        return found

    # relaxed JSON ------------------------------------------------------------------------------
    def value(self, path: tuple[str, ...]) -> Any:
        if len(path) > MAX_DEPTH:
            raise self.fail(f"nesting deeper than {MAX_DEPTH} levels")
        self.skip_blank()
        char = self.peek()
        if char == "{":
            return self.mapping(path)
        if char == "[":
            return self.sequence(path)
        if char == '"':
            return self.string()
        for word, meaning in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return meaning
        number = _NUMBER.match(self.text, self.pos)
        if number and number.end() > self.pos:
            self.pos = number.end()
            digits = number.group()
            return float(digits) if any(c in digits for c in ".eE") else int(digits)
        if not char:
            raise self.fail("the body ends where a value was expected")
        raise self.fail("expected a value (an object, array, string, number, true, false or null)")

    def mapping(self, path: tuple[str, ...]) -> dict[str, Any]:
        opened = self.pos
        self.pos += 1
        result: dict[str, Any] = {}
        while True:
            self.skip_blank()
            if self.peek() == "}":
                self.pos += 1
                return result
            if not self.peek():
                raise self.fail("object opened here is never closed", opened)
            if self.peek() != '"':
                raise self.fail('expected a quoted key or "}"')
            key_at = self.pos
            key = self.string()
            if key in result:
                raise self.fail(f"duplicate key '{key}'", key_at)
            self.lines[path + (key,)] = self.where(key_at)[0]
            self.skip_blank()
            if self.peek() != ":":
                raise self.fail(f"expected ':' after the key '{key}'")
            self.pos += 1
            result[key] = self.value(path + (key,))
            self.skip_blank()
            if self.peek() == ",":  # a trailing comma before "}" is allowed, as in the console
                self.pos += 1
            elif self.peek() != "}":
                raise self.fail("expected ',' or '}'")

    def sequence(self, path: tuple[str, ...]) -> list[Any]:
        opened = self.pos
        self.pos += 1
        items: list[Any] = []
        while True:
            self.skip_blank()
            if self.peek() == "]":
                self.pos += 1
                return items
            if not self.peek():
                raise self.fail("array opened here is never closed", opened)
            items.append(self.value(path + (str(len(items)),)))
            self.skip_blank()
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "]":
                raise self.fail("expected ',' or ']'")

    def string(self) -> str:
        text, start = self.text, self.pos
        if text.startswith('"""', start):
            end = text.find('"""', start + 3)
            if end < 0:
                raise self.fail('string opened with """ is never closed', start)
            self.pos = end + 3
            return text[start + 3 : end]
        parts: list[str] = []
        index = start + 1
        while True:
            if index >= len(text) or text[index] == "\n":
                raise self.fail("string is never closed on its line", start)
            char = text[index]
            if char == '"':
                self.pos = index + 1
                return "".join(parts)
            if char == "\\":
                escaped = text[index + 1 : index + 2]
                if escaped == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[index + 2 : index + 6]):
                    parts.append(chr(int(text[index + 2 : index + 6], 16)))
                    index += 6
                    continue
                if escaped not in _ESCAPES:
                    raise self.fail("invalid escape in a string", index)
                parts.append(_ESCAPES[escaped])
                index += 2
                continue
            parts.append(char)
            index += 1
