"""HTTP plumbing: the threaded server and the per-request handler.

Owns reading a request (Content-Length or chunked body), the order in which
the knobs apply to it (reserved `/_sandbox/...` control API first, then
latency, faults, authentication and routing; an `after` fault performs the
request and then replaces or drops its answer), writing the answer with
Elasticsearch's headers, the error envelope for anything that goes wrong
(never a traceback, never http.server's HTML page), dropped connections,
TLS per connection, and closing keep-alive connections on stop.
The public class is `server.SandboxServer`; ES semantics live behind `routes.py`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .control import control
from .errors import EsError, envelope
from .protocol import Request, Response

if TYPE_CHECKING:
    from .server import SandboxServer

MAX_BODY = 32 * 1024 * 1024


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # benchmarks open many connections at once; http.server's default backlog of 5 drops them
    request_queue_size = 128
    sandbox: SandboxServer
    tls: ssl.SSLContext | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            try:
                request.settimeout(Handler.timeout)  # a client that never finishes the handshake
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        with self._open_lock:
            self._open.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)
            if self.tls is not None:
                # the wrapped socket is ours; http.server only closes the raw one it accepted
                with contextlib.suppress(OSError):
                    request.close()

    def close_open_connections(self) -> None:
        """Keep-alive connections must not outlive the server (a stopped sandbox answers nothing)."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hangs up mid-answer is not the sandbox's problem; stay quiet
        return


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: HttpServer

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes; without this, Nagle + delayed ACK cost 40 ms a request
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        return

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed request lines get the ES envelope too, not http.server's HTML page."""
        error = envelope(code, "illegal_argument_exception", message or "bad request")
        body = json.dumps(error, separators=(",", ":")).encode()
        self.close_connection = True
        # an unparsable request line reads as HTTP/0.9, which would suppress the status line
        self.request_version = "HTTP/1.1"
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            return

    def do_GET(self) -> None:
        self._serve()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise EsError(413, "content_too_long_exception", "request body is too large")
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        started = time.time()
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path) or "/"
        if len(path) > 1:
            path = path.rstrip("/") or "/"
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        try:
            body = self._read_body()
        except (ValueError, EsError):
            self.send_error(400, "cannot read the request body")
            return
        req = Request(
            method=self.command,
            path=path,
            raw_uri=self.path,
            query=query,
            body=body,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            self._write(_answer(lambda: control(sandbox, req)), req)
            return
        latency = sandbox.latency_ms
        if latency > 0:
            time.sleep(latency / 1000.0)
        fault = sandbox.faults.take(req.method, path)
        if fault is not None and fault.delay and not fault.after:
            time.sleep(fault.delay)
        performs = fault is None or fault.after or fault.slow_only
        performed = _answer(lambda: sandbox.handle(req)) if performs else None
        if fault is not None and fault.delay and fault.after:
            time.sleep(fault.delay)
        if fault is None or fault.slow_only:
            assert performed is not None
            sandbox.log.record(
                method=req.method,
                path=path,
                query=query,
                status=performed.status,
                started=started,
                fault=fault.label() if fault else None,
                headers=req.headers,
            )
            self._write(performed, req)
            return
        label = fault.label()
        # the log's status is what the cluster did: the fault's for a request never performed,
        # the real one for an `after` fault (whose lost or replaced answer is named in `fault`)
        answer = None if fault.drop else _fault_answer(fault, req, path)
        logged = performed if performed is not None else answer
        sandbox.log.record(
            method=req.method,
            path=path,
            query=query,
            status=logged.status if logged is not None else None,
            started=started,
            fault=label,
            headers=req.headers,
        )
        if answer is None:
            self._drop()
        else:
            self._write(answer, req)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            return

    def _write(self, response: Response, req: Request) -> None:
        payload = b""
        if response.body is not None:
            if "pretty" in req.query and req.query["pretty"] != "false":
                payload = (json.dumps(response.body, indent=2) + "\n").encode()
            else:
                payload = json.dumps(response.body, separators=(",", ":")).encode()
        try:
            self.send_response(response.status)
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if req.method != "HEAD" and payload:
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True


def _fault_answer(fault: Any, req: Request, path: str) -> Response:
    answer = _answer(lambda: _raise(fault.error(req.method, path, req.body)))
    if fault.body is not None:
        return Response(status=answer.status, body=fault.body, headers=answer.headers)
    return answer


def _raise(error: EsError) -> Response:
    raise error


def _answer(produce: Callable[[], Response]) -> Response:
    """Run a handler; every failure becomes an ES error envelope."""
    try:
        response: Response = produce()
        return response
    except EsError as error:
        return Response(status=error.status, body=error.body(), headers=dict(error.headers))
    except Exception as error:  # noqa: BLE001 - the sandbox must answer, never crash
        reason = f"sandbox internal error: {type(error).__name__}: {error}"
        return Response(status=500, body=envelope(500, "exception", reason))
