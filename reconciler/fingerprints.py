"""Secret fingerprints: the one function that makes them and the one that compares them.

Owns how a secret is remembered in the state document so that a rotation can be seen, keyed so
that a reader of the index cannot test guesses (docs/security.md):

- with ``RECONCILER_FINGERPRINT_KEY`` set (a random CI secret, kept outside the cluster):
  ``hmac-key:<key id>:<HMAC-SHA256 of the secret under that key>``; without the key a reader
  learns nothing, and the key id only says which key to use;
- otherwise ``scrypt-v1:<salt>:<scrypt of the secret>`` (n=2**15, r=8, p=1: 32 MiB and some
  50-300 ms per guess), so that confirming even "demo" costs a reader that much per guess. It is
  computed once per distinct (salt, secret) in a process: 10,000 endpoints sharing a few keys
  cost a few derivations;
- ``hmac-sha256:<hex>`` (HMAC keyed by the document's own ``salt``) is the legacy form, which a
  reader could test offline. It is still compared, so an old document plans no false rotation,
  and apply replaces each that still matches (``is_current``).

Every fingerprint made anywhere (apply's records, the plan's comparison, #21's intent records)
comes from ``fingerprint``; nothing else hashes a secret. Pure: no I/O beyond ``os.environ``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from functools import lru_cache

from reconciler.errors import InputError

KEY_VARIABLE = "RECONCILER_FINGERPRINT_KEY"
MIN_KEY_LENGTH = 32  # `openssl rand -hex 16`: a key a reader cannot guess either
LEGACY = "hmac-sha256"
KEYED = "hmac-key"
SCRYPT = "scrypt-v1"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024  # 128 * r * n = 32 MiB, with room

_derived: dict[tuple[str, bytes], str] = {}  # (salt, sha256 of the secret) -> scrypt hex
_pending: dict[tuple[str, bytes], threading.Lock] = {}
_guard = threading.Lock()


def fingerprint_key() -> bytes | None:
    """The key from outside the cluster, or None; a key too short to be safe is an error."""
    key = os.environ.get(KEY_VARIABLE)
    if not key:
        return None
    if len(key) < MIN_KEY_LENGTH:
        raise InputError(
            f"{KEY_VARIABLE} is {len(key)} characters long; use at least {MIN_KEY_LENGTH} random "
            "ones (e.g. `openssl rand -hex 32`), or unset it to use scrypt"
        )
    return key.encode()


def check_key() -> None:
    """Raise before any request when the configured key is unusable."""
    fingerprint_key()


def fingerprint(secret: str, *, salt: str) -> str:
    """The fingerprint to record for ``secret`` now (``salt``: the state document's)."""
    key = fingerprint_key()
    if key is not None:
        return f"{KEYED}:{_key_id(key)}:{_hmac(key, secret)}"
    return f"{SCRYPT}:{salt}:{_scrypt(secret, salt)}"


def matches(recorded: str, secret: str, *, salt: str) -> bool | None:
    """Whether ``secret`` is the one ``recorded`` was made from; None when this run cannot tell
    (made with a key this run does not have, or in a form it does not know)."""
    scheme, _, rest = recorded.partition(":")
    if scheme == SCRYPT:
        recorded_salt, _, digest = rest.rpartition(":")
        return hmac.compare_digest(digest, _scrypt(secret, recorded_salt))
    if scheme == KEYED:
        key_id, _, digest = rest.partition(":")
        key = fingerprint_key()
        if key is None or key_id != _key_id(key):
            return None
        return hmac.compare_digest(digest, _hmac(key, secret))
    if scheme == LEGACY:
        return hmac.compare_digest(rest, _hmac(salt.encode(), secret))
    return None


def is_current(recorded: str) -> bool:
    """Whether ``recorded`` is in the form ``fingerprint`` makes now (else apply re-keys it)."""
    scheme, _, rest = recorded.partition(":")
    key = fingerprint_key()
    if key is not None:
        return scheme == KEYED and rest.partition(":")[0] == _key_id(key)
    return scheme == SCRYPT


def self_contained(recorded: str) -> bool:
    """Whether ``recorded`` can be checked without its document's salt (so it may move)."""
    return not recorded.startswith(f"{LEGACY}:")


def new_salt() -> str:
    return os.urandom(16).hex()


@lru_cache(maxsize=1024)  # endpoints share keys: 10,000 specs declaring a few secrets, a few HMACs
def _hmac(key: bytes, secret: str) -> str:
    return hmac.digest(key, secret.encode(), "sha256").hex()


@lru_cache(maxsize=4)  # asked per recorded secret (is_current, matches): one HMAC per key
def _key_id(key: bytes) -> str:
    return hmac.new(key, b"reconciler fingerprint key id", hashlib.sha256).hexdigest()[:12]


def _scrypt(secret: str, salt: str) -> str:
    """scrypt of ``secret``, derived once per (salt, secret) in this process, whatever the number
    of threads asking at once."""
    cache_key = (salt, hashlib.sha256(secret.encode()).digest())
    with _guard:
        if cache_key in _derived:
            return _derived[cache_key]
        lock = _pending.setdefault(cache_key, threading.Lock())
    with lock:
        with _guard:
            if cache_key in _derived:
                return _derived[cache_key]
        digest = hashlib.scrypt(
            secret.encode(),
            salt=salt.encode(),
            n=SCRYPT_N,
            r=SCRYPT_R,
            p=SCRYPT_P,
            maxmem=_SCRYPT_MAXMEM,
            dklen=32,
        ).hex()
        with _guard:
            _derived[cache_key] = digest
            _pending.pop(cache_key, None)
    return digest
