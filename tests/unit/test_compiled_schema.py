"""The compiled schema predicate agrees with jsonschema on every document we can think of.

``schema.check_document`` trusts ``compiled_schema`` to say "valid" only when
jsonschema would find no error; these tests hold it to that on the examples,
on the validate tests' cases, and on random mutations of the examples.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.compiled_schema import Compiler, Unsupported, compile_schema, equal
from reconciler.schema import _quick_check, _schema_files, endpoint_validator
from tests.specs import INVALID, VALID

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DOCUMENTS = [
    document
    for path in sorted(EXAMPLES.rglob("*.yaml"))
    for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
    if isinstance(document, dict)
]
SERVICES = sorted({d["service"] for d in DOCUMENTS})
TASK_TYPES = sorted({d["task_type"] for d in DOCUMENTS})
VALUES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    3.5,
    1.0,
    "",
    "x",
    "${env:KEY}",
    "${file:key.txt}",
    "word",
    "sentence",
    "recursive",
    "none",
    "markdown",
    [],
    ["a"],
    [1],
    {},
    {"a": 1},
    {"requests_per_minute": 10},
    *SERVICES[:5],
    *TASK_TYPES,
]


def quick() -> Any:
    check = _quick_check()
    assert check is not None, "the generated schemas use a keyword compiled_schema does not model"
    return check


def agree(document: Any) -> None:
    expected = endpoint_validator().is_valid(document)
    assert quick()(document) == expected, (expected, document)


@pytest.mark.parametrize("document", DOCUMENTS, ids=[d["inference_id"] for d in DOCUMENTS])
def test_every_example_is_valid_to_both(document: dict[str, Any]) -> None:
    assert quick()(document) is True
    agree(document)


@pytest.mark.parametrize("text", VALID + [case[0] for case in INVALID])
def test_validate_cases_agree(text: str) -> None:
    for document in yaml.safe_load_all(text):
        agree(document)


@pytest.mark.parametrize(
    "document",
    [
        None,
        1,
        "x",
        [],
        {},
        {"service": 1},
        {"service": "openai"},
        {"service": "nope", "task_type": "rerank"},
        {"service": None},
    ],
)
def test_odd_documents_agree(document: Any) -> None:
    agree(document)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, prefix + (index,))
    return found


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        document = document[part]
    return document


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(document, path)
        kind = draw(st.sampled_from(["remove", "replace", "add"]))
        if kind == "remove":
            del parent[path[-1]]
        elif kind == "replace":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(VALUES)))
        elif isinstance(parent, dict):
            name = draw(
                st.sampled_from(
                    [
                        "unknown",
                        "api_key",
                        "dimensions",
                        "max_chunk_size",
                        "overlap",
                        "rate_limit",
                        "top_n",
                        "model_id",
                        "url",
                        "similarity",
                    ]
                )
            )
            parent[name] = copy.deepcopy(draw(st.sampled_from(VALUES)))
    return document


@settings(max_examples=600, deadline=None)
@given(mutated())
def test_mutated_examples_agree(document: Any) -> None:
    agree(document)


@pytest.mark.parametrize(
    ("one", "two", "same"),
    [
        (1, 1.0, True),
        (True, 1, False),
        (False, 0, False),
        (True, True, True),
        ("1", 1, False),
        ([1, True], [1.0, True], True),
        ([True], [1], False),
        ({"a": [0]}, {"a": [False]}, False),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        (None, None, True),
    ],
)
def test_equal_follows_json_not_python(one: Any, two: Any, same: bool) -> None:
    assert equal(one, two) is same


@pytest.mark.parametrize(
    "schema",
    [
        {"dependentSchemas": {"a": {"required": ["b"]}}},
        {"format": "email"},
        {"unevaluatedProperties": False},
        {"$ref": "#anchor"},
        {"$ref": "missing.json"},
    ],
)
def test_unknown_keywords_fall_back_to_jsonschema(schema: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        compile_schema(
            schema, uri="https://example/root.json", documents={"https://example/root.json": schema}
        )


def test_all_schema_files_compile() -> None:
    uri, endpoint, documents = _schema_files()
    compiler = Compiler(documents)
    for name, contents in documents.items():
        compiler.compile(contents, name)
    assert compile_schema(endpoint, uri=uri, documents=documents)({}) is False


@pytest.mark.parametrize(
    "items",
    [[], [1, 2], [1, 1.0], [True, 1], ["a", "a"], [{"a": [1]}, {"a": [1.0]}], [[1], [True]]],
)
def test_unique_items_agrees_with_jsonschema(items: list[Any]) -> None:
    from jsonschema import Draft202012Validator

    schema = {"type": "array", "uniqueItems": True}
    check = compile_schema(schema, uri="urn:test", documents={})
    assert check(items) == Draft202012Validator(schema).is_valid(items)


OBJECTS = {
    "patternProperties": {"^a": {"type": "integer"}, "b$": {"minimum": 2}},
    "additionalProperties": {"type": "string"},
    "propertyNames": {"maxLength": 3},
    "properties": {"ab": {"type": "integer"}},
}


@pytest.mark.parametrize(
    "instance",
    [{}, {"a": 1}, {"ab": 2}, {"ab": 1}, {"a": "x"}, {"cb": 1}, {"cb": 3}, {"c": "x"}, {"c": 1}]
    + [{"abcd": 1}, {"xyz": "s"}, {"a": 1.5}, 1, "x", None, []],
)
def test_pattern_properties_and_property_names_agree(instance: Any) -> None:
    from jsonschema import Draft202012Validator

    uri = "https://example/root.json"
    check = compile_schema(OBJECTS, uri=uri, documents={uri: OBJECTS})
    assert check(instance) == Draft202012Validator(OBJECTS).is_valid(instance), instance


SETTINGS = [
    {},
    {"state_id": "prod", "variables": {"region": "eu", "n": 3, "on": True}},
    {"variables": {"x": "${env:X}"}},
    {"environments": {"prod": {"url": "https://es.example:9200", "api_key_env": "KEY"}}},
    {"environments": {"prod": None, "staging": {"header_env": {"X-Token": "TOKEN"}}}},
    {"environments": {"prod": {"header_env": {"bad header": "TOKEN"}}}},
    {"environments": {"prod": {"header_env": {"X-Token": "1abc"}}}},
    {"environments": {"-odd name": {"state_id": "odd"}}},
    {"environments": {"-odd name": {"url": "https://es.example"}}},
    {"environments": {"prod": {"unknown": 1}}},
    {"environments": {"prod": {"create_timeout": 0}}},
    {"environments": {"prod": {"create_timeout": "10m"}}},
    {"environments": {"prod": []}},
    {"environments": []},
    {"secret_file_roots": ["../keys", ""]},
    {"state_index": "Bad Index"},
    {"unknown": 1},
    [],
]


@pytest.mark.parametrize("body", SETTINGS)
def test_the_settings_quick_check_agrees_with_jsonschema(body: Any) -> None:
    """reconciler.yaml is checked by the compiled predicate first (jsonschema only explains a
    rejection): it must accept exactly what jsonschema accepts."""
    from reconciler.settings import _quick_check, _validator

    quick = _quick_check()
    assert quick is not None
    assert quick(body) == _validator().is_valid(body), body
