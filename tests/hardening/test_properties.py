"""Properties over random endpoints of the two seed services (azureopenai, openshift_ai), with hypothesis.

- Convergence: for a random desired set and a random live set (ids overlapping, services, task
  types, settings, rate limits and chunking differing), applying the plan and planning again gives
  no change; run against an in-process sandbox through ``reconciler.session`` / ``reconciler.apply``.
- Normalisation is idempotent: a spec built from a desired view has that same view.
- ``changed_paths(a, b) == ()`` exactly when ``a == b`` (views after normalisation), and a field
  changed on one side is named.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler.catalog import EndpointFacts, load_catalog
from reconciler.client import Connection
from reconciler.diff import changed_paths
from reconciler.fingerprints import new_salt
from reconciler.loader import Document
from reconciler.model import EndpointSpec, Source
from reconciler.normalize import desired_view
from reconciler.run import ApplyHooks, ApplyOptions, apply_specs, make_plan
from reconciler.sandbox import SandboxServer
from reconciler.session import open_session
from reconciler.settings import Settings
from reconciler.state import Managed, State
from reconciler.validate import validate_documents
from tests.hardening.corpus import SECRET_ENV
from tests.sandbox.helpers import plain

CATALOG = load_catalog()
IDS = ("e0", "e1", "e2", "e3")
STRANGERS = ("x0", "x1")  # live ids nobody declares

words = st.sampled_from(["acme", "contoso", "fabrikam"])
rate_limits = st.builds(lambda n: {"requests_per_minute": n}, st.integers(1, 5000))
similarities = st.sampled_from(["cosine", "dot_product", "l2_norm"])


# strategies are immutable: built once per id, not once per example (hypothesis validates each new
# strategy it meets, which cost more than the examples themselves)
@cache
def chunking() -> st.SearchStrategy[dict[str, Any]]:
    sentence = st.builds(
        lambda size, overlap: {
            "strategy": "sentence",
            "max_chunk_size": size,
            "sentence_overlap": overlap,
        },
        st.integers(20, 300),
        st.sampled_from([0, 1]),
    )
    word = st.integers(10, 300).flatmap(
        lambda size: st.builds(
            lambda overlap: {"strategy": "word", "max_chunk_size": size, "overlap": overlap},
            st.integers(1, size // 2),
        )
    )
    recursive = st.builds(
        lambda size, group: {
            "strategy": "recursive",
            "max_chunk_size": size,
            "separator_group": group,
        },
        st.integers(20, 300),
        st.sampled_from(["plaintext", "markdown"]),
    )
    return st.one_of(sentence, word, recursive, st.just({"strategy": "none"}))


def optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


def azure(inference_id: str) -> st.SearchStrategy[dict[str, Any]]:
    def build(
        task_type: str,
        extra: dict[str, Any],
        task: dict[str, Any],
        chunks: dict[str, Any] | None,
        resource: str,
    ) -> dict[str, Any]:
        settings_ = {
            "resource_name": resource,
            "deployment_id": "gpt-4o" if task_type == "completion" else "text-embedding-3-large",
            "api_version": "2024-10-21",
            "api_key": "${env:AZURE_KEY}",
        }
        if task_type != "text_embedding":
            extra = {k: v for k, v in extra.items() if k not in ("dimensions", "similarity")}
        body = {
            "inference_id": inference_id,
            "task_type": task_type,
            "service": "azureopenai",
            "service_settings": {**settings_, **extra},
        }
        if task:
            body["task_settings"] = task
        if chunks is not None and task_type == "text_embedding":
            body["chunking_settings"] = chunks
        return body

    return st.builds(
        build,
        st.sampled_from(["text_embedding", "completion"]),
        optional(rate_limit=rate_limits, dimensions=st.integers(64, 3072), similarity=similarities),
        optional(
            user=words, headers=st.dictionaries(st.sampled_from(["x-a", "x-b"]), words, min_size=1)
        ),
        st.none() | chunking(),
        words,
    )


def openshift(inference_id: str) -> st.SearchStrategy[dict[str, Any]]:
    def build(
        task_type: str,
        extra: dict[str, Any],
        rerank: dict[str, Any],
        chunks: dict[str, Any] | None,
        host: str,
        model: str | None,
    ) -> dict[str, Any]:
        settings_: dict[str, Any] = {
            "url": f"https://{host}.example/v1",
            "api_key": "${env:SHIFT_KEY}",
        }
        if model:
            settings_["model_id"] = model
        if task_type != "text_embedding":
            extra = {k: v for k, v in extra.items() if k not in ("similarity", "max_input_tokens")}
        body = {
            "inference_id": inference_id,
            "task_type": task_type,
            "service": "openshift_ai",
            "service_settings": {**settings_, **extra},
        }
        if task_type == "rerank" and rerank:
            body["task_settings"] = rerank
        if chunks is not None and task_type == "text_embedding":
            body["chunking_settings"] = chunks
        return body

    return st.builds(
        build,
        st.sampled_from(["text_embedding", "rerank", "completion"]),
        optional(
            rate_limit=rate_limits, similarity=similarities, max_input_tokens=st.integers(1, 8192)
        ),
        optional(top_n=st.integers(1, 20), return_documents=st.booleans()),
        st.none() | chunking(),
        words,
        st.none() | st.sampled_from(["m-small", "m-large"]),
    )


@cache
def endpoint(inference_id: str) -> st.SearchStrategy[dict[str, Any]]:
    return azure(inference_id) | openshift(inference_id)


def endpoint_set(ids: tuple[str, ...], min_size: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(
        st.sampled_from(ids), unique=True, min_size=min_size, max_size=len(ids)
    ).flatmap(lambda chosen: st.tuples(*[endpoint(i) for i in chosen]).map(list))


def specs_of(bodies: list[dict[str, Any]]) -> tuple[EndpointSpec, ...]:
    documents = [
        Document(
            body=copy.deepcopy(body),
            source=Source(file=f"{body['inference_id']}.yaml", line=1, col=1),
        )
        for body in bodies
    ]
    result = validate_documents(documents, [])
    assert result.ok, [str(d) for d in result.diagnostics]  # the grammar makes valid specs only
    return result.specs


def spec_of(body: dict[str, Any]) -> EndpointSpec:
    return EndpointSpec(
        inference_id=body["inference_id"],
        task_type=body["task_type"],
        service=body["service"],
        body=body,
        source=Source(file="x.yaml", line=1, col=1),
    )


@pytest.fixture(scope="module", autouse=True)
def secrets_in_process() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SECRET_ENV.items():
            patch.setenv(name, value)
        yield


def put_live(url: str, body: dict[str, Any]) -> None:
    request = {k: v for k, v in body.items() if k not in ("inference_id", "task_type")}
    request["service_settings"] = {
        **request["service_settings"],
        "api_key": "live-key-made-by-hand",
    }
    answer = plain.put(
        f"{url}/_inference/{body['task_type']}/{body['inference_id']}", json=request, timeout=10
    )
    assert answer.status_code == 200, (
        body,
        answer.text,
    )  # the sandbox accepts what the catalog allows


def near(body: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A live endpoint close to ``body``: the same, or with task settings, rate limit or chunking moved."""

    def moved(block: str, values: dict[str, Any] | None) -> dict[str, Any]:
        changed = copy.deepcopy(body)
        if values is None:
            changed.pop(block, None)
        elif block == "service_settings":
            changed[block] = {**changed[block], **values}
        else:
            changed[block] = values
        return changed

    task_settings = {
        "azureopenai": optional(user=words),
        "openshift_ai": optional(top_n=st.integers(1, 20), return_documents=st.booleans()),
    }
    options = [
        st.just(copy.deepcopy(body)),
        st.builds(lambda limit: moved("service_settings", {"rate_limit": limit}), rate_limits),
    ]
    if body["task_type"] in ("rerank",) or body["service"] == "azureopenai":
        options.append(
            task_settings[body["service"]].map(lambda ts: moved("task_settings", ts or None))
        )
    if body["task_type"] == "text_embedding":
        options.append(
            (st.none() | chunking()).map(lambda chunks: moved("chunking_settings", chunks))
        )
    return st.one_of(options)


def live_set(desired: list[dict[str, Any]]) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Per declared id: absent, near the spec, or anything; plus endpoints nobody declares."""
    per_id = [
        st.one_of(st.none(), near(body), near(body), endpoint(body["inference_id"]))
        for body in desired
    ]
    strangers = endpoint_set(STRANGERS, 0)
    return st.tuples(st.tuples(*per_id), strangers).map(
        lambda drawn: [b for b in drawn[0] if b is not None] + drawn[1]
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# 9.4+: the generated azureopenai specs use task_settings.headers, which arrived in 9.4
@given(data=st.data(), version=st.sampled_from(["9.4.0", "9.4.8", "9.5.0"]))
def test_plan_after_applying_the_plan_has_no_changes(data: st.DataObject, version: str) -> None:
    desired = data.draw(endpoint_set(IDS, 1), label="desired")
    live = data.draw(live_set(desired), label="live")
    specs = specs_of(desired)
    with SandboxServer(port=0, version=version) as server:
        for body in live:
            put_live(server.url, body)
        with open_session(
            connection=Connection(url=server.url), settings=Settings(), sandbox_data=None
        ) as session:
            # the live endpoints are this directory's own (made by an earlier apply), so that a
            # replace the specs require is allowed; adoption has its own end-to-end tests
            session.store.write(
                State(
                    salt=new_salt(),
                    managed={
                        body["inference_id"]: Managed(
                            task_type=body["task_type"], service=body["service"]
                        )
                        for body in live
                        if body["inference_id"] in {spec.inference_id for spec in specs}
                    },
                )
            )
            for change in make_plan(session, specs, prune=False).plan.changes:
                event(f"planned {change.action.value}")
            result = apply_specs(session, specs, options=ApplyOptions(), hooks=ApplyHooks()).result
            assert result.failed == (), [o.message for o in result.failed]
            again = make_plan(session, specs, prune=False)
    leftover = [
        (c.action.value, c.inference_id, c.paths, c.reason)
        for c in again.plan.changes
        if c.action.writes
    ]
    assert leftover == [], leftover
    assert set(again.snapshot.state.managed) == {s.inference_id for s in specs}


@settings(max_examples=300, deadline=None)
@given(body=st.sampled_from(IDS).flatmap(endpoint))
def test_desired_view_is_idempotent(body: dict[str, Any]) -> None:
    spec = specs_of([body])[0]
    view = desired_view(spec, facts_of(spec))
    rebuilt = {
        "inference_id": spec.inference_id,
        "task_type": spec.task_type,
        "service": spec.service,
        **view,
    }
    assert desired_view(spec_of(rebuilt), facts_of(spec)) == view


def facts_of(spec: EndpointSpec) -> EndpointFacts:
    return CATALOG.facts(spec.service, spec.task_type, (9, 5, 0))


def view_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = specs_of([body])[0]
    return desired_view(spec, facts_of(spec))


def perturb(view: dict[str, dict[str, Any]], choice: int, value: Any) -> dict[str, dict[str, Any]]:
    """The view with one leaf changed, removed or added (chosen by ``choice``)."""
    changed = copy.deepcopy(view)
    leaves = [(block, key) for block, values in sorted(changed.items()) for key in sorted(values)]
    if not leaves or choice % 3 == 2:
        changed.setdefault("task_settings", {})["added_key"] = value
    elif choice % 3 == 1:
        block, key = leaves[choice % len(leaves)]
        del changed[block][key]
        if not changed[block]:
            del changed[block]
    else:
        block, key = leaves[choice % len(leaves)]
        changed[block][key] = value
    return changed


@settings(max_examples=300, deadline=None)
@given(
    a=st.sampled_from(IDS).flatmap(endpoint),
    b=st.sampled_from(IDS).flatmap(endpoint),
    mode=st.sampled_from(["same", "other", "perturbed"]),
    choice=st.integers(0, 50),
    value=st.one_of(
        st.integers(-5, 5), st.booleans(), words, st.none(), st.lists(words, max_size=2)
    ),
)
def test_changed_paths_is_empty_exactly_when_views_are_equal(
    a: dict[str, Any], b: dict[str, Any], mode: str, choice: int, value: Any
) -> None:
    left = view_of(a)
    if mode == "same":
        right = view_of(copy.deepcopy(a))
    elif mode == "other":
        right = view_of(b)
    else:
        right = perturb(left, choice, value)
    paths = changed_paths(left, right)
    assert (paths == ()) == (left == right), (left, right, paths)
    assert changed_paths(right, left) == paths  # which fields differ does not depend on the side
    assert changed_paths(left, left) == () and changed_paths(right, right) == ()
    for path in paths:  # every path named is a field of one side or the other
        block, key = str(path[0]), path[1]
        assert key in set(left.get(block, {})) | set(right.get(block, {})), (
            path,
            left,
            right,
        )
