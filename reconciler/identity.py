"""Which state document a desired-state directory uses, without any configuration.

Owns the derivation of the state document id: unique per directory (its
path inside the git repository, or its absolute path outside one) and
environment, readable, and safe in a URL path. Two directories never share a
document by accident; ``state_id`` in ``reconciler.yaml`` overrides it. Also
names the ids older releases used for every directory (``default``, or the
environment's name): the legacy documents this one takes its endpoints from.
Pure apart from looking for the repository's ``.git``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path as FsPath

SLUG_LENGTH = 48


def repository_path(directory: FsPath) -> str:
    """The directory's path inside its git repository ("." for the top), else its absolute path."""
    resolved = directory.resolve()
    for candidate in (resolved, *resolved.parents):
        if (candidate / ".git").exists():
            relative = resolved.relative_to(candidate).as_posix()
            return relative or "."
    return resolved.as_posix()


def state_id_for(directory: FsPath, environment: str | None) -> str:
    """``endpoints-prod.staging-3f2a1b9c``: a readable slug plus a digest of the exact path."""
    where = repository_path(directory)
    slug = re.sub(r"[^a-z0-9]+", "-", where.lower()).strip("-")[:SLUG_LENGTH] or "root"
    digest = hashlib.sha256(f"{where}\n{environment or ''}".encode()).hexdigest()[:8]
    return f"{slug}.{environment}-{digest}" if environment else f"{slug}-{digest}"


def legacy_state_id(environment: str | None) -> str:
    """The id every directory used before ids were derived (shared by accident)."""
    return environment or "default"
