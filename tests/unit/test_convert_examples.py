"""`convert` over the documentation's own requests: every official PUT _inference example.

Each request example of the Elasticsearch specification, written as a user copies it into the
Dev Tools console (method line, then the JSON body, secrets as the example's literal values),
is converted; the spec convert writes validates exactly when the example itself does (the
refused ones for the reasons ``test_spec_examples.INVALID`` lists), and no secret literal of the
example is in the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.catalog import load_catalog
from reconciler.convert import convert_text, secret_names, write_converted
from reconciler.validate import validate_directory
from tests.spec_examples import RequestExample
from tests.unit.test_spec_examples import INVALID, NOT_JSON, REQUESTS

CONVERTIBLE = [e for e in REQUESTS if e.body is not None]


def secret_literals(example: RequestExample) -> list[str]:
    assert example.body is not None
    settings = example.body.get("service_settings") or {}
    found = []
    for name in secret_names(example.body.get("service"), load_catalog()):
        value = settings.get(name)
        values = value.values() if isinstance(value, dict) else [value]
        found += [str(v) for v in values if isinstance(v, str) and len(v) >= 4]
    return found


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for inner in value.values():
            yield from strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner)
    elif isinstance(value, str):
        yield value


def test_every_example_that_is_json_is_converted() -> None:
    refused_as_text = {name for name, (_, message) in INVALID.items() if message == NOT_JSON}
    assert {e.name for e in REQUESTS if e.body is None} == refused_as_text
    assert len(CONVERTIBLE) == len(REQUESTS) - len(refused_as_text)


@pytest.mark.parametrize("example", CONVERTIBLE, ids=lambda e: e.name)
def test_a_converted_example_validates_exactly_when_the_example_does(
    example: RequestExample, tmp_path: Path
) -> None:
    console = f"{example.method_request}\n{json.dumps(example.body, indent=2)}\n"
    conversion = convert_text(console, file="console.txt", catalog=load_catalog(), modernise=False)
    (converted,) = conversion.specs
    assert (converted.inference_id, converted.spec["task_type"]) == (
        example.inference_id,
        example.task_type,
    )
    out = tmp_path / "endpoints"
    (path,) = write_converted(conversion, out, source="console.txt", schema_ref=None)
    written = list(strings(yaml.safe_load(path.read_text(encoding="utf-8"))))
    # values only: a short literal such as "secret" is also part of a key name (client_secret)
    assert not [literal for literal in secret_literals(example) for v in written if literal in v]
    result = validate_directory(out)
    if example.name in INVALID:
        expected = INVALID[example.name][1]
        found = result.diagnostics + result.warnings  # a warning: the cluster decides at plan
        assert any(expected in str(d) for d in found), [str(d) for d in found]
    else:
        assert result.ok, [str(d) for d in result.diagnostics]
