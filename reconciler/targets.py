"""The (directory, environment) pairs of a repository, and the ones a change touches.

Owns ``Target`` and ``find_targets``: a desired-state directory is a folder that holds a
``reconciler.yaml`` (hidden folders skipped); each environment its ``reconciler.yaml``
defines is one pair, and a directory that defines none is one pair without an environment.
With ``changed_since`` only the pairs of directories where a file differs between that commit
and ``HEAD`` are kept (git decides; a file belongs to the deepest directory that holds it).
CI jobs plan, apply and name artifacts and comments per pair, so the pair also carries a
``slug`` that is safe in an artifact name and unique in the repository. Does not plan.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path as FsPath

from reconciler.errors import InputError
from reconciler.loader import SETTINGS_FILE
from reconciler.settings import read_settings_file

NO_ENVIRONMENT = "default"  # the label of a directory whose reconciler.yaml names none


@dataclass(frozen=True, kw_only=True)
class Target:
    """One desired-state directory planned and applied against one environment."""

    directory: str  # POSIX path relative to the root the search started from ("." for the root)
    environment: str  # a name of reconciler.yaml's environments, "" for none

    @property
    def label(self) -> str:
        return self.environment or NO_ENVIRONMENT

    @property
    def slug(self) -> str:
        """The pair in characters any artifact name, file name or HTML comment accepts."""
        place = "root" if self.directory == "." else self.directory
        return f"{_safe(place)}.{_safe(self.label)}"

    def as_matrix_entry(self) -> dict[str, str]:
        return {
            "directory": self.directory,
            "environment": self.environment,
            "label": self.label,
            "slug": self.slug,
            "name": f"{self.directory} ({self.label})",
        }


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "-"


def find_targets(
    root: FsPath, *, directories: Sequence[FsPath] = (), changed_since: str | None = None
) -> tuple[Target, ...]:
    """Every pair under ``root`` (or of ``directories``), or those a change since a commit touches."""
    found = [_relative(root, d) for d in directories] or _settings_directories(root)
    if changed_since is not None:
        changed = _changed_files(root, changed_since)
        found = [d for d in found if any(_owner(path, found) == d for path in changed)]
    targets = tuple(
        Target(directory=directory, environment=environment)
        for directory in found
        for environment in _environments(root, directory)
    )
    _check_unique_slugs(targets)
    return targets


def _relative(root: FsPath, directory: FsPath) -> str:
    path = directory if directory.is_absolute() else root / directory
    if not path.is_dir():
        raise InputError(f"{directory}: no such directory")
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        raise InputError(f"{directory} is not inside {root}") from None
    return relative.as_posix() or "."


def _settings_directories(root: FsPath) -> list[str]:
    found = []
    for current, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        if SETTINGS_FILE in files:
            found.append(FsPath(current).relative_to(root).as_posix() or ".")
    return sorted(found)


def _owner(path: str, directories: Iterable[str]) -> str | None:
    """The deepest directory that holds ``path`` (a POSIX path relative to the root)."""
    holders = [d for d in directories if d == "." or path == d or path.startswith(f"{d}/")]
    return max(holders, key=lambda d: 0 if d == "." else d.count("/") + 1, default=None)


def _changed_files(root: FsPath, base: str) -> list[str]:
    """Paths (relative to ``root``) that differ between ``base`` and HEAD; a rename is both."""
    command = ["git", "diff", "--name-only", "-z", "--no-renames", "--relative", base, "HEAD", "--"]
    try:
        completed = subprocess.run(
            command, cwd=root, capture_output=True, text=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InputError(f"--changed-since {base}: cannot run git ({error})") from None
    if completed.returncode != 0:
        reason = (completed.stderr.strip().splitlines() or ["git failed"])[-1]
        raise InputError(
            f"--changed-since {base}: git cannot compare {base} with HEAD ({reason}); "
            "in a shallow clone, fetch that commit first (actions/checkout: fetch-depth)"
        )
    return [path for path in completed.stdout.split("\0") if path]


def _environments(root: FsPath, directory: str) -> list[str]:
    settings = read_settings_file(root / directory)
    if settings.diagnostics:
        raise InputError(f"{settings.file} is not valid", settings.diagnostics)
    return [str(name) for name in settings.environments] or [""]


def _check_unique_slugs(targets: Sequence[Target]) -> None:
    seen: dict[str, Target] = {}
    for target in targets:
        other = seen.setdefault(target.slug, target)
        if other is not target:
            raise InputError(
                f"{other.directory} ({other.label}) and {target.directory} ({target.label}) "
                f"would share the artifact and comment name {target.slug!r}; rename one"
            )
