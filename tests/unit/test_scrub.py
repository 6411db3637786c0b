"""The one scrubber: a remembered secret is masked in every form a server can quote it in.

One row per form (issue 24 added base64, URL-safe base64, hex, letter case, truncation and the
short pieces of a JSON secret): each row's text must come out with the form masked and no piece
of a secret left.
"""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote, quote_plus

import pytest

from reconciler.scrub import SENSITIVE, ScrubbingFilter, forget, holds_secret, remember, scrub

KEY = 'sk-"unit"-back\\slash/plus+HARDEN-0e4d'
PLAIN = "pk-UnitPlainHARDEN7c2a9f"  # a key as most are: letters, digits, a dash
KEY_FILE = json.dumps(
    {
        "type": "service_account",
        "project_id": "acme-prj-42",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIBunitLINEone-HARDEN\nunitLINEtwo-HARDEN==\n"
        "-----END PRIVATE KEY-----\n",
        "client_email": "unit-harden@project.iam.gserviceaccount.com",
    },
    indent=2,
)


@pytest.fixture(autouse=True)
def remembered() -> None:
    """This module's secrets, and only them (as in a run that resolved these three)."""
    forget()
    for value in (KEY, PLAIN, KEY_FILE):
        remember(value)


ONCE = json.dumps(KEY)[1:-1]
PRIVATE_KEY = json.loads(KEY_FILE)["private_key"]


def b64(value: str, *, url: bool = False, pad: bool = True) -> str:
    encoded = (base64.urlsafe_b64encode if url else base64.b64encode)(value.encode()).decode()
    return encoded if pad else encoded.rstrip("=")


FORMS = {
    "as written": KEY,
    "JSON-escaped once": ONCE,
    "JSON-escaped twice": json.dumps(ONCE)[1:-1],
    "URL-encoded": quote(KEY, safe=""),
    "form-encoded": quote_plus(KEY, safe=""),
    "upper-cased": KEY.upper(),
    "lower-cased": PLAIN.lower(),
    "upper-cased, URL-encoded": quote(KEY, safe="").upper(),
    "hex": KEY.encode().hex(),
    "HEX": PLAIN.encode().hex().upper(),
    "base64": b64(KEY),
    "base64 without padding": b64(PLAIN, pad=False),
    "URL-safe base64": b64(KEY, url=True),
    "URL-safe base64 without padding": b64(KEY, url=True, pad=False),
    "truncated: the first 10 characters": PLAIN[:10] + "...",
    "truncated: the last 9 characters": "..." + PLAIN[-9:],
    "truncated and upper-cased": PLAIN[:12].upper() + "...",
    "the key file escaped": json.dumps(KEY_FILE)[1:-1],
    "a value inside the key file": "unit-harden@project.iam.gserviceaccount.com",
    "a value inside the key file, truncated": "unit-harden@project.iam...",
    "a short value (11 characters) inside the key file": "acme-prj-42",
    "a short value, upper-cased": "ACME-PRJ-42",
    "a short value, base64": b64("acme-prj-42"),
    "the private key escaped": json.dumps(PRIVATE_KEY)[1:-1],
    "one line of the private key": "MIIBunitLINEone-HARDEN",
    "one line of the private key, base64": b64("MIIBunitLINEone-HARDEN"),
    "a line of the key file": '"client_email": "unit-harden@project.iam.gserviceaccount.com"',
}
PIECES = ("harden", "unit-harden", "unitline", "acme-prj", "plain")


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_every_form_of_a_secret_is_masked(form: str) -> None:
    scrubbed = scrub(f"rejected [{form}] at line 1")
    assert SENSITIVE in scrubbed and form not in scrubbed, scrubbed
    assert not [piece for piece in PIECES if piece in scrubbed.lower()], scrubbed
    assert scrubbed.startswith("rejected [") and scrubbed.endswith("] at line 1")


def test_a_short_piece_is_masked_only_where_it_stands_alone() -> None:
    """Pieces of a JSON secret of 8 characters or more are masked, even an ordinary one such as the
    key file's type; one shorter than 16 characters only as a word of its own, so field names that
    contain it survive."""
    text = "[service_account_json] of type service_account: status_exception { bad request }"
    assert scrub(text) == (
        f"[service_account_json] of type {SENSITIVE}: status_exception {{ bad request }}"
    )


def test_ordinary_words_stay() -> None:
    """Parts of a secret shorter than 8 characters (braces, "type") and text that merely shares a
    few letters with a secret are not masked."""
    text = 'status_exception: { "type": "json", "unit": 7 } at sk-other and 0e4d'
    assert scrub(text) == text


def test_a_text_found_clean_holds_a_secret_remembered_later() -> None:
    """``holds_secret`` keeps the texts it found clean (apply checks the same server-filled
    values for every endpoint); a secret remembered afterwards is still found in them."""
    text = '{"model_id": "LaterUnitKey-HARDEN-91f0"}'
    assert not holds_secret(text)
    assert not holds_secret(text)
    remember("LaterUnitKey-HARDEN-91f0")
    assert holds_secret(text)
    assert holds_secret(f"[{PLAIN}]")


def test_log_records_are_scrubbed() -> None:
    record = logging.LogRecord("httpx", logging.DEBUG, __file__, 1, "sent %s", (ONCE,), None)
    assert ScrubbingFilter().filter(record)
    assert record.getMessage() == f"sent {SENSITIVE}"
