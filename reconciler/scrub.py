"""The one scrubber: every secret this process resolved, masked in any form a server may echo.

Owns ``remember`` (called where a secret is resolved or a credential is used) and ``scrub``
(called on every text that came back from a server, every error and every debug log record).
Values live in memory only. A server quotes what it was sent in its own way, so each secret is
matched as (docs/security.md, "What is never printed"):

- written, JSON-escaped once or twice, URL- or form-encoded, or as the hex of its bytes, in any
  letter case (an error that upper-cases what it quotes still carries the secret);
- base64, standard or URL-safe, padded or not (base64 cannot be case-folded);
- truncated: any 8 or more consecutive characters of a secret that has no spaces (``sk-abc12345...``),
  in any case;
- each line of a multi-line secret and each string of a JSON secret of 8 characters or more,
  in the forms above; a piece shorter than 16 characters only where it stands alone, so a
  service account's ``"type": "service_account"`` masks that word but not ``service_account_json``.

Masking more than needed is the safe side: a weak secret such as ``password123`` masks the
word ``password`` wherever it appears.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

SENSITIVE = "(sensitive value)"
MIN_SCRUBBED = 4  # shorter values would mask ordinary words; no real secret is that short
MIN_PART = 8  # a line or JSON string of a secret: shorter ones ("{", "us") are not secret
ALONE_BELOW = 16  # a piece shorter than this is masked only where it stands alone
FRAGMENT = 8  # a truncated echo: this many consecutive characters of a secret


@dataclass(frozen=True)
class _Form:
    text: str  # lower-cased when ``folded``
    folded: bool  # matched in any letter case
    alone: bool  # matched only where it is not part of a longer word


_lock = threading.Lock()
_forms: set[_Form] = set()
_fragments: set[str] = set()  # lower-cased FRAGMENT-long pieces of secrets without spaces
_ordered: tuple[_Form, ...] = ()
_remembered: set[str] = set()  # the values whose forms are above
_clean: set[str] = set()  # texts ``holds_secret`` found free of every secret remembered so far
_generation = (
    0  # counts changes to the secrets remembered (a clean text found meanwhile is not kept)
)


def remember(value: str) -> None:
    """Mark ``value`` as a secret of this process: ``scrub`` masks it, in every form, from now on."""
    global _ordered, _generation
    if not isinstance(value, str) or len(value) < MIN_SCRUBBED or value in _remembered:
        return  # a value seen before is already masked: resolving it again costs nothing
    forms = _forms_of(value, alone=False)
    fragments = _fragments_of(value)
    for part in _parts(value):
        forms |= _forms_of(part, alone=len(part) < ALONE_BELOW)
        if len(part) >= ALONE_BELOW:
            fragments |= _fragments_of(part)
    with _lock:
        _forms.update(forms)
        _fragments.update(fragments)
        _ordered = tuple(sorted(_forms, key=lambda form: -len(form.text)))
        _clean.clear()  # a text free of the secrets known before may hold this one
        _generation += 1
        _remembered.add(value)  # after its forms: a value seen here is already masked


def forget() -> None:
    """Forget every remembered secret: for a runner that starts several runs in one process
    (the test suite's in-process CLI), so that each starts as a new process would."""
    global _ordered, _generation
    with _lock:
        _forms.clear()
        _fragments.clear()
        _remembered.clear()
        _clean.clear()
        _generation += 1
        _ordered = ()


def scrub(text: str) -> str:
    """``text`` with every secret resolved (or remembered) in this process masked."""
    if not text:
        return text
    with _lock:
        forms, fragments = _ordered, frozenset(_fragments)
    if not forms:
        return text
    folded = _fold(text)
    spans: list[tuple[int, int]] = []
    for form in forms:
        haystack = folded if form.folded else text
        start = haystack.find(form.text)
        while start != -1:
            end = start + len(form.text)
            if not form.alone or _stands_alone(text, start, end):
                spans.append((start, end))
            start = haystack.find(form.text, start + 1)
    if fragments:
        spans += [
            (i, i + FRAGMENT)
            for i in range(len(text) - FRAGMENT + 1)
            if folded[i : i + FRAGMENT] in fragments
        ]
    return _masked(text, spans)


def holds_secret(text: str) -> bool:
    """Whether ``scrub`` would mask anything in ``text``. A text found clean is remembered until
    the next secret is: the values a server fills in repeat across endpoints (apply checks each
    one it records), and each ``scrub`` walks every form of every secret."""
    with _lock:
        if text in _clean:
            return False
        known = _generation
    if scrub(text) != text:
        return True
    with _lock:  # unless a secret was remembered (or all forgotten) meanwhile
        if _generation == known and len(_clean) < CLEAN_KEPT:
            _clean.add(text)
    return False


CLEAN_KEPT = 10_000  # texts ``holds_secret`` remembers as clean, at most


class ScrubbingFilter(logging.Filter):
    """Masks secrets in a log record, for handlers that show third-party debug logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), None
        return True


def _forms_of(value: str, *, alone: bool) -> set[_Form]:
    once = json.dumps(value)[1:-1]
    folded = {
        value,
        once,
        json.dumps(once)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote_plus(value, safe=""),
        value.encode().hex(),
    }
    raw = value.encode()
    exact = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    exact |= {form.rstrip("=") for form in exact}
    return {
        _Form(text=form.lower(), folded=True, alone=alone)
        for form in folded
        if len(form) >= MIN_SCRUBBED
    } | {_Form(text=form, folded=False, alone=alone) for form in exact if len(form) >= MIN_SCRUBBED}


def _fragments_of(value: str) -> set[str]:
    """Every FRAGMENT-long piece of a secret without spaces (a key, a password, a PEM line)."""
    if len(value) <= FRAGMENT or any(c.isspace() for c in value):
        return set()
    lowered = value.lower()
    return {lowered[i : i + FRAGMENT] for i in range(len(lowered) - FRAGMENT + 1)}


def _parts(value: str) -> set[str]:
    """The pieces a server may quote alone: each line of a multi-line secret, each string of a
    JSON one, of MIN_PART characters or more."""
    parts = (
        {line.strip() for line in value.splitlines()} if "\n" in value or "\r" in value else set()
    )
    parts |= set(_json_strings(value))
    return {part for part in parts if len(part) >= MIN_PART and part != value}


def _json_strings(value: str) -> Iterator[str]:
    """The string values inside a JSON secret (a service account key file), at any depth."""
    if not value.lstrip().startswith(("{", "[")):
        return
    try:
        document = json.loads(value)
    except ValueError:
        return
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
            yield from (line.strip() for line in node.splitlines() if "\n" in node)
        elif isinstance(node, Mapping):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _fold(text: str) -> str:
    """``text`` lower-cased, position for position (a character whose lower case is longer,
    such as 'İ', stays as it is, so that spans found in the folded text fit the original)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _stands_alone(text: str, start: int, end: int) -> bool:
    def word(i: int) -> bool:
        return 0 <= i < len(text) and (text[i].isalnum() or text[i] == "_")

    return not word(start - 1) and not word(end)


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span (overlapping ones merged) replaced by SENSITIVE."""
    if not spans:
        return text
    pieces, position = [], 0
    for start, end in _merged(spans):
        pieces += [text[position:start], SENSITIVE]
        position = end
    return "".join(pieces + [text[position:]])


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
