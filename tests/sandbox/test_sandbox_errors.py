"""Sandbox: every documented error of PUT and GET _inference, the chunking rules, listing."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from reconciler.sandbox import SandboxServer
from tests.sandbox.helpers import assert_es_error, client

OPENAI = {
    "service": "openai",
    "service_settings": {"api_key": "k", "model_id": "text-embedding-3-small"},
}
OPENSHIFT = {"service": "openshift_ai", "service_settings": {"url": "u", "api_key": "k"}}
INVALID_ID = (
    "Validation Failed: 1: Invalid inference_id; '{}' can contain lowercase alphanumeric (a-z and 0-9), "
    "hyphens or underscores; must start and end with alphanumeric;"
)


def _with(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    merged = {**body, **changes}
    return {k: v for k, v in merged.items() if v is not None}


def _settings(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    settings = {k: v for k, v in {**body["service_settings"], **changes}.items() if v is not None}
    return {**body, "service_settings": settings}


PUT_ERRORS = [
    (
        "/_inference/text_embedding/My-Id",
        OPENAI,
        "action_request_validation_exception",
        INVALID_ID.format("My-Id"),
    ),
    (
        "/_inference/text_embedding/_all",
        OPENAI,
        "action_request_validation_exception",
        INVALID_ID.format("_all"),
    ),
    (
        "/_inference/text_embedding/ends-",
        OPENAI,
        "action_request_validation_exception",
        INVALID_ID.format("ends-"),
    ),
    (
        "/_inference/sparse_embedding/.elser-2-elasticsearch",
        {"service": "elasticsearch", "service_settings": {}},
        "action_request_validation_exception",
        INVALID_ID.format(".elser-2-elasticsearch"),
    ),
    ("/_inference/bad/x", OPENAI, "status_exception", "Unknown task_type [bad]"),
    ("/_inference/x", OPENAI, "status_exception", "model is missing required setting [task_type]"),
    (
        "/_inference/x",
        _with(OPENAI, task_type="any"),
        "status_exception",
        "task_type [any] is not valid type for inference",
    ),
    (
        "/_inference/x",
        _with(OPENAI, task_type="nope"),
        "status_exception",
        "Unknown task_type [nope]",
    ),
    (
        "/_inference/completion/x",
        _with(OPENAI, task_type="text_embedding"),
        "status_exception",
        "Cannot resolve conflicting task_type parameter in the request URL [completion] and the request body "
        "[text_embedding]",
    ),
    (
        "/_inference/text_embedding/x",
        _with(OPENAI, service=None),
        "status_exception",
        "Inference endpoint configuration is missing the [service] setting",
    ),
    (
        "/_inference/text_embedding/x",
        _with(OPENAI, service="foo"),
        "status_exception",
        "Unknown service [foo]",
    ),
    (
        "/_inference/text_embedding/x",
        _with(OPENAI, service_settings=None),
        "status_exception",
        "Missing required field [service_settings]",
    ),
    (
        "/_inference/sparse_embedding/x",
        OPENAI,
        "status_exception",
        "The [openai] service does not support task type [sparse_embedding]",
    ),
    (
        "/_inference/text_embedding/x",
        _settings(OPENAI, model_id=None),
        "validation_exception",
        "Validation Failed: 1: [service_settings] does not contain the required setting [model_id];",
    ),
    (
        "/_inference/rerank/x",
        _settings(OPENSHIFT, api_key=None),
        "validation_exception",
        "Validation Failed: 1: [secret_settings] does not contain the required setting [api_key];",
    ),
    (
        "/_inference/completion/x",
        {
            "service": "amazonbedrock",
            "service_settings": {"region": "r", "model": "m", "provider": "meta"},
        },
        "validation_exception",
        "Validation Failed: 1: [secret_settings] does not contain the required setting "
        "[access_key];2: [secret_settings] does not contain the required setting [secret_key];",
    ),
    (
        "/_inference/completion/x",
        {
            "service": "amazonbedrock",
            "service_settings": {"region": "r", "model": "m", "access_key": "a", "secret_key": "s"},
        },
        "validation_exception",
        "Validation Failed: 1: [service_settings] does not contain the required setting [provider];",
    ),
    (
        "/_inference/completion/x",
        {
            "service": "azureopenai",
            "service_settings": {"resource_name": "r", "deployment_id": "d", "api_version": "v"},
        },
        "validation_exception",
        "Validation Failed: 1: [secret_settings] must have exactly one of [api_key], [entra_id], or [client_secret] "
        "field set;",
    ),
    (
        "/_inference/completion/x",
        {
            "service": "azureopenai",
            "service_settings": {
                "resource_name": "r",
                "deployment_id": "d",
                "api_version": "v",
                "client_id": "c",
                "client_secret": "s",
            },
        },
        "validation_exception",
        "Validation Failed: 1: [service_settings] all OAuth2 fields must be provided together; missing: "
        "[scopes, tenant_id];",
    ),
    (
        "/_inference/text_embedding/x",
        _with(OPENAI, foo="bar"),
        "status_exception",
        "Configuration contains settings [{foo=bar}] unknown to the [openai] service",
    ),
    (
        "/_inference/text_embedding/x",
        _with(OPENAI, inference_id="x"),
        "status_exception",
        "Configuration contains settings [{inference_id=x}] unknown to the [openai] service",
    ),
    (
        "/_inference/text_embedding/x",
        _settings(OPENAI, foo={"a": 1, "b": [1, 2]}),
        "status_exception",
        "Configuration contains settings [{foo={a=1, b=[1, 2]}}] unknown to the [openai] service",
    ),
    (
        "/_inference/text_embedding/x",
        _with(OPENAI, task_settings={"user": "u", "top_n": 3}),
        "status_exception",
        "Configuration contains settings [{top_n=3}] unknown to the [openai] service",
    ),
    (
        "/_inference/completion/x",
        _with(OPENAI, chunking_settings={"strategy": "none"}),
        "status_exception",
        "Configuration contains settings [{chunking_settings={strategy=none}}] unknown to the [openai] service",
    ),
    (
        "/_inference/completion/x",
        {
            "service": "deepseek",
            "service_settings": {
                "api_key": "k",
                "model_id": "m",
                "rate_limit": {"requests_per_minute": 5},
            },
        },
        "status_exception",
        "Configuration contains settings [{rate_limit={requests_per_minute=5}}] unknown to the [deepseek] service",
    ),
    (
        "/_inference/text_embedding/x",
        _settings(OPENAI, rate_limit={"requests_per_minute": 5, "burst": 2}),
        "status_exception",
        "Configuration contains settings [{burst=2}] unknown to the [openai] service",
    ),
    (
        "/_inference/text_embedding/x",
        {
            "service": "nvidia",
            "service_settings": {"api_key": "k", "model_id": "m", "dimensions": 10},
        },
        "status_exception",
        "Configuration contains settings [{dimensions=10}] unknown to the [nvidia] service",
    ),
    (
        "/_inference/text_embedding/x",
        _settings(OPENSHIFT, dimensions_set_by_user=True),
        "status_exception",
        "Configuration contains settings [{dimensions_set_by_user=true}] unknown to the [openshift_ai] service",
    ),
    (
        "/_inference/text_embedding/x",
        _settings(OPENAI, dimensions="abc"),
        "validation_exception",
        "Validation Failed: 1: field [dimensions] is not of the expected type. The value [abc] cannot be converted "
        "to a [Integer];",
    ),
    (
        "/_inference/text_embedding/x",
        _settings(OPENAI, dimensions=-1),
        "validation_exception",
        "Validation Failed: 1: [service_settings] Invalid value [-1]. [dimensions] must be a positive integer;",
    ),
    (
        "/_inference/text_embedding/x",
        _settings(OPENAI, model_id=""),
        "validation_exception",
        "Validation Failed: 1: [service_settings] Invalid value empty string. [model_id] must be a non-empty string;",
    ),
    (
        "/_inference/text_embedding/x",
        _settings(OPENAI, similarity="euclid"),
        "validation_exception",
        "Validation Failed: 1: [service_settings] Invalid value [euclid] received. [similarity] must be one of "
        "[cosine, dot_product, l2_norm];",
    ),
    (
        "/_inference/completion/x",
        {
            "service": "anthropic",
            "service_settings": {"api_key": "k", "model_id": "m"},
            "task_settings": {"max_tokens": 10, "temperature": 1},
        },
        "validation_exception",
        "Validation Failed: 1: field [temperature] is not of the expected type. The value [1] cannot be converted "
        "to a [Double];",
    ),
    (
        "/_inference/completion/x",
        {"service": "anthropic", "service_settings": {"api_key": "k", "model_id": "m"}},
        "validation_exception",
        "Validation Failed: 1: [task_settings] does not contain the required setting [max_tokens];",
    ),
]


@pytest.mark.parametrize(("path", "body", "error_type", "reason"), PUT_ERRORS)
def test_put_errors(
    sandbox: SandboxServer, path: str, body: dict[str, Any], error_type: str, reason: str
) -> None:
    with client(sandbox) as es:
        assert_es_error(es.put(path, json=body), 400, error_type, reason)
        assert [e["inference_id"] for e in es.get("/_inference").json()["endpoints"]] == [
            ".elser-2-elasticsearch",
            ".multilingual-e5-small-elasticsearch",
            ".rerank-v1-elasticsearch",
        ]


def test_create_only_and_already_exists_is_checked_after_validation(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        assert es.put("/_inference/text_embedding/e1", json=OPENAI).status_code == 200
        assert_es_error(
            es.put("/_inference/text_embedding/e1", json=OPENAI),
            400,
            "resource_already_exists_exception",
            "Inference endpoint [e1] already exists",
        )
        assert_es_error(
            es.put("/_inference/completion/e1", json=OPENAI),
            400,
            "resource_already_exists_exception",
            "Inference endpoint [e1] already exists",
        )
        assert_es_error(
            es.put("/_inference/text_embedding/e1", json=_with(OPENAI, foo=1)),
            400,
            "status_exception",
            "Configuration contains settings [{foo=1}] unknown to the [openai] service",
        )
        assert (
            es.put("/_inference/e2", json=_with(OPENAI, task_type="text_embedding")).status_code
            == 200
        )


@pytest.mark.parametrize(
    ("content", "error_type"),
    [
        (b'{"service": "openai",', "parse_exception"),
        (b"[1, 2]", "parse_exception"),
        (b"\xff\xfe", "parse_exception"),
        (b"", "parse_exception"),
    ],
)
def test_malformed_bodies_get_400_parse_errors(
    sandbox: SandboxServer, content: bytes, error_type: str
) -> None:
    with client(sandbox) as es:
        for path in ("/_inference/text_embedding/x", "/_ingest/pipeline/p", "/idx/_doc/1"):
            response = es.put(path, content=content, headers={"Content-Type": "application/json"})
            assert_es_error(response, 400, error_type)


CHUNKING = [
    (None, {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}),
    ({}, {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}),
    (
        {"strategy": "sentence", "max_chunk_size": 100},
        {"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": 1},
    ),
    (
        {"strategy": "sentence", "max_chunk_size": 20, "sentence_overlap": 0},
        {"strategy": "sentence", "max_chunk_size": 20, "sentence_overlap": 0},
    ),
    (
        {"strategy": "word", "max_chunk_size": 100, "overlap": 50},
        {"strategy": "word", "max_chunk_size": 100, "overlap": 50},
    ),
    ({"strategy": "none"}, {"strategy": "none"}),
    (
        {"strategy": "recursive", "max_chunk_size": 200, "separator_group": "Markdown"},
        {
            "strategy": "recursive",
            "max_chunk_size": 200,
            "separators": [
                "\n# ",
                "\n## ",
                "\n### ",
                "\n#### ",
                "\n##### ",
                "\n###### ",
                "\n^(?!\\s*$).*\\n-{1,}\\n",
                "\n^(?!\\s*$).*\\n={1,}\\n",
            ],
        },
    ),
    (
        {"strategy": "recursive", "max_chunk_size": 200, "separators": ["\n\n", "\n"]},
        {"strategy": "recursive", "max_chunk_size": 200, "separators": ["\n\n", "\n"]},
    ),
    (
        {"strategy": "recursive", "max_chunk_size": 200},
        {
            "strategy": "recursive",
            "max_chunk_size": 200,
            "separators": ["(?<!\\n)\\n\\n(?!\\n)", "(?<!\\n)\\n(?!\\n)"],
        },
    ),
]


@pytest.mark.parametrize(("chunking", "expected"), CHUNKING)
def test_chunking_settings_as_stored(
    sandbox: SandboxServer, chunking: Any, expected: dict[str, Any]
) -> None:
    body = _with(OPENAI, chunking_settings=chunking)
    with client(sandbox) as es:
        assert (
            es.put("/_inference/text_embedding/c", json=body).json()["chunking_settings"]
            == expected
        )
        assert es.get("/_inference/c").json()["endpoints"][0]["chunking_settings"] == expected


CHUNKING_ERRORS = [
    (
        {"max_chunk_size": 100},
        "illegal_argument_exception",
        "Can't generate Chunker without ChunkingStrategy provided",
    ),
    ({"strategy": "paragraph"}, "illegal_argument_exception", "Invalid chunkingStrategy paragraph"),
    (
        {"strategy": "sentence"},
        "validation_exception",
        "Validation Failed: 1: [chunking_settings] does not contain the required setting [max_chunk_size];",
    ),
    (
        {"strategy": "sentence", "max_chunk_size": 10},
        "validation_exception",
        "Validation Failed: 1: [chunking_settings] Invalid value [10.0]. [max_chunk_size] must be a greater than or "
        "equal to [20.0];",
    ),
    (
        {"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": 2},
        "validation_exception",
        "Validation Failed: 1: sentence_overlap[2] must be either 0 or 1;",
    ),
    (
        {"strategy": "sentence", "max_chunk_size": 100, "overlap": 5},
        "validation_exception",
        "Validation Failed: 1: Sentence based chunking settings can not have the following settings: [overlap];",
    ),
    (
        {"strategy": "word", "max_chunk_size": 400, "overlap": 5},
        "validation_exception",
        "Validation Failed: 1: [chunking_settings] Invalid value [400.0]. [max_chunk_size] must be a less than or "
        "equal to [300.0];",
    ),
    (
        {"strategy": "word", "max_chunk_size": 100, "overlap": 60},
        "validation_exception",
        "Validation Failed: 1: [chunking_settings] Invalid value [60.0]. [overlap] must be a less than or equal to "
        "[50.0];",
    ),
    (
        {
            "strategy": "recursive",
            "max_chunk_size": 100,
            "separators": ["a"],
            "separator_group": "markdown",
        },
        "validation_exception",
        "Validation Failed: 1: Recursive chunking settings can not have both separators and separator_set;",
    ),
    (
        {"strategy": "recursive", "max_chunk_size": 100, "separators": []},
        "validation_exception",
        "Validation Failed: 1: Recursive chunking settings can not have an empty list of separators;",
    ),
]


@pytest.mark.parametrize(("chunking", "error_type", "reason"), CHUNKING_ERRORS)
def test_chunking_errors(
    sandbox: SandboxServer, chunking: dict[str, Any], error_type: str, reason: str
) -> None:
    with client(sandbox) as es:
        response = es.put(
            "/_inference/text_embedding/c", json=_with(OPENAI, chunking_settings=chunking)
        )
        assert_es_error(response, 400, error_type, reason)


def test_get_lists_sorted_filters_by_task_type_and_reports_errors(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        for name in ("zeta", "alpha", "mid"):
            assert es.put(f"/_inference/text_embedding/{name}", json=OPENAI).status_code == 200
        assert es.put("/_inference/rerank/rr", json=OPENSHIFT).status_code == 200
        everything = [e["inference_id"] for e in es.get("/_inference").json()["endpoints"]]
        assert everything == sorted(everything) and "rr" in everything and len(everything) == 7
        for path in ("/_inference/_all", "/_inference/*"):
            assert [e["inference_id"] for e in es.get(path).json()["endpoints"]] == everything
        for path in ("/_inference/text_embedding/_all", "/_inference/text_embedding/*"):
            assert [e["inference_id"] for e in es.get(path).json()["endpoints"]] == [
                ".multilingual-e5-small-elasticsearch",
                "alpha",
                "mid",
                "zeta",
            ]
        assert es.get("/_inference/rerank/rr").json()["endpoints"][0]["inference_id"] == "rr"
        assert_es_error(
            es.get("/_inference/completion/rr"),
            400,
            "status_exception",
            "Requested task type [completion] does not match the inference endpoint's task type [rerank]",
        )
        assert_es_error(
            es.get("/_inference/nope"),
            404,
            "resource_not_found_exception",
            "Inference endpoint not found [nope]",
        )
        assert_es_error(
            es.get("/_inference/text_embedding"),
            404,
            "resource_not_found_exception",
            "Inference endpoint not found [text_embedding]",
        )
        assert_es_error(
            es.get("/_inference/bad/x"), 400, "status_exception", "Unknown task_type [bad]"
        )


@pytest.mark.parametrize(
    ("method", "path", "status", "reason"),
    [
        ("GET", "/_nope/a/b/c", 400, "no handler found for uri [/_nope/a/b/c] and method [GET]"),
        (
            "PATCH",
            "/_inference/x",
            405,
            "Incorrect HTTP method for uri [/_inference/x] and method [PATCH], allowed: [DELETE, GET, POST, PUT]",
        ),
        (
            "GET",
            "/_inference?foo=1",
            400,
            "request [/_inference] contains unrecognized parameter: [foo]",
        ),
        (
            "DELETE",
            "/_inference/x?dryrun=true",
            400,
            "request [/_inference/x] contains unrecognized parameter: [dryrun]",
        ),
        (
            "DELETE",
            "/_inference/x?dry_run=yes",
            400,
            "Failed to parse value [yes] as only [true] or [false] are allowed.",
        ),
    ],
)
def test_routing_errors(
    sandbox: SandboxServer, method: str, path: str, status: int, reason: str
) -> None:
    with client(sandbox) as es:
        response = es.request(method, path)
        assert_es_error(response, status, "illegal_argument_exception", reason)


def test_junk_never_crashes_the_server(sandbox: SandboxServer) -> None:
    junk: list[Any] = [
        None,
        1,
        "x",
        [],
        {},
        {"service_settings": 5},
        {"service": "openai", "service_settings": []},
        {
            "service": "openai",
            "service_settings": {"api_key": 1, "model_id": ["m"]},
            "task_settings": "t",
            "chunking_settings": [1],
        },
        {
            "service": "custom",
            "service_settings": {
                "secret_parameters": "s",
                "request": 1,
                "response": "r",
                "rate_limit": 7,
            },
        },
        {"settings": "x", "mappings": 3, "processors": {"a": 1}},
        {"service_settings": {"rate_limit": {"requests_per_minute": "x"}}, "task_type": 5},
    ]
    paths = [
        "/_inference/text_embedding/j",
        "/_inference/j",
        "/_inference/text_embedding/j/_update",
        "/_ingest/pipeline/j",
        "/junk-index",
        "/junk-index/_doc/1",
        "/junk-index/_mapping",
    ]
    with client(sandbox) as es:
        es.put("/_inference/text_embedding/j", json=OPENAI)
        for body in junk:
            for path in paths:
                for method in ("PUT", "POST"):
                    response = es.request(method, path, json=body)
                    assert response.status_code < 500, (method, path, body, response.text)
                    assert response.headers["Content-Type"] == "application/json"


def test_malformed_request_line_gets_an_envelope(sandbox: SandboxServer) -> None:
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as raw:
        raw.sendall(b"NOT-HTTP\r\n\r\n")
        received = b""
        while chunk := raw.recv(65536):  # the server closes the connection after answering
            received += chunk
        answer = received.decode()
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.") and " 400 " in head.splitlines()[0]
    assert '"root_cause"' in body and '"status":400' in body


@pytest.mark.parametrize(
    ("version", "listed"),
    [("8.17.0", 0), ("8.18.0", 14), ("9.0.0", 14), ("9.1.0", 18), ("9.5.0", 25)],
)
def test_services_listing_is_optional_by_version(
    sandbox_factory: Any, version: str, listed: int
) -> None:
    server = sandbox_factory(version=version)
    with client(server) as es:
        response = es.get("/_inference/_services")
        if not listed:
            assert_es_error(
                response,
                404,
                "resource_not_found_exception",
                "Inference endpoint not found [_services]",
            )
            return
        services = {s["service"]: s for s in response.json()}
        assert len(services) == listed
        assert "elser" not in services  # an alias of elasticsearch, never listed
        assert services["openai"]["configurations"]["api_key"]["sensitive"] is True
        by_task = es.get("/_inference/_services/rerank").json()
        assert "cohere" in {s["service"] for s in by_task} and "openai" not in {
            s["service"] for s in by_task
        }


def test_services_listing_follows_the_version_and_the_unlisted_knob(sandbox_factory: Any) -> None:
    server = sandbox_factory(version="9.0.3", unlisted_services=("cohere",))
    with client(server) as es:
        services = {s["service"]: s for s in es.get("/_inference/_services").json()}
        assert "cohere" not in services
        assert "voyageai" not in services, "voyageai arrived in 9.1 on the 9.x line"
        assert "rerank" not in services["hugging_face"]["task_types"]
        openai = services["openai"]["configurations"]
        assert "client_id" not in openai and "rate_limit.requests_per_minute" in openai
        assert es.put("/_sandbox/unlisted_services", json={"services": []}).status_code == 200
        es.put("/_sandbox/version", json={"version": "8.19.0"})
        services = {s["service"]: s for s in es.get("/_inference/_services").json()}
        assert {"cohere", "voyageai"} <= set(services)
        assert "rerank" in services["hugging_face"]["task_types"]


def test_an_offered_service_is_listed_created_hidden_updated_and_deleted(
    sandbox_factory: Any,
) -> None:
    """The "offered services" knob (docs/sandbox.md): mixedbread, which the sandbox's own table
    lacks, behaves like a service of its own, as Elasticsearch 9.5 would serve it."""
    server = sandbox_factory(version="9.5.0")
    with client(server) as es:
        assert "mixedbread" not in {s["service"] for s in es.get("/_inference/_services").json()}
        bad = es.put("/_sandbox/offered_services", json={"services": ["nope"]})
        assert bad.status_code == 400 and "no built-in offer 'nope'" in bad.text
        assert es.put("/_sandbox/offered_services", json={"services": ["mixedbread"]}).is_success
        (listed,) = [
            s for s in es.get("/_inference/_services/rerank").json() if s["service"] == "mixedbread"
        ]
        assert listed["configurations"]["api_key"]["sensitive"] is True
        assert "task_settings" not in listed  # the sandbox's own addition is not listed
        body = {"service": "mixedbread", "service_settings": {"model_id": "m1"}}
        missing = es.put("/_inference/rerank/mb", json=body)
        assert_es_error(
            missing,
            400,
            "validation_exception",
            "Validation Failed: 1: [secret_settings] does not contain the required setting [api_key];",
        )
        body["service_settings"]["api_key"] = "mb-sandbox-secret"
        body["task_settings"] = {"top_n": 2}
        created = es.put("/_inference/rerank/mb", json=body).json()
        assert created["service_settings"] == {
            "model_id": "m1",
            "rate_limit": {"requests_per_minute": 3000},
        }
        fixed = es.put(
            "/_inference/rerank/mb/_update", json={"service_settings": {"model_id": "m2"}}
        )
        reason = (
            "Configuration contains settings [{model_id=m2}] unknown to the [mixedbread] service"
        )
        assert_es_error(fixed, 400, "status_exception", reason)
        rotated = es.put(
            "/_inference/rerank/mb/_update", json={"service_settings": {"api_key": "k2"}}
        )
        assert rotated.is_success and "api_key" not in rotated.text
        assert es.delete("/_inference/rerank/mb").is_success


@pytest.mark.parametrize(
    ("version", "newer", "reason"),
    [
        (
            "8.14.3",
            {"rate_limit": {"requests_per_minute": 5}},
            "Configuration contains settings [{rate_limit={requests_per_minute=5}}] unknown to "
            "the [cohere] service",
        ),
        (
            "9.0.0",
            {"embedding_type": "bit"},
            "Validation Failed: 1: [service_settings] Invalid value [bit] received. "
            "[embedding_type] must be one of [byte, float, int8];",
        ),
    ],
)
def test_a_too_new_field_or_value_is_refused(
    sandbox_factory: Any, version: str, newer: dict[str, Any], reason: str
) -> None:
    server = sandbox_factory(version=version)
    settings = {"api_key": "k", "model_id": "embed-english-v3.0"}
    with client(server) as es:
        refused = es.put(
            "/_inference/text_embedding/too-new",
            json={"service": "cohere", "service_settings": {**settings, **newer}},
        )
        error_type = (
            "validation_exception" if reason.startswith("Validation") else "status_exception"
        )
        assert_es_error(refused, 400, error_type, reason)
        created = es.put(
            "/_inference/text_embedding/ok",
            json={"service": "cohere", "service_settings": settings},
        )
        assert created.status_code == 200, created.text
        if version == "8.14.3":
            assert "rate_limit" not in created.json()["service_settings"], (
                "no rate limit before 8.15"
            )


@pytest.mark.parametrize(
    ("version", "body", "reason"),
    [
        (
            "9.0.0",
            {"service": "voyageai", "service_settings": {"api_key": "k", "model_id": "m"}},
            "Unknown service [voyageai]",
        ),
        (
            "9.3.0",
            {
                "service": "amazonbedrock",
                "service_settings": {
                    "access_key": "a",
                    "secret_key": "s",
                    "region": "r",
                    "model": "m",
                    "provider": "anthropic",
                },
            },
            "The [amazonbedrock] service does not support task type [chat_completion]",
        ),
        (
            "9.4.0",
            {
                "service": "openai",
                "service_settings": {"api_key": "k", "model_id": "m", "client_id": "c"},
            },
            "Configuration contains settings [{client_id=c}] unknown to the [openai] service",
        ),
    ],
)
def test_a_too_new_create_is_refused_as_that_release_would(
    sandbox_factory: Any, version: str, body: dict[str, Any], reason: str
) -> None:
    server = sandbox_factory(version=version)
    task = "chat_completion" if body["service"] == "amazonbedrock" else "rerank"
    task = "text_embedding" if body["service"] == "openai" else task
    with client(server) as es:
        response = es.put(f"/_inference/{task}/too-new", json=body)
        assert_es_error(response, 400, "status_exception", reason)


def test_id_is_checked_before_the_body_is_parsed(sandbox: SandboxServer) -> None:
    with client(sandbox) as es:
        bad_json = es.put(
            "/_inference/text_embedding/Bad",
            content=b"{oops",
            headers={"Content-Type": "application/json"},
        )
        assert_es_error(
            bad_json, 400, "action_request_validation_exception", INVALID_ID.format("Bad")
        )
        assert_es_error(
            es.put("/_inference/text_embedding/Bad"),
            400,
            "parse_exception",
            "request body is required",
        )
