"""`PUT _inference/{task_type}/{id}/_update`, in the two generations the sandbox models.

- First generation (8.17.0 <= version < 9.5.0): secrets in service_settings
  are re-parsed from scratch (so service_settings without the secret is the
  `[secret_settings] ... [api_key]` 400), task_settings are merged,
  `num_allocations` applies to elasticsearch (and `adaptive_allocations` from
  8.19 / 9.1, timeline.UPDATE_ADAPTIVE); every other service_settings
  key is silently ignored; chunking_settings is not an updatable field.
- Current generation (version >= 9.5.0): per-service mutable fields from
  `services.py`, secrets optional, any other key (even an unchanged
  immutable one) is a 400 unknown-settings error, task_settings merge
  (replace for anthropic and contextualai), a no-op update writes nothing,
  `.` ids are refused. No release read takes chunking_settings (9.5.0's
  `UpdateInferenceModelAction.Settings` has no such field).
- A few services changed their service settings in place a release before the
  current generation (`EARLY_UPDATE`: ai21 and alibabacloud-ai-search from 9.4.0).
Below 8.17.0 the route does not exist at all (`routes.py`).
"""

from __future__ import annotations

import copy
from typing import Any

from .cluster import Cluster
from .errors import EsError, java_str, status_exception, unknown_settings, validation_failed
from .facts import TaskFacts, offered_facts
from .fields import check_value, missing, parse_rate_limit, split_code, take_fields
from .protocol import Request, Response, ok
from .services import as_shown
from .store import StoredEndpoint
from .timeline import UPDATE_ADAPTIVE, exists_at
from .validation import SECRET_SCOPE, facts_at, parse_task_type, secret_value, take_secrets

CURRENT_GENERATION = "9.5.0"
# service -> first release whose `_update` changes its mutable service settings
# (9.4.0 bundle: PR 142597 ai21, PR 142738 alibabacloud-ai-search)
EARLY_UPDATE: dict[str, str] = {"ai21": "9.4.0", "alibabacloud-ai-search": "9.4.0"}
TRI_STATE_RATE = frozenset({"ai21", "alibabacloud-ai-search", "anthropic", "amazonbedrock"})
OAUTH_FIELDS = frozenset({"client_id", "scopes", "tenant_id", "token_url"})


def id_missing_in_path(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    """`PUT _inference/{id}/_update`: the route exists but its handler reads no id."""
    raise status_exception("Inference ID must be provided in the path")


def _parse_body(req: Request, current: bool) -> dict[str, Any]:
    if not req.has_body:
        raise status_exception("Request body is empty")
    body = req.json_object()
    assert body is not None
    if not body:
        raise status_exception("Request body is empty")
    # chunking_settings too: UpdateInferenceModelAction.Settings of 9.5.0 has no such field
    # (PR 149723 adds it in a later release)
    allowed = {"service_settings", "task_settings", "task_type"}
    extra = {key: value for key, value in body.items() if key not in allowed}
    if extra:
        raise status_exception(
            "Request contained fields which cannot be updated, remove these fields and try again "
            f"[{java_str(extra)}]"
        )
    for key, label in (("service_settings", "service"), ("task_settings", "task")):
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise status_exception(
                f"Unable to parse {label} settings in the request [{java_str(body[key])}]"
            )
    return body


def update_endpoint(cluster: Cluster, req: Request, params: dict[str, str]) -> Response:
    current = cluster.at_least(CURRENT_GENERATION)
    url_task = parse_task_type(params["task_type"]) if "task_type" in params else "any"
    inference_id = params["inference_id"]
    body = _parse_body(req, current)
    body_task = parse_task_type(body["task_type"]) if body.get("task_type") is not None else "any"
    with cluster.store.lock:
        stored = cluster.lookup(inference_id)
        if stored is None:
            raise EsError(
                404,
                "resource_not_found_exception",
                f"The inference endpoint [{inference_id}] does not exist and cannot be updated",
            )
        if current and inference_id.startswith("."):
            raise status_exception(f"Default endpoint [{inference_id}] cannot be updated")
        task_type = stored.config["task_type"]
        if url_task not in ("any", task_type) or body_task not in ("any", task_type):
            raise status_exception("Task type must match the task type of the existing endpoint")
        endpoint_facts = facts_at(
            offered_facts(stored.config["service"], task_type, cluster.offers), cluster.version
        )
        change = (
            _current(stored, endpoint_facts, body)
            if current
            else _first(stored, endpoint_facts, body, version=cluster.version)
        )
        config, secret_values = change
        if (
            not current
            and "139574" in cluster.bugs
            and body.get("task_settings")
            and "chunking_settings" in config
        ):
            config["chunking_settings"] = {
                "strategy": "word",
                "max_chunk_size": 250,
                "overlap": 100,
            }
        new_fingerprints = cluster.store.fingerprints(secret_values)
        if current:
            fingerprints = {**stored.secret_fingerprints, **new_fingerprints}
        else:
            # the first generation re-parses the secrets from scratch
            fingerprints = new_fingerprints if secret_values else dict(stored.secret_fingerprints)
        if config == stored.config and fingerprints == stored.secret_fingerprints:
            return ok(as_shown(copy.deepcopy(stored.config)))
        cluster.store.endpoints[inference_id] = StoredEndpoint(
            config=config, secret_fingerprints=fingerprints, hidden=dict(stored.hidden)
        )
        cluster.store.save(endpoint=inference_id)
        return ok(as_shown(copy.deepcopy(config)))


def _merge_task_settings(config: dict[str, Any], updates: dict[str, Any], mode: str) -> None:
    merged = {} if mode == "replace" else dict(config.get("task_settings", {}))
    for key, value in updates.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if merged:
        config["task_settings"] = merged
    else:
        config.pop("task_settings", None)
    # keep the documented key order: task_settings before chunking_settings
    if "chunking_settings" in config:
        config["chunking_settings"] = config.pop("chunking_settings")


def _first(
    stored: StoredEndpoint, endpoint_facts: TaskFacts, body: dict[str, Any], *, version: str
) -> tuple[dict[str, Any], dict[str, str]]:
    config = copy.deepcopy(stored.config)
    service_map = dict(body.get("service_settings") or {})
    secret_values: dict[str, str] = {}
    if service_map and endpoint_facts.secrets:
        secret_values = take_secrets(endpoint_facts, dict(service_map), config["service_settings"])
    if endpoint_facts.output_service == "elasticsearch" and "num_allocations" in service_map:
        allocations = service_map["num_allocations"]
        if not isinstance(allocations, int) or isinstance(allocations, bool):
            raise status_exception(
                f"Failed to parse [num_allocations] of update request [{java_str(body)}]"
            )
        config["service_settings"]["num_allocations"] = allocations
    adaptive = service_map.get("adaptive_allocations")
    if (
        endpoint_facts.output_service == "elasticsearch"
        and isinstance(adaptive, dict)
        and exists_at(UPDATE_ADAPTIVE, version)
    ):
        config["service_settings"]["adaptive_allocations"] = adaptive
    early = EARLY_UPDATE.get(endpoint_facts.service)
    if early is not None and exists_at((early,), version):
        _early_service_settings(config["service_settings"], endpoint_facts, service_map)
    task_map = dict(body.get("task_settings") or {})
    if task_map:
        errors: list[str] = []
        declared = {k: split_code(code)[0] for k, code in endpoint_facts.task_settings.items()}
        known = take_fields(task_map, declared, "task_settings", errors)
        if errors:
            raise validation_failed(errors)
        _merge_task_settings(config, known, endpoint_facts.task_update)
    return config, secret_values


def _early_service_settings(
    settings: dict[str, Any], endpoint_facts: TaskFacts, service_map: dict[str, Any]
) -> None:
    for key in [k for k in service_map if k in endpoint_facts.mutable]:
        value = service_map[key]
        if key == "rate_limit":
            if isinstance(value, dict) and value:
                default = endpoint_facts.rate_limit or 1
                settings["rate_limit"] = parse_rate_limit(value, endpoint_facts.service, default)
            continue
        stored_value, error = check_value(
            key, endpoint_facts.settings.get(key, "any"), value, "service_settings"
        )
        if error:
            raise validation_failed([error])
        settings[key] = stored_value


def _current(
    stored: StoredEndpoint, endpoint_facts: TaskFacts, body: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    config = copy.deepcopy(stored.config)
    service = endpoint_facts.service
    service_map = dict(body.get("service_settings") or {})
    settings = config["service_settings"]
    secret_values = _optional_secrets(stored, endpoint_facts, service_map)
    if endpoint_facts.output_service == "elasticsearch" and service_map:
        _allocations(settings, service_map)
    is_oauth = "client_id" in settings
    errors: list[str] = []
    for key in [k for k in service_map if k in endpoint_facts.mutable]:
        if key in OAUTH_FIELDS and not is_oauth:
            continue
        value = service_map.pop(key)
        if key == "rate_limit":
            if value is None or (value == {} and service in TRI_STATE_RATE):
                settings["rate_limit"] = {"requests_per_minute": endpoint_facts.rate_limit}
            elif value != {}:
                settings["rate_limit"] = parse_rate_limit(
                    value, service, endpoint_facts.rate_limit or 1
                )
        elif value is None:
            settings.pop(key, None)
        else:
            stored_value, error = check_value(
                key, endpoint_facts.settings.get(key, "any"), value, "service_settings"
            )
            if error:
                errors.append(error)
            else:
                settings[key] = stored_value
    if errors:
        raise validation_failed(errors)
    task_map = dict(body.get("task_settings") or {})
    known: dict[str, Any] | None = None
    if task_map:
        task_errors: list[str] = []
        declared = dict(endpoint_facts.task_settings)
        if endpoint_facts.task_update == "merge":
            declared = {k: split_code(code)[0] for k, code in declared.items()}
        present = {k: task_map.pop(k) for k in list(task_map) if k in declared}
        nulls = {k: None for k, v in present.items() if v is None}
        known = take_fields(dict(present), declared, "task_settings", task_errors)
        if task_errors:
            raise validation_failed(task_errors)
        known.update(nulls)
    for leftover in (service_map, task_map):
        if leftover:
            raise unknown_settings(leftover, service)
    if known is not None:
        _merge_task_settings(config, known, endpoint_facts.task_update)
    return config, secret_values


def _optional_secrets(
    stored: StoredEndpoint, endpoint_facts: TaskFacts, service_map: dict[str, Any]
) -> dict[str, str]:
    """Current generation: secrets may be left out; only the endpoint's own kind is accepted."""
    allowed = endpoint_facts.secrets
    if endpoint_facts.secret_rule == "one_of":
        allowed = (
            tuple(k for k in endpoint_facts.secrets if k in stored.secret_fingerprints)
            or allowed[:1]
        )
    given = {
        k: service_map.pop(k) for k in allowed if k in service_map and service_map[k] is not None
    }
    errors: list[str] = []
    if set(endpoint_facts.secrets) == {"access_key", "secret_key"} and len(given) == 1:
        errors.extend(missing(k, SECRET_SCOPE) for k in endpoint_facts.secrets if k not in given)
    values = {}
    for name, value in given.items():
        text = secret_value(name, value, errors)
        if text is not None:
            values[name] = text
    if errors:
        raise validation_failed(errors)
    return values


def _allocations(settings: dict[str, Any], service_map: dict[str, Any]) -> None:
    if "num_threads" in service_map:
        raise status_exception("[num_threads] cannot be updated")
    chosen = [k for k in ("num_allocations", "adaptive_allocations") if k in service_map]
    if len(chosen) != 1:
        raise validation_failed(
            [
                "[service_settings] exactly one of [num_allocations] or [adaptive_allocations] must be set"
            ]
        )
    other = "adaptive_allocations" if chosen[0] == "num_allocations" else "num_allocations"
    settings.pop(other, None)
