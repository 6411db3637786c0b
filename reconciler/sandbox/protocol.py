"""The sandbox's request and response values, independent of http.server.

Owns `Request` (method, decoded path, query, body bytes, headers) with the
Elasticsearch conventions for reading a JSON body and a boolean query
parameter, `Response`, and version comparison. Handlers take a `Request`
and return a `Response` or raise `EsError`; they never see sockets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import EsError, bad_request, parse_error


@dataclass(frozen=True, kw_only=True)
class Request:
    method: str
    path: str
    raw_uri: str
    query: dict[str, str]
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def has_body(self) -> bool:
        return bool(self.body.strip())

    def json(self, *, required: bool = True) -> Any:
        """Parse the body; ES answers malformed JSON with 400 parse_exception."""
        if not self.has_body:
            if required:
                raise EsError(400, "parse_exception", "request body is required")
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise parse_error(f"Invalid UTF-8 start byte: {error}") from None
        except json.JSONDecodeError as error:
            raise parse_error(f"{error.msg} at line {error.lineno}, column {error.colno}") from None

    def json_object(self, *, required: bool = True) -> dict[str, Any] | None:
        value = self.json(required=required)
        if value is None and not required:
            return None
        if not isinstance(value, dict):
            raise parse_error("request body must be a JSON object")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        """`RestRequest.paramAsBoolean`: empty means true; only true/false accepted."""
        raw = self.query.get(name)
        if raw is None:
            return default
        if raw in ("", "true"):
            return True
        if raw == "false":
            return False
        raise bad_request(f"Failed to parse value [{raw}] as only [true] or [false] are allowed.")


@dataclass(kw_only=True)
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # a HEAD answer or a dropped connection sends no body
    no_body: bool = False


def ok(body: Any, status: int = 200) -> Response:
    return Response(status=status, body=body)


def version_tuple(version: str) -> tuple[int, int, int]:
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if not match:
        raise ValueError(f"not a version: {version!r} (expected X.Y.Z)")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def at_least(version: str, minimum: str) -> bool:
    return version_tuple(version) >= version_tuple(minimum)
