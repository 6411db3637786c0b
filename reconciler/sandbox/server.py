"""The public face of the sandbox cluster: `SandboxServer`.

Owns construction from the knobs (host, port, data file, version, latency,
credentials, request log, TLS), start/stop in a daemon thread, the context
manager, `url`, and the knob methods tests use (`add_fault`, `requests`,
`clear_requests`, `version`, `eis`). It wires the store, the cluster, the knobs and
the HTTP plumbing (`httpd.py`) together and holds no HTTP logic itself.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

from .cluster import Cluster
from .httpd import Handler, HttpServer
from .knobs import Credentials, Fault, FaultSet, RequestLog
from .offers import read_offers
from .protocol import Request, Response
from .routes import dispatch
from .store import Store


class SandboxServer:
    """An Elasticsearch-like inference endpoint API on 127.0.0.1, for trials and tests."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        data_file: str | None = None,
        version: str = "9.5.0",
        latency_ms: float = 0.0,
        api_key: str | None = None,
        request_log_file: str | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        *,
        read_only_api_key: str | None = None,
        inference_only_api_key: str | None = None,
        eis: bool = False,
        unlisted_services: tuple[str, ...] = (),
        bearer_token: str | None = None,
        client_ca: str | None = None,
        offered_services: tuple[str | dict[str, Any], ...] = (),
    ) -> None:
        self.host = host
        self.port = port
        self.store = Store(data_file)
        self.cluster = Cluster(store=self.store, version=version, eis_connected=eis)
        self.cluster.unlisted_services = set(unlisted_services)
        self.cluster.offers = read_offers(offered_services)
        self.latency_ms = float(latency_ms)
        self.credentials = Credentials(
            api_key=api_key,
            read_only_api_key=read_only_api_key,
            inference_only_api_key=inference_only_api_key,
            bearer_token=bearer_token,
        )
        self.faults = FaultSet()
        self.log = RequestLog(request_log_file)
        self.certfile, self.keyfile = certfile, keyfile
        self.client_ca = client_ca  # with TLS: refuse a client without a certificate it signed
        self._httpd: HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- knobs ------------------------------------------------------------------

    @property
    def version(self) -> str:
        return self.cluster.version

    @version.setter
    def version(self, value: str) -> None:
        self.cluster.version = value

    @property
    def eis(self) -> bool:
        """Whether the cluster is connected to the Elastic Inference Service."""
        return self.cluster.eis_connected

    @eis.setter
    def eis(self, connected: bool) -> None:
        self.cluster.eis_connected = connected

    def add_fault(self, fault: Fault) -> None:
        self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.log.entries()

    def clear_requests(self) -> None:
        self.log.clear()

    def handle(self, req: Request) -> Response:
        role = self.credentials.authenticate(req.headers.get("authorization"), req.raw_uri)
        with (
            self.store.request_scope()
        ):  # the data file holds this request's changes before it is answered
            return dispatch(self.cluster, req, role)

    # -- lifecycle --------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.certfile else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        httpd = HttpServer((self.host, self.port), Handler)
        httpd.sandbox = self
        if self.certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.certfile, self.keyfile)
            if self.client_ca:
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(self.client_ca)
            httpd.tls = context
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def renew(self) -> SandboxServer:
        """Forget everything (endpoints, documents, knobs, faults, the request log) and go on
        serving on the same port, as a server just started with the default knobs would."""
        fresh = SandboxServer(host=self.host, port=self.port)
        fresh._httpd, fresh._thread = self._httpd, self._thread
        self.__dict__.update(fresh.__dict__)
        return self

    def serve_forever(self) -> None:
        """Block until `stop()` (or KeyboardInterrupt in the caller)."""
        self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(0.2)

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_open_connections()
        if self._thread is not None:
            self._thread.join(5)
        self.store.compact()  # the file at rest: one JSON document

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
