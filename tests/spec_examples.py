"""The official PUT _inference examples of the Elasticsearch specification, as test data.

``tests/data/spec_examples/<api>.json`` holds, per ``put_*`` API of
elastic/elasticsearch-specification, every request example (``PUT
_inference/<task>/<id>`` plus its body) and every response example, each with
its source path and the commit it was read at; a response names the request
it answers (``pairs_with``) and how that pairing was made. This module turns
them into what the reconciler reads: a spec document for each request (its
secrets written as ``${env:...}`` references, since a spec never holds a
secret value) and a live endpoint for each response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.catalog import Catalog
from reconciler.model import copied

DATA = Path(__file__).parent / "data" / "spec_examples"
SECRET_VARIABLE = "SPEC_EXAMPLE_SECRET"
REFERENCE = "${env:" + SECRET_VARIABLE + "}"
METHOD_LINE = re.compile(r"^PUT _inference/(?P<task>[^/\s]+)/(?P<id>[^/\s]+)$")


@dataclass(frozen=True, kw_only=True)
class RequestExample:
    api: str  # put_azureopenai
    name: str  # PutAzureOpenAiRequestExample1
    path: str
    commit: str
    method_request: str
    body: Mapping[str, Any] | None  # None: the example's value is not JSON

    @property
    def task_type(self) -> str:
        match = METHOD_LINE.match(self.method_request)
        return match.group("task") if match else ""

    @property
    def inference_id(self) -> str:
        match = METHOD_LINE.match(self.method_request)
        return match.group("id") if match else ""


@dataclass(frozen=True, kw_only=True)
class ResponseExample:
    api: str
    name: str
    path: str
    commit: str
    body: Mapping[str, Any]
    pairs_with: str  # the name of the request example it answers


def _documents() -> Iterator[Mapping[str, Any]]:
    for file in sorted(DATA.glob("*.json")):
        yield json.loads(file.read_text(encoding="utf-8"))


def request_examples() -> tuple[RequestExample, ...]:
    return tuple(
        RequestExample(
            api=document["api"],
            name=entry["name"],
            path=entry["path"],
            commit=entry["commit"],
            method_request=entry["method_request"],
            body=entry["body"],
        )
        for document in _documents()
        for entry in document["requests"]
    )


def response_examples() -> tuple[ResponseExample, ...]:
    return tuple(
        ResponseExample(
            api=document["api"],
            name=entry["name"],
            path=entry["path"],
            commit=entry["commit"],
            body=entry["body"],
            pairs_with=entry["pairs_with"],
        )
        for document in _documents()
        for entry in document.get("responses", ())
    )


def spec_document(example: RequestExample, catalog: Catalog) -> dict[str, Any]:
    """The example as a spec: its two path parts, its body, and every secret as a reference."""
    assert example.body is not None, f"{example.name} has no JSON body"
    document: dict[str, Any] = {
        "inference_id": example.inference_id,
        "task_type": example.task_type,
        **copied(dict(example.body)),
    }
    facts = catalog.service(str(document.get("service", "")))
    settings = document.get("service_settings")
    if facts is not None and isinstance(settings, dict):
        for name in facts.secret_fields():
            value = settings.get(name)
            if isinstance(value, Mapping):
                settings[name] = {key: REFERENCE for key in value}
            elif value is not None:
                settings[name] = REFERENCE
    return document


# Request examples our schemas refuse: name -> (why, what the diagnostic says). Listed one by one,
# so that a new refusal fails the valid-example test and a fix fails the test below.
NOT_JSON = "the example's value is not JSON"
INVALID: dict[str, tuple[str, str]] = {
    "PutAzureOpenAiRequestExample4": (
        "the value is not JSON: client_id's string is never closed (\"12345,)",
        NOT_JSON,
    ),
    "PutLlamaRequestExample1": ("the value is not JSON: a comma is missing after url", NOT_JSON),
    "PutContextualAiRequestExample1": (
        "task_settings.top_k: the specification's name; the server reads top_n and rejects an "
        "unknown task setting (the catalog's contextualai top_n doc)",
        "unknown field 'top_k'",
    ),
    "PutGroqRequestExample1": (
        "completion: groq offers chat_completion only (the specification's own task type enum; "
        "the catalog's groq doc)",
        "task type 'completion' of service 'groq' is not in the catalog: checked against the "
        "cluster at plan time",
    ),
    "PutGroqRequestExample2": (
        "the method line says chat-completion, which is no task type: TaskType.fromString upper-cases "
        "the name and CHAT-COMPLETION is no constant (its description says chat_completion)",
        "task_type: 'chat-completion' is not one of",
    ),
    "PutLlamaRequestExample3": (
        "the method line says chat-completion, as PutGroqRequestExample2",
        "task_type: 'chat-completion' is not one of",
    ),
    "PutHuggingFaceRequestExample2": (
        "task_settings.return_text: HuggingFaceRerankTaskSettings reads return_documents and top_n "
        "only (elastic/elasticsearch, services/huggingface/rerank)",
        "unknown field 'return_text'",
    ),
    "PutVoyageAIRequestExample1": (
        "no api_key: the specification declares none, but the server stores one and the provider "
        "needs it (the catalog's voyageai api_key doc)",
        "missing required field 'api_key'",
    ),
    "PutVoyageAIRequestExample2": (
        "no api_key, as PutVoyageAIRequestExample1",
        "missing required field 'api_key'",
    ),
    **{
        f"PutGoogleVertexAiRequestExample{number}": (
            "url/streaming_url keep the %LOCATION_ID%-style placeholders of the documentation: "
            "ServiceUtils.createUri (java.net.URI) refuses '%' that starts no %XX escape, a 400 at PUT",
            "Elasticsearch cannot parse this URL ('%' at index",
        )
        for number in (4, 7, 9, 10, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22)
    },
}

VALID = [example for example in request_examples() if example.name not in INVALID]
