"""GitHub Actions expressions (``${{ ... }}``), as far as our workflows use them.

Literals, contexts with ``.name`` and ``[expr]``, ``!``, ``==``/``!=`` (strings compared
ignoring case), ``<``/``>``, ``&&``/``||`` (returning an operand, as GitHub does), and the
functions ``format``, ``fromJSON``, ``toJSON``, ``contains``, ``startsWith``, ``endsWith``,
``join`` and the status functions. An unknown function or token is an error, so a workflow
that uses more than this harness understands fails loudly instead of passing by accident.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<number>-?\d+(?:\.\d+)?)|(?P<string>'(?:[^']|'')*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)


class ExpressionError(Exception):
    pass


def tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ExpressionError(f"cannot read {text[position:]!r} in {text!r}")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "") or isinstance(value, (dict, list))


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip()) if value.strip() else 0.0
        except ValueError:
            return math.nan
    return math.nan


def equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if type(left) is type(right) or (
        isinstance(left, (dict, list)) or isinstance(right, (dict, list))
    ):
        return bool(left is right or left == right)
    return _number(left) == _number(right)


def lookup(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        if key in value:
            return value[key]
        lowered = str(key).lower()
        return next((v for k, v in value.items() if str(k).lower() == lowered), None)
    if isinstance(value, list) and isinstance(key, (int, float)) and 0 <= int(key) < len(value):
        return value[int(key)]
    return None


def _format(template: str, *arguments: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        return to_string(arguments[int(match.group(1))])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", replace, template)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "format": _format,
    "fromjson": lambda text: json.loads(text),
    "tojson": lambda value: json.dumps(value, indent=2),
    "contains": lambda haystack, needle: (
        any(equal(item, needle) for item in haystack)
        if isinstance(haystack, list)
        else to_string(needle).lower() in to_string(haystack).lower()
    ),
    "startswith": lambda text, prefix: (
        to_string(text).lower().startswith(to_string(prefix).lower())
    ),
    "endswith": lambda text, suffix: to_string(text).lower().endswith(to_string(suffix).lower()),
    "join": lambda items, sep=",": (
        to_string(sep).join(map(to_string, items)) if isinstance(items, list) else to_string(items)
    ),
}
STATUS = ("always", "success", "failure", "cancelled")


class _Parser:
    def __init__(self, text: str, context: Mapping[str, Any], status: Mapping[str, bool]) -> None:
        self.items = tokens(text)
        self.position = 0
        self.context = context
        self.status = status
        self.text = text
        self.skip = 0  # > 0 while parsing an operand that && or || does not evaluate

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.position] if self.position < len(self.items) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        item = self.peek()
        if item is None or (value is not None and item[1] != value):
            raise ExpressionError(f"expected {value or 'more'} in {self.text!r}")
        self.position += 1
        return item

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()} in {self.text!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            decided = truthy(value)
            self.skip += decided
            right = self.and_()
            self.skip -= decided
            value = value if decided else right
        return value

    def and_(self) -> Any:
        value = self.compare()
        while self.peek() == ("op", "&&"):
            self.take()
            decided = not truthy(value)
            self.skip += decided
            right = self.compare()
            self.skip -= decided
            value = value if decided else right
        return value

    def compare(self) -> Any:
        value = self.unary()
        while self.peek() in (
            ("op", "=="),
            ("op", "!="),
            ("op", "<"),
            ("op", ">"),
            ("op", "<="),
            ("op", ">="),
        ):
            op = self.take()[1]
            right = self.unary()
            if op in ("==", "!="):
                value = equal(value, right) == (op == "==")
            else:
                a, b = _number(value), _number(right)
                value = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return float(text)
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r} in {self.text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == ("op", "("):
            self.take()
            arguments = []
            while self.peek() != ("op", ")"):
                arguments.append(self.or_())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            name = text.lower()
            if self.skip:
                return None
            if name in STATUS:
                return self.status[name]
            if name not in FUNCTIONS:
                raise ExpressionError(f"function {text}() is not known to the harness")
            return FUNCTIONS[name](*arguments)
        if self.skip:
            return None
        if text not in self.context:
            raise ExpressionError(f"context {text!r} is not available here ({self.text!r})")
        return self.context[text]

    def postfix(self, value: Any) -> Any:
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                value = lookup(value, self.take()[1])
            else:
                key = self.or_()
                self.take("]")
                value = lookup(value, key)
        return value


def evaluate(
    text: str, context: Mapping[str, Any], status: Mapping[str, bool] | None = None
) -> Any:
    return _Parser(
        text,
        context,
        status or {"always": True, "success": True, "failure": False, "cancelled": False},
    ).parse()


def interpolate(
    value: Any, context: Mapping[str, Any], status: Mapping[str, bool] | None = None
) -> Any:
    """A workflow value with its ``${{ }}`` parts evaluated; a lone expression keeps its type."""
    if isinstance(value, dict):
        return {k: interpolate(v, context, status) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, context, status) for v in value]
    if not isinstance(value, str):
        return value
    whole = EXPRESSION.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), context, status)
    return EXPRESSION.sub(lambda m: to_string(evaluate(m.group(1), context, status)), value)


def condition(text: Any, context: Mapping[str, Any], status: Mapping[str, bool]) -> bool:
    """An ``if:``: without a status function it means ``success() && (...)``."""
    if text is None:
        return status["success"]
    if isinstance(text, bool):
        return status["success"] and text
    source = str(text).strip()
    whole = EXPRESSION.fullmatch(source)
    source = whole.group(1) if whole else source
    if not re.search(r"\b(?:always|success|failure|cancelled)\s*\(", source):
        source = f"success() && ({source})"
    return truthy(evaluate(source, context, status))
