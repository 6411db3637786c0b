"""The few GitHub REST calls the workflows make, and the runner's files they read and write.

Owns ``GitHub`` (a token, an API URL and a repository, from the variables every GitHub
Actions job has: ``GITHUB_TOKEN``, ``GITHUB_API_URL``, ``GITHUB_REPOSITORY``) and the
helpers for a step's outputs and summary. Standard library only: the workflows run it with
the reconciler they installed, and it never talks to a cluster. An artifact download is
redirected to storage on another host: the token is never sent there.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.errors import ReconcilerError

PAGE = 100


class GitHubError(ReconcilerError):
    """The GitHub API answered with an error (status and GitHub's own message)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # followed by hand, without the token


@dataclass(frozen=True, kw_only=True)
class GitHub:
    api_url: str
    repository: str
    token: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> GitHub:
        missing = [n for n in ("GITHUB_TOKEN", "GITHUB_REPOSITORY") if not environ.get(n)]
        if missing:
            raise ReconcilerError(
                f"{' and '.join(missing)} not set (a GitHub Actions job has them)"
            )
        return cls(
            api_url=environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
            repository=environ["GITHUB_REPOSITORY"],
            token=environ["GITHUB_TOKEN"],
        )

    def __repr__(self) -> str:  # never the token
        return f"GitHub(api_url={self.api_url!r}, repository={self.repository!r})"

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """One request to ``/repos/OWNER/NAME{path}``; the decoded JSON answer."""
        status, data, _ = self._send(method, self._url(path, query), body)
        return json.loads(data) if data else None

    def pages(self, path: str, key: str | None = None, **query: Any) -> Iterator[Any]:
        """Every item of a listed resource, page by page (``key``: the list inside the answer)."""
        page = 1
        while True:
            answer = self.call("GET", path, per_page=PAGE, page=page, **query)
            items = answer[key] if key else answer
            yield from items
            if len(items) < PAGE:
                return
            page += 1

    def download(self, path: str) -> bytes:
        """A file behind a redirect (an artifact's zip): the second request carries no token."""
        status, data, location = self._send("GET", self._url(path, {}), None)
        if location:
            with urllib.request.urlopen(location, timeout=120) as answer:  # noqa: S310
                return bytes(answer.read())
        return data

    def _url(self, path: str, query: Mapping[str, Any]) -> str:
        encoded = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return f"{self.api_url}/repos/{self.repository}{path}" + (f"?{encoded}" if encoded else "")

    def _send(self, method: str, url: str, body: Any) -> tuple[int, bytes, str | None]:
        request = urllib.request.Request(
            url,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "Content-Type": "application/json",
                "User-Agent": "reconciler-workflows",
            },
        )
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=60) as answer:
                return answer.status, answer.read(), None
        except urllib.error.HTTPError as error:
            if error.code in (301, 302, 303, 307, 308) and error.headers.get("Location"):
                return error.code, b"", str(error.headers["Location"])
            detail = error.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("message", detail)
            except ValueError:
                pass
            path = urllib.parse.urlsplit(url).path
            raise GitHubError(f"GitHub API {method} {path}: HTTP {error.code}: {detail}") from None
        except urllib.error.URLError as error:
            raise GitHubError(f"GitHub API unreachable at {self.api_url}: {error.reason}") from None


def set_output(name: str, value: str) -> None:
    """A step output (multi-line values with a random delimiter, as GitHub documents)."""
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as output:
        if "\n" in value:
            delimiter = f"EOF_{secrets.token_hex(8)}"
            output.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            output.write(f"{name}={value}\n")


def add_summary(text: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(text.rstrip("\n") + "\n\n")


def event() -> dict[str, Any]:
    """The payload of the event that started the run (``GITHUB_EVENT_PATH``)."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    with open(path, encoding="utf-8") as handle:
        payload = json.load(handle)
    return payload if isinstance(payload, dict) else {}


def scrub(text: str) -> str:
    """Defence in depth: reconciler prints no secret, but a comment is not masked like a log."""
    names = [
        "ELASTIC_API_KEY",
        "ELASTICSEARCH_PASSWORD",
        *os.environ.get("SECRET_NAMES", "").split(),
    ]
    for name in names:
        value = os.environ.get(name, "")
        if len(value) >= 4:
            text = text.replace(value, "[redacted]")
    return text
