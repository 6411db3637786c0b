"""Secret fingerprints are worthless to a reader of the state index, and old documents migrate.

Before issue 24 the state document held ``hmac-sha256`` fingerprints keyed by a ``salt`` stored in
the same document, so anyone who could read the index confirmed a guessed key ("demo") with one
HMAC. Now a fingerprint is an scrypt derivation (tens to hundreds of milliseconds per guess) or,
with ``RECONCILER_FINGERPRINT_KEY``, an HMAC under a key that never reaches the cluster. A document
written the old way plans no false rotation, is re-keyed at the next apply, and a rotation is
still seen afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.identity import state_id_for
from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import Run, run_cli
from tests.hardening.corpus import AZURE
from tests.sandbox.helpers import plain

# what a reader faces is the point here: the product's scrypt work factor, not the suite's cheap one
pytestmark = pytest.mark.usefixtures("real_scrypt")

WEAK = "demo"  # the low-entropy key of issue 24's report
BUDGET = 2.0  # seconds a reader spends guessing in this test
FINGERPRINT_KEY = "0123456789abcdef0123456789abcdef-HARDEN-fpkey"


def specs(tmp_path: Path) -> Path:
    root = tmp_path / "specs"
    root.mkdir()
    (root / "azure.yaml").write_text(AZURE, encoding="utf-8")
    return root


def cli(command: str, root: Path, url: str, *args: str, env: dict[str, str]) -> Run:
    return run_cli(command, str(root), "--url", url, *args, env=env)


def state_document(url: str, root: Path) -> dict[str, Any]:
    answer = plain.get(f"{url}/reconciler-state/_doc/{state_id_for(root, None)}").json()
    return dict(answer["_source"])


def fingerprints(document: dict[str, Any]) -> list[str]:
    return [value for entry in document["managed"].values() for value in entry["secrets"].values()]


def write_legacy(url: str, root: Path, secret: str) -> None:
    """Rewrite the state document as a reconciler before issue 24 wrote it: hmac-sha256 keyed by
    the document's own salt."""
    document = state_document(url, root)
    digest = hmac.new(document["salt"].encode(), secret.encode(), hashlib.sha256).hexdigest()
    for entry in document["managed"].values():
        entry["secrets"] = {name: f"hmac-sha256:{digest}" for name in entry["secrets"]}
    answer = plain.put(
        f"{url}/reconciler-state/_doc/{state_id_for(root, None)}",
        params={"refresh": "true"},
        json=document,
    )
    assert answer.status_code in (200, 201), answer.text


def confirms(document: dict[str, Any], guesses: list[str], *, budget: float) -> str | None:
    """A reader with the document alone and ``budget`` seconds: the guess it confirms, if any.
    It knows every form the reconciler writes (they are documented) and tries each guess in the
    cheap legacy form and in the documented scrypt form, with the salt the document shows."""
    deadline = time.monotonic() + budget
    salt = str(document.get("salt", ""))
    for guess in guesses:
        for recorded in fingerprints(document):
            scheme, _, rest = recorded.partition(":")
            if time.monotonic() > deadline:
                return None
            if scheme == "hmac-sha256":
                digest = hmac.new(salt.encode(), guess.encode(), hashlib.sha256).hexdigest()
            elif scheme == "scrypt-v1":
                salt_used, _, _ = rest.rpartition(":")
                derived = hashlib.scrypt(
                    guess.encode(), salt=salt_used.encode(), n=2**15, r=8, p=1, maxmem=2**26
                )
                digest, rest = derived.hex(), rest.rpartition(":")[2]
            else:  # hmac-key: the key is not in the document; the salt is the best it has
                digest = hmac.new(salt.encode(), guess.encode(), hashlib.sha256).hexdigest()
                rest = rest.partition(":")[2]
            if digest == rest:
                return guess
    return None


# a reader's dictionary: the weak key is the 200th word (real lists hold millions)
GUESSES = [f"password{i}" for i in range(199)] + [WEAK]


def test_before_a_reader_confirmed_demo_with_one_hmac(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    """The report of issue 24, reproduced on a document written the old way."""
    root = specs(tmp_path)
    assert cli("apply", root, cluster.url, "--auto-approve", env={"AZURE_KEY": WEAK}).code == 0
    write_legacy(cluster.url, root, WEAK)
    assert confirms(state_document(cluster.url, root), GUESSES, budget=BUDGET) == WEAK


@pytest.mark.parametrize("keyed", [False, True], ids=["scrypt", "fingerprint-key"])
def test_a_reader_cannot_confirm_demo_from_the_state_document(
    cluster: SandboxServer, tmp_path: Path, keyed: bool
) -> None:
    root = specs(tmp_path)
    env = {"AZURE_KEY": WEAK, **({"RECONCILER_FINGERPRINT_KEY": FINGERPRINT_KEY} if keyed else {})}
    applied = cli("apply", root, cluster.url, "--auto-approve", env=env)
    assert applied.code == 0, applied.output
    document = state_document(cluster.url, root)
    recorded = fingerprints(document)
    assert recorded and all(
        value.startswith("hmac-key:" if keyed else "scrypt-v1:") for value in recorded
    ), recorded
    if not keyed:  # derived with the documented work factor (n=2**15, r=8, p=1), none cheaper
        salt, _, digest = recorded[0].removeprefix("scrypt-v1:").rpartition(":")
        assert (
            digest
            == hashlib.scrypt(
                WEAK.encode(), salt=salt.encode(), n=2**15, r=8, p=1, maxmem=2**26, dklen=32
            ).hex()
        )
    assert FINGERPRINT_KEY not in json.dumps(document)
    assert confirms(document, GUESSES, budget=BUDGET) is None
    # the fingerprint still does its job: the same key plans nothing, a rotated one an update
    same = cli("plan", root, cluster.url, "--detailed-exitcode", env=env)
    assert same.code == 0, same.output
    rotated = cli(
        "plan", root, cluster.url, "--detailed-exitcode", env={**env, "AZURE_KEY": "demo2"}
    )
    assert rotated.code == 2 and "sensitive value changed" in rotated.stdout, rotated.output


def test_without_the_fingerprint_key_a_rotation_is_not_invented(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    """A run that lacks the key cannot check its fingerprints: a note, never a false update."""
    root = specs(tmp_path)
    env = {"AZURE_KEY": WEAK, "RECONCILER_FINGERPRINT_KEY": FINGERPRINT_KEY}
    assert cli("apply", root, cluster.url, "--auto-approve", env=env).code == 0
    result = cli("plan", root, cluster.url, "--detailed-exitcode", env={"AZURE_KEY": WEAK})
    assert result.code == 0, result.output
    assert "not tracked" in result.output, result.output


def test_a_short_fingerprint_key_is_refused_before_any_request(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    root = specs(tmp_path)
    env = {"AZURE_KEY": WEAK, "RECONCILER_FINGERPRINT_KEY": "short"}
    result = cli("plan", root, cluster.url, env=env)
    assert result.code == 1 and "RECONCILER_FINGERPRINT_KEY" in result.stderr, result.output
    assert "short" not in result.stderr.replace("RECONCILER_FINGERPRINT_KEY", "")
    assert cluster.requests == []


def test_an_old_document_migrates_at_the_next_apply_without_false_rotations(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    root = specs(tmp_path)
    env = {"AZURE_KEY": WEAK}
    assert cli("apply", root, cluster.url, "--auto-approve", env=env).code == 0
    write_legacy(cluster.url, root, WEAK)
    before = cli("plan", root, cluster.url, "--detailed-exitcode", env=env)
    assert before.code == 0 and "sensitive value changed" not in before.stdout, before.output
    cluster.clear_requests()
    migrated = cli("apply", root, cluster.url, "--auto-approve", env=env)
    assert migrated.code == 0, migrated.output
    endpoint_writes = [
        r for r in cluster.requests if r["method"] != "GET" and r["path"].startswith("/_inference")
    ]
    assert endpoint_writes == []  # only the state document was written
    document = state_document(cluster.url, root)
    assert all(value.startswith("scrypt-v1:") for value in fingerprints(document)), document
    assert confirms(document, GUESSES, budget=BUDGET) is None
    after = cli("plan", root, cluster.url, "--detailed-exitcode", env=env)
    assert after.code == 0, after.output
    rotated = cli("plan", root, cluster.url, "--detailed-exitcode", env={"AZURE_KEY": "rotated-1"})
    assert rotated.code == 2 and "sensitive value changed" in rotated.stdout, rotated.output


def test_a_rotation_before_the_migration_is_still_planned(
    cluster: SandboxServer, tmp_path: Path
) -> None:
    """An old document whose key was rotated since: the update is planned, sent, and recorded
    in the new form (the migration never hides a rotation)."""
    root = specs(tmp_path)
    assert cli("apply", root, cluster.url, "--auto-approve", env={"AZURE_KEY": WEAK}).code == 0
    write_legacy(cluster.url, root, WEAK)
    env = {"AZURE_KEY": "rotated-2"}
    planned = cli("plan", root, cluster.url, "--detailed-exitcode", env=env)
    assert planned.code == 2 and "sensitive value changed" in planned.stdout, planned.output
    assert cli("apply", root, cluster.url, "--auto-approve", env=env).code == 0
    assert all(
        value.startswith("scrypt-v1:") for value in fingerprints(state_document(cluster.url, root))
    )
    assert cli("plan", root, cluster.url, "--detailed-exitcode", env=env).code == 0
