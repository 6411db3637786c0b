"""The service catalog, the JSON Schemas generated from it, and the examples.

Checks that the committed schemas are what tools/gen_schemas.py generates, that
they are valid draft 2020-12 schemas whose $refs resolve offline, that the
catalog is internally consistent, that every example validates, and that the
schemas reject what Elasticsearch rejects (with the error text asserted).
"""

from __future__ import annotations

import copy
import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
EXAMPLES = ROOT / "examples"
CATALOG: dict[str, Any] = json.loads((SCHEMAS / "catalog.json").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = CATALOG["services"]
SCHEMA_FILES = sorted(SCHEMAS.glob("*.schema.json")) + sorted(
    SCHEMAS.glob("services/*.schema.json")
)
SCHEMA_HEADER = "# yaml-language-server: $schema=../../../schemas/endpoint.schema.json"

ALL_SERVICES = [
    "ai21", "alibabacloud-ai-search", "amazon_sagemaker", "amazonbedrock", "anthropic", "azureaistudio",
    "azureopenai", "cohere", "contextualai", "custom", "deepseek", "elastic", "elasticsearch", "elser", "fireworksai",
    "googleaistudio", "googlevertexai", "groq", "hugging_face", "jinaai", "llama", "mistral", "nvidia",
    "openai", "openshift_ai", "voyageai", "watsonxai",
]  # fmt: skip
FIELD_TYPES = {
    "string",
    "integer",
    "number",
    "boolean",
    "array",
    "map",
    "object",
    "rate_limit",
    "any",
}
FIELD_KEYS = {
    "type", "enum", "minimum", "maximum", "min_length", "task_types", "secret", "case", "aliases", "doc", "templates",
    "deprecated", "items", "values", "properties", "required", "min_items", "max_items",
    "since", "enum_since", "required_before",
    "set_by_user_flag",  # the listing key that truly says whether the user sent the field (import)
}  # fmt: skip
RULE_KINDS = {"exactly_one_of", "all_or_none", "at_most_one_of", "requires", "forbids", "unless"}
UPDATE_KEYS = {
    "service_settings",
    "task_settings",
    "task_settings_mode",
    "chunking_settings",
    "secrets",
    "secrets_together",
}


def version(text: str | list[str]) -> tuple[int, ...]:
    """A version, or the earliest of a two-line date (["8.19.0", "9.1.0"])."""
    if isinstance(text, list):
        return min(version(item) for item in text)
    return tuple(int(part) for part in text.split("."))


# --------------------------------------------------------------------------- validator


def load_schemas() -> dict[str, dict[str, Any]]:
    return {
        str(path.relative_to(SCHEMAS)): json.loads(path.read_text(encoding="utf-8"))
        for path in SCHEMA_FILES
    }


def registry() -> Registry:
    # No `retrieve` callable: any $ref that is not one of our files is Unresolvable (never fetched).
    return Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in load_schemas().values()
    )


VALIDATOR = Draft202012Validator(load_schemas()["endpoint.schema.json"], registry=registry())


def messages(document: Any) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(document)]


def assert_valid(document: Any) -> None:
    found = messages(document)
    assert not found, found


# jsonschema >= 4.21 says "should be non-empty" where older releases said "is too short".
NON_EMPTY = ("should be non-empty", "is too short")


def assert_invalid(document: Any, fragment: str | tuple[str, ...]) -> None:
    found = messages(document)
    assert found, "expected the schema to reject the document"
    fragments = (fragment,) if isinstance(fragment, str) else fragment
    assert any(f in message for message in found for f in fragments), (fragments, found)


def mutate(document: dict[str, Any], mutation: tuple[Any, ...]) -> dict[str, Any]:
    """("set", "a.b", value) / ("del", "a.b"): a copy of document with the change applied."""
    changed = copy.deepcopy(document)
    action, dotted = mutation[0], mutation[1]
    *parents, last = dotted.split(".")
    node = changed
    for part in parents:
        node = node.setdefault(part, {})
    if action == "set":
        node[last] = mutation[2]
    elif action == "del":
        node.pop(last, None)
    else:
        raise ValueError(action)
    return changed


# --------------------------------------------------------------------------- generation


def test_generated_schemas_are_committed() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_schemas.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_one_schema_per_service() -> None:
    assert (
        sorted(path.stem.removesuffix(".schema") for path in SCHEMAS.glob("services/*.schema.json"))
        == ALL_SERVICES
    )


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: str(p.relative_to(SCHEMAS)))
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://reconciler.dev/schemas/" + str(path.relative_to(SCHEMAS))
    assert path.read_text(encoding="utf-8").endswith("}\n")


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in all_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in all_refs(value)]
    return []


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: str(p.relative_to(SCHEMAS)))
def test_refs_resolve_offline(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    resolver = registry().resolver(base_uri=schema["$id"])
    refs = all_refs(schema)
    for ref in refs:
        assert not ref.startswith(("http:", "https:")), f"{ref} must be relative"
        try:
            resolver.lookup(ref)
        except Unresolvable as error:  # pragma: no cover - the assertion message is the point
            pytest.fail(f"{path.name}: {ref} does not resolve: {error}")


# --------------------------------------------------------------------------- catalog


def test_catalog_top_level() -> None:
    assert CATALOG["format_version"] == 2
    assert sorted(SERVICES) == ALL_SERVICES
    assert CATALOG["embedding_task_types"] == ["text_embedding", "sparse_embedding", "embedding"]
    assert set(CATALOG["task_types"]) == {
        "text_embedding", "sparse_embedding", "embedding", "rerank", "completion", "chat_completion",
    }  # fmt: skip
    assert CATALOG["default_chunking"] == {
        "strategy": "sentence",
        "max_chunk_size": 250,
        "sentence_overlap": 1,
    }


def fields(service: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (block, name, spec)
        for block in ("service_settings", "task_settings")
        for name, spec in service[block].items()
    ]


def check_field(where: str, spec: dict[str, Any], task_types: list[str] | None) -> None:
    assert spec["type"] in FIELD_TYPES, where
    assert set(spec) <= FIELD_KEYS, (where, set(spec) - FIELD_KEYS)
    if task_types is not None and "task_types" in spec:
        assert spec["task_types"], where
        assert set(spec["task_types"]) < set(task_types), (
            f"{where}: task_types must be a strict subset"
        )
    if "case" in spec:
        assert spec["case"] in ("lower", "upper") and "enum" in spec, where
    if "enum" in spec:
        assert spec["enum"] and len(set(spec["enum"])) == len(spec["enum"]), where
    for nested in spec.get("properties", {}).values():
        check_field(where + ".properties", nested, None)
    for key in ("items", "values"):
        if isinstance(spec.get(key), dict):
            check_field(f"{where}.{key}", spec[key], None)
        elif key in spec:
            assert spec[key] in FIELD_TYPES, where


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_catalog_service_is_consistent(name: str) -> None:
    service = SERVICES[name]
    task_types = service["task_types"]
    assert task_types, "a service needs at least one task type"
    assert set(task_types) <= set(CATALOG["task_types"])
    assert task_types == [t for t in CATALOG["task_types"] if t in task_types], "canonical order"
    assert set(service["chunking_task_types"]) <= set(task_types) & set(
        CATALOG["embedding_task_types"]
    )
    assert service["doc"] and service["since"]
    version(service["since"])
    dated_task_types = service.get("task_type_since", {})
    assert set(dated_task_types) <= set(task_types)
    for task_type, since in dated_task_types.items():
        assert version(since) >= version(service["since"]), task_type
        assert service["evidence"][f"task_type_since.{task_type}"], task_type
    for block in ("service_settings", "task_settings"):
        for key, spec in service[block].items():
            if "since" in spec:
                assert version(spec["since"]) >= version(service["since"]), key
                assert service["evidence"][f"{block}.{key}"], key
    for block, field, spec in fields(service):
        check_field(f"{name}.{block}.{field}", spec, task_types)
        if spec.get("secret"):
            assert block == "service_settings", "secrets live in service_settings"
            assert spec["type"] == "string" or (
                spec["type"] == "map" and spec.get("values") == "string"
            )
    declared = {block: set(service[block]) for block in ("service_settings", "task_settings")}

    def applies(block: str, field: str, task_type: str) -> bool:
        return task_type in service[block][field].get("task_types", task_types)

    for key, names in service["required_service_settings"].items():
        assert key == "*" or key in task_types
        for field in names:
            assert field in declared["service_settings"], field
            for task_type in task_types if key == "*" else [key]:
                assert applies("service_settings", field, task_type), (field, task_type)
    for key, names in service["required_task_settings"].items():
        assert key in task_types
        assert set(names) <= declared["task_settings"]
    for rule in service["rules"]:
        kinds = set(rule) & RULE_KINDS
        assert len(kinds) == 1, rule
        assert set(rule) <= RULE_KINDS | {"fields", "task_types", "block", "required", "one_of"}, (
            rule
        )
        block = rule.get("block", "service_settings")
        named = rule.get("fields", []) + rule.get("required", []) + rule.get("one_of", [])
        named += [rule[k] for k in ("requires", "forbids", "unless") if k in rule]
        named += [
            f for k in ("exactly_one_of", "all_or_none", "at_most_one_of") for f in rule.get(k, [])
        ]
        assert set(named) <= declared[block], rule
        assert set(rule.get("task_types", task_types)) <= set(task_types)


def split_path(path: str) -> tuple[str, str]:
    block, _, rest = path.partition(".")
    return block, rest.split(".")[0]


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_catalog_paths_name_declared_fields(name: str) -> None:
    service = SERVICES[name]
    task_types = service["task_types"]
    response_only = service.get("response_only", {})
    for path in response_only:
        block, field = split_path(path)
        assert block == "service_settings" and field not in service[block], f"{path} is declarable"
    known = {f"{block}.{field}" for block, field, _ in fields(service)} | set(response_only)
    for key, filled in service["server_filled"].items():
        assert key == "*" or key in task_types, key
        for path in filled:
            block, field = split_path(path)
            assert block in ("service_settings", "task_settings"), (
                f"{path}: chunking defaults are generic"
            )
            assert f"{block}.{field}" in known, (
                f"server_filled {path} names no declared or response-only field"
            )
    if "*" in service["server_filled"]:
        shared = service["server_filled"]["*"]
        for key, filled in service["server_filled"].items():
            assert all(filled.get(path, shared[path]) is not None for path in shared), key
    for path in service["hidden"]:
        block, field = split_path(path)
        assert field in service[block] and not service[block][field].get("secret"), path


def update_entry(service: dict[str, Any], task_type: str) -> dict[str, Any]:
    """A task type's entry is complete; "*" serves task types without one."""
    entry = service["update"].get(task_type) or service["update"].get("*")
    assert entry is not None, f"no update entry for {task_type}"
    return entry


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_catalog_update_rules(name: str) -> None:
    service = SERVICES[name]
    since = version(service["since"])
    has_secrets = any(spec.get("secret") for spec in service["service_settings"].values())
    for key in service["update"]:
        assert key == "*" or key in service["task_types"], key
    for task_type in service["task_types"]:
        entry = update_entry(service, task_type)
        assert set(entry) == UPDATE_KEYS, entry
        versions = [*entry["service_settings"].values(), *entry["task_settings"].values()]
        versions += [entry[k] for k in ("chunking_settings", "secrets") if entry[k] is not None]
        for text in versions:
            assert version(text) >= max(since, (8, 17, 0)), (task_type, text)
        for field in entry["service_settings"]:
            spec = service["service_settings"][field]
            assert not spec.get("secret"), "secrets are rotated through `secrets`"
            assert task_type in spec.get("task_types", [task_type]), (task_type, field)
        ts_fields = [
            f
            for f, spec in service["task_settings"].items()
            if task_type in spec.get("task_types", [task_type])
        ]
        for field in entry["task_settings"]:
            assert field == "*" or field in ts_fields, (task_type, field)
        if not ts_fields:
            assert entry["task_settings"] == {} and entry["task_settings_mode"] is None, task_type
        else:
            assert entry["task_settings_mode"] in ("merge", "replace")
        if task_type not in service["chunking_task_types"]:
            assert entry["chunking_settings"] is None, task_type
        assert (entry["secrets"] is not None) == has_secrets, task_type
        assert isinstance(entry["secrets_together"], bool)


def test_catalog_recorded_decisions() -> None:
    """The conflicts between sources, as decided (see docs-drafts/services.md)."""
    azure = SERVICES["azureopenai"]
    assert azure["server_filled"]["text_embedding"]["service_settings.rate_limit"] == {
        "requests_per_minute": 1440
    }
    assert SERVICES["elser"]["deprecated_since"] == "8.16.0"
    assert SERVICES["elser"]["alias_of"] == "elasticsearch"
    assert update_entry(SERVICES["amazonbedrock"], "completion")["secrets_together"] is True
    assert update_entry(SERVICES["amazonbedrock"], "completion")["secrets"] == "8.17.0"
    assert SERVICES["anthropic"]["required_task_settings"] == {
        "completion": ["max_tokens"],
        "chat_completion": ["max_tokens"],
    }
    assert update_entry(SERVICES["anthropic"], "completion")["task_settings_mode"] == "replace"
    assert update_entry(SERVICES["contextualai"], "rerank")["task_settings_mode"] == "replace"
    assert "input_type" not in SERVICES["cohere"]["required_task_settings"].get(
        "text_embedding", []
    )
    assert SERVICES["voyageai"]["service_settings"]["api_key"]["secret"] is True
    assert "api_key" in SERVICES["voyageai"]["required_service_settings"]["*"]
    assert "api_key" not in SERVICES["llama"]["required_service_settings"]["*"]
    assert SERVICES["groq"]["task_types"] == ["chat_completion"]
    assert "rerank" in SERVICES["hugging_face"]["task_types"]
    assert SERVICES["hugging_face"]["service_settings"]["model_id"]["task_types"] == [
        "completion",
        "chat_completion",
    ]
    assert "rerank" in SERVICES["watsonxai"]["task_types"]
    assert "embedding" in SERVICES["openai"]["chunking_task_types"]
    assert SERVICES["custom"]["service_settings"]["request"]["type"] == "string"


# --------------------------------------------------------------------------- examples

EXAMPLE_FILES = sorted((EXAMPLES / "services").rglob("*.yaml"))
QUICKSTART_FILES = sorted((EXAMPLES / "quickstart").rglob("*.yaml"))


def load_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def test_every_task_type_of_every_service_has_an_example() -> None:
    expected = {
        f"{name}/{task}.yaml"
        for name, service in SERVICES.items()
        for task in service["task_types"]
    }
    found = {str(path.relative_to(EXAMPLES / "services")) for path in EXAMPLE_FILES}
    assert found == expected


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_service_example_validates(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith(SCHEMA_HEADER + "\n")
    (document,) = load_documents(path)
    assert_valid(document)
    service, task_type = path.parent.name, path.stem
    assert (document["service"], document["task_type"]) == (service, task_type)
    assert document["inference_id"] == f"{service}-{task_type}".replace("_", "-").lower()
    for name, spec in SERVICES[service]["service_settings"].items():
        if spec.get("secret") and name in document["service_settings"]:
            value = document["service_settings"][name]
            for reference in value.values() if isinstance(value, dict) else [value]:
                assert reference.startswith("${env:") and reference[6:-1].isupper(), reference


@pytest.mark.parametrize("path", QUICKSTART_FILES, ids=lambda p: p.name)
def test_quickstart_validates(path: Path) -> None:
    assert path.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=../../schemas/endpoint.schema.json"
    )
    for document in load_documents(path):
        assert_valid(document)


def test_quickstart_covers_the_seed_services() -> None:
    documents = [doc for path in QUICKSTART_FILES for doc in load_documents(path)]
    kinds = {(doc["service"], doc["task_type"]) for doc in documents}
    assert kinds == {
        ("azureopenai", "text_embedding"), ("azureopenai", "completion"),
        ("openshift_ai", "text_embedding"), ("openshift_ai", "rerank"),
    }  # fmt: skip
    assert any(len(load_documents(path)) == 2 for path in QUICKSTART_FILES), (
        "one file holds two documents"
    )
    assert len({doc["inference_id"] for doc in documents}) == len(documents)


# --------------------------------------------------------------------------- one invalid variant per service


def example(service: str, task_type: str) -> dict[str, Any]:
    (document,) = load_documents(EXAMPLES / "services" / service / f"{task_type}.yaml")
    return document


LITERAL = "sk-this-is-a-literal-secret"
PER_SERVICE_INVALID = [
    ("ai21", "completion", ("del", "service_settings.api_key"), "'api_key' is a required property"),
    ("ai21", "chat_completion", ("set", "task_settings.temperature", 0.5), "'temperature' was unexpected"),
    ("alibabacloud-ai-search", "text_embedding", ("set", "service_settings.api_key", LITERAL), "does not match"),
    ("alibabacloud-ai-search", "rerank", ("set", "task_settings.input_type", "ingest"), "'input_type' was unexpected"),
    ("alibabacloud-ai-search", "text_embedding", ("set", "service_settings.similarity", "cosine"), "'similarity' was unexpected"),
    ("amazon_sagemaker", "text_embedding", ("set", "service_settings.rate_limit", {"requests_per_minute": 10}), "'rate_limit' was unexpected"),
    ("amazon_sagemaker", "completion", ("set", "service_settings.api", "bedrock"), "'bedrock' is not one of"),
    ("amazonbedrock", "text_embedding", ("del", "service_settings.provider"), "'provider' is a required property"),
    ("amazonbedrock", "completion", ("set", "task_settings.temperature", 1.5), "1.5 is greater than the maximum of 1"),
    ("amazonbedrock", "text_embedding", ("set", "service_settings.dimensions", 1024), "'dimensions' was unexpected"),
    ("anthropic", "completion", ("del", "task_settings"), "'task_settings' is a required property"),
    ("anthropic", "chat_completion", ("set", "task_settings", {"temperature": 0.1}), "'max_tokens' is a required property"),
    ("azureaistudio", "completion", ("set", "service_settings.endpoint_type", "serverless"), "'serverless' is not one of"),
    ("azureaistudio", "text_embedding", ("set", "task_settings.top_n", 3), "'top_n' was unexpected"),
    ("azureopenai", "text_embedding", ("set", "service_settings.entra_id", "${env:AZURE_ENTRA}"), "is valid under each of"),
    ("cohere", "text_embedding", ("set", "task_settings.truncate", "End"), "'End' is not one of"),
    ("cohere", "text_embedding", ("set", "service_settings.api_version", "v2"), "'api_version' was unexpected"),
    ("contextualai", "rerank", ("set", "task_settings.top_k", 3), "'top_k' was unexpected"),
    ("custom", "text_embedding", ("set", "service_settings.secret_parameters.api_key", LITERAL), "does not match"),
    ("custom", "text_embedding", ("set", "service_settings.request", {"content": "{}"}), "is not of type 'string'"),
    ("custom", "completion", ("del", "service_settings.response.json_parser"), "'json_parser' is a required property"),
    ("custom", "rerank", ("set", "service_settings.query_parameters", [["only-a-key"]]), "is too short"),
    ("deepseek", "completion", ("set", "service_settings.rate_limit", {"requests_per_minute": 10}), "'rate_limit' was unexpected"),
    ("elastic", "chat_completion", ("set", "service_settings.rate_limit", {"requests_per_minute": 10}), "'rate_limit' was unexpected"),
    ("elastic", "rerank", ("set", "task_settings.top_n", 3), "'top_n' was unexpected"),
    ("elastic", "sparse_embedding", ("set", "service_settings.max_batch_size", 2048), "2048 is greater than the maximum of 1024"),
    ("elastic", "chat_completion", ("set", "service_settings.api_key", "${env:EIS_KEY}"), "'api_key' was unexpected"),
    ("elastic", "text_embedding", ("del", "service_settings.model_id"), "'model_id' is a required property"),
    ("elastic", "rerank", ("set", "service_settings.max_batch_size", 8), "'max_batch_size' was unexpected"),
    ("elasticsearch", "sparse_embedding", ("del", "service_settings.num_threads"), "is not valid under any of the given schemas"),
    ("elasticsearch", "text_embedding", ("set", "service_settings.num_threads", 3), "3 is not one of [1, 2, 4, 8, 16, 32]"),
    ("elasticsearch", "rerank", ("set", "service_settings.adaptive_allocations.max", 4), "'max' was unexpected"),
    ("elasticsearch", "text_embedding", ("set", "service_settings.dimensions", 384), "'dimensions' was unexpected"),
    ("elser", "sparse_embedding", ("set", "service_settings.adaptive_allocations", {"enabled": True}), "is valid under each of"),
    ("elser", "sparse_embedding", ("set", "chunking_settings", {"strategy": "sentence", "max_chunk_size": 301}), "301 is greater than the maximum of 300"),
    ("fireworksai", "text_embedding", ("set", "task_settings.user", "me"), "'user' was unexpected"),
    ("googleaistudio", "completion", ("set", "task_settings.temperature", 0.1), "'temperature' was unexpected"),
    ("googlevertexai", "text_embedding", ("del", "service_settings.project_id"), "'project_id' is a required property"),
    ("googlevertexai", "text_embedding", ("set", "service_settings.location", ""), NON_EMPTY),
    ("googlevertexai", "chat_completion", ("set", "service_settings.provider", "openai"), "'openai' is not one of"),
    ("googlevertexai", "rerank", ("set", "service_settings.max_batch_size", 10), "'max_batch_size' was unexpected"),
    ("groq", "chat_completion", ("del", "service_settings.api_key"), "'api_key' is a required property"),
    ("hugging_face", "text_embedding", ("set", "service_settings.model_id", "bge"), "'model_id' was unexpected"),
    ("hugging_face", "rerank", ("set", "service_settings.model_id", "bge"), "'model_id' was unexpected"),
    ("jinaai", "text_embedding", ("set", "service_settings.multimodal_model", True), "'multimodal_model' was unexpected"),
    ("llama", "text_embedding", ("set", "service_settings.api_key", LITERAL), "does not match"),
    ("llama", "completion", ("del", "service_settings.url"), "'url' is a required property"),
    ("mistral", "text_embedding", ("set", "service_settings.model_id", "mistral-embed"), "'model_id' was unexpected"),
    ("nvidia", "text_embedding", ("set", "service_settings.dimensions", 2048), "'dimensions' was unexpected"),
    ("nvidia", "rerank", ("set", "task_settings.input_type", "search"), "'input_type' was unexpected"),
    ("openai", "text_embedding", ("set", "service_settings.client_secret", "${env:OPENAI_CLIENT_SECRET}"), "is valid under each of"),
    ("openai", "completion", ("set", "service_settings.token_url", "https://login.example.com/token"), "is a dependency of 'token_url'"),
    ("openshift_ai", "text_embedding", ("set", "service_settings.dimensions_set_by_user", True), "'dimensions_set_by_user' was unexpected"),
    ("voyageai", "text_embedding", ("del", "service_settings.api_key"), "'api_key' is a required property"),
    ("voyageai", "rerank", ("set", "task_settings.top_n", 3), "'top_n' was unexpected"),
    ("watsonxai", "completion", ("set", "task_settings.top_n", 3), "'top_n' was unexpected"),
    ("watsonxai", "text_embedding", ("del", "service_settings.project_id"), "'project_id' is a required property"),
]  # fmt: skip


def test_every_service_has_an_invalid_case() -> None:
    assert {case[0] for case in PER_SERVICE_INVALID} == set(ALL_SERVICES)


@pytest.mark.parametrize(
    ("service", "task_type", "mutation", "fragment"),
    PER_SERVICE_INVALID,
    ids=[f"{c[0]}-{c[1]}-{c[2][1]}" for c in PER_SERVICE_INVALID],
)
def test_service_rejects(
    service: str, task_type: str, mutation: tuple[Any, ...], fragment: str | tuple[str, ...]
) -> None:
    document = example(service, task_type)
    assert_valid(document)
    assert_invalid(mutate(document, mutation), fragment)


# --------------------------------------------------------------------------- seed services: every valid shape

AZURE_EMBEDDINGS: dict[str, Any] = {
    "inference_id": "azure-openai-embeddings",
    "task_type": "text_embedding",
    "service": "azureopenai",
    "service_settings": {
        "resource_name": "acme-openai",
        "deployment_id": "text-embedding-3-large",
        "api_version": "2024-10-21",
        "api_key": "${env:AZURE_OPENAI_API_KEY}",
    },
}
AZURE_COMPLETION = {
    **AZURE_EMBEDDINGS,
    "inference_id": "azure-openai-completion",
    "task_type": "completion",
}
OAUTH2 = {
    "client_id": "3f1c2b9e-app",
    "scopes": ["https://cognitiveservices.azure.com/.default"],
    "tenant_id": "72f988bf-tenant",
    "client_secret": "${env:AZURE_OPENAI_CLIENT_SECRET}",
}
OPENSHIFT_EMBEDDINGS: dict[str, Any] = {
    "inference_id": "openshift-ai-embeddings",
    "task_type": "text_embedding",
    "service": "openshift_ai",
    "service_settings": {
        "url": "https://gritlm.apps.example.com/v1/embeddings",
        "api_key": "${env:OPENSHIFT_AI_API_KEY}",
    },
}
OPENSHIFT_RERANK = {
    **OPENSHIFT_EMBEDDINGS,
    "inference_id": "openshift-rerank",
    "task_type": "rerank",
}


def with_settings(base: dict[str, Any], **blocks: Any) -> dict[str, Any]:
    document = copy.deepcopy(base)
    for block, values in blocks.items():
        if block == "service_settings":
            document[block] = {**document[block], **values}
        elif block == "drop":
            for key in values:
                document["service_settings"].pop(key)
        else:
            document[block] = values
    return document


def chunked(chunking: dict[str, Any]) -> dict[str, Any]:
    return with_settings(AZURE_EMBEDDINGS, chunking_settings=chunking)


SEED_VALID = {
    "azure-embeddings-api-key": AZURE_EMBEDDINGS,
    "azure-embeddings-entra-id": with_settings(AZURE_EMBEDDINGS, drop=["api_key"], service_settings={"entra_id": "${env:AZURE_ENTRA_ID}"}),
    "azure-embeddings-oauth2": with_settings(AZURE_EMBEDDINGS, drop=["api_key"], service_settings=OAUTH2),
    "azure-embeddings-file-secret": with_settings(AZURE_EMBEDDINGS, service_settings={"api_key": "${file:secrets/azure.key}"}),
    "azure-embeddings-var-in-plain-field": with_settings(AZURE_EMBEDDINGS, service_settings={"resource_name": "${var:AZURE_RESOURCE}"}),
    "azure-embeddings-all-settings": with_settings(
        AZURE_EMBEDDINGS,
        service_settings={"dimensions": 1024, "similarity": "dot_product", "max_input_tokens": 8191, "rate_limit": {"requests_per_minute": 1440}},
        task_settings={"user": "search-app", "headers": {"X-Team": "search"}},
    ),
    "azure-embeddings-similarity-upper-case": with_settings(AZURE_EMBEDDINGS, service_settings={"similarity": "COSINE"}),
    "azure-embeddings-empty-rate-limit": with_settings(AZURE_EMBEDDINGS, service_settings={"rate_limit": {}}),
    "azure-embeddings-empty-task-settings": with_settings(AZURE_EMBEDDINGS, task_settings={}),
    "azure-chunking-default": chunked({}),
    "azure-chunking-sentence": chunked({"strategy": "sentence", "max_chunk_size": 20, "sentence_overlap": 0}),
    "azure-chunking-sentence-no-overlap-key": chunked({"strategy": "sentence", "max_chunk_size": 250}),
    "azure-chunking-word": chunked({"strategy": "word", "max_chunk_size": 300, "overlap": 100}),
    "azure-chunking-none": chunked({"strategy": "none"}),
    "azure-chunking-recursive-separators": chunked({"strategy": "recursive", "max_chunk_size": 10, "separators": ["\n\n", "\n"]}),
    "azure-chunking-recursive-group": chunked({"strategy": "recursive", "max_chunk_size": 200, "separator_group": "plaintext"}),
    "azure-completion-api-key": with_settings(AZURE_COMPLETION, task_settings={"user": "search-app"}),
    "azure-completion-entra-id": with_settings(AZURE_COMPLETION, drop=["api_key"], service_settings={"entra_id": "${env:AZURE_ENTRA_ID}"}),
    "azure-completion-oauth2": with_settings(AZURE_COMPLETION, drop=["api_key"], service_settings=OAUTH2),
    "azure-completion-rate-limit": with_settings(AZURE_COMPLETION, service_settings={"rate_limit": {"requests_per_minute": 60}}),
    "azure-chat-completion": with_settings(AZURE_COMPLETION, task_type="chat_completion", task_settings={"headers": {"X-A": "b"}}),
    "openshift-embeddings-minimal": OPENSHIFT_EMBEDDINGS,
    "openshift-embeddings-all-settings": with_settings(
        OPENSHIFT_EMBEDDINGS,
        service_settings={"model_id": "gritlm-7b", "dimensions": 4096, "similarity": "l2_norm", "max_input_tokens": 512, "rate_limit": {"requests_per_minute": 100}},
        chunking_settings={"strategy": "word", "max_chunk_size": 100, "overlap": 20},
    ),
    "openshift-completion": with_settings(OPENSHIFT_EMBEDDINGS, task_type="completion", service_settings={"model_id": "llama-31-8b-instruct"}),
    "openshift-chat-completion": with_settings(OPENSHIFT_EMBEDDINGS, task_type="chat_completion"),
    "openshift-rerank-no-task-settings": OPENSHIFT_RERANK,
    "openshift-rerank-top-n": with_settings(OPENSHIFT_RERANK, task_settings={"top_n": 5}),
    "openshift-rerank-return-documents": with_settings(OPENSHIFT_RERANK, task_settings={"return_documents": False}),
    "openshift-rerank-both": with_settings(OPENSHIFT_RERANK, service_settings={"model_id": "bge-reranker-v2-m3"}, task_settings={"top_n": 10, "return_documents": True}),
}  # fmt: skip


@pytest.mark.parametrize("document", SEED_VALID.values(), ids=list(SEED_VALID))
def test_seed_service_valid_shape(document: dict[str, Any]) -> None:
    assert_valid(document)


# --------------------------------------------------------------------------- seed services: invalid shapes

SEED_INVALID = [
    # credentials
    ("two-credentials", with_settings(AZURE_EMBEDDINGS, service_settings={"entra_id": "${env:E}"}), "is valid under each of"),
    ("three-credentials", with_settings(AZURE_COMPLETION, service_settings={"entra_id": "${env:E}", **OAUTH2}), "is valid under each of"),
    ("no-credential", with_settings(AZURE_EMBEDDINGS, drop=["api_key"]), "is not valid under any of the given schemas"),
    ("partial-oauth2", with_settings(AZURE_EMBEDDINGS, drop=["api_key"], service_settings={"client_secret": "${env:S}", "client_id": "app"}), "is a dependency of"),
    ("oauth2-without-secret", with_settings(AZURE_EMBEDDINGS, service_settings={k: v for k, v in OAUTH2.items() if k != "client_secret"}), "'client_secret' is a dependency of"),
    ("literal-api-key", with_settings(AZURE_EMBEDDINGS, service_settings={"api_key": LITERAL}), "does not match"),
    ("literal-client-secret", with_settings(AZURE_EMBEDDINGS, drop=["api_key"], service_settings={**OAUTH2, "client_secret": LITERAL}), "does not match"),
    ("var-reference-as-secret", with_settings(AZURE_EMBEDDINGS, service_settings={"api_key": "${var:KEY}"}), "does not match"),
    ("empty-env-reference", with_settings(AZURE_EMBEDDINGS, service_settings={"api_key": "${env:}"}), "does not match"),
    ("openshift-literal-api-key", with_settings(OPENSHIFT_RERANK, service_settings={"api_key": LITERAL}), "does not match"),
    ("openshift-secret-not-string", with_settings(OPENSHIFT_RERANK, service_settings={"api_key": 12345}), "is not of type 'string'"),
    # required fields
    ("missing-resource-name", with_settings(AZURE_EMBEDDINGS, drop=["resource_name"]), "'resource_name' is a required property"),
    ("missing-api-version", with_settings(AZURE_COMPLETION, drop=["api_version"]), "'api_version' is a required property"),
    ("missing-deployment-id", with_settings(AZURE_COMPLETION, drop=["deployment_id"]), "'deployment_id' is a required property"),
    ("openshift-missing-url", with_settings(OPENSHIFT_EMBEDDINGS, drop=["url"]), "'url' is a required property"),
    ("openshift-missing-api-key", with_settings(OPENSHIFT_RERANK, drop=["api_key"]), "'api_key' is a required property"),
    ("missing-service-settings", {k: v for k, v in AZURE_EMBEDDINGS.items() if k != "service_settings"}, "'service_settings' is a required property"),
    ("missing-inference-id", {k: v for k, v in AZURE_EMBEDDINGS.items() if k != "inference_id"}, "'inference_id' is a required property"),
    ("missing-service", {k: v for k, v in AZURE_EMBEDDINGS.items() if k != "service"}, "'service' is a required property"),
    # unknown or misplaced keys
    ("unknown-service-setting", with_settings(AZURE_EMBEDDINGS, service_settings={"model_id": "x"}), "'model_id' was unexpected"),
    ("unknown-top-level-key", with_settings(AZURE_EMBEDDINGS, description="mine"), "'description' was unexpected"),
    ("top-n-on-text-embedding", with_settings(AZURE_EMBEDDINGS, task_settings={"top_n": 3}), "'top_n' was unexpected"),
    ("openshift-top-n-on-text-embedding", with_settings(OPENSHIFT_EMBEDDINGS, task_settings={"top_n": 3}), "'top_n' was unexpected"),
    ("openshift-top-n-on-completion", with_settings(OPENSHIFT_EMBEDDINGS, task_type="completion", task_settings={"top_n": 3}), "'top_n' was unexpected"),
    ("openshift-unknown-rerank-setting", with_settings(OPENSHIFT_RERANK, task_settings={"top_k": 3}), "'top_k' was unexpected"),
    ("chunking-on-completion", with_settings(AZURE_COMPLETION, chunking_settings={"strategy": "none"}), "'chunking_settings' was unexpected"),
    ("openshift-chunking-on-rerank", with_settings(OPENSHIFT_RERANK, chunking_settings={}), "'chunking_settings' was unexpected"),
    ("dimensions-on-completion", with_settings(AZURE_COMPLETION, service_settings={"dimensions": 1536}), "'dimensions' was unexpected"),
    ("openshift-similarity-on-rerank", with_settings(OPENSHIFT_RERANK, service_settings={"similarity": "cosine"}), "'similarity' was unexpected"),
    ("openshift-dimensions-set-by-user", with_settings(OPENSHIFT_EMBEDDINGS, service_settings={"dimensions_set_by_user": True}), "'dimensions_set_by_user' was unexpected"),
    ("openshift-entra-id", with_settings(OPENSHIFT_EMBEDDINGS, service_settings={"entra_id": "${env:E}"}), "'entra_id' was unexpected"),
    # chunking
    ("sentence-max-chunk-size-19", chunked({"strategy": "sentence", "max_chunk_size": 19}), "19 is less than the minimum of 20"),
    ("sentence-without-max-chunk-size", chunked({"strategy": "sentence"}), "'max_chunk_size' is a required property"),
    ("word-overlap-on-sentence", chunked({"strategy": "sentence", "max_chunk_size": 100, "overlap": 10}), "'overlap' was unexpected"),
    ("sentence-overlap-2", chunked({"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": 2}), "2 is not one of [0, 1]"),
    ("word-without-overlap", chunked({"strategy": "word", "max_chunk_size": 100}), "'overlap' is a required property"),
    ("word-max-chunk-size-301", chunked({"strategy": "word", "max_chunk_size": 301, "overlap": 10}), "301 is greater than the maximum of 300"),
    ("word-max-chunk-size-9", chunked({"strategy": "word", "max_chunk_size": 9, "overlap": 1}), "9 is less than the minimum of 10"),
    ("word-overlap-0", chunked({"strategy": "word", "max_chunk_size": 100, "overlap": 0}), "0 is less than the minimum of 1"),
    ("sentence-overlap-on-word", chunked({"strategy": "word", "max_chunk_size": 100, "overlap": 10, "sentence_overlap": 1}), "'sentence_overlap' was unexpected"),
    ("none-with-max-chunk-size", chunked({"strategy": "none", "max_chunk_size": 100}), "'max_chunk_size' was unexpected"),
    ("recursive-without-separators", chunked({"strategy": "recursive", "max_chunk_size": 100}), "is not valid under any of the given schemas"),
    ("recursive-separators-and-group", chunked({"strategy": "recursive", "max_chunk_size": 100, "separators": ["\n"], "separator_group": "markdown"}), "is not valid under any of the given schemas"),
    ("recursive-empty-separators", chunked({"strategy": "recursive", "max_chunk_size": 100, "separators": []}), NON_EMPTY),
    ("recursive-unknown-group", chunked({"strategy": "recursive", "max_chunk_size": 100, "separator_group": "html"}), "'html' is not one of"),
    ("chunking-without-strategy", chunked({"max_chunk_size": 100}), "'strategy' is a required property"),
    ("chunking-unknown-strategy", chunked({"strategy": "paragraph", "max_chunk_size": 100}), "'paragraph' is not one of"),
    ("chunking-not-an-object", chunked("sentence"), "is not of type 'object'"),
    # ids
    ("upper-case-id", with_settings(AZURE_EMBEDDINGS, inference_id="Azure-Embeddings"), "does not match"),
    ("dot-id", with_settings(AZURE_EMBEDDINGS, inference_id=".elser-2-elasticsearch"), "does not match"),
    ("all-id", with_settings(AZURE_EMBEDDINGS, inference_id="_all"), "does not match"),
    ("id-ends-with-dash", with_settings(AZURE_EMBEDDINGS, inference_id="azure-"), "does not match"),
    ("id-with-space", with_settings(OPENSHIFT_RERANK, inference_id="my rerank"), "does not match"),
    ("id-not-a-string", with_settings(OPENSHIFT_RERANK, inference_id=42), "is not of type 'string'"),
    # enums and types
    ("similarity-bad-enum", with_settings(AZURE_EMBEDDINGS, service_settings={"similarity": "euclidean"}), "'euclidean' is not one of"),
    ("similarity-mixed-case", with_settings(OPENSHIFT_EMBEDDINGS, service_settings={"similarity": "Cosine"}), "'Cosine' is not one of"),
    ("wrong-task-type", with_settings(AZURE_EMBEDDINGS, task_type="sparse_embedding"), "'sparse_embedding' is not one of"),
    ("openshift-embedding-task-type", with_settings(OPENSHIFT_EMBEDDINGS, task_type="embedding"), "'embedding' is not one of"),
    ("unknown-service", with_settings(AZURE_EMBEDDINGS, service="azure_openai"), "'azure_openai' is not one of"),
    ("dimensions-as-string", with_settings(AZURE_EMBEDDINGS, service_settings={"dimensions": "1536"}), "'1536' is not of type 'integer'"),
    ("dimensions-zero", with_settings(OPENSHIFT_EMBEDDINGS, service_settings={"dimensions": 0}), "0 is less than the minimum of 1"),
    ("api-version-unquoted-date", with_settings(AZURE_EMBEDDINGS, service_settings={"api_version": datetime.date(2024, 2, 1)}), "is not of type 'string'"),
    ("scopes-not-a-list", with_settings(AZURE_EMBEDDINGS, drop=["api_key"], service_settings={**OAUTH2, "scopes": "https://x/.default"}), "is not of type 'array'"),
    ("header-value-not-string", with_settings(AZURE_COMPLETION, task_settings={"headers": {"X-Retries": 3}}), "3 is not of type 'string'"),
    ("user-not-string", with_settings(AZURE_COMPLETION, task_settings={"user": 7}), "7 is not of type 'string'"),
    ("task-settings-not-object", with_settings(AZURE_COMPLETION, task_settings="user=x"), "is not of type 'object'"),
    ("rate-limit-unknown-key", with_settings(AZURE_EMBEDDINGS, service_settings={"rate_limit": {"rpm": 10}}), "'rpm' was unexpected"),
    ("rate-limit-not-integer", with_settings(OPENSHIFT_RERANK, service_settings={"rate_limit": {"requests_per_minute": "fast"}}), "'fast' is not of type 'integer'"),
    ("rate-limit-zero", with_settings(OPENSHIFT_RERANK, service_settings={"rate_limit": {"requests_per_minute": 0}}), "0 is less than the minimum of 1"),
    ("openshift-top-n-zero", with_settings(OPENSHIFT_RERANK, task_settings={"top_n": 0}), "0 is less than the minimum of 1"),
    ("openshift-top-n-string", with_settings(OPENSHIFT_RERANK, task_settings={"top_n": "5"}), "'5' is not of type 'integer'"),
    ("openshift-return-documents-string", with_settings(OPENSHIFT_RERANK, task_settings={"return_documents": "yes"}), "'yes' is not of type 'boolean'"),
    ("openshift-url-not-string", with_settings(OPENSHIFT_RERANK, service_settings={"url": ["https://a"]}), "is not of type 'string'"),
    ("document-not-an-object", ["inference_id", "x"], "is not of type 'object'"),
]  # fmt: skip


def test_seed_invalid_table_is_large_and_distinct() -> None:
    names = [name for name, _, _ in SEED_INVALID]
    assert len(names) == len(set(names)) >= 25
    services = {doc.get("service") for _, doc, _ in SEED_INVALID if isinstance(doc, dict)}
    assert {"azureopenai", "openshift_ai"} <= services


@pytest.mark.parametrize(
    ("name", "document", "fragment"), SEED_INVALID, ids=[case[0] for case in SEED_INVALID]
)
def test_seed_service_invalid_shape(
    name: str, document: Any, fragment: str | tuple[str, ...]
) -> None:
    assert_invalid(document, fragment)


@pytest.mark.parametrize(
    ("name", "document", "fragment"), SEED_INVALID, ids=[case[0] for case in SEED_INVALID]
)
def test_each_problem_is_reported_once(
    name: str, document: Any, fragment: str | tuple[str, ...]
) -> None:
    errors = [
        (tuple(error.absolute_path), error.message) for error in VALIDATOR.iter_errors(document)
    ]
    assert len(errors) == len(set(errors)), errors
