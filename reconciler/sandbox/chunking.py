"""`chunking_settings`: parse, validate and return them as the server stores them.

Follows docs/elasticsearch-api.md §8 and the server's
`ChunkingSettingsBuilder`/`*ChunkingSettings.fromMap`: `{}` or absent gives
the default sentence/250/1; `recursive` never returns `separator_group`, it
returns the expanded `separators` list. Error texts are the server's own.
Owns nothing else: whether a task type takes chunking is `validation.py`'s call.
"""

from __future__ import annotations

from typing import Any

from .errors import EsError, bad_request, validation_failed

SCOPE = "chunking_settings"
DEFAULT = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
SEPARATOR_GROUPS = {
    "plaintext": ["(?<!\\n)\\n\\n(?!\\n)", "(?<!\\n)\\n(?!\\n)"],
    "markdown": [
        "\n# ",
        "\n## ",
        "\n### ",
        "\n#### ",
        "\n##### ",
        "\n###### ",
        "\n^(?!\\s*$).*\\n-{1,}\\n",
        "\n^(?!\\s*$).*\\n={1,}\\n",
    ],
}
_VALID_KEYS = {
    "sentence": ("strategy", "max_chunk_size", "sentence_overlap"),
    "word": ("strategy", "max_chunk_size", "overlap"),
    "recursive": ("strategy", "max_chunk_size", "separator_group", "separators"),
}
_LABEL = {"sentence": "Sentence based", "word": "Word based", "recursive": "Recursive"}


def default_chunking() -> dict[str, Any]:
    return dict(DEFAULT)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _required_int(settings: dict[str, Any], key: str, errors: list[str]) -> int | None:
    value = settings.get(key)
    if value is None:
        errors.append(f"[{SCOPE}] does not contain the required setting [{key}]")
        return None
    if not _is_int(value):
        errors.append(
            f"field [{key}] is not of the expected type. The value [{value}] cannot be converted to a [Integer]"
        )
        return None
    if value <= 0:
        errors.append(f"[{SCOPE}] Invalid value [{value}]. [{key}] must be a positive integer")
        return None
    return int(value)


def _bounded(
    value: int | None, key: str, low: int, high: int | None, errors: list[str]
) -> int | None:
    if value is None:
        return None
    if value < low:
        errors.append(
            f"[{SCOPE}] Invalid value [{float(value)}]. [{key}] must be a greater than or equal to [{float(low)}]"
        )
        return None
    if high is not None and value > high:
        errors.append(
            f"[{SCOPE}] Invalid value [{float(value)}]. [{key}] must be a less than or equal to [{float(high)}]"
        )
        return None
    return value


def parse_chunking(raw: Any) -> dict[str, Any]:
    """Validate one `chunking_settings` value; return what GET will show."""
    if raw is None or raw == {}:
        return default_chunking()
    if not isinstance(raw, dict):
        raise EsError(
            400,
            "status_exception",
            f"field [{SCOPE}] is not of the expected type. The value [{raw}] cannot be converted to a [Map]",
        )
    if "strategy" not in raw:
        raise bad_request("Can't generate Chunker without ChunkingStrategy provided")
    strategy = str(raw["strategy"])
    if strategy == "none":
        extra = [k for k in raw if k != "strategy"]
        if extra:
            raise validation_failed(
                [
                    f"None chunking settings can not have the following settings: [{', '.join(extra)}]"
                ]
            )
        return {"strategy": "none"}
    if strategy not in _VALID_KEYS:
        raise bad_request(f"Invalid chunkingStrategy {strategy}")
    errors: list[str] = []
    unknown = [k for k in raw if k not in _VALID_KEYS[strategy]]
    if unknown:
        errors.append(
            f"{_LABEL[strategy]} chunking settings can not have the following settings: [{', '.join(unknown)}]"
        )
    if strategy == "sentence":
        result = _sentence(raw, errors)
    elif strategy == "word":
        result = _word(raw, errors)
    else:
        result = _recursive(raw, errors)
    if errors:
        raise validation_failed(errors)
    return result


def _sentence(raw: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    size = _bounded(
        _required_int(raw, "max_chunk_size", errors), "max_chunk_size", 20, None, errors
    )
    overlap = raw.get("sentence_overlap", 1)
    if overlap is None:
        overlap = 1
    if not _is_int(overlap):
        errors.append(
            f"field [sentence_overlap] is not of the expected type. The value [{overlap}] cannot be converted to a [Integer]"
        )
    elif overlap not in (0, 1):
        errors.append(f"sentence_overlap[{overlap}] must be either 0 or 1")
    return {"strategy": "sentence", "max_chunk_size": size, "sentence_overlap": overlap}


def _word(raw: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    size = _bounded(_required_int(raw, "max_chunk_size", errors), "max_chunk_size", 10, 300, errors)
    overlap = None
    if size is not None:
        overlap = _required_int(raw, "overlap", errors)
        if overlap is not None and overlap > size // 2:
            errors.append(
                f"[{SCOPE}] Invalid value [{float(overlap)}]. [overlap] must be a less than or equal to [{float(size // 2)}]"
            )
    return {"strategy": "word", "max_chunk_size": size, "overlap": overlap}


def _recursive(raw: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    size = _bounded(_required_int(raw, "max_chunk_size", errors), "max_chunk_size", 10, 300, errors)
    group = raw.get("separator_group")
    separators = raw.get("separators")
    if group is not None:
        if not isinstance(group, str) or group.lower() not in SEPARATOR_GROUPS:
            errors.append(
                f"[{SCOPE}] Invalid value [{group}] received. [separator_group] must be one of [markdown, plaintext]"
            )
            group = None
    if separators is not None and not (
        isinstance(separators, list) and all(isinstance(s, str) for s in separators)
    ):
        errors.append(
            f"field [separators] is not of the expected type. The value [{separators}] cannot be converted to a [List]"
        )
        separators = None
    if group is not None and separators is not None:
        errors.append("Recursive chunking settings can not have both separators and separator_set")
    if group is not None:
        separators = list(SEPARATOR_GROUPS[group.lower()])
    elif separators is not None and not separators:
        errors.append("Recursive chunking settings can not have an empty list of separators")
    if separators is None:
        separators = list(SEPARATOR_GROUPS["plaintext"])
    return {"strategy": "recursive", "max_chunk_size": size, "separators": separators}
