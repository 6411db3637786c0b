"""PUT _inference: turn a request body into the endpoint the server would store.

Follows the order of checks in docs/elasticsearch-api.md §3: id, task type,
service, `service_settings` presence, chunking, supported task type, then
service settings / task settings / secrets (each a ValidationException of its
own), then leftover keys (top level, service settings, task settings), then
the server fills (rate_limit, dimensions, similarity, per-service values).
Owns the id rule and secret extraction; does not touch the store (the
"already exists" check comes after this, in `inference.py`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .chunking import parse_chunking
from .errors import EsError, status_exception, unknown_settings, validation_failed
from .facts import (
    TaskFacts,
    known_service,
    measured_dimensions,
    offered_facts,
    task_types_with,
)
from .fields import check_value, missing, parse_rate_limit, take_fields, wrong_type
from .services import CHUNKED_TASKS, LEGACY_MODEL_KEYS, TASK_TYPES, URL_SETTINGS
from .timeline import exists_at, field_exists, service_exists, task_exists, value_exists

ID_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?\Z")
SERVICE_SCOPE = "service_settings"
SECRET_SCOPE = "secret_settings"


@dataclass(frozen=True, kw_only=True)
class Parsed:
    """A validated endpoint: the public config, its secrets (to fingerprint), hidden flags."""

    config: dict[str, Any]
    secrets: dict[str, str]
    hidden: dict[str, Any]


def check_inference_id(inference_id: str) -> None:
    if inference_id == "_all" or not ID_PATTERN.match(inference_id):
        raise EsError(
            400,
            "action_request_validation_exception",
            f"Validation Failed: 1: Invalid inference_id; '{inference_id}' can contain lowercase "
            "alphanumeric (a-z and 0-9), hyphens or underscores; must start and end with alphanumeric;",
        )


def parse_task_type(name: Any) -> str:
    """`TaskType.fromStringOrStatusException`: case-insensitive, `any` allowed."""
    text = str(name).strip().lower()
    if text not in (*TASK_TYPES, "any"):
        raise status_exception(f"Unknown task_type [{name}]")
    return text


def resolve_task_type(url_task: str, body_task: Any) -> str:
    if body_task is None:
        if url_task == "any":
            raise status_exception("model is missing required setting [task_type]")
        return url_task
    parsed = parse_task_type(body_task)
    if parsed == "any":
        raise status_exception("task_type [any] is not valid type for inference")
    if url_task not in ("any", parsed):
        raise status_exception(
            "Cannot resolve conflicting task_type parameter in the request URL "
            f"[{url_task}] and the request body [{body_task}]"
        )
    return parsed


def as_map(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise status_exception(wrong_type(name, value, "Map"))
    return dict(value)


def parse_create(
    inference_id: str,
    url_task: str,
    body: dict[str, Any],
    *,
    version: str = "9.5.0",
    offers: Mapping[str, Mapping[str, Any]] | None = None,
) -> Parsed:
    """``version`` is the emulated release: what it lacks is unknown, as in that release.
    ``offers``: services and fields the table lacks that this cluster offers (offers.py)."""
    offers = offers or {}
    check_inference_id(inference_id)
    request = copy.deepcopy(body)
    task_type = resolve_task_type(url_task, request.pop("task_type", None))
    service = request.pop("service", None)
    if service is None:
        raise status_exception("Inference endpoint configuration is missing the [service] setting")
    if not isinstance(service, str) or not known_service(service, offers):
        raise status_exception(f"Unknown service [{service}]")
    if not service_exists(service, version):
        raise status_exception(f"Unknown service [{service}]")
    if request.get("service_settings") is None:
        raise status_exception("Missing required field [service_settings]")
    service_map = as_map(request.pop("service_settings"), "service_settings")
    task_map = as_map(request.pop("task_settings", None) or {}, "task_settings")
    move_legacy_model(service, service_map, task_map)
    chunking = None
    if task_type in CHUNKED_TASKS:
        chunking = parse_chunking(request.pop("chunking_settings", None))
    if task_type not in task_types_with(service, offers) or not task_exists(
        service, task_type, version
    ):
        raise status_exception(f"The [{service}] service does not support task type [{task_type}]")
    service_facts = facts_at(offered_facts(service, task_type, offers), version)

    errors: list[str] = []
    settings = take_fields(service_map, service_facts.settings, SERVICE_SCOPE, errors)
    check_service_rules(service_facts, settings, errors, version=version)
    raw_rate = service_map.pop("rate_limit", None) if service_facts.rate_limit is not None else None
    if errors:
        raise validation_failed(errors)
    rate = None
    if service_facts.rate_limit is not None:
        rate = parse_rate_limit(raw_rate, service, service_facts.rate_limit)

    task_errors: list[str] = []
    task_settings = take_fields(task_map, service_facts.task_settings, "task_settings", task_errors)
    if task_errors:
        raise validation_failed(task_errors)
    secrets = take_secrets(service_facts, service_map, settings)

    for leftover in (request, service_map, task_map):
        if leftover:
            raise unknown_settings(leftover, service_facts.output_service)

    hidden: dict[str, Any] = {}
    service_settings = fill_service_settings(service_facts, settings, rate, hidden)
    for key, value in service_facts.task_fills.items():
        task_settings.setdefault(key, copy.deepcopy(value))
    if service == "googlevertexai" and task_settings and task_type.endswith("completion"):
        task_settings.setdefault("max_tokens", None)
    config: dict[str, Any] = {
        "inference_id": inference_id,
        "task_type": task_type,
        "service": service_facts.output_service,
        "service_settings": service_settings,
    }
    if task_settings:
        config["task_settings"] = task_settings
    if chunking is not None:
        config["chunking_settings"] = chunking
    return Parsed(config=config, secrets=secrets, hidden=hidden)


def move_legacy_model(service: str, service_map: dict[str, Any], task_map: dict[str, Any]) -> None:
    """Where an old layout put the model, moved to service_settings.model_id as the server does."""
    maps = {"service_settings": service_map, "task_settings": task_map}
    for scope, key in LEGACY_MODEL_KEYS.get(service, ()):
        if "model_id" in service_map:
            if scope == "service_settings":  # cohere: model_id wins, model is dropped
                service_map.pop(key, None)
            return
        if key in maps[scope]:
            service_map["model_id"] = maps[scope].pop(key)


def url_error(name: str, value: Any) -> str | None:
    """`ServiceUtils.convertToUri`'s complaint about a URL java.net.URI cannot parse."""
    if not isinstance(value, str):
        return None
    reason = None
    for index, char in enumerate(value):
        if char in ' "<>\\^`{|}' or ord(char) < 0x20:
            reason = f"Illegal character in path at index {index}: {value}"
            break
        if char == "%" and not re.fullmatch(r"[0-9A-Fa-f]{2}", value[index + 1 : index + 3]):
            reason = f"Malformed escape pair at index {index}: {value}"
            break
    if reason is None and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*://", value):
        reason = f"Expected authority at index {len(value)}: {value}"
    if reason is None:
        return None
    return (
        f"[{SERVICE_SCOPE}] Invalid url [{value}] received for field [{name}]. "
        f"Error: unable to parse url [{value}]. Reason: {reason}"
    )


def facts_at(task_facts: TaskFacts, version: str) -> TaskFacts:
    """The facts as an older release had them: later fields unknown (so rejected as
    leftovers, as that release would), later enum values invalid, no rate limit before 8.15."""
    service = task_facts.service

    def known(name: str) -> bool:
        return field_exists(service, name, version)

    def narrowed(name: str, code: str) -> str:
        if not code.lower().startswith("enum:"):
            return code
        kind, _, options = code.partition(":")
        required = options.endswith("!")
        values = [
            v for v in options.rstrip("!").split(",") if value_exists(service, name, v, version)
        ]
        return f"{kind}:{','.join(values)}" + ("!" if required else "")

    def kept(table: dict[str, str]) -> dict[str, str]:
        return {name: narrowed(name, code) for name, code in table.items() if known(name)}

    return dataclasses.replace(
        task_facts,
        settings=kept(task_facts.settings),
        task_settings=kept(task_facts.task_settings),
        secrets=tuple(name for name in task_facts.secrets if known(name)),
        oauth=tuple(name for name in task_facts.oauth if known(name)),
        rate_limit=task_facts.rate_limit if known("rate_limit") else None,
        mutable=tuple(name for name in task_facts.mutable if known(name)),
    )


def check_service_rules(
    service_facts: TaskFacts, settings: dict[str, Any], errors: list[str], *, version: str
) -> None:
    """Cross-field rules the type codes cannot say."""
    service = service_facts.service
    if (
        service == "amazon_sagemaker"
        and service_facts.task_type == "text_embedding"
        and str(settings.get("api", "")).lower() == "elastic"
    ):
        # ElasticTextEmbeddingPayload: element_type read as required; similarity from 9.4.0
        needed = ["element_type"] + (["similarity"] if exists_at(("9.4.0",), version) else [])
        errors.extend(missing(k, SERVICE_SCOPE) for k in needed if k not in settings)
    if service != "custom":
        errors.extend(
            problem for name in URL_SETTINGS if (problem := url_error(name, settings.get(name)))
        )
    if service_facts.oauth and any(k in settings for k in service_facts.oauth):
        absent = [k for k in service_facts.oauth if k not in settings]
        if absent:
            errors.append(
                f"[{SERVICE_SCOPE}] all OAuth2 fields must be provided together; missing: [{', '.join(absent)}]"
            )
    if service == "elasticsearch" and "deployment_id" not in settings:
        errors.extend(
            missing(k, SERVICE_SCOPE) for k in ("model_id", "num_threads") if k not in settings
        )
    if service in ("elasticsearch", "elser") and "deployment_id" not in settings:
        if "num_allocations" not in settings and "adaptive_allocations" not in settings:
            errors.append(
                f"[{SERVICE_SCOPE}] does not contain one of the required settings "
                "[num_allocations, adaptive_allocations]"
            )
    if service == "googlevertexai" and service_facts.task_type.endswith("completion"):
        if settings.get("provider", "GOOGLE") == "GOOGLE":
            errors.extend(
                missing(k, SERVICE_SCOPE) for k in ("model_id", "project_id") if k not in settings
            )
        elif "url" not in settings and "streaming_url" not in settings:
            errors.append(
                f"[{SERVICE_SCOPE}] does not contain one of the required settings [url, streaming_url]"
            )


def secret_value(name: str, value: Any, errors: list[str]) -> str | None:
    if name == "secret_parameters":
        if not isinstance(value, dict):
            errors.append(wrong_type(name, value, "Map"))
            return None
        return json.dumps(value, sort_keys=True)
    stored, error = check_value(name, "str", value, SECRET_SCOPE)
    if error:
        errors.append(error)
        return None
    return str(stored)


def one_of_text(service_facts: TaskFacts) -> str:
    names = [f"[{s}]" for s in service_facts.secrets]
    joined = ", ".join(names[:-1]) + ", or " + names[-1] if len(names) > 2 else " or ".join(names)
    return f"[{SECRET_SCOPE}] must have exactly one of {joined} field set"


def take_secrets(
    service_facts: TaskFacts, service_map: dict[str, Any], settings: dict[str, Any]
) -> dict[str, str]:
    """Pop the secret fields (they arrive inside service_settings) by the service's rule."""
    errors: list[str] = []
    given = {k: service_map.pop(k) for k in service_facts.secrets if service_map.get(k) is not None}
    for key in service_facts.secrets:
        service_map.pop(key, None)
    secrets: dict[str, str] = {}
    for name, value in given.items():
        text = secret_value(name, value, errors)
        if text is not None:
            secrets[name] = text
    if service_facts.secret_rule == "all":
        errors.extend(missing(k, SECRET_SCOPE) for k in service_facts.secrets if k not in given)
    elif service_facts.secret_rule == "one_of":
        if not given:
            errors.append(one_of_text(service_facts))
        elif len(given) > 1:
            errors.append(one_of_text(service_facts) + f", received: [{', '.join(sorted(given))}]")
        elif service_facts.oauth:
            uses_oauth = any(k in settings for k in service_facts.oauth)
            if uses_oauth and "client_secret" not in given:
                errors.append(missing("client_secret", SECRET_SCOPE))
            if "client_secret" in given and not uses_oauth:
                errors.append(
                    f"[{SERVICE_SCOPE}] all OAuth2 fields must be provided together; "
                    f"missing: [{', '.join(service_facts.oauth)}]"
                )
    if errors:
        raise validation_failed(errors)
    return secrets


def default_similarity(service_facts: TaskFacts, service_settings: dict[str, Any]) -> str | None:
    kind = service_settings.get("embedding_type")
    if kind in ("bit", "binary"):
        return "l2_norm"
    if service_facts.service == "cohere" and kind in ("byte", "int8"):
        return "cosine"
    return service_facts.similarity


def fill_service_settings(
    service_facts: TaskFacts,
    settings: dict[str, Any],
    rate: dict[str, int] | None,
    hidden: dict[str, Any],
) -> dict[str, Any]:
    """Add what the server writes when the user leaves it out."""
    result = dict(settings)
    for key in service_facts.hidden:
        if key in result:
            hidden[key] = result.pop(key)
    for key, value in service_facts.fills.items():
        result.setdefault(key, copy.deepcopy(value))
    if service_facts.service == "cohere" and "embedding_type" in result:
        result["embedding_type"] = {"int8": "byte", "binary": "bit"}.get(
            result["embedding_type"], result["embedding_type"]
        )
    if service_facts.service in ("elasticsearch", "elser") and "deployment_id" in result:
        result.setdefault("model_id", result["deployment_id"])
    if rate is not None:
        result["rate_limit"] = rate
    if service_facts.dense:
        user_dimensions = settings.get("dimensions")
        result["dimensions"] = user_dimensions or measured_dimensions(settings)
        similarity = (
            service_facts.force_similarity
            or settings.get("similarity")
            or default_similarity(service_facts, result)
        )
        if similarity is not None:
            result["similarity"] = similarity
        hidden["dimensions_set_by_user"] = user_dimensions is not None
        if service_facts.service == "openshift_ai":
            result["dimensions_set_by_user"] = user_dimensions is not None
        response = result.get("response")
        if service_facts.service == "custom" and isinstance(response, dict):
            parser = response.get("json_parser")
            if isinstance(parser, dict):
                parser.setdefault("embedding_type", "float")
    return result
