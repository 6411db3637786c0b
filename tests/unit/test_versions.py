"""Version boundaries: one case per dated fact in the catalog, plus the `available` rule.

Every `since` the catalog encodes (service, task type, field, enum value) is tried one
release before it (refused, both versions named) and at it (accepted); a two-line date
is tried on both lines.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.catalog import (
    ANY_VALUE,
    available,
    load_catalog,
    parse_version,
    since_text,
    since_versions,
)
from reconciler.model import EndpointSpec, Source
from reconciler.versions import too_new

CATALOG = load_catalog()


@pytest.mark.parametrize(
    ("since", "version", "expected"),
    [
        ("8.15.0", "8.14.3", False),
        ("8.15.0", "8.15.0", True),
        ("8.15.0", "9.0.0", True),
        (["8.19.0", "9.1.0"], "8.18.2", False),
        (["8.19.0", "9.1.0"], "8.19.0", True),
        (["8.19.0", "9.1.0"], "9.0.5", False),
        (["8.19.0", "9.1.0"], "9.1.0", True),
        (["8.19.0", "9.1.0"], "10.0.0", True),
        ("9.2.0", "8.19.9", False),
        ("9.2.0", "9.2.1", True),
        (None, "7.17.0", True),
    ],
)
def test_available(since: Any, version: str, expected: bool) -> None:
    assert available(since, parse_version(version)) is expected


def spec_for(service: str, task_type: str, blocks: dict[str, dict[str, Any]]) -> EndpointSpec:
    body = {"inference_id": "e", "task_type": task_type, "service": service, **blocks}
    positions = {("service",): (3, 10), ("task_type",): (2, 12)}
    for block, values in blocks.items():
        positions[(block,)] = (4, 1)
        for key in values:
            positions[(block, key)] = (5, 3)
    return EndpointSpec(
        inference_id="e",
        task_type=task_type,
        service=service,
        body=body,
        source=Source(file="specs/e.yaml", line=1, col=1, positions=positions),
    )


def release_before(first: tuple[int, int, int]) -> str:
    major, minor, _ = first
    return f"{major}.{minor - 1}.99" if minor else f"{major - 1}.99.0"


def text(first: tuple[int, int, int]) -> str:
    return ".".join(map(str, first))


def boundaries() -> list[Any]:
    """(id, service, task_type, blocks, since) for every dated fact."""
    cases = []
    for name in CATALOG.service_names():
        facts = CATALOG.service(name)
        assert facts is not None
        task_types = list(facts.raw["task_types"])
        dated = facts.raw.get("task_type_since", {})
        oldest = next((t for t in task_types if t not in dated), task_types[0])
        cases.append(pytest.param(name, oldest, {}, facts.since_spec, id=f"{name}"))
        for task_type, since in facts.raw.get("task_type_since", {}).items():
            cases.append(pytest.param(name, task_type, {}, since, id=f"{name}-{task_type}"))
        for block in ("service_settings", "task_settings"):
            for key, field in facts.raw[block].items():
                for value, since in field.get("enum_since", {}).items():
                    task_type = field.get("task_types", task_types)[0]
                    blocks = {block: {key: value}}
                    cases.append(
                        pytest.param(name, task_type, blocks, since, id=f"{name}-{key}={value}")
                    )
                if "since" not in field:
                    continue
                task_type = field.get("task_types", task_types)[0]
                blocks = {block: {key: "x"}}
                cases.append(
                    pytest.param(name, task_type, blocks, field["since"], id=f"{name}-{key}")
                )
    return cases


@pytest.mark.parametrize(("service", "task_type", "blocks", "since"), boundaries())
def test_every_boundary_refuses_a_too_new_spec(
    service: str, task_type: str, blocks: dict[str, dict[str, Any]], since: Any
) -> None:
    spec = spec_for(service, task_type, blocks)
    for first in since_versions(since):
        if first <= (8, 11, 0):
            continue  # older than any cluster this tool supports
        older = release_before(first)
        problems = too_new([spec], catalog=CATALOG, cluster_version=older)
        assert problems, (older, since)
        message = str(problems[0])
        assert message.startswith("specs/e.yaml:"), message
        assert since_text(since) in message or text(first) in message, message
        assert f"the cluster runs {older}" in message, message
        accepted = too_new([spec], catalog=CATALOG, cluster_version=text(first))
        assert not [p for p in accepted if "needs" in p.message], accepted


def test_a_spec_of_the_cluster_line_that_lacks_the_backport_is_refused() -> None:
    spec = spec_for("voyageai", "rerank", {})
    [problem] = too_new([spec], catalog=CATALOG, cluster_version="9.0.3")
    assert str(problem) == (
        "specs/e.yaml:3:10: service 'voyageai' needs Elasticsearch 8.19.0 / 9.1.0 or later; "
        "the cluster runs 9.0.3"
    )
    assert too_new([spec], catalog=CATALOG, cluster_version="8.19.0") == []


def test_a_task_type_newer_than_its_service_points_at_task_type() -> None:
    spec = spec_for("amazonbedrock", "chat_completion", {})
    [problem] = too_new([spec], catalog=CATALOG, cluster_version="9.3.2")
    assert str(problem) == (
        "specs/e.yaml:2:12: task type 'chat_completion' of service 'amazonbedrock' needs "
        "Elasticsearch 9.4.0 or later; the cluster runs 9.3.2"
    )


def test_a_field_that_later_became_optional_is_required_on_older_clusters() -> None:
    spec = spec_for("googlevertexai", "text_embedding", {"service_settings": {"model_id": "m"}})
    [problem] = too_new([spec], catalog=CATALOG, cluster_version="9.4.0")
    assert "service_settings.location (googlevertexai) is required before Elasticsearch 9.5.0" in (
        str(problem)
    )
    assert too_new([spec], catalog=CATALOG, cluster_version="9.5.0") == []


def test_chunking_settings_need_8_16() -> None:
    blocks = {"chunking_settings": {"strategy": "word", "max_chunk_size": 100, "overlap": 10}}
    spec = spec_for("openai", "text_embedding", blocks)
    [problem] = too_new([spec], catalog=CATALOG, cluster_version="8.15.1")
    assert "chunking_settings needs Elasticsearch 8.16.0 or later" in str(problem)


def test_server_filled_defaults_follow_version_and_other_settings() -> None:
    bedrock = CATALOG.service("amazonbedrock")
    assert bedrock is not None
    settings = {"service_settings": {"provider": "COHERE"}}
    filled = bedrock.server_filled("text_embedding", settings=settings)
    assert filled["service_settings.similarity"] == "dot_product"
    titan = {"service_settings": {"provider": "amazontitan"}}
    assert bedrock.server_filled("text_embedding", settings=titan)[
        "service_settings.similarity"
    ] == ("cosine")
    assert bedrock.server_filled("text_embedding")["service_settings.similarity"] == "*"
    openai = CATALOG.service("openai")
    assert openai is not None
    assert "service_settings.rate_limit" not in openai.server_filled(
        "text_embedding", version=(8, 14, 0)
    )
    assert "service_settings.rate_limit" in openai.server_filled(
        "text_embedding", version=(8, 15, 0)
    )


def test_update_facts_are_dated_per_line() -> None:
    elastic = CATALOG.service("elasticsearch")
    assert elastic is not None
    on = {"task_type": "text_embedding", "block": "service_settings", "key": "adaptive_allocations"}
    assert not elastic.updatable(**on, version=(8, 18, 0))
    assert not elastic.updatable(**on, version=(9, 0, 0))
    assert elastic.updatable(**on, version=(8, 19, 0))
    assert elastic.updatable(**on, version=(9, 1, 0))
    assert elastic.updatable(
        task_type="text_embedding",
        block="service_settings",
        key="num_allocations",
        version=(8, 17, 0),
    )
    fields = elastic.updatable_fields(
        task_type="sparse_embedding", block="service_settings", version=(8, 17, 0)
    )
    assert fields == ("num_allocations",)


def test_facts_resolved_once_per_endpoint_and_version() -> None:
    old = CATALOG.facts("azureopenai", "text_embedding", (9, 3, 0))
    new = CATALOG.facts("azureopenai", "text_embedding", (9, 5, 0))
    assert old.offered and new.offered
    # secrets rotate in place from 8.17; rate_limit only from 9.5; chunking never (9.5.0's
    # _update takes no chunking_settings)
    assert old.updatable(("service_settings", "api_key"))
    assert not old.updatable(("service_settings", "rate_limit"))
    assert new.updatable(("service_settings", "rate_limit"))
    assert not old.updatable(("chunking_settings",)) and not new.updatable(("chunking_settings",))
    assert CATALOG.facts("azureopenai", "text_embedding", (9, 5, 0)) is new  # asked once
    assert not CATALOG.facts("amazonbedrock", "chat_completion", (9, 3, 0)).offered
    bedrock = CATALOG.service("amazonbedrock")
    assert bedrock is not None
    filled = bedrock.server_filled(
        "text_embedding", settings={"service_settings": {"provider": "cohere"}}
    )
    assert filled["service_settings.similarity"] == "dot_product"
    # without the settings, a default that depends on them is nobody's guess
    facts = CATALOG.facts("amazonbedrock", "text_embedding", (9, 5, 0))
    assert facts.server_filled[("service_settings", "similarity")] == ANY_VALUE
