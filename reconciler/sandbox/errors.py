"""Elasticsearch-shaped errors for the sandbox cluster.

Owns the one exception the sandbox raises inside request handling
(`EsError`), the error envelope Elasticsearch answers with, and the two
Java formatting habits that leak into Elasticsearch's error texts
(`java_str` for `Map.toString()`/`List.toString()`, and the
`ValidationException` message format). It does not decide which error a
request gets; the handlers do.

    EsError(Exception)                 any 4xx/5xx answer, carried to the router
      .status, .type, .reason          -> {"error": {...}, "status": N}
      .headers                         extra response headers (Retry-After, WWW-Authenticate)
      .extra                           extra keys inside "error" (index, index_uuid, ...)
"""

from __future__ import annotations

from typing import Any


class EsError(Exception):
    """An answer in Elasticsearch's error envelope."""

    def __init__(
        self,
        status: int,
        error_type: str,
        reason: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        caused_by: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.type = error_type
        self.reason = reason
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        self.caused_by = caused_by

    def body(self) -> dict[str, Any]:
        return envelope(
            self.status, self.type, self.reason, extra=self.extra, caused_by=self.caused_by
        )


def envelope(
    status: int,
    error_type: str,
    reason: str,
    *,
    extra: dict[str, Any] | None = None,
    caused_by: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`{"error":{"root_cause":[{type,reason}],type,reason},"status":N}`."""
    cause: dict[str, Any] = {"type": error_type, "reason": reason, **(extra or {})}
    error: dict[str, Any] = {"root_cause": [dict(cause)], **cause}
    if caused_by is not None:
        error["caused_by"] = caused_by
    return {"error": error, "status": status}


def java_str(value: Any) -> str:
    """Render a JSON value the way Java's `toString()` prints it in ES messages."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_str(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_str(v) for v in value) + "]"
    return str(value)


def validation_failed(errors: list[str]) -> EsError:
    """ES `ValidationException`: `Validation Failed: 1: a;2: b;`."""
    text = "".join(f"{i}: {e};" for i, e in enumerate(errors, start=1))
    return EsError(400, "validation_exception", f"Validation Failed: {text}")


def status_exception(reason: str, status: int = 400) -> EsError:
    return EsError(status, "status_exception", reason)


def bad_request(reason: str) -> EsError:
    return EsError(400, "illegal_argument_exception", reason)


def unknown_settings(settings: dict[str, Any], service: str) -> EsError:
    return status_exception(
        f"Configuration contains settings [{java_str(settings)}] unknown to the [{service}] service"
    )


def parse_error(detail: str) -> EsError:
    """Malformed JSON body: ES answers 400 parse_exception caused by the JSON parser."""
    return EsError(
        400,
        "parse_exception",
        "Failed to parse content to map",
        caused_by={"type": "json_parse_exception", "reason": detail},
    )


def no_handler(uri: str, method: str) -> EsError:
    return bad_request(f"no handler found for uri [{uri}] and method [{method}]")


def wrong_method(uri: str, method: str, allowed: list[str]) -> EsError:
    return EsError(
        405,
        "illegal_argument_exception",
        f"Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: "
        f"[{', '.join(sorted(allowed))}]",
    )


def default_error_type(status: int) -> str:
    """The error type an injected fault of this status carries."""
    return {
        401: "security_exception",
        403: "security_exception",
        404: "resource_not_found_exception",
        409: "status_exception",
        429: "es_rejected_execution_exception",
        503: "unavailable_shards_exception",
    }.get(status, "status_exception")
