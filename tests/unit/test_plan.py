"""Golden pairs: specs + a live listing -> the plan a user would expect. Pure, no HTTP."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from reconciler.catalog import load_catalog, parse_version
from reconciler.loader import parse_documents
from reconciler.model import EndpointSpec, LiveEndpoint, dotted
from reconciler.normalize import declared_fields
from reconciler.plan import Action, Ownership, Plan, SecretStatus, Usage
from reconciler.planner import Prepared, build_plan, prepare, with_usage
from reconciler.render import wording
from reconciler.validate import validate_documents

CATALOG = load_catalog()

AZURE_EMBED = {
    "inference_id": "azure-embed",
    "task_type": "text_embedding",
    "service": "azureopenai",
    "service_settings": {
        "resource_name": "acme",
        "deployment_id": "text-embedding-3-large",
        "api_version": "2024-02-01",
        "api_key": "${env:AZURE_KEY}",
    },
}
# What Elasticsearch returns for AZURE_EMBED: secrets gone, server-filled values in.
AZURE_EMBED_LIVE = {
    "inference_id": "azure-embed",
    "task_type": "text_embedding",
    "service": "azureopenai",
    "service_settings": {
        "resource_name": "acme",
        "deployment_id": "text-embedding-3-large",
        "api_version": "2024-02-01",
        "dimensions": 3072,
        "similarity": "dot_product",
        "rate_limit": {"requests_per_minute": 1440},
    },
    "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
}
SHIFT_RERANK = {
    "inference_id": "shift-rerank",
    "task_type": "rerank",
    "service": "openshift_ai",
    "service_settings": {
        "url": "https://rerank.example/v1",
        "model_id": "bge-reranker-v2-m3",
        "api_key": "${env:SHIFT_KEY}",
    },
    "task_settings": {"top_n": 3, "return_documents": True},
}
SHIFT_RERANK_LIVE = {
    "inference_id": "shift-rerank",
    "task_type": "rerank",
    "service": "openshift_ai",
    "service_settings": {
        "url": "https://rerank.example/v1",
        "model_id": "bge-reranker-v2-m3",
        "rate_limit": {"requests_per_minute": 3000},
    },
    "task_settings": {"top_n": 3, "return_documents": True},
}
SHIFT_EMBED = {
    "inference_id": "shift-embed",
    "task_type": "text_embedding",
    "service": "openshift_ai",
    "service_settings": {
        "url": "https://embed.example/v1",
        "model_id": "gritlm-7b",
        "api_key": "${env:SHIFT_KEY}",
    },
    "chunking_settings": {
        "strategy": "recursive",
        "max_chunk_size": 200,
        "separator_group": "markdown",
    },
}
SHIFT_EMBED_LIVE = {
    "inference_id": "shift-embed",
    "task_type": "text_embedding",
    "service": "openshift_ai",
    "service_settings": {
        "url": "https://embed.example/v1",
        "model_id": "gritlm-7b",
        "dimensions": 4096,
        "similarity": "dot_product",
        "dimensions_set_by_user": False,
        "rate_limit": {"requests_per_minute": 3000},
    },
    "chunking_settings": {
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
}


def spec(body: dict[str, Any]) -> EndpointSpec:
    documents, problems = parse_documents(yaml.safe_dump(body, sort_keys=False), file="spec.yaml")
    result = validate_documents(documents, problems)
    assert result.ok, result.diagnostics
    return result.specs[0]


def live(body: dict[str, Any]) -> LiveEndpoint:
    return LiveEndpoint.from_api(body)


def edit(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = changed
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return changed


DELETE = object()
NEW = "9.5.0"
OLD = "9.4.0"


@pytest.mark.parametrize(
    ("desired", "current", "version", "action", "paths", "reason"),
    [
        # a freshly created endpoint, with every server-filled default, is a no-op
        (AZURE_EMBED, AZURE_EMBED_LIVE, NEW, Action.NOOP, (), ""),
        (SHIFT_RERANK, SHIFT_RERANK_LIVE, NEW, Action.NOOP, (), ""),
        (SHIFT_EMBED, SHIFT_EMBED_LIVE, NEW, Action.NOOP, (), ""),
        (
            edit(AZURE_EMBED, "service_settings.rate_limit", {"requests_per_minute": 1440}),
            AZURE_EMBED_LIVE,
            NEW,
            Action.NOOP,
            (),
            "",
        ),
        (AZURE_EMBED, None, NEW, Action.CREATE, (), "not in the cluster"),
        # task settings change in place
        (
            edit(SHIFT_RERANK, "task_settings.top_n", 5),
            SHIFT_RERANK_LIVE,
            OLD,
            Action.UPDATE,
            ("task_settings.top_n",),
            "in place",
        ),
        # a live task setting that no spec declares (and no state says was declared) is drift
        # only a replace could undo: left alone, never replaced for it
        (
            edit(SHIFT_RERANK, "task_settings.return_documents", DELETE),
            SHIFT_RERANK_LIVE,
            NEW,
            Action.NOOP,
            (),
            "",
        ),
        # rate_limit: in place on 9.5, replace before (older _update silently ignores it)
        (
            edit(SHIFT_RERANK, "service_settings.rate_limit", {"requests_per_minute": 10}),
            SHIFT_RERANK_LIVE,
            NEW,
            Action.UPDATE,
            ("service_settings.rate_limit",),
            "in place",
        ),
        (
            edit(SHIFT_RERANK, "service_settings.rate_limit", {"requests_per_minute": 10}),
            SHIFT_RERANK_LIVE,
            OLD,
            Action.REPLACE,
            ("service_settings.rate_limit",),
            "cannot change in place",
        ),
        # immutable fields
        (
            edit(SHIFT_RERANK, "service_settings.model_id", "other"),
            SHIFT_RERANK_LIVE,
            NEW,
            Action.REPLACE,
            ("service_settings.model_id",),
            "service_settings.model_id cannot change in place",
        ),
        (
            edit(AZURE_EMBED, "service_settings.deployment_id", "small"),
            AZURE_EMBED_LIVE,
            NEW,
            Action.REPLACE,
            ("service_settings.deployment_id",),
            "cannot change in place",
        ),
        # task type change of the same id
        (
            edit(SHIFT_RERANK, "task_type", "completion") | {"task_settings": {}},
            SHIFT_RERANK_LIVE,
            NEW,
            Action.REPLACE,
            ("task_type",),
            "task_type cannot change in place",
        ),
        # chunking: a replace on every release (9.5.0's _update takes no chunking_settings)
        (
            edit(
                AZURE_EMBED,
                "chunking_settings",
                {"strategy": "word", "max_chunk_size": 100, "overlap": 50},
            ),
            AZURE_EMBED_LIVE,
            NEW,
            Action.REPLACE,
            ("chunking_settings.max_chunk_size",),
            "cannot change in place",
        ),
        (
            edit(
                AZURE_EMBED,
                "chunking_settings",
                {"strategy": "word", "max_chunk_size": 100, "overlap": 50},
            ),
            AZURE_EMBED_LIVE,
            OLD,
            Action.REPLACE,
            ("chunking_settings.max_chunk_size",),
            "cannot change in place",
        ),
        # before 8.17 every change is a replace
        (
            edit(SHIFT_RERANK, "task_settings.top_n", 5),
            SHIFT_RERANK_LIVE,
            "8.16.0",
            Action.REPLACE,
            ("task_settings.top_n",),
            "no _update API",
        ),
        # drift: someone changed top_n by hand
        (
            SHIFT_RERANK,
            edit(SHIFT_RERANK_LIVE, "task_settings.top_n", 9),
            NEW,
            Action.UPDATE,
            ("task_settings.top_n",),
            "",
        ),
        # drift: an undeclared live key that the server does not fill in: held, not replaced
        (
            AZURE_EMBED,
            edit(AZURE_EMBED_LIVE, "task_settings.user", "someone"),
            NEW,
            Action.NOOP,
            (),
            "",
        ),
        # a server-filled value nobody declared is never a change, whatever its value
        (
            AZURE_EMBED,
            edit(AZURE_EMBED_LIVE, "service_settings.rate_limit", {"requests_per_minute": 7}),
            OLD,
            Action.NOOP,
            (),
            "",
        ),
        # declared dimensions are compared
        (
            edit(SHIFT_EMBED, "service_settings.dimensions", 1024),
            SHIFT_EMBED_LIVE,
            NEW,
            Action.REPLACE,
            ("service_settings.dimensions",),
            "",
        ),
    ],
)
def test_golden(
    desired: dict[str, Any],
    current: dict[str, Any] | None,
    version: str,
    action: Action,
    paths: tuple[str, ...],
    reason: str,
) -> None:
    plan = build_plan(
        specs=[spec(desired)],
        live=[live(current)] if current else [],
        catalog=CATALOG,
        cluster_version=version,
    )
    (change,) = plan.changes
    assert change.action is action, change
    for path in paths:
        assert path in map(dotted, change.paths), change.paths
    assert reason in wording.reason(change, version)


@pytest.mark.parametrize("version", ["9.3.0", "9.5.0"])
def test_chunking_never_changes_in_place(version: str) -> None:
    """No release read takes chunking_settings through _update (PR 149723 is after 9.5.0)."""
    desired = edit(
        SHIFT_EMBED, "chunking_settings", {"strategy": "sentence", "max_chunk_size": 100}
    )
    plan = build_plan(
        specs=[spec(desired)],
        live=[live(SHIFT_EMBED_LIVE)],
        catalog=CATALOG,
        cluster_version=version,
    )
    assert plan.changes[0].action is Action.REPLACE


@pytest.mark.parametrize(
    ("version", "warned"), [("8.17.0", True), ("9.3.8", True), ("9.4.0", False), ("9.5.0", False)]
)
def test_an_update_on_a_release_that_resets_chunking_says_so(version: str, warned: bool) -> None:
    """Issue 139574: before 9.4.0 any _update rewrote an embedding endpoint's chunking."""
    desired = edit(AZURE_EMBED, "task_settings", {"user": "someone"})
    plan = build_plan(
        specs=[spec(desired)],
        live=[live(AZURE_EMBED_LIVE)],
        catalog=CATALOG,
        cluster_version=version,
    )
    (change,) = plan.changes
    assert change.action is Action.UPDATE
    assert any("chunking_settings to word/250/100" in note for note in change.notes) is warned


def test_rotated_secret_is_an_update_with_a_masked_value() -> None:
    secrets = {"azure-embed": SecretStatus(changed=(("service_settings", "api_key"),))}
    plan = build_plan(
        specs=[spec(AZURE_EMBED)],
        live=[live(AZURE_EMBED_LIVE)],
        catalog=CATALOG,
        cluster_version=OLD,
        secrets=secrets,
    )
    change = plan.changes[0]
    assert change.action is Action.UPDATE
    assert change.secret_paths == (("service_settings", "api_key"),)
    assert change.after["service_settings"]["api_key"] == "(sensitive value changed)"


def test_untracked_secret_is_a_note_not_a_change() -> None:
    secrets = {"azure-embed": SecretStatus(untracked=(("service_settings", "api_key"),))}
    plan = build_plan(
        specs=[spec(AZURE_EMBED)],
        live=[live(AZURE_EMBED_LIVE)],
        catalog=CATALOG,
        cluster_version=NEW,
        secrets=secrets,
    )
    assert plan.changes[0].action is Action.NOOP
    assert "secret not tracked" in plan.changes[0].notes[0]


def test_undeclared_endpoints_are_unmanaged_unless_pruned_and_owned() -> None:
    others = [
        live(SHIFT_RERANK_LIVE),
        live(edit(SHIFT_RERANK_LIVE, "inference_id", ".rerank-v1-elasticsearch")),
    ]
    plan = build_plan(specs=[], live=others, catalog=CATALOG, cluster_version=NEW)
    assert plan.unmanaged == (".rerank-v1-elasticsearch", "shift-rerank") and not plan.changes
    plan = build_plan(
        specs=[],
        live=others,
        catalog=CATALOG,
        cluster_version=NEW,
        prune=True,
        ownership=Ownership(mine=frozenset({"shift-rerank", ".rerank-v1-elasticsearch"})),
    )
    assert [(c.action, c.inference_id) for c in plan.changes] == [(Action.DELETE, "shift-rerank")]
    assert plan.unmanaged == (".rerank-v1-elasticsearch",)
    plan = build_plan(
        specs=[],
        live=others,
        catalog=CATALOG,
        cluster_version=NEW,
        prune=True,
        ownership=Ownership(),
    )
    assert not plan.changes  # not ours: never pruned


def test_plan_orders_actions_and_counts_them() -> None:
    specs = [
        spec(AZURE_EMBED),
        spec(edit(SHIFT_RERANK, "task_settings.top_n", 5)),
        spec(SHIFT_EMBED),
    ]
    plan = build_plan(
        specs=specs,
        live=[live(SHIFT_RERANK_LIVE), live(SHIFT_EMBED_LIVE)],
        catalog=CATALOG,
        cluster_version=NEW,
    )
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.UPDATE, Action.NOOP]
    assert plan.summary == {"create": 1, "update": 1, "replace": 0, "delete": 0, "no-op": 1}


def test_usage_is_attached_to_destructive_changes() -> None:
    desired = edit(SHIFT_RERANK, "service_settings.model_id", "other")
    plan = build_plan(
        specs=[spec(desired)], live=[live(SHIFT_RERANK_LIVE)], catalog=CATALOG, cluster_version=NEW
    )
    plan = with_usage(plan, {"shift-rerank": Usage(pipelines=("p1",), indices=("docs",))})
    assert plan.changes[0].in_use_by.indices == ("docs",)


def test_secret_values_never_reach_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_KEY", "sk-very-secret-value")
    plan = build_plan(specs=[spec(AZURE_EMBED)], live=[], catalog=CATALOG, cluster_version=NEW)
    assert "sk-very-secret-value" not in repr(plan)
    assert plan.changes[0].after["service_settings"]["api_key"] == "(sensitive value)"


@pytest.mark.parametrize(
    ("desired", "current"),
    [
        (AZURE_EMBED, AZURE_EMBED_LIVE),  # no-op
        (edit(AZURE_EMBED, "service_settings.api_version", "2024-06-01"), AZURE_EMBED_LIVE),
        (edit(SHIFT_EMBED, "service_settings.dimensions", 1024), SHIFT_EMBED_LIVE),
        (SHIFT_RERANK, None),  # a create
    ],
)
@pytest.mark.parametrize("dropped", [False, True])
def test_views_worked_out_ahead_plan_as_those_worked_out_then(
    desired: dict[str, Any], current: dict[str, Any] | None, dropped: bool
) -> None:
    # make_plan works out each spec's desired view while the listing is read; the plan must be
    # the one made without it, and one worked out for another cluster version or catalog is
    # not used (a field declared at the last apply and dropped since changes the view)
    wanted = spec(desired)
    fields = declared_fields(wanted)
    ownership = Ownership(
        mine=frozenset({wanted.inference_id}),
        recorded=frozenset({wanted.inference_id}),
        declared={wanted.inference_id: fields | {("service_settings", "similarity")}}
        if dropped
        else {wanted.inference_id: fields},
    )

    def planned(prepared: Prepared | None, version: str = NEW) -> Plan:
        return build_plan(
            specs=[wanted],
            live=[live(current)] if current else [],
            catalog=CATALOG,
            cluster_version=version,
            ownership=ownership,
            prepared=prepared,
        )

    alone = planned(None)
    assert planned(prepare([wanted], CATALOG, NEW)) == alone
    assert planned(prepare([wanted], CATALOG, OLD), OLD) == planned(None, OLD)
    # a view planted ahead shows where one is used, and where not
    planted = {wanted.inference_id: (wanted, fields, {"service_settings": {"planted": 1}})}
    used = planned(Prepared(catalog=CATALOG, version=parse_version(NEW), views=planted))
    assert (used == alone) is (dropped and current is not None)  # dropped: worked out then
    for ignored in (
        Prepared(catalog=CATALOG, version=parse_version(OLD), views=planted),
        Prepared(catalog=load_catalog.__wrapped__(), version=parse_version(NEW), views=planted),
        Prepared(  # made for another object with the same id
            catalog=CATALOG,
            version=parse_version(NEW),
            views={wanted.inference_id: (spec(desired), *planted[wanted.inference_id][1:])},
        ),
    ):
        assert planned(ignored) == alone
