"""Apply runs the plan it showed: the requests a run reads and sends, seen on the wire.

The sandbox's request log counts what apply reads; a recording proxy on 127.0.0.1 in front of
the sandbox keeps the bodies, to compare what ``apply --plan`` sends with the saved file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import STATE_WRITES
from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import run_cli, write_requests, write_spec
from tests.sandbox.helpers import plain

KEY = "osk-contract-0123456789"
ENV = {"SHIFT_KEY": KEY}


def rerank(inference_id: str, top_n: int = 3) -> dict[str, Any]:
    return {
        "inference_id": inference_id,
        "task_type": "rerank",
        "service": "openshift_ai",
        "service_settings": {
            "url": "https://rerank.example/v1",
            "model_id": "bge-reranker-v2-m3",
            "api_key": "${env:SHIFT_KEY}",
        },
        "task_settings": {"top_n": top_n},
    }


class Recorder:
    """A proxy that forwards every request to ``upstream`` and keeps it as it came in."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.seen: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.seen.append({"method": self.command, "target": self.path, "body": body})
                answer = plain.request(
                    self.command,
                    recorder.upstream + self.path,
                    content=body,
                    headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
                    timeout=30,
                )
                self.send_response(answer.status_code)
                for name in ("Content-Type", "X-elastic-product"):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def cluster() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as server:
        yield server


def cli(url: str, *args: str) -> Any:
    return run_cli(*args, "--url", url, env=ENV)


def test_apply_plan_sends_exactly_the_saved_requests(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    specs = tmp_path / "endpoints"
    write_spec(specs, rerank("kept"))
    write_spec(specs, rerank("tuned"))
    with Recorder(cluster.url) as recorder:  # the plan is applied where it was made
        assert cli(recorder.url, "apply", str(specs), "--auto-approve").code == 0
        write_spec(specs, rerank("tuned", top_n=9))
        write_spec(specs, rerank("added"))
        saved = tmp_path / "plan.json"
        assert cli(recorder.url, "plan", str(specs), "--out", str(saved)).code == 0
        planned = [
            request
            for change in json.loads(saved.read_text())["saved"]["plan"]["changes"]
            for request in change["requests"]
        ]
        assert {r["path"] for r in planned} == {
            "/_inference/rerank/added",
            "/_inference/rerank/tuned/_update",
        }
        recorder.seen.clear()
        result = cli(recorder.url, "apply", "--plan", str(saved), "--auto-approve")
        assert result.code == 0, result.output
    sent = [r for r in recorder.seen if r["target"].startswith("/_inference/rerank/")]
    assert len(sent) == len(planned)
    for request in planned:
        (match,) = [r for r in sent if r["target"].split("?")[0] == request["path"]]
        assert match["method"] == request["method"]
        expected = json.loads(json.dumps(request["body"]))
        for ref in request["secrets"]:  # the reference, resolved: nothing else differs
            node = expected
            for part in ref["path"][:-1]:
                node = node[part]
            assert node[ref["path"][-1]] == "${env:SHIFT_KEY}"
            node[ref["path"][-1]] = KEY
        # byte for byte: the saved body (key order kept) in the client's compact encoding
        wire = json.dumps(expected, separators=(",", ":"), ensure_ascii=False).encode()
        assert match["body"] == wire
    assert KEY not in saved.read_text()


@pytest.mark.parametrize(
    "flags",
    [
        ("--prune",),
        ("--target", "kept"),
        ("--replace", "kept"),
        ("--adopt", "kept"),
        ("--send-secrets", "kept"),
        ("DIR",),
    ],
    ids=["prune", "target", "replace", "adopt", "send-secrets", "directory"],
)
def test_planning_flags_next_to_a_saved_plan_are_refused(
    cluster: SandboxServer, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    specs = tmp_path / "endpoints"
    write_spec(specs, rerank("kept"))
    saved = tmp_path / "plan.json"
    assert cli(cluster.url, "plan", str(specs), "--out", str(saved)).code == 0
    cluster.clear_requests()
    args = tuple(str(specs) if flag == "DIR" else flag for flag in flags)
    result = cli(cluster.url, "apply", "--plan", str(saved), "--auto-approve", *args)
    assert result.code == 1, result.output
    shown = "DIRECTORY" if flags == ("DIR",) else flags[0]
    assert f"Error: {shown}" in result.stderr and "cannot be given with --plan" in result.stderr
    assert "Traceback" not in result.output
    assert cluster.requests == []  # refused before connecting


def test_a_stale_saved_plan_names_what_moved_and_writes_nothing(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    specs = tmp_path / "endpoints"
    write_spec(specs, rerank("kept"))
    write_spec(specs, rerank("other"))
    assert cli(cluster.url, "apply", str(specs), "--auto-approve").code == 0
    write_spec(specs, rerank("kept", top_n=5))
    saved = tmp_path / "plan.json"
    assert cli(cluster.url, "plan", str(specs), "--out", str(saved)).code == 0
    plain.put(
        f"{cluster.url}/_inference/rerank/other/_update", json={"task_settings": {"top_n": 7}}
    ).raise_for_status()
    cluster.clear_requests()
    result = cli(cluster.url, "apply", "--plan", str(saved), "--auto-approve")
    assert result.code == 1, result.output
    assert "stale" in result.stderr and "1 endpoint(s): other" in result.stderr
    assert write_requests(cluster.requests) == []


def test_one_change_among_a_thousand_reads_each_thing_at_most_twice(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    specs = tmp_path / "endpoints"
    for n in range(1000):
        write_spec(specs, rerank(f"r{n:04d}"))
    cluster.clear_requests()
    made = cli(cluster.url, "apply", str(specs), "--auto-approve", "--parallelism", "16")
    assert made.code == 0, made.output[-2000:]
    # the outcomes of 1,000 creates: a bounded number of state writes, not one per outcome
    state_writes = [
        r for r in write_requests(cluster.requests) if r["path"].startswith("/reconciler-state/")
    ]
    assert len(state_writes) <= 2 + STATE_WRITES
    write_spec(specs, rerank("r0500", top_n=8))
    cluster.clear_requests()
    result = cli(cluster.url, "apply", str(specs), "--auto-approve")
    assert result.code == 0, result.output[-2000:]
    assert "1 updated" in result.stdout
    paths = [r["path"] for r in cluster.requests if r["method"] == "GET"]
    assert paths.count("/_inference/_all") <= 2  # the plan, the verification
    assert paths.count("/_inference/_services") <= 1
    assert paths.count("/reconciler-state/_search") <= 1
    writes = [(r["method"], r["path"]) for r in write_requests(cluster.requests)]
    inference = [w for w in writes if w[1].startswith("/_inference")]
    assert inference == [("PUT", "/_inference/rerank/r0500/_update")]
    state_writes = [w for w in writes if not w[1].startswith("/_inference")]
    assert len(state_writes) == 2  # the intent, then the outcome
    # the lock is released last, deleted on the version its create left: not read first
    lock = [r for r in cluster.requests if r["path"].endswith(".lock")]
    assert [r["method"] for r in lock] == ["PUT", "DELETE"]
    assert cluster.requests[-1] == lock[-1] and lock[-1]["status"] == 200
    assert {"if_seq_no", "if_primary_term"} <= set(lock[-1]["query"])
    assert plain.get(cluster.url + lock[-1]["path"]).status_code == 404


def test_a_key_rotation_records_an_intent_of_one_short_item_per_update(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    # what a killed run's next run can check is a create's or a replace's result: an update's
    # intent item is its action, not a second copy of the entry with the new fingerprints
    specs = tmp_path / "endpoints"
    for n in range(40):
        write_spec(specs, rerank(f"r{n:02d}"))
    assert cli(cluster.url, "apply", str(specs), "--auto-approve").code == 0
    cluster.clear_requests()
    rotated = run_cli(
        "apply", str(specs), "--auto-approve", "--url", cluster.url, env={"SHIFT_KEY": "osk-new-1"}
    )
    assert rotated.code == 0 and "40 updated" in rotated.stdout, rotated.output[-2000:]
    state_writes = [
        r
        for r in write_requests(cluster.requests)
        if r["path"].startswith("/reconciler-state/") and not r["path"].endswith(".lock")
    ]
    assert len(state_writes) == 2  # the intent, then the outcomes (the end)
    intent, end = (int(r["headers"]["content-length"]) for r in state_writes)
    # the intent's document is the entries as they were, plus `"r00":{"action":"update"},` each
    assert intent - end <= 100 + 40 * len('"r00":{"action":"update"},')
