"""Field-level checks shared by create and `_update`.

Owns the meaning of the type codes in `services.py` and the server's texts
for a wrong type, an empty string, a non-positive integer, a bad enum value,
a missing setting, and `rate_limit`. It works on one value or one map at a
time and knows nothing about services beyond the facts handed to it.
"""

from __future__ import annotations

from typing import Any

from .errors import EsError, java_str, unknown_settings, validation_failed

_JAVA_TYPE = {
    "str": "String",
    "int": "Integer",
    "double": "Double",
    "bool": "Boolean",
    "map": "Map",
    "list": "List",
    "strlist": "List",
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def split_code(code: str) -> tuple[str, bool]:
    """`"str!"` -> `("str", True)`."""
    return (code[:-1], True) if code.endswith("!") else (code, False)


def missing(name: str, scope: str) -> str:
    return f"[{scope}] does not contain the required setting [{name}]"


def wrong_type(name: str, value: Any, java_type: str) -> str:
    return (
        f"field [{name}] is not of the expected type. The value [{java_str(value)}] "
        f"cannot be converted to a [{java_type}]"
    )


def check_value(name: str, code: str, value: Any, scope: str) -> tuple[Any, str | None]:
    """Validate one present, non-null value; return (value as stored, error text or None)."""
    kind, _ = split_code(code)
    if kind == "any":
        return value, None
    if kind.lower().startswith("enum:"):
        options = kind.split(":", 1)[1].split(",")
        if not isinstance(value, str):
            return None, wrong_type(name, value, "String")
        if value == "":
            return (
                None,
                f"[{scope}] Invalid value empty string. [{name}] must be a non-empty string",
            )
        if value.lower() not in options:
            return None, (
                f"[{scope}] Invalid value [{value}] received. [{name}] must be one of "
                f"[{', '.join(sorted(options))}]"
            )
        return (value.upper() if kind.startswith("ENUM") else value.lower()), None
    java_type = _JAVA_TYPE[kind]
    if kind == "str":
        if not isinstance(value, str):
            return None, wrong_type(name, value, java_type)
        if value == "":
            return (
                None,
                f"[{scope}] Invalid value empty string. [{name}] must be a non-empty string",
            )
    elif kind == "int":
        if not _is_int(value):
            return None, wrong_type(name, value, java_type)
        if value <= 0:
            return None, f"[{scope}] Invalid value [{value}]. [{name}] must be a positive integer"
    elif kind == "double":
        if not isinstance(value, float):
            return None, wrong_type(name, value, java_type)
    elif kind == "bool":
        if not isinstance(value, bool):
            return None, wrong_type(name, value, java_type)
    elif kind == "map":
        if not isinstance(value, dict):
            return None, wrong_type(name, value, java_type)
    elif kind == "list":
        if not isinstance(value, list):
            return None, wrong_type(name, value, java_type)
    elif kind == "strlist":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return None, wrong_type(name, value, java_type)
    return value, None


def take_fields(
    source: dict[str, Any], declared: dict[str, str], scope: str, errors: list[str]
) -> dict[str, Any]:
    """Pop every declared field from `source` (ES consumes what it knows), in declared order."""
    taken: dict[str, Any] = {}
    for name, code in declared.items():
        _, required = split_code(code)
        value = source.pop(name, None)
        if value is None:
            if required:
                errors.append(missing(name, scope))
            continue
        stored, error = check_value(name, code, value, scope)
        if error:
            errors.append(error)
        else:
            taken[name] = stored
    return taken


def parse_rate_limit(value: Any, service: str, default: int) -> dict[str, int]:
    """`rate_limit` on create: `{}`/absent -> default; unknown inner keys -> unknown settings."""
    if value is None:
        return {"requests_per_minute": default}
    if not isinstance(value, dict):
        raise EsError(400, "status_exception", wrong_type("rate_limit", value, "Map"))
    inner = dict(value)
    rpm = inner.pop("requests_per_minute", None)
    if inner:
        raise unknown_settings(inner, service)
    if rpm is None:
        return {"requests_per_minute": default}
    if not _is_int(rpm):
        raise validation_failed([wrong_type("requests_per_minute", rpm, "Long")])
    if rpm <= 0:
        raise validation_failed(
            [
                f"[service_settings] Invalid value [{rpm}]. [requests_per_minute] must be a positive long"
            ]
        )
    return {"requests_per_minute": rpm}
