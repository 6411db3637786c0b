"""A minimal Language Server Protocol client for yaml-language-server (editor tests).

Starts ``yaml-language-server --stdio`` (the server VS Code's YAML extension runs), opens
one YAML file and returns the diagnostics the server publishes for it, as an editor would
show them. JSON-RPC over stdin/stdout with ``Content-Length`` framing; no other traffic:
schema references resolve to local files, and a schema store lookup is switched off.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any


class LanguageServer:
    def __init__(self, command: list[str], root: Path) -> None:
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self._messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "capabilities": {"workspace": {"configuration": True}},
            },
        )
        self.notify("initialized", {})
        self.notify(
            "workspace/didChangeConfiguration",
            {"settings": {"yaml": {"validate": True, "schemaStore": {"enable": False}}}},
        )

    def _read(self) -> None:
        stream = self._process.stdout
        assert stream is not None
        while True:
            length = 0
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value.strip())
            self._messages.put(json.loads(stream.read(length)))

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: dict[str, Any], timeout: float = 60) -> Any:
        self._next_id += 1
        wanted = self._next_id
        self._send({"id": wanted, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._take(deadline)
            if message is not None and message.get("id") == wanted and "method" not in message:
                return message.get("result")
        raise TimeoutError(method)

    def _take(self, deadline: float) -> dict[str, Any] | None:
        try:
            message = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if "method" in message and "id" in message:  # a request from the server: answer it
            items = (message.get("params") or {}).get("items") or []
            result: Any = (
                [None] * len(items) if message["method"] == "workspace/configuration" else None
            )
            self._send({"id": message["id"], "result": result})
        return message

    def diagnostics(self, path: Path, timeout: float = 60) -> list[dict[str, Any]]:
        """Open ``path`` and return the diagnostics published for it once they settle."""
        uri = path.as_uri()
        self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "yaml",
                    "version": 1,
                    "text": path.read_text(encoding="utf-8"),
                }
            },
        )
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        settle: float | None = None
        while time.monotonic() < (settle or deadline):
            message = self._take(min(deadline, settle or deadline))
            if message is None:
                break
            if (
                message.get("method") == "textDocument/publishDiagnostics"
                and message["params"]["uri"] == uri
            ):
                found = message["params"]["diagnostics"]
                settle = time.monotonic() + 2  # a later publish replaces this one
        return found

    def close(self) -> None:
        try:
            self.request("shutdown", {}, timeout=10)
            self.notify("exit", {})
            self._process.wait(timeout=10)
        except (TimeoutError, OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait(timeout=10)
