"""The plan: frozen values saying what would change (``planner.build_plan`` makes them).

Owns the closed set of actions and of reasons, ``Change`` (one endpoint: its
action, the typed facts behind it, the exact requests apply will send, what the
state document records when it succeeds (``StateStep``) and what the endpoint
should look like afterwards (``Expected``)) and ``Plan`` (the changes and the
``SnapshotFingerprint`` of what it was made from): everything apply needs, so
that apply needs no spec, no catalog and no second plan. Also the inputs a plan
is made from besides specs and the live listing: who owns what
(``Ownership``), what the user asked for by name (``Requested``), what is known
of each endpoint's secrets (``SecretStatus``); and what apply did
(``Outcome``, ``ApplyResult``), a value like the plan, so renderers never
import the code that writes. A reason explains (renderers word it); it never
decides.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.baseline import Baseline
from reconciler.model import (
    FieldPath,
    Request,
    content_digest,
    dotted,
)

if TYPE_CHECKING:  # the region policy's change refers to Usage, defined here
    from reconciler.region_policy import PolicyChange


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


@dataclass(frozen=True, kw_only=True, slots=True)  # one per change: no __dict__ each
class Usage:
    pipelines: tuple[str, ...] = ()
    indices: tuple[str, ...] = ()
    unknown: bool = False  # the key may not ask (DELETE ?dry_run=true needs manage_inference)

    @property
    def empty(self) -> bool:
        return not self.pipelines and not self.indices


NOT_ASKED = Usage()  # the default of every change: one shared (frozen) value


@dataclass(frozen=True, kw_only=True, slots=True)  # one per change: no __dict__ each
class Expected:
    """What a touched endpoint should look like after its change: verification compares the
    listing with it (by the comparison rules: ``compared`` fields by value, whatever the server
    fills in elsewhere allowed; ``ignored`` is drift the plan leaves alone)."""

    task_type: str
    service: str
    view: Mapping[str, Mapping[str, Any]]  # the normalised desired settings (no secrets)
    compared: tuple[FieldPath, ...] = ()
    ignored: tuple[FieldPath, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "task_type": self.task_type,
            "service": self.service,
            "view": self.view,
            "compared": [list(p) for p in self.compared],
            "ignored": [list(p) for p in self.ignored],
        }

    def summary(self) -> dict[str, Any]:
        """The expected state in a few bytes, for the intent record (which holds one per change
        of a run): the digest of the view stands for the view."""
        return {
            "task_type": self.task_type,
            "service": self.service,
            "compared": [dotted(p) for p in self.compared],
            "digest": content_digest(self.view),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Expected:
        return cls(
            task_type=str(document["task_type"]),
            service=str(document["service"]),
            view=document.get("view") or {},
            compared=tuple(tuple(p) for p in document.get("compared") or ()),
            ignored=tuple(tuple(p) for p in document.get("ignored") or ()),
        )


@dataclass(frozen=True, kw_only=True)
class StateStep:
    """What the state document records once a change succeeds.

    ``entry`` false: the endpoint leaves this document (a delete; its claim is released). Else
    the entry lists ``task_type``, ``service`` and the ``declared`` fields, and the fingerprints
    of the secrets the change sends (computed by apply with the state's key: the plan holds
    references, never a fingerprint); an update or a no-op keeps the fingerprints recorded
    before. ``claim``: take the endpoint's claim before the first write (adoption, ``--adopt``,
    a move out of a legacy document), ``over`` the owner it is taken from on purpose;
    ``hand_over``: the documents that stop listing it once ours does.
    """

    entry: bool = True
    task_type: str = ""
    service: str = ""
    declared: tuple[str, ...] = ()
    claim: bool = False
    over: tuple[str, ...] = ()
    hand_over: tuple[str, ...] = ()
    moved_from: str = ""  # the legacy document whose entry (and fingerprints) it takes over

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "task_type": self.task_type,
            "service": self.service,
            "declared": list(self.declared),
            "claim": self.claim,
            "over": list(self.over),
            "hand_over": list(self.hand_over),
            "moved_from": self.moved_from,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> StateStep:
        return cls(
            entry=bool(document.get("entry", True)),
            task_type=str(document.get("task_type") or ""),
            service=str(document.get("service") or ""),
            declared=tuple(str(n) for n in document.get("declared") or ()),
            claim=bool(document.get("claim")),
            over=tuple(str(o) for o in document.get("over") or ()),
            hand_over=tuple(str(o) for o in document.get("hand_over") or ()),
            moved_from=str(document.get("moved_from") or ""),
        )


@dataclass(frozen=True, kw_only=True, slots=True)  # one per endpoint: no __dict__ each
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
    in_use_by: Usage = NOT_ASKED
    live_task_type: str = ""  # what the live endpoint has (update, replace, delete)
    live_service: str = ""
    requests: tuple[Request, ...] = ()
    drift: tuple[FieldPath, ...] = ()  # out-of-band changes only a replace could undo: left alone
    adopt: bool = False  # exists, and no state document manages it (or --adopt takes it over)
    owners: tuple[str, ...] = ()  # the other state documents that manage it
    moved: bool = False  # adopt from ``owners``, which no longer declare it: the spec moved here

    @property
    def conflict(self) -> bool:
        """Declared here, managed by another state document: apply leaves it alone."""
        return self.reason is Reason.OWNED_ELSEWHERE

    expected: Expected | None = None  # after the change (None: gone, or not touched)
    step: StateStep | None = None  # what the state records when it succeeds (None: nothing)

    @property
    def owner(self) -> str:
        """``owners`` as people read them (renderers)."""
        return ", ".join(self.owners)

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
    policy_writes: int = 0  # the region policy: 1 when apply sends its request
    policy_left_alone: int = 0  # 1 when it differs and apply leaves it (conflict, kept)

    @property
    def changes(self) -> bool:
        """Apply would send a request (to an endpoint or the region policy)."""
        return any(self.writes.values()) or bool(self.policy_writes)

    @property
    def left_alone(self) -> int:
        return self.conflicts + self.kept + self.held + self.policy_left_alone

    @property
    def differs(self) -> bool:
        """The cluster (or who owns what) differs from this directory's whole desired state:
        ``plan --detailed-exitcode`` and ``drift`` exit 2, JSON ``has_changes`` is true, and the
        summary is never "No changes"."""
        return self.changes or bool(self.left_alone) or bool(self.moves) or bool(self.blocked)


@dataclass(frozen=True, kw_only=True)
class SnapshotFingerprint:
    """What a plan was made from, to tell whether the cluster moved since: each listed
    endpoint's digest, the state document's version, every other owner's records, the cluster
    (uuid, version) and what ``_services`` offers."""

    endpoints: Mapping[str, str] = field(default_factory=dict)  # id -> digest of its listing
    state: str = ""  # "seq_no/primary_term" of this directory's document; "" when it has none
    owners: str = ""  # digest of the claims and the other state documents
    cluster_uuid: str = ""
    cluster_version: str = ""
    services: str = ""  # digest of _services; "" when the cluster does not answer it
    region_policy: str = ""  # digest of the live region policy; "" when not read or none

    def moved(self, now: SnapshotFingerprint) -> tuple[str, ...]:
        """What differs in ``now``, in words (empty: nothing moved)."""
        found: list[str] = []
        if (self.cluster_uuid, self.cluster_version) != (now.cluster_uuid, now.cluster_version):
            found.append(
                f"the cluster (was {self.cluster_uuid or '?'} {self.cluster_version}, now "
                f"{now.cluster_uuid or '?'} {now.cluster_version})"
            )
        changed = sorted(
            i
            for i in self.endpoints.keys() | now.endpoints.keys()
            if self.endpoints.get(i) != now.endpoints.get(i)
        )
        if changed:
            shown = ", ".join(changed[:10]) + (
                f" and {len(changed) - 10} more" if len(changed) > 10 else ""
            )
            found.append(f"{len(changed)} endpoint(s): {shown}")
        if self.state != now.state:
            found.append(
                f"the state document (version {self.state or 'none'}, now {now.state or 'none'})"
            )
        if self.owners != now.owners:
            found.append("the other state documents or claims")
        if self.services != now.services:
            found.append("what _inference/_services offers")
        if self.region_policy != now.region_policy:
            found.append("the inference region policy")
        return tuple(found)

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoints": dict(sorted(self.endpoints.items())),
            "state": self.state,
            "owners": self.owners,
            "cluster_uuid": self.cluster_uuid,
            "cluster_version": self.cluster_version,
            "services": self.services,
            "region_policy": self.region_policy,
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> SnapshotFingerprint:
        return cls(
            endpoints={str(k): str(v) for k, v in (document.get("endpoints") or {}).items()},
            state=str(document.get("state") or ""),
            owners=str(document.get("owners") or ""),
            cluster_uuid=str(document.get("cluster_uuid") or ""),
            cluster_version=str(document.get("cluster_version") or ""),
            services=str(document.get("services") or ""),
            region_policy=str(document.get("region_policy") or ""),
        )


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
    blocked: tuple[str, ...] = ()  # specs the cluster cannot serve ("file:line:col: why")
    declared: int = 0  # how many endpoints the desired state declares (targeted or not)
    snapshot: SnapshotFingerprint = field(default_factory=SnapshotFingerprint)
    region_policy: PolicyChange | None = None  # the cluster's inference region policy

    relists: bool = False  # what the other directories read from our state changes (below)

    @property
    def records(self) -> bool:
        """Whether carrying the plan out writes the state document (also with no endpoint
        change: adoptions, moves, declared fields, an interrupted apply's creates, hand-overs,
        and the lists other directories read: ids declared here that another manages, ids
        managed here no longer declared)."""
        return (
            self.relists
            or bool(self.moves)
            or any(c.step is not None for c in self.changes)
            or bool(self.region_policy and self.region_policy.records)
        )

    def count(self, action: Action) -> int:
        return sum(1 for change in self.changes if change.action is action)

    @property
    def summary(self) -> dict[str, int]:
        return {action.value: self.count(action) for action in ORDER}

    @property
    def has_changes(self) -> bool:
        """Apply would send a request (to an endpoint, or the region policy's; see ``verdict``
        for what the plan found)."""
        return any(change.action.writes for change in self.changes) or bool(
            self.region_policy and self.region_policy.action.writes
        )

    @property
    def conflicts(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.conflict)

    @property
    def verdict(self) -> Verdict:
        policy = self.region_policy
        return Verdict(
            writes={action: self.count(action) for action in ORDER if action.writes},
            conflicts=len(self.conflicts),
            kept=len(self.orphaned),
            held=sum(1 for change in self.changes if change.drift),
            moves=len(self.moves),
            blocked=len(self.blocked),
            unchanged=self.count(Action.NOOP) - len(self.conflicts),
            policy_writes=int(bool(policy and policy.action.writes)),
            policy_left_alone=int(bool(policy and policy.differs and not policy.action.writes)),
        )

    @property
    def scope(self) -> frozenset[str]:
        """The endpoints this plan reads: what it declares or considers, its orphans and what it
        hands over."""
        moved = frozenset(move.inference_id for move in self.moves)
        return frozenset(c.inference_id for c in self.changes) | frozenset(self.orphaned) | moved

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
    # id -> the other state documents that list it (several: nobody's to touch alone)
    others: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # id -> another state document that declares it without owning it (recorded at its apply)
    declared_elsewhere: Mapping[str, str] = field(default_factory=dict)
    # ids another state document manages but no longer declares (recorded at its apply)
    released: frozenset[str] = frozenset()
    declared: Mapping[str, frozenset[FieldPath]] = field(default_factory=dict)  # at last apply
    baselines: Mapping[str, Baseline] = field(default_factory=dict)  # filled in, at last apply
    known: bool = True
    recorded: frozenset[str] = frozenset()  # listed by this directory's state document
    moving: Mapping[str, str] = field(default_factory=dict)  # id -> legacy document it leaves


@dataclass(frozen=True, kw_only=True)
class Requested:
    """What the user asked for by name, for this run."""

    replace: frozenset[str] = frozenset()  # --replace ID
    adopt: frozenset[str] = frozenset()  # --adopt ID
    send_secrets: frozenset[str] = frozenset()  # --send-secrets ID
    send_untracked: bool = False  # --send-secrets UNTRACKED: every secret never sent by us
    targets: frozenset[str] | None = None  # --target ID: only these (None: all)
    create_timeout: float | None = None  # --create-timeout, else reconciler.yaml (seconds)

    def targeted(self, inference_id: str) -> bool:
        return self.targets is None or inference_id in self.targets


# the note of a server-filled value that moved since the last apply recorded it (planner writes
# it, renderers show it beside drift left alone)
CHANGED_SINCE_APPLY = "was changed since the last apply"
UNTRACKED = "secret not tracked (never sent by reconciler); rotation cannot be detected"
SEND_UNTRACKED = "UNTRACKED"  # `--send-secrets UNTRACKED` (no inference id is upper case)


@dataclass(frozen=True, kw_only=True)
class SecretStatus:
    """What the planner knows of one endpoint's secrets (computed by the caller)."""

    changed: tuple[FieldPath, ...] = ()  # fingerprint differs from the state's
    untracked: tuple[FieldPath, ...] = ()  # never sent by us: rotation cannot be seen
    unresolved: tuple[FieldPath, ...] = ()  # reference not resolvable here


UNCHANGED = SecretStatus()  # nothing to say of an endpoint's secrets: one shared (frozen) value


@dataclass(frozen=True, kw_only=True)
class Outcome:
    change: Change
    ok: bool
    message: str = ""
    seconds: float = 0.0
    lost: bool = False  # a replace deleted the endpoint and could not create it again


@dataclass(frozen=True, kw_only=True)
class ApplyResult:
    outcomes: tuple[Outcome, ...]
    differences: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    region_policy: str = ""  # what happened to it: "created", "updated", "deleted" ("": nothing)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.ok)

    def count(self, action: Action) -> int:
        return sum(1 for o in self.outcomes if o.ok and o.change.action is action)
