"""The sandbox cluster: a local stand-in for Elasticsearch's inference endpoint API.

    from reconciler.sandbox import SandboxServer, Fault
    with SandboxServer(port=0) as srv:
        ...  # talk to srv.url

See `server.py` for the knobs, `httpd.py` for the order they apply in, and
docs/sandbox.md for what it models and where it departs from Elasticsearch.
"""

from __future__ import annotations

from .knobs import Fault
from .server import SandboxServer
from .store import SandboxDataError

__all__ = ["Fault", "SandboxDataError", "SandboxServer"]
