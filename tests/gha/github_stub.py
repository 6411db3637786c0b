"""A stub of the GitHub REST API on 127.0.0.1: what the reusable workflows call, and no more.

Keeps issues and pull requests (one number space, as GitHub does), their comments, labels,
artifacts (per workflow run; a second upload of the same name in a run is a 409, as
``actions/upload-artifact`` meets it), and which pull request a commit was merged from. Every
request must carry the run's token; an artifact's zip is served behind a redirect to a
"storage" path that refuses any Authorization header, so a client that forwards the token fails.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BOT = {"login": "github-actions[bot]", "type": "Bot"}


@dataclass
class Artifact:
    id: int
    name: str
    run_id: int
    created_at: str
    data: bytes


@dataclass
class GitHubState:
    repository: str
    token: str
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    merged: dict[str, int] = field(default_factory=dict)  # merge commit sha -> pull request
    requests: list[str] = field(default_factory=list)
    numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- what the simulated day does on GitHub's side -----------------------------------------

    def open_pull_request(self, *, head_sha: str, title: str, fork: bool = False) -> int:
        number = next(self.numbers)
        self.issues[number] = {
            "number": number,
            "title": title,
            "state": "open",
            "body": "",
            "labels": [],
            "pull_request": {"url": "..."},
            "head": {
                "sha": head_sha,
                "repo": {"full_name": "someone/fork" if fork else self.repository},
            },
        }
        return number

    def push_pull_request(self, number: int, head_sha: str) -> None:
        self.issues[number]["head"]["sha"] = head_sha

    def merge_pull_request(self, number: int, merge_sha: str) -> None:
        self.issues[number].update(
            state="closed", merged_at="2026-01-01T00:00:00Z", merge_commit_sha=merge_sha
        )
        self.merged[merge_sha] = number

    def store_artifact(self, *, run_id: int, name: str, data: bytes, overwrite: bool) -> int:
        same = [a for a in self.artifacts if a.run_id == run_id and a.name == name]
        if same and not overwrite:
            raise FileExistsError(
                "Failed to CreateArtifact: (409) Conflict: an artifact with this name already exists on the workflow run"
            )
        self.artifacts = [a for a in self.artifacts if a not in same]
        artifact = Artifact(
            next(self.ids), name, run_id, f"2026-01-01T00:00:{next(self.clock):02d}Z", data
        )
        self.artifacts.append(artifact)
        return artifact.id

    def comments_on(self, number: int) -> list[dict[str, Any]]:
        return [c for c in self.comments.values() if c["issue"] == number]

    # -- the REST API -------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        prefix = f"/repos/{self.repository}"
        if not path.startswith(prefix):
            return 404, {"message": "Not Found"}
        route = path[len(prefix) :]
        for pattern, handler in self.routes():
            match = re.fullmatch(pattern, f"{method} {route}")
            if match:
                return handler(query, body, *match.groups())
        return 404, {"message": f"Not Found (the stub has no {method} {route})"}

    def routes(self) -> list[tuple[str, Any]]:
        return [
            (r"GET /issues/(\d+)/comments", self.list_comments),
            (r"POST /issues/(\d+)/comments", self.add_comment),
            (r"PATCH /issues/comments/(\d+)", self.edit_comment),
            (r"GET /issues", self.list_issues),
            (r"POST /issues", self.create_issue),
            (r"PATCH /issues/(\d+)", self.edit_issue),
            (r"GET /labels", lambda q, b: (200, page([{"name": n} for n in self.labels], q))),
            (r"POST /labels", self.create_label),
            (r"GET /commits/([0-9a-f]+)/pulls", self.pulls_of_commit),
            (r"GET /actions/artifacts", self.list_artifacts),
            (r"GET /actions/runs/(\d+)/artifacts", self.run_artifacts),
            (r"GET /actions/artifacts/(\d+)/zip", self.artifact_zip),
        ]

    def list_comments(self, query: dict[str, str], body: Any, number: str) -> tuple[int, Any]:
        if int(number) not in self.issues:
            return 404, {"message": "Not Found"}
        return 200, page(self.comments_on(int(number)), query)

    def add_comment(self, query: dict[str, str], body: Any, number: str) -> tuple[int, Any]:
        if int(number) not in self.issues:
            return 404, {"message": "Not Found"}
        comment_id = next(self.ids)
        self.comments[comment_id] = {
            "id": comment_id,
            "issue": int(number),
            "body": body["body"],
            "user": BOT,
            "edits": 0,
        }
        return 201, self.comments[comment_id]

    def edit_comment(self, query: dict[str, str], body: Any, comment_id: str) -> tuple[int, Any]:
        comment = self.comments[int(comment_id)]
        comment.update(body=body["body"], edits=comment["edits"] + 1)
        return 200, comment

    def list_issues(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        wanted = set(filter(None, query.get("labels", "").split(",")))
        found = [
            i
            for i in self.issues.values()
            if query.get("state", "open") in (i["state"], "all")
            and wanted <= {x["name"] for x in i["labels"]}
        ]
        return 200, page(found, query)

    def create_issue(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        number = next(self.numbers)
        self.issues[number] = {
            "number": number,
            "title": body["title"],
            "body": body.get("body", ""),
            "state": "open",
            "labels": [{"name": n} for n in body.get("labels", [])],
        }
        return 201, self.issues[number]

    def edit_issue(self, query: dict[str, str], body: Any, number: str) -> tuple[int, Any]:
        self.issues[int(number)].update(body)
        return 200, self.issues[int(number)]

    def create_label(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if body["name"] in self.labels:
            return 422, {"message": "Validation Failed"}
        self.labels.append(body["name"])
        return 201, {"name": body["name"]}

    def pulls_of_commit(self, query: dict[str, str], body: Any, sha: str) -> tuple[int, Any]:
        number = self.merged.get(sha)
        return 200, [self.issues[number]] if number else []

    def _artifact_json(self, artifact: Artifact) -> dict[str, Any]:
        return {
            "id": artifact.id,
            "name": artifact.name,
            "expired": False,
            "created_at": artifact.created_at,
            "workflow_run": {"id": artifact.run_id},
            "archive_download_url": f"/actions/artifacts/{artifact.id}/zip",
        }

    def list_artifacts(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        found = [a for a in self.artifacts if not query.get("name") or a.name == query["name"]]
        items = page([self._artifact_json(a) for a in reversed(found)], query)
        return 200, {"total_count": len(found), "artifacts": items}

    def run_artifacts(self, query: dict[str, str], body: Any, run_id: str) -> tuple[int, Any]:
        found = [self._artifact_json(a) for a in self.artifacts if a.run_id == int(run_id)]
        return 200, {"total_count": len(found), "artifacts": page(found, query)}

    def artifact_zip(self, query: dict[str, str], body: Any, artifact_id: str) -> tuple[int, Any]:
        return 302, f"/_storage/{artifact_id}"


def page(items: list[Any], query: dict[str, str]) -> list[Any]:
    size, number = int(query.get("per_page", 30)), int(query.get("page", 1))
    return items[(number - 1) * size : number * size]


class _Handler(BaseHTTPRequestHandler):
    state: GitHubState

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self, method: str) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        with state.lock:
            state.requests.append(f"{method} {url.path}")
            if url.path.startswith("/_storage/"):
                if self.headers.get("Authorization"):
                    return self._send(400, {"message": "storage refuses an Authorization header"})
                artifact = next(
                    a for a in state.artifacts if a.id == int(url.path.rsplit("/", 1)[1])
                )
                return self._send(200, artifact.data, content_type="application/zip")
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                return self._send(401, {"message": "Bad credentials"})
            status, answer = state.answer(method, url.path, query, body)
        if status == 302:
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}{answer}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self._send(status, answer)

    def _send(self, status: int, answer: Any, content_type: str = "application/json") -> None:
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve("PATCH")


class GitHubStub:
    """The stub server on 127.0.0.1 (port 0: a free one); ``url`` is its API root."""

    def __init__(self, *, repository: str, token: str) -> None:
        self.state = GitHubState(repository=repository, token=token)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.state = self.state  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> GitHubStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
