"""A day of GitOps with the example callers and the reusable workflows, run locally.

Two sandbox clusters (staging and production, each with a write key and a read-only key), a
stub GitHub API, and a repository of specs with two directories (``search/`` and
``teams/rerank/``), each planned against both environments. The callers are the files of
``examples/github/`` as a user copies them; the harness runs their reusable workflows' steps.
Each phase asserts what a user would see on the pull request, in the clusters, on the issues.

    python -m tests.gha.day      # prints each phase and how long it took
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from reconciler.sandbox.server import SandboxServer
from tests.gha.github_stub import GitHubStub
from tests.gha.runner import ROOT, Harness, Repository, Run

EXAMPLES = ROOT / "examples" / "github"
REPOSITORY = "acme/search-platform"
TOKEN = "ghs_day_token_0123456789"
PROVIDER_KEY = "osk-day-provider-key-4711"
KEYS = {
    "staging": {"write": "stg-write-key-A1", "read": "stg-read-key-B2"},
    "production": {"write": "prd-write-key-C3", "read": "prd-read-key-D4"},
}
SECRET_VALUES = (TOKEN, PROVIDER_KEY, *(k for pair in KEYS.values() for k in pair.values()))


def embeddings(model: str = "gritlm-7b") -> str:
    return (
        "inference_id: search-embeddings\ntask_type: text_embedding\nservice: openshift_ai\n"
        "service_settings:\n  url: https://gritlm.example/v1/embeddings\n"
        f"  model_id: {model}\n  api_key: ${{env:OPENSHIFT_AI_API_KEY}}\n"
    )


def rerank(top_n: int = 10) -> str:
    return (
        "inference_id: team-rerank\ntask_type: rerank\nservice: openshift_ai\n"
        "service_settings:\n  url: https://bge.example/v1/rerank\n  model_id: bge-reranker-v2-m3\n"
        f"  api_key: ${{env:OPENSHIFT_AI_API_KEY}}\ntask_settings:\n  top_n: {top_n}\n"
    )


def caller(name: str, **replace: str) -> str:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, f"{name}: no {old!r} to replace"
        text = text.replace(old, new)
    return text


class Day:
    """The clusters, the repository, GitHub, and the actions a day is made of."""

    def __init__(self, work: Path, harness: Harness, clusters: dict[str, SandboxServer]) -> None:
        self.work = work
        self.harness = harness
        self.clusters = clusters
        self.github = harness.stub.state
        self.repo = harness.repository
        self.timings: list[tuple[str, float]] = []

    # -- what people do -----------------------------------------------------------------------

    def push(self, branch: str, files: dict[str, str | None], message: str) -> str:
        return self.repo.commit(branch, files, message)

    def plan(self, number: int, *, fork: bool = False) -> Run:
        pull = self.github.issues[number]
        merge_ref = self.repo.merge_ref(pull["head"]["sha"])
        event = {
            "number": number,
            "pull_request": {
                "number": number,
                "head": {"sha": pull["head"]["sha"], "repo": pull["head"]["repo"]},
                "base": {"sha": self.repo.head()},
            },
            "repository": {"default_branch": "main"},
        }
        return self.harness.run(
            "pr-plan.yml",
            event_name="pull_request",
            event=event,
            sha=merge_ref,
            ref=f"refs/pull/{number}/merge",
        )

    def merge(self, number: int, branch: str) -> Run:
        before, after = self.repo.merge(branch)
        self.github.merge_pull_request(number, after)
        event = {"before": before, "after": after, "repository": {"default_branch": "main"}}
        return self.harness.run("apply-on-merge.yml", event_name="push", event=event, sha=after)

    def dispatch_apply(self, digest: str) -> Run:
        event = {"inputs": {"plan-digest": digest}, "repository": {"default_branch": "main"}}
        return self.harness.run(
            "apply-on-merge.yml",
            event_name="workflow_dispatch",
            event=event,
            sha=self.repo.head(),
            inputs={"plan-digest": digest},
        )

    def drift(self) -> Run:
        event = {"schedule": "17 * * * *", "repository": {"default_branch": "main"}}
        return self.harness.run(
            "drift-hourly.yml", event_name="schedule", event=event, sha=self.repo.head()
        )

    def by_hand(self, environment: str, method: str, path: str, body: Any = None) -> httpx.Response:
        """Someone changes a cluster outside git (with the write key)."""
        key = KEYS[environment]["write"]
        return httpx.request(
            method,
            self.clusters[environment].url + path,
            json=body,
            headers={"Authorization": f"ApiKey {key}"},
        )

    def endpoints(self, environment: str) -> dict[str, Any]:
        listing = self.by_hand(environment, "GET", "/_inference/_all").json()["endpoints"]
        return {e["inference_id"]: e for e in listing if not e["inference_id"].startswith(".")}

    # -- what people see ----------------------------------------------------------------------

    def comments(self, number: int, kind: str) -> list[dict[str, Any]]:
        return [
            c
            for c in self.github.comments_on(number)
            if c["body"].startswith(f"<!-- reconciler-{kind} ")
        ]

    def comment(self, number: int, kind: str, directory: str, environment: str) -> dict[str, Any]:
        head = f'<!-- reconciler-{kind} directory="{directory}" environment="{environment}"'
        found = [c for c in self.github.comments_on(number) if c["body"].startswith(head)]
        assert len(found) == 1, (
            f"#{number}: {len(found)} {kind} comments for {directory} ({environment})"
        )
        return found[0]

    def phase(self, name: str, action: Callable[[], None]) -> None:
        started = time.perf_counter()
        action()
        self.timings.append((name, time.perf_counter() - started))


def check(run: Run, job: str, result: str) -> None:
    legs = run.jobs(job)
    assert legs, f"no job {job}:\n{run.log[-6000:]}"
    wrong = [leg for leg in legs if leg.result != result]
    assert not wrong, (
        f"{job}: {[(w.matrix.get('name'), w.result) for w in wrong]} (expected {result}):\n{wrong[0].log[-8000:]}"
    )


def no_secret_anywhere(day: Day, runs: list[Run]) -> None:
    texts = [c["body"] for c in day.github.comments.values()]
    texts += [str(i.get("body", "")) for i in day.github.issues.values()]
    texts += [leg.summary for run in runs for leg in run.legs]
    for text in texts:
        for value in SECRET_VALUES:
            assert value not in text, "a secret value reached a comment, an issue or a job summary"


@contextmanager
def world() -> Iterator[Day]:
    with tempfile.TemporaryDirectory(prefix="reconciler-day-") as temp:
        work = Path(temp)
        clusters = {
            name: SandboxServer(api_key=keys["write"], read_only_api_key=keys["read"]).start()
            for name, keys in KEYS.items()
        }
        try:
            with GitHubStub(repository=REPOSITORY, token=TOKEN) as stub:
                harness = Harness(work=work, repository=Repository(work / "repo"), stub=stub)
                harness.vars.update(
                    {f"{n.upper()}_ELASTICSEARCH_URL": c.url for n, c in clusters.items()}
                )
                harness.secrets.update(
                    {f"{n.upper()}_PLAN_API_KEY": k["read"] for n, k in KEYS.items()}
                    | {"OPENSHIFT_AI_API_KEY": PROVIDER_KEY}
                )
                for name, keys in KEYS.items():  # the write key lives in the GitHub environment
                    harness.environments[name] = {
                        "secrets": {"ELASTIC_API_KEY": keys["write"]},
                        "reviewers": False,
                    }
                yield Day(work, harness, clusters)
        finally:
            for cluster in clusters.values():
                cluster.stop()


def setup_repository(day: Day) -> None:
    urls = {n: c.url for n, c in day.clusters.items()}
    day.repo.commit(
        "main",
        {
            ".github/workflows/pr-plan.yml": caller("pr-plan.yml"),
            ".github/workflows/apply-on-merge.yml": caller("apply-on-merge.yml"),
            ".github/workflows/drift-hourly.yml": caller("drift-hourly.yml"),
            "search/reconciler.yaml": "environments:\n  staging: {}\n  production: {}\n",
            "teams/rerank/reconciler.yaml": (
                "environments:\n"
                f"  staging:\n    url: {urls['staging']}\n    api_key_env: ELASTIC_API_KEY\n"
                f"  production:\n    url: {urls['production']}\n    api_key_env: ELASTIC_API_KEY\n"
            ),
            "README.md": "specs\n",
        },
        "the callers and two directories",
    )


PAIRS = [(d, e) for d in ("search", "teams/rerank") for e in ("staging", "production")]


def installs(day: Day) -> int:
    return len(day.harness.pip_log.read_text().splitlines()) if day.harness.pip_log.exists() else 0


def run_day() -> list[tuple[str, float]]:
    with world() as day:
        setup_repository(day)
        runs: list[Run] = []
        state: dict[str, Any] = {}

        def first_plan() -> None:
            head = day.push(
                "feature-1",
                {"search/embeddings.yaml": embeddings(), "teams/rerank/rerank.yaml": rerank()},
                "two endpoints",
            )
            number = state["pr1"] = day.github.open_pull_request(
                head_sha=head, title="Add two endpoints"
            )
            before = installs(day)
            run = day.plan(number)
            runs.append(run)
            check(run, "plan", "success")
            check(run, "result", "success")
            assert sorted(leg.matrix["name"] for leg in run.jobs("plan")) == sorted(
                f"{d} ({e})" for d, e in PAIRS
            )
            assert installs(day) - before == 5, "one install for targets, one per pair"
            assert len(day.comments(number, "plan")) == 4
            for directory, environment in PAIRS:
                body = day.comment(number, "plan", directory, environment)["body"]
                assert f"`{directory}` in `{environment}`" in body and "will be created" in body
                slug = f"{directory.replace('/', '-')}.{environment}"
                assert any(a.name == f"reconciler-plan-{slug}-{head}" for a in day.github.artifacts)

        def second_push() -> None:
            number = state["pr1"]
            head = day.push("feature-1", {"teams/rerank/rerank.yaml": rerank(top_n=5)}, "top_n 5")
            day.github.push_pull_request(number, head)
            run = day.plan(number)
            runs.append(run)
            check(run, "result", "success")
            comments = day.comments(number, "plan")
            assert len(comments) == 4 and all(c["edits"] == 1 for c in comments), "edited in place"
            body = day.comment(number, "plan", "teams/rerank", "production")["body"]
            assert "top_n: 5" in body and head[:12] in body
            state["reviewed"] = {
                (d, e): day.comment(number, "plan", d, e)["body"].split("(sha256 `")[1][:64]
                for d, e in PAIRS
            }

        def merge_applies_the_reviewed_plan() -> None:
            number = state["pr1"]
            run = day.merge(number, "feature-1")
            runs.append(run)
            check(run, "find", "success")
            check(run, "apply", "success")
            assert {leg.environment for leg in run.jobs("apply")} == {"staging", "production"}
            for environment in ("staging", "production"):
                live = day.endpoints(environment)
                assert live["team-rerank"]["task_settings"]["top_n"] == 5
                assert "search-embeddings" in live
            for directory, environment in PAIRS:
                body = day.comment(number, "apply", directory, environment)["body"]
                assert ": applied" in body and state["reviewed"][(directory, environment)] in body

        def stale_plan_path() -> None:
            head = day.push("feature-2", {"teams/rerank/rerank.yaml": rerank(top_n=7)}, "top_n 7")
            number = state["pr2"] = day.github.open_pull_request(head_sha=head, title="top_n 7")
            run = day.plan(number)
            runs.append(run)
            check(run, "result", "success")
            assert len(run.jobs("plan")) == 2, "only teams/rerank changed"
            # between review and merge, someone changes the endpoint on staging by hand
            made = day.by_hand(
                "staging",
                "PUT",
                "/_inference/rerank/team-rerank/_update",
                {"task_settings": {"top_n": 6}},
            )
            assert made.status_code == 200, made.text
            run = day.merge(number, "feature-2")
            runs.append(run)
            legs = {leg.matrix["label"]: leg for leg in run.jobs("apply")}
            assert legs["production"].result == "success" and legs["staging"].result == "failure"
            assert day.endpoints("production")["team-rerank"]["task_settings"]["top_n"] == 7
            assert day.endpoints("staging")["team-rerank"]["task_settings"]["top_n"] == 6, (
                "nothing applied"
            )
            body = day.comment(number, "apply", "teams/rerank", "staging")["body"]
            assert "the reviewed plan is stale" in body and "nothing was applied" in body.lower()
            digest = body.split("fresh plan was made from the merged specs (sha256 `")[1][:64]
            assert f"plan-digest: {digest}" in body and "top_n" in body
            wrong = day.dispatch_apply("0" * 64)
            runs.append(wrong)
            check(wrong, "find-fresh", "failure")
            assert day.endpoints("staging")["team-rerank"]["task_settings"]["top_n"] == 6
            approved = day.dispatch_apply(digest)
            runs.append(approved)
            check(approved, "apply-fresh", "success")
            assert day.endpoints("staging")["team-rerank"]["task_settings"]["top_n"] == 7
            applied = [
                c["body"]
                for c in day.comments(number, "apply")
                if f"Applied the saved plan with sha256 `{digest}`" in c["body"]
            ]
            assert len(applied) == 1 and "`teams/rerank` in `staging`: applied" in applied[0], (
                applied
            )

        def in_use_replace_approved() -> None:
            for environment in ("staging", "production"):
                index = day.by_hand(
                    environment,
                    "PUT",
                    "/articles",
                    {
                        "mappings": {
                            "properties": {
                                "body": {
                                    "type": "semantic_text",
                                    "inference_id": "search-embeddings",
                                }
                            }
                        }
                    },
                )
                assert index.status_code == 200, index.text
            head = day.push(
                "feature-3", {"search/embeddings.yaml": embeddings(model="gritlm-8b")}, "new model"
            )
            number = state["pr3"] = day.github.open_pull_request(head_sha=head, title="new model")
            run = day.plan(number)
            runs.append(run)
            check(run, "result", "success")  # the read-only key may not ask who uses it ...
            body = day.comment(number, "plan", "search", "production")["body"]
            assert "not known whether pipelines or indices use search-embeddings" in body, body
            run = day.merge(number, "feature-3")  # ... apply asks, with the write key, and refuses
            runs.append(run)
            check(run, "apply", "failure")
            body = day.comment(number, "apply", "search", "production")["body"]
            assert "refused by a safety rule" in body and "articles" in body, body
            assert (
                day.endpoints("production")["search-embeddings"]["service_settings"]["model_id"]
                == "gritlm-7b"
            )
            head = day.push(
                "feature-4",
                {
                    ".github/workflows/pr-plan.yml": caller(
                        "pr-plan.yml",
                        **{"allow-destroy-in-use: false": "allow-destroy-in-use: true"},
                    ),
                    ".github/workflows/apply-on-merge.yml": caller(
                        "apply-on-merge.yml",
                        **{"allow-destroy-in-use: false": "allow-destroy-in-use: true"},
                    ),
                },
                "approve the in-use replace",
            )
            number = day.github.open_pull_request(head_sha=head, title="allow the in-use replace")
            run = day.plan(number)
            runs.append(run)
            check(run, "result", "success")
            assert len(run.jobs("plan")) == 4, "a change of the workflows plans every pair"
            assert "must be replaced" in day.comment(number, "plan", "search", "staging")["body"]
            run = day.merge(number, "feature-4")
            runs.append(run)
            check(run, "apply", "success")
            for environment in ("staging", "production"):
                live = day.endpoints(environment)["search-embeddings"]
                assert live["service_settings"]["model_id"] == "gritlm-8b"

        def drift_issue() -> None:
            changed = day.by_hand(
                "production",
                "PUT",
                "/_inference/rerank/team-rerank/_update",
                {"task_settings": {"top_n": 3}},
            )
            assert changed.status_code == 200, changed.text
            run = day.drift()
            runs.append(run)
            check(run, "drift", "success")
            issues = [i for i in day.github.issues.values() if "pull_request" not in i]
            assert len(issues) == 1 and issues[0]["state"] == "open", issues
            issue = issues[0]
            assert issue["body"].startswith(
                '<!-- reconciler-drift directory="teams/rerank" environment="production"'
            )
            body, comments = issue["body"], len(day.github.comments_on(issue["number"]))
            again = day.drift()
            runs.append(again)
            check(again, "drift", "success")
            assert (
                issue["body"] == body and len(day.github.comments_on(issue["number"])) == comments
            ), "unchanged drift: no comment, no edit"
            restored = day.by_hand(
                "production",
                "PUT",
                "/_inference/rerank/team-rerank/_update",
                {"task_settings": {"top_n": 7}},
            )
            assert restored.status_code == 200, restored.text
            fixed = day.drift()
            runs.append(fixed)
            assert (
                issue["state"] == "closed"
                and len(day.github.comments_on(issue["number"])) == comments + 1
            )

        def fork_and_foreign_url() -> None:
            head = day.push(
                "fork-branch",
                {"search/other.yaml": rerank().replace("team-rerank", "fork-rerank")},
                "fork",
            )
            number = day.github.open_pull_request(head_sha=head, title="from a fork", fork=True)
            run = day.plan(number)
            runs.append(run)
            check(run, "plan", "skipped")
            check(run, "result", "failure")
            assert "from a fork" in run.jobs("result")[0].log
            foreign = "http://127.0.0.1:9"
            text = day.repo.path.joinpath("teams/rerank/reconciler.yaml").read_text()
            head = day.push(
                "feature-5",
                {
                    "teams/rerank/reconciler.yaml": text.replace(
                        day.clusters["staging"].url, foreign
                    )
                },
                "point staging elsewhere",
            )
            number = day.github.open_pull_request(head_sha=head, title="elsewhere")
            run = day.plan(number)
            runs.append(run)
            legs = {leg.matrix["label"]: leg for leg in run.jobs("plan")}
            assert legs["staging"].result == "failure" and legs["production"].result == "success"
            body = day.comment(number, "plan", "teams/rerank", "staging")["body"]
            assert foreign in body and day.clusters["staging"].url in body, body
            assert "no plan was saved" in body
            assert not any(
                a.name.startswith(f"reconciler-plan-teams-rerank.staging-{head}")
                for a in day.github.artifacts
            )

        def stale_plan_approved_in_an_environment() -> None:
            day.harness.environments["staging-approval"] = {
                "secrets": {"ELASTIC_API_KEY": KEYS["staging"]["write"]},
                "reviewers": True,
            }
            approval = {
                '# approval-environment: "{0}-approval"': 'approval-environment: "{0}-approval"'
            }
            head = day.push(
                "feature-6",
                {".github/workflows/apply-on-merge.yml": caller("apply-on-merge.yml", **approval)},
                "approve fresh plans in an environment",
            )
            number = day.github.open_pull_request(head_sha=head, title="approval environment")
            runs.append(day.plan(number))
            runs.append(day.merge(number, "feature-6"))
            head = day.push("feature-7", {"teams/rerank/rerank.yaml": rerank(top_n=8)}, "top_n 8")
            number = day.github.open_pull_request(head_sha=head, title="top_n 8")
            runs.append(day.plan(number))
            moved = day.by_hand(
                "staging",
                "PUT",
                "/_inference/rerank/team-rerank/_update",
                {"task_settings": {"top_n": 2}},
            )
            assert moved.status_code == 200, moved.text
            day.harness.approved.add("staging-approval")  # a reviewer approves the deployment
            run = day.merge(number, "feature-7")
            runs.append(run)
            bodies = [
                c["body"]
                for c in day.comments(number, "apply")
                if 'environment="staging"' in c["body"]
            ]
            assert any(
                "approve the waiting deployment to the `staging-approval` environment" in b
                for b in bodies
            )
            assert any("Applied the saved plan with sha256" in b for b in bodies), bodies
            check(run, "apply-fresh", "success")
            assert [leg.environment for leg in run.jobs("apply-fresh")] == ["staging-approval"]
            assert day.endpoints("staging")["team-rerank"]["task_settings"]["top_n"] == 8

        for name, action in (
            ("pull request: one plan comment per (directory, environment)", first_plan),
            ("second push: the comments edited in place", second_push),
            ("merge: the reviewed plans applied, outcome posted", merge_applies_the_reviewed_plan),
            ("stale plan: refused, fresh plan posted, applied by digest", stale_plan_path),
            ("in-use replace: refused, then approved and applied", in_use_replace_approved),
            ("drift: issue opened once, left alone, closed when fixed", drift_issue),
            ("fork pull request and a foreign URL in reconciler.yaml", fork_and_foreign_url),
            (
                "stale plan: approved in a protected environment",
                stale_plan_approved_in_an_environment,
            ),
        ):
            day.phase(name, action)
        no_secret_anywhere(day, runs)
        return day.timings


def main() -> int:
    started = time.perf_counter()
    timings = run_day()
    for name, seconds in timings:
        print(f"{seconds:6.1f}s  {name}")
    print(f"{time.perf_counter() - started:6.1f}s  the whole day")
    return 0


if __name__ == "__main__":
    sys.exit(main())
