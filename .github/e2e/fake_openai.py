#!/usr/bin/env python3
"""A tiny OpenAI-compatible server for end-to-end tests against a real Elasticsearch.

Elasticsearch validates an ``openai`` inference endpoint on ``PUT`` by calling the
service once and measuring the embedding it gets back, so a real cluster needs a
real HTTP server to talk to. This one speaks just enough of OpenAI's API:

- ``POST /v1/embeddings``: deterministic unit-length vectors (the same text and
  model always give the same vector; ``dimensions`` in the request is honoured,
  otherwise ``--dimensions``), ``encoding_format`` ``float`` or ``base64``, in
  OpenAI's response shape.
- ``POST /v1/chat/completions``: a fixed answer, plain JSON or, with
  ``"stream": true``, server-sent events ending in ``data: [DONE]``.
- ``GET /health``: ``{"status": "ok"}``, for a readiness loop.
- ``GET /_requests``: what was received so far (path, model, input count,
  dimensions, whether a bearer token came), never the token itself.

Every ``/v1/`` call needs ``Authorization: Bearer <token>`` (401 otherwise, as
OpenAI answers); with ``--api-key`` the token must be exactly that, so a test
can tell that Elasticsearch really sends the key it was given.

Standard library only. Listens on 0.0.0.0 so that a container can reach it
through the Docker host gateway. Run: ``python fake_openai.py --port 8080``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_DIMENSIONS = 384
MAX_LOGGED = 200
ANSWER = "This is a deterministic answer from the fake OpenAI server."


def embedding(text: str, *, model: str, dimensions: int) -> list[float]:
    """A unit-length vector derived from sha256 of (model, text, block index): stable across runs."""
    values: list[float] = []
    block = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{model}\0{text}\0{block}".encode()).digest()
        values.extend((byte - 127.5) / 127.5 for byte in digest)
        block += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def encode(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


def tokens(texts: list[str]) -> int:
    return sum(max(1, len(text.split())) for text in texts)


class Handler(BaseHTTPRequestHandler):
    server_version = "fake-openai/1"
    protocol_version = "HTTP/1.1"

    # -- plumbing -----------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        if not self.server.quiet:  # type: ignore[attr-defined]
            super().log_message(format, *args)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str, *, kind: str = "invalid_request_error",
               code: str | None = None) -> None:
        self._send(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        token = header[len("Bearer "):].strip() if header.startswith("Bearer ") else ""
        expected = self.server.api_key  # type: ignore[attr-defined]
        if not token or (expected and token != expected):
            self._error(401, "Incorrect API key provided.", code="invalid_api_key")
            return False
        return True

    def _raw_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers, then the blank line
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _json_body(self) -> dict[str, Any] | None:
        try:
            body = json.loads(self._raw_body() or b"null")
        except ValueError:
            self._error(400, "We could not parse the JSON body of your request.")
            return None
        if not isinstance(body, dict):
            self._error(400, "The request body must be a JSON object.")
            return None
        return body

    def _record(self, body: dict[str, Any], texts: list[str]) -> None:
        entry = {"path": self.path, "model": body.get("model"), "inputs": len(texts),
                 "dimensions": body.get("dimensions"), "user": body.get("user"),
                 "stream": bool(body.get("stream")),
                 "bearer": self.headers.get("Authorization", "").startswith("Bearer ")}
        with self.server.lock:  # type: ignore[attr-defined]
            log = self.server.requests  # type: ignore[attr-defined]
            log.append(entry)
            del log[:-MAX_LOGGED]

    # -- routes -------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (the base class's naming)
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        elif self.path == "/_requests":
            with self.server.lock:  # type: ignore[attr-defined]
                self._send(200, {"requests": list(self.server.requests)})  # type: ignore[attr-defined]
        else:
            self._error(404, f"Unknown request URL: GET {self.path}.")

    def do_POST(self) -> None:  # noqa: N802
        route = self.path.split("?", 1)[0]
        if route not in ("/v1/embeddings", "/v1/chat/completions"):
            self._error(404, f"Unknown request URL: POST {self.path}.")
            return
        body = self._json_body()
        if body is None or not self._authorized():
            return
        if route == "/v1/embeddings":
            self._embeddings(body)
        else:
            self._chat(body)

    def _embeddings(self, body: dict[str, Any]) -> None:
        raw = body.get("input")
        texts = [raw] if isinstance(raw, str) else raw
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            self._error(400, "'input' must be a non-empty string or array of strings.")
            return
        model = str(body.get("model") or "text-embedding-3-small")
        dimensions = body.get("dimensions") or self.server.dimensions  # type: ignore[attr-defined]
        if not isinstance(dimensions, int) or not 1 <= dimensions <= 8192:
            self._error(400, "'dimensions' must be an integer between 1 and 8192.")
            return
        encoding_format = body.get("encoding_format") or "float"
        if encoding_format not in ("float", "base64"):
            self._error(400, "'encoding_format' must be 'float' or 'base64'.")
            return
        self._record(body, texts)
        data = [{"object": "embedding", "index": index,
                 "embedding": encode(embedding(text, model=model, dimensions=dimensions), encoding_format)}
                for index, text in enumerate(texts)]
        used = tokens(texts)
        self._send(200, {"object": "list", "data": data, "model": model,
                         "usage": {"prompt_tokens": used, "total_tokens": used}})

    def _chat(self, body: dict[str, Any]) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            self._error(400, "'messages' must be a non-empty array.")
            return
        texts = [str(m.get("content", "")) for m in messages if isinstance(m, dict)]
        self._record(body, texts)
        model = str(body.get("model") or "gpt-4o-mini")
        created = int(time.time())
        ident = "chatcmpl-" + hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:24]
        usage = {"prompt_tokens": tokens(texts), "completion_tokens": tokens([ANSWER]),
                 "total_tokens": tokens(texts) + tokens([ANSWER])}
        if not body.get("stream"):
            self._send(200, {"id": ident, "object": "chat.completion", "created": created, "model": model,
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": ANSWER}}],
                             "usage": usage})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model}
        deltas: list[tuple[dict[str, str], str | None]] = [({"role": "assistant", "content": ""}, None)]
        deltas += [({"content": word + " "}, None) for word in ANSWER.split()]
        deltas.append(({}, "stop"))
        for delta, finish in deltas:
            event = {**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def make_server(host: str, port: int, *, dimensions: int = DEFAULT_DIMENSIONS, api_key: str = "",
                quiet: bool = False) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.dimensions = dimensions  # type: ignore[attr-defined]
    server.api_key = api_key  # type: ignore[attr-defined]
    server.quiet = quiet  # type: ignore[attr-defined]
    server.requests = []  # type: ignore[attr-defined]
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument("--dimensions", type=int, default=DEFAULT_DIMENSIONS,
                        help=f"vector size when the request names none (default {DEFAULT_DIMENSIONS})")
    parser.add_argument("--api-key", default="",
                        help="accept only this bearer token (default: any non-empty token)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    options = parser.parse_args()
    server = make_server(options.host, options.port, dimensions=options.dimensions,
                         api_key=options.api_key, quiet=options.quiet)
    print(f"fake OpenAI server listening on http://{options.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
