"""The one module that speaks HTTP to Elasticsearch (through httpx).

Owns opening a connection (``connection.Connection`` describes it): authentication,
TLS, timeouts, the classification
of each attempt as done, transient (for ``retry.py``'s run-wide policy, which
every request goes through) or final, and the mapping of HTTP statuses and
Elasticsearch's error envelope to our errors, in one table. Credentials are
never logged: the debug log shows method, path, status and timing only.
Does not know what the requests mean (``live``, ``state`` and ``apply`` do).
Every text that came from the server is scrubbed of the secrets this process
resolved before it reaches an error or the log; a URL is shown without its
user:password part. Failures that a retry cannot heal (a URL that is not HTTP,
a certificate that is not trusted) fail at once.
"""

from __future__ import annotations

import _ssl
import hashlib
import logging
import ssl
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from reconciler.connection import Connection, display_url  # described there; opened here
from reconciler.errors import (
    AuthError,
    ClusterError,
    Conflict,
    HTTPError,
    InputError,
    NotFound,
    TransportError,
)
from reconciler.retry import RetryPolicy, Transient
from reconciler.scrub import remember, scrub

log = logging.getLogger("reconciler.http")


def _import_httpx() -> ModuleType:
    """httpx, without its command-line program: ``httpx._main`` imports pygments (and rich)
    wherever they are installed, about 15 ms of every run's start-up for a program this tool
    never runs. Hidden while httpx is imported (its package then defines a ``main`` that says
    what is missing); anything importing ``httpx._main`` later gets it."""
    hide = "httpx" not in sys.modules and "httpx._main" not in sys.modules
    if hide:
        sys.modules["httpx._main"] = None  # type: ignore[assignment]  # `import` raises ImportError
    try:
        import httpx
    finally:
        if hide:
            del sys.modules["httpx._main"]
    return httpx


if TYPE_CHECKING:
    import httpx
else:
    httpx = _import_httpx()

WAIT_MARGIN = 10.0  # seconds beyond a create's timeout for its answer to travel back
JSON_CONTENT = {"Content-Type": "application/json"}  # of a body given already encoded
RETRY_STATUSES = frozenset({429, 502, 503, 504})
OVERLOAD_STATUSES = frozenset({429, 503})  # the cluster says it is overloaded: everyone slows down
STATUS_ERRORS: Mapping[int, type[HTTPError]] = {
    401: AuthError,
    403: AuthError,
    404: NotFound,
    409: Conflict,
}
PRIVILEGE_HINT = {
    "GET": "monitor_inference (or manage_inference)",
    "PUT": "manage_inference",
    "DELETE": "manage_inference",
    "POST": "manage_inference",
}


@dataclass(frozen=True, kw_only=True)
class Response:
    status: int
    body: Any


def _url_password(url: str) -> str | None:
    try:
        return httpx.URL(url).password or None
    except (httpx.InvalidURL, TypeError, ValueError):
        return None


def _check_url(url: Any) -> None:
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else None
    except (httpx.InvalidURL, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        shown = display_url(url) if isinstance(url, str) else repr(url)
        raise InputError(
            f"cluster URL {shown!r} is not an http:// or https:// URL (--url / ELASTICSEARCH_URL)"
        )


class Client:
    def __init__(self, connection: Connection) -> None:
        _check_url(connection.url)
        self.connection = connection
        # one policy per client, so per run: every request of every thread shares it
        self.policy = RetryPolicy(retry_for=connection.retry_for, on_wait=connection.on_wait)
        secrets = (connection.api_key, connection.password, connection.bearer_token)
        for credential in (*secrets, _url_password(connection.url)):
            if credential:
                remember(credential)  # a server that echoes a credential must not get it printed
        for _, value in connection.headers:
            remember(value)  # a header may carry a proxy's token: masked like a credential
        # the extra headers first: none of them may replace what authenticates the run
        headers = {name: value for name, value in connection.headers}
        headers.update({"Accept": "application/json", "User-Agent": "reconciler"})
        auth = None
        if connection.api_key:
            headers["Authorization"] = f"ApiKey {connection.api_key}"
        elif connection.bearer_token:
            headers["Authorization"] = f"Bearer {connection.bearer_token}"
        elif connection.username:
            auth = httpx.BasicAuth(connection.username, connection.password or "")
        _import_httpcore()
        self._http = httpx.Client(
            base_url=connection.url.rstrip("/"),
            headers=headers,
            auth=auth,
            verify=_tls(connection),
            timeout=connection.timeout,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        ok: tuple[int, ...] = (),
        wait: float | None = None,
    ) -> Response:
        """Send one request under the run's retry policy; 2xx or a status in ``ok`` returns.
        ``content``: a body already encoded as JSON, sent instead of ``json``. ``wait``: seconds
        the cluster was told it may take (a create's ``timeout``): the answer is awaited that
        long and a little more, not only ``--timeout``."""
        timeout = max(self.connection.timeout, wait + WAIT_MARGIN) if wait else None
        return self.policy.run(
            lambda: self._attempt(
                method, path, params=params, json=json, content=content, ok=ok, timeout=timeout
            )
        )

    def _attempt(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        ok: tuple[int, ...],
        content: bytes | None = None,
        timeout: float | None = None,
    ) -> Response:
        """One try: the response, a non-transient error, or `Transient` for the policy to retry."""
        started = time.monotonic()
        try:
            answer = self._http.request(
                method,
                path,
                params=_params(params),
                json=json,
                content=content,
                headers=JSON_CONTENT if content is not None else None,
                timeout=timeout if timeout else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException as error:
            waited = (
                f"waited {timeout:g}s: the create's timeout and a margin"
                if timeout
                else f"--timeout / RECONCILER_TIMEOUT is {self.connection.timeout:g}s"
            )
            failure = TransportError(
                f"{method} {path}: timed out ({error.__class__.__name__}; {waited})"
            )
            raise Transient(failure, reason="a request timed out", costly=True) from None
        except httpx.TransportError as error:
            failure = TransportError(
                f"{method} {path}: {_describe_transport(error, self.connection)}"
            )
            if not _transient(error):
                raise failure from None
            raise Transient(failure, reason="the connection failed", costly=True) from None
        log.debug(
            "%s %s -> %s (%.0f ms)",
            method,
            path,
            answer.status_code,
            (time.monotonic() - started) * 1000,
        )
        if answer.is_success or answer.status_code in ok:
            body = _json(answer)
            # httpx's response and its stream refer to each other: only the cyclic collector
            # would free the raw body (the whole listing), and it runs rarely (cli.GC_THRESHOLD)
            answer.stream = httpx.ByteStream(b"")
            return Response(status=answer.status_code, body=body)
        refused = _error(method, path, answer, unsent=self.connection.unsent)
        if answer.status_code not in RETRY_STATUSES:
            raise refused
        raise Transient(
            refused,
            reason=f"the cluster answered {answer.status_code}",
            overload=answer.status_code in OVERLOAD_STATUSES,
            retry_after=_retry_after(answer),
        )


def _import_httpcore() -> None:
    """httpcore (httpx's transport, imported with the first client) imports trio wherever it is
    installed, for async code run under trio: ~50 ms of a run's start-up, and this client is
    synchronous. Hidden while httpcore is imported; anything else importing trio later gets it."""
    if "httpcore" in sys.modules or "trio" in sys.modules:
        return
    sys.modules["trio"] = None  # type: ignore[assignment]  # `import trio` raises ImportError
    try:
        import httpcore  # noqa: F401
    finally:
        del sys.modules["trio"]


def _tls(connection: Connection) -> ssl.SSLContext | bool:
    """What httpx verifies the server with, and the client certificate it shows (mTLS). Files
    are read here, once: one that cannot be used is an error naming its option."""
    if connection.url.lower().startswith("http://"):
        return False  # no TLS to verify: skip building an SSL context (25-130 ms a run)
    if not (connection.client_cert or connection.ca_fingerprint):
        if connection.insecure:
            return False
        if not connection.ca_cert:
            return True
    try:
        context = ssl.create_default_context(cafile=connection.ca_cert or certifi_bundle())
    except (ssl.SSLError, OSError) as error:
        raise InputError(
            f"--ca-cert {connection.ca_cert}: cannot be used as a PEM CA bundle ({_reason(error)})"
        ) from None
    if connection.insecure or connection.ca_fingerprint:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if connection.ca_fingerprint:
        context.sslsocket_class = pinned_socket(connection.ca_fingerprint)
    if connection.client_cert:
        try:
            context.load_cert_chain(connection.client_cert, connection.client_key)
        except (ssl.SSLError, OSError) as error:
            raise InputError(
                f"--client-cert {connection.client_cert}"
                + (f" / --client-key {connection.client_key}" if connection.client_key else "")
                + f": cannot be used as a PEM certificate and its key ({_reason(error)})"
            ) from None
    return context


def certifi_bundle() -> str | None:
    """httpx's default trust store (certifi's), so --client-cert alone trusts what no flag does."""
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


def _reason(error: BaseException) -> str:
    return str(getattr(error, "reason", None) or getattr(error, "strerror", None) or error)


FINGERPRINT_MISMATCH = "CERTIFICATE_FINGERPRINT_MISMATCH"


def pinned_socket(fingerprint: str) -> type[ssl.SSLSocket]:
    """An SSL socket that, right after the handshake and before any byte of a request (and so any
    credential) is sent, refuses a server whose chain holds no certificate with this SHA-256
    fingerprint (Elastic's clients' ``ssl_assert_fingerprint``)."""

    class PinnedSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            if fingerprint not in _chain_fingerprints(self):
                self.close()
                raise ssl.SSLError(
                    f"[{FINGERPRINT_MISMATCH}] no certificate the server sent has the "
                    f"SHA-256 fingerprint {fingerprint}"
                )

    return PinnedSocket


def _chain_fingerprints(sock: ssl.SSLSocket) -> set[str]:
    chain: list[bytes] = []
    sslobj = getattr(sock, "_sslobj", None)
    unverified = getattr(sock, "get_unverified_chain", None) or getattr(
        sslobj, "get_unverified_chain", None
    )
    if unverified is not None:  # the whole chain (public from Python 3.13, on _sslobj before)
        for cert in unverified() or ():
            chain.append(cert if isinstance(cert, bytes) else cert.public_bytes(_ssl.ENCODING_DER))
    leaf = sock.getpeercert(binary_form=True)
    if leaf:
        chain.append(leaf)
    return {hashlib.sha256(der).hexdigest() for der in chain}


def _params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    return {
        k: ("true" if v is True else "false" if v is False else str(v)) for k, v in params.items()
    }


def _json(answer: httpx.Response) -> Any:
    if not answer.content:
        return None
    try:
        return answer.json()
    except ValueError:
        return answer.text


def _retry_after(answer: httpx.Response) -> float | None:
    value = answer.headers.get("Retry-After")
    try:
        return min(60.0, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


def _transient(error: httpx.TransportError) -> bool:
    """Whether trying again may help: not for a URL httpx cannot use, nor for a TLS failure."""
    if isinstance(error, (httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
        return False
    text = str(error)
    return not (
        FINGERPRINT_MISMATCH in text or "CERTIFICATE" in text or "[SSL" in text or "SSL:" in text
    )


def _error(method: str, path: str, answer: httpx.Response, *, unsent: str = "") -> HTTPError:
    body = _json(answer)
    error_type, reason = "", ""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        error_type = str(body["error"].get("type", ""))
        reason = str(body["error"].get("reason", ""))
    elif isinstance(body, Mapping) and isinstance(body.get("error"), str):
        reason = body["error"]
    elif isinstance(body, str):
        reason = body[:500]
    error_type, reason = scrub(error_type), scrub(reason)  # an error may echo what it was sent
    status = answer.status_code
    if status == 401:
        reason = (f"{reason}; " if reason else "") + (
            f"authentication failed: {unsent}"
            if unsent
            else "authentication failed: check --api-key / ELASTIC_API_KEY or --username / --password"
        )
    if status == 403 and "license" not in reason:
        if path.startswith("/_inference") or path == "/":
            needed = f"the cluster privilege {PRIVILEGE_HINT.get(method, 'manage_inference')}"
        else:
            index = path.strip("/").split("/")[0]
            needed = f"the index privileges read, write and create_index on {index}"
        reason = f"{reason} (this needs {needed})".strip()
    kind = STATUS_ERRORS.get(status, HTTPError)
    return kind(status=status, method=method, path=path, error_type=error_type, reason=reason)


def _describe_transport(error: httpx.TransportError, connection: Connection) -> str:
    text = scrub(str(error) or error.__class__.__name__)
    url = display_url(connection.url)
    if FINGERPRINT_MISMATCH in text:
        return (
            f"TLS certificate of {url} refused: none in its chain has the SHA-256 fingerprint "
            f"{connection.ca_fingerprint} (--ca-fingerprint); nothing was sent to it"
        )
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            f"TLS certificate of {url} not trusted ({text}); pass --ca-cert FILE with the CA that signed it "
            "(or --insecure to skip verification)"
        )
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
        return f"TLS handshake with {url} failed ({text}); is it an http:// URL?"
    if isinstance(error, httpx.ConnectError):
        return f"cannot connect to {url} ({text})"
    return text


__all__ = ["Client", "ClusterError", "Connection", "Response", "display_url"]
