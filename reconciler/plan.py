"""The plan: frozen values saying what would change (``planner.build_plan`` makes them).

Owns the closed set of actions and of reasons, ``Change`` (one endpoint: its
action, the typed facts behind it and the exact requests apply will send) and
``Plan``, plus the inputs a plan is made from besides specs and the live
listing: who owns what (``Ownership``), what the user asked for by name
(``Requested``), what is known of each endpoint's secrets (``SecretStatus``).
A reason explains (renderers word it); it never decides.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import (
    FieldPath,
    Request,
)


class Action(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "no-op"

    @property
    def destructive(self) -> bool:
        return self in (Action.REPLACE, Action.DELETE)

    @property
    def writes(self) -> bool:
        return self is not Action.NOOP

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "no-op": " "}[
            self.value
        ]


ORDER = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE, Action.NOOP)


class Reason(enum.Enum):
    """Why a change has its action: a closed set the renderers turn into words."""

    NONE = "none"  # no-op
    NOT_IN_CLUSTER = "not_in_cluster"  # create
    IN_PLACE = "in_place"  # update: every changed field can change through _update
    TASK_TYPE_CHANGED = "task_type_changed"  # replace
    SERVICE_CHANGED = "service_changed"  # replace
    NO_UPDATE_API = "no_update_api"  # replace: the cluster predates _update
    UNKNOWN_SERVICE = "unknown_service"  # replace: nothing is known to be updatable
    NOT_UPDATABLE = "not_updatable"  # replace: replace_paths cannot change in place
    TASK_SETTING_REMOVED = "task_setting_removed"  # replace: _update merges and cannot drop it
    REPLACE_REQUESTED = "replace_requested"  # replace: the user named it with --replace
    DRIFT_HELD = "drift_held"  # no-op: drift that only a replace could undo, left alone
    OWNED_ELSEWHERE = "owned_elsewhere"  # no-op: another state document manages it
    PRUNED = "pruned"  # delete: managed, no longer declared, --prune


@dataclass(frozen=True, kw_only=True)
class Usage:
    pipelines: tuple[str, ...] = ()
    indices: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.pipelines and not self.indices


@dataclass(frozen=True, kw_only=True)
class Change:
    """What happens to one endpoint: the action, the facts behind it, and the requests apply sends.

    ``paths`` are the fields that differ, ``secret_paths`` the secrets whose fingerprint moved,
    ``replace_paths`` those of them that force a replace. ``before``/``after`` are for people
    (secrets masked); ``requests`` is the contract with apply, secrets as references.
    """

    action: Action
    inference_id: str
    task_type: str
    service: str
    reason: Reason = Reason.NONE
    paths: tuple[FieldPath, ...] = ()
    secret_paths: tuple[FieldPath, ...] = ()
    replace_paths: tuple[FieldPath, ...] = ()
    before: Mapping[str, Any] | None = None  # masked
    after: Mapping[str, Any] | None = None  # masked
    notes: tuple[str, ...] = ()
    in_use_by: Usage = field(default_factory=Usage)
    live_task_type: str = ""  # what the live endpoint has (update, replace, delete)
    live_service: str = ""
    requests: tuple[Request, ...] = ()
    drift: tuple[FieldPath, ...] = ()  # out-of-band changes only a replace could undo: left alone
    adopt: bool = False  # exists, and no state document manages it (or --adopt takes it over)
    owner: str = ""  # the other state document that manages it
    moved: bool = False  # adopt from ``owner``, which no longer declares it: the spec moved here

    @property
    def conflict(self) -> bool:
        """Declared here, managed by another state document: apply leaves it alone."""
        return self.reason is Reason.OWNED_ELSEWHERE

    @property
    def address(self) -> str:
        return f"{self.task_type}/{self.inference_id}"


@dataclass(frozen=True, kw_only=True)
class Move:
    """An endpoint this directory manages and no longer declares, which another directory
    declares: apply hands it over to that directory's state document (``to``), never deletes it."""

    inference_id: str
    task_type: str
    to: str

    @property
    def address(self) -> str:
        return f"{self.task_type}/{self.inference_id}"


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What a plan found, counted once: the exit code, JSON ``has_changes`` and the summary line
    all read this value, so they cannot disagree.

    ``writes`` counts the changes apply sends, by action; the rest differ from the desired state
    but apply leaves them alone (``conflicts``: declared here, managed by another directory;
    ``kept``: managed here, no longer declared, no ``--prune``; ``held``: drift only a replace
    undoes), or only hands them over (``moves``: no longer declared here, declared by another
    directory, which becomes their owner); ``blocked`` specs the cluster cannot serve (a service
    ``_services`` does not list) were not planned at all: the run fails for them alone.
    """

    writes: Mapping[Action, int]
    conflicts: int = 0
    kept: int = 0
    held: int = 0
    moves: int = 0
    blocked: int = 0
    unchanged: int = 0

    @property
    def changes(self) -> bool:
        """Apply would send a request to an endpoint."""
        return any(self.writes.values())

    @property
    def left_alone(self) -> int:
        return self.conflicts + self.kept + self.held

    @property
    def differs(self) -> bool:
        """The cluster (or who owns what) differs from this directory's whole desired state:
        ``plan --detailed-exitcode`` and ``drift`` exit 2, JSON ``has_changes`` is true, and the
        summary is never "No changes"."""
        return self.changes or bool(self.left_alone) or bool(self.moves) or bool(self.blocked)


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Every change one run would make, in apply order, and what the plan was made against."""

    changes: tuple[Change, ...]
    cluster_version: str
    unmanaged: tuple[str, ...] = ()  # live ids no state document manages and nobody declares here
    elsewhere: tuple[str, ...] = ()  # live ids not declared here that another directory manages
    orphaned: tuple[str, ...] = ()  # managed here, no longer declared, not pruned (no --prune)
    moves: tuple[Move, ...] = ()  # managed here, no longer declared here, declared elsewhere
    warnings: tuple[str, ...] = ()
    prune: bool = False
    state: str = ""  # the state document the plan was made with (index/id)
    invocation: str = ""  # DIR [--env NAME] as the user named them, for the commands it suggests
    blocked: tuple[
        str, ...
    ] = ()  # specs the cluster cannot serve ("file:line:col: why"): not planned

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action is action)

    @property
    def summary(self) -> dict[str, int]:
        return {action.value: self.count(action) for action in ORDER}

    @property
    def has_changes(self) -> bool:
        """Apply would send a request to an endpoint (see ``verdict`` for what the plan found)."""
        return any(change.action.writes for change in self.changes)

    @property
    def conflicts(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.conflict)

    @property
    def verdict(self) -> Verdict:
        return Verdict(
            writes={action: self.count(action) for action in ORDER if action.writes},
            conflicts=len(self.conflicts),
            kept=len(self.orphaned),
            held=sum(1 for change in self.changes if change.drift),
            moves=len(self.moves),
            blocked=len(self.blocked),
            unchanged=self.count(Action.NOOP) - len(self.conflicts),
        )

    @property
    def differs(self) -> bool:
        """Whether the cluster differs from the desired state, also where apply leaves it alone."""
        return self.verdict.differs


@dataclass(frozen=True, kw_only=True)
class Ownership:
    """Who manages which endpoint, as the state index tells (computed by the caller).

    ``known`` is false when the state index cannot be read: then nothing is marked adopted or
    owned elsewhere, and prune is off.
    """

    mine: frozenset[str] = frozenset()
    others: Mapping[str, str] = field(default_factory=dict)  # id -> the state document owning it
    # id -> another state document that declares it without owning it (recorded at its apply)
    declared_elsewhere: Mapping[str, str] = field(default_factory=dict)
    # ids another state document manages but no longer declares (recorded at its apply)
    released: frozenset[str] = frozenset()
    declared: Mapping[str, frozenset[FieldPath]] = field(default_factory=dict)  # at last apply
    known: bool = True


@dataclass(frozen=True, kw_only=True)
class Requested:
    """What the user asked for by name, for this run."""

    replace: frozenset[str] = frozenset()  # --replace ID
    adopt: frozenset[str] = frozenset()  # --adopt ID
    send_secrets: frozenset[str] = frozenset()  # --send-secrets ID
    send_untracked: bool = False  # --send-secrets UNTRACKED: every secret never sent by us
    targets: frozenset[str] | None = None  # --target ID: only these (None: all)

    def targeted(self, inference_id: str) -> bool:
        return self.targets is None or inference_id in self.targets


UNTRACKED = "secret not tracked (never sent by reconciler); rotation cannot be detected"
SEND_UNTRACKED = "UNTRACKED"  # `--send-secrets UNTRACKED` (no inference id is upper case)


@dataclass(frozen=True, kw_only=True)
class SecretStatus:
    """What the planner knows of one endpoint's secrets (computed by the caller)."""

    changed: tuple[FieldPath, ...] = ()  # fingerprint differs from the state's
    untracked: tuple[FieldPath, ...] = ()  # never sent by us: rotation cannot be seen
    unresolved: tuple[FieldPath, ...] = ()  # reference not resolvable here
