"""Endpoint addresses as users write them: ``ID`` or ``TASK_TYPE/ID`` (the form plans print).

Owns reading the endpoints a flag names (``--target``, ``--replace``, ``--adopt``,
``--send-secrets``, ``forget``, ``import``) and checking them against what exists:
an address that names nothing declared and nothing in the cluster, or names an
endpoint under another task type, is an error (exit 1), never a warning and a no-op.
Pure: the caller hands in what is declared and what is live.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.errors import InputError


@dataclass(frozen=True, kw_only=True)
class Address:
    inference_id: str
    task_type: str = ""  # "" when the user wrote the id alone
    written: str = ""  # as the user wrote it, for messages

    @classmethod
    def parse(cls, text: str) -> Address:
        task_type, slash, inference_id = text.strip().rpartition("/")
        return cls(inference_id=inference_id, task_type=task_type if slash else "", written=text)


def resolve(
    flag: str,
    written: Iterable[str],
    *,
    known: Mapping[str, frozenset[str]],
    where: str,
) -> tuple[frozenset[str], tuple[str, ...]]:
    """The ids ``written`` names (``known``: id -> the task types it has, declared or live), and
    one problem per address that names nothing in ``known`` (``where`` says what was searched)."""
    ids: set[str] = set()
    problems: list[str] = []
    for text in written:
        address = Address.parse(text)
        task_types = known.get(address.inference_id)
        if task_types is None:
            problems.append(f"{flag} {text}: no endpoint {address.inference_id} {where}")
        elif address.task_type and address.task_type not in task_types:
            shown = sorted(task_types)[0]
            problems.append(
                f"{flag} {text}: {address.inference_id} is a {shown} endpoint "
                f"(write {shown}/{address.inference_id} or {address.inference_id})"
            )
        else:
            ids.add(address.inference_id)
    return frozenset(ids), tuple(problems)


def known_endpoints(*pairs: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """id -> task types, from (id, task type) pairs: the declared specs, the live listing."""
    known: dict[str, set[str]] = {}
    for pair in pairs:
        for inference_id, task_type in pair:
            known.setdefault(inference_id, set()).add(task_type)
    return {inference_id: frozenset(types) for inference_id, types in known.items()}


def check(problems: Iterable[str]) -> None:
    """Raise one InputError naming every unknown address (nothing was sent)."""
    found = tuple(problems)
    if found:
        raise InputError(
            "unknown endpoint address"
            + ("es" if len(found) > 1 else "")
            + ": "
            + "; ".join(found)
            + "; nothing was sent"
        )


def ids_of(written: Iterable[str]) -> frozenset[str]:
    """The ids of addresses where nothing is known to check them against (a saved plan's flags
    were checked when it was made)."""
    return frozenset(Address.parse(text).inference_id for text in written)
