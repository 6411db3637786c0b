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
                f"  staging:\n    url: {urls['staging']}\n"
                f"  production:\n    url: {urls['production']}\n"
            ),
            "README.md": "specs\n",
        },
        "the callers and two directories",
    )
    # the branch is made from main, so main has these files when a pull request starts
    day.repo.merge("main") if False else None


def run_day() -> list[tuple[str, float]]:
    with world() as day:
        setup_repository(day)
        runs: list[Run] = []
        pr1: dict[str, Any] = {}

        def first_plan() -> None:
            head = day.push(
                "feature-1",
                {"search/embeddings.yaml": embeddings(), "teams/rerank/rerank.yaml": rerank()},
                "two endpoints",
            )
            pr1["number"] = day.github.open_pull_request(head_sha=head, title="Add two endpoints")
            run = day.plan(pr1["number"])
            runs.append(run)
            check(run, "targets", "success")
            check(run, "plan", "success")
            check(run, "result", "success")
            assert len(run.jobs("plan")) == 4
            assert len(day.comments(pr1["number"], "plan")) == 4
            for directory in ("search", "teams/rerank"):
                for environment in ("staging", "production"):
                    body = day.comment(pr1["number"], "plan", directory, environment)["body"]
                    assert "will be created" in body or "to create" in body, body[:2000]
            names = {a.name for a in day.github.artifacts}
            assert f"reconciler-plan-search.staging-{head}" in names, names

        day.phase("pull request: plan comment per pair", first_plan)
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
