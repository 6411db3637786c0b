"""The safety rules: which plans apply refuses to carry out (exit 3, nothing written).

Owns the refusals of a plan, as a pure function, so that ``plan`` can report
exactly what ``apply`` would refuse, and ``apply`` checks the same rules before
its first write (under the lock, on the one plan it carries out).
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import SafetyError
from reconciler.plan import Plan


@dataclass(frozen=True, kw_only=True)
class Permissions:
    """What the user allowed on purpose for this run."""

    allow_destroy_in_use: bool = False
    replace: frozenset[str] = frozenset()  # --replace ID: replacing these was asked for by name


def refusals(plan: Plan, permissions: Permissions) -> tuple[str, ...]:
    """Every reason apply would refuse ``plan``; () when it may go ahead."""
    found: list[str] = []
    if plan.prune and not plan.declared:
        found.append(
            "refusing to prune with an empty desired state: it would delete every managed endpoint"
        )
    for change in plan.changes:
        if change.action.writes and change.inference_id.startswith("."):
            found.append(f"refusing to touch the preconfigured endpoint {change.inference_id}")
        if (
            change.adopt
            and change.action.destructive
            and change.inference_id not in permissions.replace
        ):
            found.append(
                f"refusing to {change.action.value} {change.address}: this directory does not "
                "manage it yet (it exists, made elsewhere); pass "
                f"--replace {change.inference_id} to replace it anyway"
            )
        if (
            change.action.destructive
            and not change.in_use_by.empty
            and not permissions.allow_destroy_in_use
        ):
            users = ", ".join(
                [f"pipeline {p}" for p in change.in_use_by.pipelines]
                + [f"index {i}" for i in change.in_use_by.indices]
            )
            found.append(
                f"refusing to {change.action.value} {change.address}: it is in use by {users}; "
                "pass --allow-destroy-in-use to do it anyway"
            )
    policy = plan.region_policy
    if (
        policy is not None
        and policy.action.writes
        and policy.denies_in_use
        and not permissions.allow_destroy_in_use
    ):
        users = "; ".join(
            f"{inference_id} (used by "
            + ", ".join([f"pipeline {p}" for p in u.pipelines] + [f"index {i}" for i in u.indices])
            + ")"
            for inference_id, u in sorted(policy.in_use.items())
        )
        found.append(
            f"refusing to {policy.action.value} the region policy: it would deny EIS endpoints in "
            f"use: {users}; pass --allow-destroy-in-use to apply it anyway (sent with force=true)"
        )
    return tuple(found)


def check_safety(plan: Plan, permissions: Permissions) -> None:
    """Raise SafetyError (exit 3) with the first refusal, if there is one."""
    found = refusals(plan, permissions)
    if found:
        raise SafetyError(found[0])
