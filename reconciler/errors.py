"""The one exception tree of the reconciler.

Every error a user can meet derives from ``ReconcilerError``; ``cli.main`` is the
single boundary that turns them into ``Error: ...`` and an exit code.

    ReconcilerError                 exit 1 unless noted
    +-- InputError                  bad specs / settings; carries diagnostics
    +-- SecretError                 a secret reference cannot be resolved
    +-- ClusterError                talking to Elasticsearch failed
    |   +-- TransportError          connection refused/reset, timeout, TLS
    |   +-- GaveUp                  transient failures outlasted --retry-for
    |   +-- HTTPError               a non-2xx answer: status, type, reason
    |       +-- AuthError           401 / 403
    |       +-- NotFound            404
    |       +-- Conflict            409 (version conflict, in use, lock held)
    +-- StalePlanError              a saved plan no longer matches the cluster
    +-- LockError                   another apply holds the lock
    +-- OwnershipConflict           another state document claimed the endpoint first
    +-- SafetyError                 refused by a safety rule (exit 3)
    +-- VerificationError           applied, but the read-back differs (exit 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.diagnostics import Diagnostic


class ReconcilerError(Exception):
    exit_code = 1


class InputError(ReconcilerError):
    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        super().__init__(message)
        self.diagnostics = tuple(diagnostics)


class SecretError(ReconcilerError):
    pass


class ClusterError(ReconcilerError):
    pass


class TransportError(ClusterError):
    pass


class GaveUp(ClusterError):
    """The cluster kept failing transiently for the whole retry budget (``retry.py``)."""


class HTTPError(ClusterError):
    def __init__(
        self, *, status: int, method: str, path: str, error_type: str = "", reason: str = ""
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.error_type = error_type
        self.reason = reason
        detail = f"{error_type}: {reason}" if error_type else reason
        super().__init__(
            f"{method} {path} returned HTTP {status}" + (f" ({detail})" if detail else "")
        )


class AuthError(HTTPError):
    pass


class NotFound(HTTPError):
    pass


class Conflict(HTTPError):
    pass


class StalePlanError(ReconcilerError):
    pass


class LockError(ReconcilerError):
    pass


class OwnershipConflict(ReconcilerError):
    """Another state document claimed the endpoint first (``ownership.claim``)."""


class SafetyError(ReconcilerError):
    exit_code = 3


class VerificationError(ReconcilerError):
    exit_code = 4

    def __init__(self, message: str, *, result: Any = None) -> None:
        super().__init__(message)
        self.result = result  # the ApplyResult of the apply whose read-back differs
