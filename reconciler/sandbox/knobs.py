"""Test knobs: injected faults, latency, the request log, and credentials.

Owns `Fault` (public API), the thread-safe fault list that hands out the
first N matches (or every match for N seconds), the request log (method, path, query, status, time; never a
body, a header or a secret; optionally appended to a JSON-lines file), and
the optional credential check: without the configured key a request gets
401; a read-only key gets 403 on writes; an inference-only key gets 403 on
index and document APIs. The HTTP plumbing that applies them is `httpd.py`.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import EsError, default_error_type


@dataclass(kw_only=True)
class Fault:
    """Answer the first `count` requests matching method + path regex with `status`, or drop them.

    `after=True` performs the request first, then loses the answer (the
    "server did it but the client never heard" case). `count=None` never runs out.
    `seconds` makes it a window in time instead (or as well): it answers every
    match for that many seconds from the first request it matched (a cluster
    that is overloaded for 10 s, however many requests it gets meanwhile).
    `delay` (seconds) holds the answer back first; with no status and no drop the
    request is then answered normally (a slow cluster: performed before the
    delay with `after=True`, after it otherwise). `body` replaces the error
    envelope of a status fault; `echo=True` quotes the request body in the
    envelope's reason, as Elasticsearch quotes a value it rejects.
    """

    method: str | None = None
    path: str = ".*"
    status: int | None = 503
    count: int | None = 1
    retry_after: int | float | None = None
    drop: bool = False
    after: bool = False
    delay: float = 0.0
    body: Any = None
    echo: bool = False
    echo_as: str = ""  # with echo: quote each string of the body in this form (ECHO_FORMS)
    seconds: float | None = None
    opened_at: float | None = field(default=None, repr=False)  # when `seconds` started counting

    def __post_init__(self) -> None:
        re.compile(self.path)
        for name in ("status", "count"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(f"fault {name} must be an integer, not {value!r}")
        if (
            not isinstance(self.delay, (int, float))
            or isinstance(self.delay, bool)
            or self.delay < 0
        ):
            raise ValueError(f"fault delay must be a number of seconds >= 0, not {self.delay!r}")
        if self.seconds is not None and (
            not isinstance(self.seconds, (int, float))
            or isinstance(self.seconds, bool)
            or self.seconds <= 0
        ):
            raise ValueError(f"fault seconds must be a number of seconds > 0, not {self.seconds!r}")
        if self.echo_as and self.echo_as not in ECHO_FORMS:
            raise ValueError(
                f"fault echo_as must be one of {sorted(ECHO_FORMS)}, not {self.echo_as!r}"
            )
        if not self.drop and self.status is None and not self.delay:
            raise ValueError("a fault needs a status, drop=True or a delay")

    @property
    def slow_only(self) -> bool:
        """Only late: the request is answered normally."""
        return self.status is None and not self.drop

    def matches(self, method: str, path: str) -> bool:
        if self.method not in (None, "*", "") and self.method.upper() != method.upper():
            return False
        return re.search(self.path, path) is not None

    def to_json(self) -> dict[str, Any]:
        found = asdict(self)
        found.pop("opened_at")
        return found

    def spent(self, now: float) -> bool:
        """No uses left: the count ran out, or the window of `seconds` has closed."""
        if self.count is not None and self.count <= 0:
            return True
        return (
            self.seconds is not None
            and self.opened_at is not None
            and now - self.opened_at >= self.seconds
        )

    def error(self, method: str, path: str, request_body: bytes = b"") -> EsError:
        status = int(self.status or 500)
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        reason = f"sandbox injected fault: HTTP {status} for [{method} {path}]"
        if self.echo and request_body and self.echo_as:
            quoted = ", ".join(_echoed(request_body, ECHO_FORMS[self.echo_as]))
            reason += f" with values [{quoted}]"
        elif self.echo and request_body:
            reason += f" with body [{request_body.decode('utf-8', 'replace')}]"
        return EsError(status, default_error_type(status), reason, headers=headers)

    def label(self) -> str:
        kind = "drop" if self.drop else f"status {self.status}" if self.status is not None else ""
        parts = [kind] if kind else []
        if self.delay:
            parts.append(f"delay {self.delay:g}s")
        return " ".join(parts) + (" after" if self.after else "")


def _pieces(value: str) -> str:
    """The string values of a JSON document, as a server quoting one field of it would."""
    try:
        document = json.loads(value)
    except ValueError:
        return value
    if not isinstance(document, dict):
        return value
    return ", ".join(str(v) for v in document.values() if isinstance(v, str))


# how an echo quotes what it was sent (`echo_as`): the forms a real server was seen to use
ECHO_FORMS: dict[str, Callable[[str], str]] = {
    "base64": lambda v: base64.b64encode(v.encode()).decode(),
    "base64url": lambda v: base64.urlsafe_b64encode(v.encode()).decode().rstrip("="),
    "hex": lambda v: v.encode().hex(),
    "upper": str.upper,
    "lower": str.lower,
    "truncated": lambda v: v[:12] + "...",
    "pieces": _pieces,
}


def _echoed(request_body: bytes, form: Callable[[str], str]) -> list[str]:
    """Each string of a JSON request body, in ``form``."""
    try:
        stack: list[Any] = [json.loads(request_body)]
    except ValueError:
        return [form(request_body.decode("utf-8", "replace"))]
    found = []
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found.append(form(node))
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


class FaultSet:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(copy.copy(fault))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str) -> Fault | None:
        """The first matching fault with uses left; uses one."""
        now = time.monotonic()
        with self._lock:
            for fault in self._faults:
                if fault.spent(now) or not fault.matches(method, path):
                    continue
                if fault.count is not None:
                    fault.count -= 1
                if fault.seconds is not None and fault.opened_at is None:
                    fault.opened_at = now
                return fault
            return None


class RequestLog:
    def __init__(self, log_file: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self.log_file = Path(log_file) if log_file is not None else None
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)

    def record(
        self,
        *,
        method: str,
        path: str,
        query: dict[str, str],
        status: int | None,
        started: float,
        fault: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        headers = headers or {}
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": dict(query),
            "status": status,
            "time": round(started, 6),
            "duration_ms": round((time.time() - started) * 1000, 3),
            # what authenticated the request: its scheme only ("ApiKey", "Bearer", "Basic"),
            # never the credential, which a log file must not hold
            "auth": headers["authorization"].partition(" ")[0]
            if "authorization" in headers
            else None,
            "headers": {k: v for k, v in headers.items() if k != "authorization"},
        }
        if fault:
            entry["fault"] = fault
        with self._lock:
            self._entries.append(entry)
            if self.log_file is not None:
                # a log file that cannot be written must not cost the client its answer
                with (
                    contextlib.suppress(OSError),
                    self.log_file.open("a", encoding="utf-8") as handle,
                ):
                    handle.write(json.dumps(entry) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e, query=dict(e["query"])) for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """API keys (and a bearer token) the sandbox accepts; none configured means no check at all."""

    api_key: str | None = None
    read_only_api_key: str | None = None
    inference_only_api_key: str | None = None
    bearer_token: str | None = None  # 'Authorization: Bearer TOKEN' is a superuser

    @property
    def enabled(self) -> bool:
        return any(
            (self.api_key, self.read_only_api_key, self.inference_only_api_key, self.bearer_token)
        )

    def authenticate(self, authorization: str | None, raw_uri: str) -> str:
        """The role of the caller, or a 401 EsError."""
        if not self.enabled:
            return "superuser"
        if not authorization:
            raise _unauthenticated(
                f"missing authentication credentials for REST request [{raw_uri}]"
            )
        scheme, _, token = authorization.partition(" ")
        roles = {
            self.api_key: "superuser",
            self.read_only_api_key: "reader",
            self.inference_only_api_key: "inference_admin",
        }
        token = token.strip()
        role = roles.get(token) if scheme.lower() == "apikey" and token else None
        if scheme.lower() == "bearer" and token and token == self.bearer_token:
            role = "superuser"
        if role is None:
            raise _unauthenticated(
                "unable to authenticate with provided credentials and anonymous access is not allowed "
                "for this request",
                extra={"additional_unsuccessful_credentials": "API key: invalid credentials"},
            )
        return role


def _unauthenticated(reason: str, extra: dict[str, Any] | None = None) -> EsError:
    return EsError(
        401,
        "security_exception",
        reason,
        extra=extra,
        headers={"WWW-Authenticate": 'ApiKey, Basic realm="security", charset="UTF-8"'},
    )


def authorize(role: str, *, method: str, action: str, privileges: str, index: str | None) -> None:
    """403 when the role lacks the privilege for this action (docs/elasticsearch-api.md §10 texts)."""
    if role == "superuser" or action == "cluster:monitor/main":
        return
    allowed = method in ("GET", "HEAD") if role == "reader" else action.startswith("cluster:")
    if allowed:
        return
    user = {"reader": "sandbox-reader", "inference_admin": "sandbox-inference-admin"}[role]
    if index is None:
        reason = (
            f"action [{action}] is unauthorized for user [{user}] with effective roles [{role}], "
            f"this action is granted by the cluster privileges [{privileges}]"
        )
    else:
        reason = (
            f"action [{action}] is unauthorized for user [{user}] with effective roles [{role}] "
            f"on indices [{index}], this action is granted by the index privileges [{privileges}]"
        )
    raise EsError(403, "security_exception", reason)
