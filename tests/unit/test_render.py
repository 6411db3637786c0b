"""What a user sees in the text, JSON and markdown renderings of a Plan."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.plan import Action, Change, Plan, Reason, Usage
from reconciler.render import FORMATS, render, wording
from reconciler.render.color import use_color
from reconciler.render.fields import Kind, field_diffs, flatten
from reconciler.render.json import to_document
from reconciler.render.markdown import GITHUB_LIMIT, MARKER
from reconciler.secrets import SENSITIVE, SENSITIVE_CHANGED

SECRET_VALUE = "sk-live-DO-NOT-LEAK-4f9a2c7e1b"
ANSI = "\x1b["


def change(action: Action, inference_id: str = "ep", **fields: Any) -> Change:
    defaults: dict[str, Any] = {"task_type": "text_embedding", "service": "openai"}
    if action is Action.CREATE:
        defaults |= {
            "reason": Reason.NOT_IN_CLUSTER,
            "after": {"service_settings": {"model_id": "m", "api_key": SENSITIVE}},
        }
    elif action is Action.UPDATE:
        defaults |= {
            "reason": Reason.IN_PLACE,
            "paths": (("task_settings", "top_n"),),
            "before": {"task_settings": {"top_n": 3}},
            "after": {"task_settings": {"top_n": 5}},
        }
    elif action is Action.REPLACE:
        defaults |= {
            "reason": Reason.NOT_UPDATABLE,
            "paths": (("service_settings", "model_id"),),
            "replace_paths": (("service_settings", "model_id"),),
            "before": {"service_settings": {"model_id": "a"}},
            "after": {"service_settings": {"model_id": "b", "api_key": SENSITIVE}},
        }
    elif action is Action.DELETE:
        defaults |= {
            "reason": Reason.PRUNED,
            "before": {"service_settings": {"model_id": "a"}},
        }
    else:
        defaults |= {
            "before": {"service_settings": {"model_id": "a"}},
            "after": {"service_settings": {"model_id": "a"}},
        }
    return Change(action=action, inference_id=inference_id, **(defaults | fields))


def plan_of(*changes: Change, **fields: Any) -> Plan:
    return Plan(changes=changes, cluster_version="8.18.0", **fields)


ALL_ACTIONS = plan_of(
    change(Action.CREATE, "new-ep"),
    change(Action.UPDATE, "upd-ep", task_type="rerank"),
    change(
        Action.REPLACE,
        "rep-ep",
        task_type="completion",
        in_use_by=Usage(pipelines=("p1",), indices=("idx",)),
    ),
    change(Action.DELETE, "del-ep"),
    change(Action.NOOP, "same-ep"),
    unmanaged=("hand-made-a", "hand-made-b"),
    warnings=("the state index is not readable; prune disabled",),
)


# --- text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "header", "summary"),
    [
        (
            Action.CREATE,
            "  + text_embedding/ep will be created",
            "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete.",
        ),
        (
            Action.UPDATE,
            "  ~ text_embedding/ep will be updated in place",
            "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete.",
        ),
        (
            Action.REPLACE,
            "-/+ text_embedding/ep must be replaced",
            "Plan: 0 to create, 0 to update, 1 to replace, 0 to delete.",
        ),
        (
            Action.DELETE,
            "  - text_embedding/ep will be destroyed",
            "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete.",
        ),
    ],
)
def test_text_header_and_summary_per_action(action: Action, header: str, summary: str) -> None:
    text = render(plan_of(change(action)), "text")
    assert header in text.splitlines()
    assert text.splitlines()[-1] == summary
    assert (
        f"reason: {wording.reason(change(action), plan_of(change(action)).cluster_version)}" in text
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {
                "before": {"service_settings": {"model_id": "a"}},
                "after": {"service_settings": {"model_id": "b"}},
            },
            '~ service_settings.model_id: "a" -> "b"',
        ),
        ({"before": {}, "after": {"task_settings": {"top_n": 5}}}, "+ task_settings.top_n: 5"),
        ({"before": {"task_settings": {"user": "u"}}, "after": {}}, '- task_settings.user: "u"'),
        (
            {
                "secret_paths": (("service_settings", "api_key"),),
                "after": {"service_settings": {"api_key": SENSITIVE_CHANGED}},
            },
            "~ service_settings.api_key (sensitive value changed)",
        ),
        (
            {"before": {"service_settings": {"api_key": SENSITIVE}}, "after": {}},
            "- service_settings.api_key: (sensitive value)",
        ),
        (
            {
                "paths": (("task_type",),),
                "live_task_type": "sparse_embedding",
                "before": {},
                "after": {},
            },
            '~ task_type: "sparse_embedding" -> "text_embedding"',
        ),
        ({"paths": (("service",),), "before": {}, "after": {}}, "~ service (changed)"),
    ],
)
def test_text_field_lines(fields: dict[str, Any], expected: str) -> None:
    text = render(plan_of(change(Action.UPDATE, **fields)), "text")
    assert any(line.strip() == expected for line in text.splitlines()), text


def test_text_create_shows_the_body_as_a_tree_with_masks() -> None:
    text = render(plan_of(change(Action.CREATE)), "text")
    assert (
        '      service_settings:\n        model_id: "m"\n        api_key: (sensitive value)' in text
    )


def test_text_all_actions_in_order_with_unmanaged_warnings_and_in_use() -> None:
    text = render(ALL_ACTIONS, "text")
    positions = [
        text.index(address)
        for address in (
            "text_embedding/new-ep",
            "rerank/upd-ep",
            "completion/rep-ep",
            "text_embedding/del-ep",
        )
    ]
    assert positions == sorted(positions)
    assert "same-ep" not in text
    assert "1 unchanged endpoint not shown (--verbose lists them)." in text
    assert "! in use by pipelines: [p1]; indices: [idx]" in text
    assert (
        "Unmanaged endpoints (not in the desired state; left alone): hand-made-a, hand-made-b"
        in text
    )
    assert "Warning: the state index is not readable; prune disabled" in text
    assert text.endswith("Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.")


def test_text_notes_are_comment_lines() -> None:
    text = render(plan_of(change(Action.UPDATE, notes=("api_key: secret not tracked",))), "text")
    assert "# note: api_key: secret not tracked" in text


def test_text_no_op_only_plan_is_one_line_that_counts() -> None:
    text = render(plan_of(change(Action.NOOP, "a"), change(Action.NOOP, "b")), "text")
    assert text == "No changes. The cluster matches the desired state (2 endpoints up to date)."
    assert render(plan_of(), "text") == "No changes. The cluster matches the desired state."


NOOPS = tuple(change(Action.NOOP, f"same-{n:03d}") for n in range(200))


@pytest.mark.parametrize(
    ("plan", "lines"),
    [
        (plan_of(*NOOPS), 1),
        (plan_of(change(Action.UPDATE, "upd"), *NOOPS[1:]), 9),
        (plan_of(change(Action.UPDATE, "upd"), *NOOPS[1:], unmanaged=("hand",)), 11),
    ],
)
@pytest.mark.parametrize("drift", [False, True])
def test_text_length_grows_with_changes_not_with_endpoints(
    plan: Plan, lines: int, drift: bool
) -> None:
    text = render(plan, "text", drift=drift)
    assert len(text.splitlines()) == lines, text
    assert "same-" not in text


@pytest.mark.parametrize("drift", [False, True])
def test_text_verbose_lists_every_unchanged_endpoint_on_one_line_each(drift: bool) -> None:
    plan = plan_of(change(Action.UPDATE, "upd"), *NOOPS[:3])
    text = render(plan, "text", drift=drift, verbose=True)
    listed = [line for line in text.splitlines() if "same-" in line]
    outcome = "matches the desired state" if drift else "is up to date"
    assert listed == [f"    text_embedding/same-00{n} {outcome}" for n in range(3)]
    assert "not shown" not in text


def test_text_unmanaged_ids_stay_on_one_line_and_are_counted_past_ten() -> None:
    names = tuple(f"hand-{n:02d}" for n in range(25))
    text = render(plan_of(unmanaged=names), "text")
    line = next(line for line in text.splitlines() if line.startswith("Unmanaged"))
    assert line.endswith("hand-08, hand-09 and 15 more") and "hand-10" not in text
    assert "hand-24" in render(plan_of(unmanaged=names), "text", verbose=True)


@pytest.mark.parametrize(
    ("action", "plan_words", "drift_words"),
    [
        (Action.CREATE, "will be created", "is missing from the cluster; apply creates it"),
        (Action.UPDATE, "will be updated in place", "has drifted; apply updates it in place"),
        (Action.REPLACE, "must be replaced", "has drifted; apply must replace it"),
        (Action.DELETE, "will be destroyed", "is no longer declared; apply deletes it (--prune)"),
    ],
)
def test_drift_speaks_of_drift_and_plan_of_what_apply_will_do(
    action: Action, plan_words: str, drift_words: str
) -> None:
    plan = plan_of(change(action))
    for fmt in ("text", "markdown"):
        as_plan, as_drift = render(plan, fmt), render(plan, fmt, drift=True)
        assert plan_words in as_plan and drift_words not in as_plan
        assert drift_words in as_drift and plan_words not in as_drift
    closing = render(plan, "text", drift=True).splitlines()[-1]
    assert closing.startswith("Drift to correct: ") and "Plan:" not in closing


@pytest.mark.parametrize(
    ("plan", "headline", "absent"),
    [
        (ALL_ACTIONS, "Drift detected: 4 endpoint(s) differ from the desired state.", "No drift"),
        (
            plan_of(change(Action.NOOP)),
            "No drift: the cluster matches the desired state (1 endpoint up to date).",
            "Drift detected",
        ),
        (plan_of(), "No drift: the cluster matches the desired state.", "Drift detected"),
    ],
)
def test_text_drift_wording(plan: Plan, headline: str, absent: str) -> None:
    text = render(plan, "text", drift=True)
    assert headline in text and absent not in text
    assert "No changes." not in text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("color", [False, True])
def test_colour_codes_only_in_text_with_color(fmt: str, color: bool) -> None:
    output = render(ALL_ACTIONS, fmt, color=color)
    assert (ANSI in output) is (color and fmt == "text")


def test_coloured_symbols() -> None:
    text = render(ALL_ACTIONS, "text", color=True)
    for code, symbol in (("32", "  +"), ("33", "  ~"), ("35", "-/+"), ("31", "  -")):
        assert f"\x1b[{code}m\x1b[1m{symbol}\x1b[0m" in text


# --- secrets ---------------------------------------------------------------------------------

SECRET_PLAN = plan_of(
    change(Action.CREATE, "c"),
    change(
        Action.UPDATE,
        "u",
        secret_paths=(("service_settings", "api_key"),),
        after={"service_settings": {"api_key": SENSITIVE_CHANGED}, "task_settings": {"top_n": 5}},
    ),
    change(
        Action.REPLACE, "r", before={"service_settings": {"api_key": SENSITIVE, "model_id": "a"}}
    ),
)


@pytest.mark.parametrize("fmt", FORMATS)
def test_masks_appear_and_no_secret_value_ever(fmt: str) -> None:
    output = render(SECRET_PLAN, fmt)
    assert SENSITIVE in output
    assert SENSITIVE_CHANGED in output
    assert SECRET_VALUE not in output
    assert "sk-" not in output


def test_unchanged_secret_against_a_live_side_is_not_a_change() -> None:
    # Elasticsearch never returns secrets: a mask only in ``after`` must not read as "added".
    diffs = field_diffs(change(Action.REPLACE))
    assert [(d.kind, d.path) for d in diffs] == [(Kind.CHANGE, "service_settings.model_id")]


def test_flatten_dotted_paths_lists_are_leaves_and_empty_blocks_absent() -> None:
    body = {"service_settings": {"a": {"b": 1}, "l": [1, 2]}, "task_settings": {}}
    assert flatten(body) == {"service_settings.a.b": 1, "service_settings.l": [1, 2]}


# --- json ------------------------------------------------------------------------------------


def test_json_round_trip_keys_and_summary() -> None:
    document = json.loads(render(ALL_ACTIONS, "json"))
    assert document == to_document(ALL_ACTIONS)
    assert document["format_version"] == "1"
    assert document["summary"] == {"create": 1, "update": 1, "replace": 1, "delete": 1, "no-op": 1}
    assert len(document["changes"]) == 5
    required = {
        "action",
        "inference_id",
        "task_type",
        "service",
        "paths",
        "reason",
        "before",
        "after",
        "in_use_by",
    }
    for entry in document["changes"]:
        assert required <= set(entry)
        assert set(entry["in_use_by"]) == {"pipelines", "indices"}
    assert [c["action"] for c in document["changes"]] == [
        "create",
        "update",
        "replace",
        "delete",
        "no-op",
    ]
    assert document["unmanaged"] == ["hand-made-a", "hand-made-b"]
    assert document["cluster_version"] == "8.18.0"


@pytest.mark.parametrize(
    ("action", "before_null", "after_null"),
    [
        (Action.CREATE, True, False),
        (Action.DELETE, False, True),
        (Action.UPDATE, False, False),
    ],
)
def test_json_before_after_null_when_absent(
    action: Action, before_null: bool, after_null: bool
) -> None:
    entry = json.loads(render(plan_of(change(action)), "json"))["changes"][0]
    assert (entry["before"] is None) is before_null
    assert (entry["after"] is None) is after_null


def test_json_in_use_and_paths() -> None:
    entry = to_document(ALL_ACTIONS)["changes"][2]
    assert entry["in_use_by"] == {"pipelines": ["p1"], "indices": ["idx"]}
    assert entry["paths"] == ["service_settings.model_id"]


# --- markdown --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "destructive"),
    [
        (ALL_ACTIONS, True),
        (plan_of(change(Action.DELETE)), True),
        (plan_of(change(Action.REPLACE)), True),
        (plan_of(change(Action.CREATE), change(Action.UPDATE, "u")), False),
        (plan_of(change(Action.NOOP)), False),
    ],
)
def test_markdown_marker_and_banner_iff_destructive(plan: Plan, destructive: bool) -> None:
    markdown = render(plan, "markdown")
    assert markdown.splitlines()[0] == MARKER
    assert ("> [!WARNING]" in markdown) is destructive


def test_markdown_sections() -> None:
    markdown = render(ALL_ACTIONS, "markdown")
    assert "**Plan: 1 to create, 1 to update, 1 to replace, 1 to delete.**" in markdown
    assert "| `-/+` replace | 1 |" in markdown
    assert (
        "> - **replace** `completion/rep-ep`: in use by pipelines: [p1]; indices: [idx]" in markdown
    )
    assert "<details><summary>" in markdown and "```diff" in markdown
    assert '- service_settings.model_id: "a"\n+ service_settings.model_id: "b"' in markdown
    assert "`hand-made-a`, `hand-made-b`" in markdown
    assert "**Warning:** the state index is not readable" in markdown


def test_markdown_no_changes_and_drift() -> None:
    assert "**No changes. The cluster matches the desired state (1 endpoint up to date).**" in (
        render(plan_of(change(Action.NOOP)), "markdown")
    )
    drift = render(ALL_ACTIONS, "markdown", drift=True)
    assert "Drift detected: 4 endpoint(s) differ from the desired state." in drift


def test_markdown_escapes_pipes_and_backticks_in_table_cells() -> None:
    markdown = render(
        plan_of(
            change(
                Action.REPLACE,
                reason=Reason.NOT_UPDATABLE,
                replace_paths=(("service_settings", "a|b `code`"),),
            )
        ),
        "markdown",
    )
    row = next(line for line in markdown.splitlines() if line.startswith("| `-/+` |"))
    assert "a\\|b \\`code\\`" in row
    assert row.count(" | ") == 3  # four cells, no stray separators


def test_markdown_fence_survives_backticks_in_values() -> None:
    markdown = render(
        plan_of(change(Action.CREATE, after={"task_settings": {"x": "```"}})), "markdown"
    )
    assert "````diff" in markdown


@pytest.mark.parametrize("count", [5_000, 20_000])
def test_markdown_stays_under_github_limit(count: int) -> None:
    changes = [
        change(Action.UPDATE, f"endpoint-{i:05d}", in_use_by=Usage(indices=("idx",)))
        for i in range(count)
    ]
    changes += [
        change(Action.DELETE, f"gone-{i:05d}", in_use_by=Usage(pipelines=("p",) * 50))
        for i in range(count)
    ]
    plan = plan_of(
        *changes,
        unmanaged=tuple(f"manual-{i}" for i in range(count)),
        warnings=tuple(f"warning {i}" for i in range(count)),
    )
    markdown = render(plan, "markdown")
    assert len(markdown) < GITHUB_LIMIT
    assert markdown.splitlines()[0] == MARKER
    assert "> [!WARNING]" in markdown and "more (see the table and the full plan)" in markdown
    assert f"Plan: 0 to create, {count} to update, 0 to replace, {count} to delete." in markdown
    assert "changes are not shown" in markdown and "JSON plan artifact" in markdown


def test_markdown_small_plan_is_not_truncated() -> None:
    assert "not shown" not in render(ALL_ACTIONS, "markdown")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown plan format"):
        render(ALL_ACTIONS, "yaml")


def test_markdown_counts_unchanged_endpoints_and_lists_them_only_when_verbose() -> None:
    plan = plan_of(change(Action.UPDATE, "upd"), *NOOPS)
    short, verbose = render(plan, "markdown"), render(plan, "markdown", verbose=True)
    assert "|  no-op | 200 |" in short and "same-" not in short
    assert "<details><summary>200 unchanged endpoint(s)</summary>" in verbose
    assert "- `text_embedding/same-199`" in verbose
    assert len(verbose) < GITHUB_LIMIT


def test_json_keeps_one_entry_per_endpoint_whatever_the_text_shows() -> None:
    document = json.loads(render(plan_of(change(Action.UPDATE, "upd"), *NOOPS), "json"))
    assert len(document["changes"]) == 201
    assert document["summary"]["no-op"] == 200


@pytest.mark.parametrize(
    ("choice", "isatty", "environ", "expected"),
    [
        (None, True, {}, True),
        (None, False, {}, False),
        (None, True, {"NO_COLOR": "1"}, False),
        (None, True, {"NO_COLOR": ""}, True),  # no-color.org: only a non-empty value counts
        (None, True, {"TERM": "dumb"}, False),
        (False, True, {}, False),
        (True, False, {"NO_COLOR": "1"}, True),  # an explicit flag beats the environment
    ],
)
def test_one_rule_decides_colour(
    choice: bool | None, isatty: bool, environ: dict[str, str], expected: bool
) -> None:
    assert use_color(choice, isatty=isatty, environ=environ) is expected


def test_notes_of_unchanged_endpoints_are_shown_once_per_note_not_per_endpoint() -> None:
    note = "service_settings.api_key: secret not tracked"
    plan = plan_of(*(change(Action.NOOP, f"same-{n:03d}", notes=(note,)) for n in range(200)))
    text = render(plan, "text")
    assert text.splitlines()[0] == (
        f"# note: {note} (text_embedding/same-000, text_embedding/same-001, "
        "text_embedding/same-002 and 197 more)"
    )
    assert len(text.splitlines()) == 3
    verbose = render(plan, "text", verbose=True)
    assert verbose.count(f"# note: {note}") == 200
