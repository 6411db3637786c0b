"""The workflow harness itself, fast: expressions as GitHub evaluates them, the stub GitHub API,
and the GitHub side of the workflows (``python -m reconciler.github``) against it.

The whole day (every workflow through a simulated day, a few minutes) is
``python -m tests.gha.day``, run by ``.ci/run``; set RECONCILER_WORKFLOW_DAY=1 to run it here.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.github.api import GitHub
from tests.gha.expressions import ExpressionError, condition, evaluate, interpolate
from tests.gha.github_stub import GitHubStub

OK = {"always": True, "success": True, "failure": False, "cancelled": False}
FAILED = {**OK, "success": False, "failure": True}


def test_expressions_follow_github_s_rules() -> None:
    context = {
        "inputs": {"runs-on": '["self-hosted", "linux"]', "label": "", "flag": True},
        "matrix": {"label": "staging"},
        "needs": {"targets": {"outputs": {"count": "0"}}},
    }
    runs_on = "startsWith(inputs.runs-on, '[') && fromJSON(inputs.runs-on) || inputs.runs-on"
    assert evaluate(runs_on, context) == ["self-hosted", "linux"]
    plain = {**context, "inputs": {**context["inputs"], "runs-on": "ubuntu-latest"}}
    assert evaluate(runs_on, plain) == "ubuntu-latest"  # fromJSON is not evaluated at all
    assert evaluate("format('{0}-approval', matrix.label)", context) == "staging-approval"
    assert evaluate("inputs.label || 'default'", context) == "default"
    assert evaluate("'STAGING' == matrix.label", context) is True  # strings ignore case
    assert evaluate("needs.targets.outputs.count != '0'", context) is False
    assert evaluate("needs.missing.outputs.count", context) is None
    assert interpolate("${{ inputs.flag && 'true' || '' }}", context) == "true"
    assert interpolate("a-${{ matrix.label }}-b", context) == "a-staging-b"
    assert condition("needs.targets.outputs.count == '0'", context, OK) is True
    assert condition("needs.targets.outputs.count == '0'", context, FAILED) is False
    assert condition("always() && inputs.flag", context, FAILED) is True
    with pytest.raises(ExpressionError):
        evaluate("hashFiles('x')", context)


def _zip(**files: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_comments_artifacts_and_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with GitHubStub(repository="acme/specs", token="tok-1") as stub:
        github = GitHub(api_url=stub.url, repository="acme/specs", token="tok-1")
        number = stub.state.open_pull_request(head_sha="a" * 40, title="t")
        plan = '{"format_version": "1"}'
        artifact = stub.state.store_artifact(
            run_id=1, name="reconciler-plan-x.staging-" + "a" * 40, data=_zip(**{"plan.json": plan}), overwrite=False
        )  # fmt: skip
        with pytest.raises(FileExistsError, match="409"):
            stub.state.store_artifact(
                run_id=1, name="reconciler-plan-x.staging-" + "a" * 40, data=b"", overwrite=False
            )
        # the zip is behind a redirect to storage that refuses the token: it must not follow
        data = github.download(f"/actions/artifacts/{artifact}/zip")
        assert zipfile.ZipFile(io.BytesIO(data)).read("plan.json").decode() == plan
        from reconciler.github.__main__ import upsert_comment

        for body in ("first", "second"):
            upsert_comment(
                github,
                number,
                "<!-- reconciler-plan x -->\n",
                f"<!-- reconciler-plan x -->\n{body}",
            )
        (comment,) = stub.state.comments_on(number)
        assert comment["body"].endswith("second") and comment["edits"] == 1
        wrong = GitHub(api_url=stub.url, repository="acme/specs", token="nope")
        with pytest.raises(ReconcilerError, match="HTTP 401") as raised:
            wrong.call("GET", f"/issues/{number}/comments")
        assert "nope" not in str(raised.value) and "nope" not in repr(wrong)
        output = tmp_path / "out"
        output.write_text("")
        monkeypatch.setenv("GITHUB_OUTPUT", str(output))
        monkeypatch.setenv("ARTIFACT_ID", str(artifact))
        monkeypatch.setenv("DEST", str(tmp_path / "plan"))
        monkeypatch.setenv("DIGEST", "0" * 64)
        from reconciler.github.__main__ import fetch_plan

        with pytest.raises(ReconcilerError, match="not the approved"):
            fetch_plan(github)


@pytest.mark.skipif(
    os.environ.get("RECONCILER_WORKFLOW_DAY") != "1",
    reason="the whole day takes minutes: python -m tests.gha.day (run by .ci/run)",
)
def test_the_day() -> None:
    from tests.gha.day import run_day

    phases = run_day()
    assert len(phases) == 8, json.dumps(phases)
