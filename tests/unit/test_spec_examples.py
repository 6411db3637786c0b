"""The official examples of the Elasticsearch specification against our schemas and planner (#13, #14).

Every request example of a ``put_*`` inference API is a spec a user could copy: it must validate,
unless it is listed in ``INVALID`` with the reason. Every response example is what the cluster
shows right after that request: taken as the live endpoint and planned against its request, it
must be a no-op with no held drift, whatever the server filled in (rule 2 of the comparison).
Pure: no HTTP (the end-to-end variant is tests/e2e/test_spec_examples.py).
"""

from __future__ import annotations

import pytest
import yaml

from reconciler.catalog import load_catalog
from reconciler.importer import spec_for
from reconciler.loader import parse_documents
from reconciler.model import EndpointSpec, LiveEndpoint
from reconciler.plan import Action, Ownership
from reconciler.planner import build_plan
from reconciler.validate import Validation, validate_documents
from tests.spec_examples import (
    INVALID,
    NOT_JSON,
    REFERENCE,
    VALID,
    RequestExample,
    ResponseExample,
    request_examples,
    response_examples,
    spec_document,
)

CATALOG = load_catalog()
REQUESTS = request_examples()
RESPONSES = response_examples()
BY_NAME = {(example.api, example.name): example for example in REQUESTS}
CURRENT = "9.5.0"


# The release a response example shows, where it is older than today's: the ELSER answer has no
# chunking_settings, which every embedding endpoint has carried since 8.16 (and the elser service
# is deprecated since 8.16). An upgraded cluster keeps such an endpoint as it was, so it is planned
# at that release and at today's.
ERA = {"PutElserResponseExample1": "8.15.0"}


def validated(example: RequestExample) -> Validation:
    text = yaml.safe_dump(spec_document(example, CATALOG), sort_keys=False)
    documents, problems = parse_documents(text, file=f"{example.name}.yaml")
    return validate_documents(documents, problems)


def spec_of(example: RequestExample) -> EndpointSpec:
    result = validated(example)
    assert result.ok, [d.message for d in result.diagnostics]
    return result.specs[0]


def test_the_data_holds_every_example_once() -> None:
    assert (len(REQUESTS), len(RESPONSES), len(VALID)) == (103, 25, 80)
    assert len(BY_NAME) == len(REQUESTS)
    assert {e.name for e in REQUESTS} >= set(INVALID)
    assert all(len(e.commit) == 40 and e.path.endswith(f"/{e.name}.yaml") for e in REQUESTS)


@pytest.mark.parametrize("response", RESPONSES, ids=lambda r: r.name)
def test_a_response_answers_the_request_it_is_paired_with(response: ResponseExample) -> None:
    request = BY_NAME[(response.api, response.pairs_with)]
    assert (request.inference_id, request.task_type) == (
        response.body["inference_id"],
        response.body["task_type"],
    )
    assert request.body is not None and request.body["service"] == response.body["service"]


@pytest.mark.parametrize("example", VALID, ids=lambda e: e.name)
def test_a_valid_request_example_validates(example: RequestExample) -> None:
    assert example.body is not None, f"{example.name}: {NOT_JSON}"
    result = validated(example)
    assert result.ok, [d.message for d in result.diagnostics]
    (spec,) = result.specs
    assert (spec.inference_id, spec.task_type) == (example.inference_id, example.task_type)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_request_example_is_refused_for_its_reason(name: str) -> None:
    (example,) = [e for e in REQUESTS if e.name == name]
    expected = INVALID[name][1]
    if expected == NOT_JSON:
        assert example.body is None
        return
    result = validated(example)
    # a task type the catalog does not give the service is a warning (the cluster decides at plan)
    found = result.diagnostics + result.warnings
    assert not result.ok or result.warnings, [d.message for d in found]
    assert any(expected in d.message for d in found), [d.message for d in found]


@pytest.mark.parametrize(
    ("response", "version"),
    [
        pytest.param(response, version, id=f"{response.name}@{version}")
        for response in RESPONSES
        for version in sorted({ERA.get(response.name, CURRENT), CURRENT})
    ],
)
def test_a_response_example_plans_no_change_against_its_request(
    response: ResponseExample, version: str
) -> None:
    spec = spec_of(BY_NAME[(response.api, response.pairs_with)])
    plan = build_plan(
        specs=[spec],
        live=[LiveEndpoint.from_api(response.body)],
        catalog=CATALOG,
        cluster_version=version,
        ownership=Ownership(mine=frozenset({spec.inference_id})),
    )
    (change,) = plan.changes
    assert (change.action, change.paths, change.drift) == (Action.NOOP, (), ()), change
    assert not plan.differs


def test_an_existing_deployment_imports_as_it_was_written() -> None:
    """model_id and num_threads are the server's only with deployment_id: import leaves them out
    there, and keeps them where the user wrote them (they are the endpoint's model then)."""
    deployed = next(r for r in RESPONSES if r.name == "PutElasticsearchResponseExample1")
    facts = CATALOG.facts("elasticsearch", "sparse_embedding", (9, 5, 0))
    service = CATALOG.service("elasticsearch")
    imported = spec_for(LiveEndpoint.from_api(deployed.body), facts, service).spec
    # allocations are kept: a re-create needs them (import's rule)
    assert imported["service_settings"] == {"deployment_id": ".elser_model_2", "num_allocations": 2}
    own_model = {
        **deployed.body,
        "service_settings": {"num_threads": 1, "model_id": ".elser_model_2"},
    }
    imported = spec_for(LiveEndpoint.from_api(own_model), facts, service).spec
    assert imported["service_settings"] == {"num_threads": 1, "model_id": ".elser_model_2"}


def test_secrets_of_an_example_become_references() -> None:
    (example,) = [e for e in REQUESTS if e.name == "PutCustomRequestExample2"]
    settings = spec_document(example, CATALOG)["service_settings"]
    assert settings["secret_parameters"] == {"api_key": REFERENCE}
    assert settings["headers"]["Authorization"] == "bearer ${api_key}"  # a template, not a secret


def custom_live(embedding_type: str) -> LiveEndpoint:
    """PutCustomRequestExample1 as the server shows it: secrets out, its defaults in."""
    (example,) = [e for e in REQUESTS if e.name == "PutCustomRequestExample1"]
    assert example.body is not None
    settings = {
        k: v for k, v in example.body["service_settings"].items() if k != "secret_parameters"
    }
    parser = {**settings["response"]["json_parser"], "embedding_type": embedding_type}
    return LiveEndpoint.from_api({
        "inference_id": example.inference_id,
        "task_type": example.task_type,
        "service": "custom",
        "service_settings": {
            **settings,
            "response": {"json_parser": parser},
            "batch_size": 10,
            "input_type": {"translation": {}, "default": ""},
            "rate_limit": {"requests_per_minute": 10000},
            "similarity": "dot_product",
            "dimensions": 1536,
        },
        "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
    })  # fmt: skip


@pytest.mark.parametrize(
    ("declared", "shown", "action"),
    [
        (None, "float", Action.NOOP),  # the server's default, written into a declared object
        ("float", "float", Action.NOOP),
        ("byte", "byte", Action.NOOP),
        (
            "byte",
            "float",
            Action.UPDATE,
        ),  # a declared value is compared (response changes in place)
    ],
)
def test_a_default_inside_a_declared_object_is_the_servers(
    declared: str | None, shown: str, action: Action
) -> None:
    (example,) = [e for e in REQUESTS if e.name == "PutCustomRequestExample1"]
    document = spec_document(example, CATALOG)
    if declared is not None:
        document["service_settings"]["response"]["json_parser"]["embedding_type"] = declared
    documents, problems = parse_documents(yaml.safe_dump(document), file="custom.yaml")
    (spec,) = validate_documents(documents, problems).specs
    plan = build_plan(
        specs=[spec],
        live=[custom_live(shown)],
        catalog=CATALOG,
        cluster_version=CURRENT,
        ownership=Ownership(mine=frozenset({spec.inference_id})),
    )
    (change,) = plan.changes
    assert change.action is action and not change.drift, change
