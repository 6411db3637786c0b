"""The one scrubber: a remembered secret is masked in every form a server can quote it in."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote, quote_plus

import pytest

from reconciler.secrets import SENSITIVE, ScrubbingFilter, remember, scrub

KEY = 'sk-"unit"-back\\slash/plus+HARDEN-0e4d'
KEY_FILE = json.dumps(
    {
        "type": "service_account",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIBunitLINEone-HARDEN\nunitLINEtwo-HARDEN==\n"
        "-----END PRIVATE KEY-----\n",
        "client_email": "unit-harden@project.iam.gserviceaccount.com",
    },
    indent=2,
)
remember(KEY)
remember(KEY_FILE)
ONCE = json.dumps(KEY)[1:-1]
PRIVATE_KEY = json.loads(KEY_FILE)["private_key"]

FORMS = {
    "as written": KEY,
    "JSON-escaped once": ONCE,
    "JSON-escaped twice": json.dumps(ONCE)[1:-1],
    "URL-encoded": quote(KEY, safe=""),
    "form-encoded": quote_plus(KEY, safe=""),
    "the key file escaped": json.dumps(KEY_FILE)[1:-1],
    "a value inside the key file": "unit-harden@project.iam.gserviceaccount.com",
    "the private key escaped": json.dumps(PRIVATE_KEY)[1:-1],
    "one line of the private key": "MIIBunitLINEone-HARDEN",
    "a line of the key file": '"client_email": "unit-harden@project.iam.gserviceaccount.com"',
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_every_form_of_a_secret_is_masked(form: str) -> None:
    scrubbed = scrub(f"rejected [{form}] at line 1")
    assert SENSITIVE in scrubbed
    for piece in ("HARDEN", "unit-harden", "unitLINE"):
        assert piece not in scrubbed, scrubbed


def test_ordinary_words_stay() -> None:
    """Short parts of a secret file (its "type", braces) are not secrets: field names survive."""
    text = "[service_account_json] of type service_account: status_exception { bad request }"
    assert scrub(text) == text


def test_log_records_are_scrubbed() -> None:
    record = logging.LogRecord("httpx", logging.DEBUG, __file__, 1, "sent %s", (ONCE,), None)
    assert ScrubbingFilter().filter(record)
    assert record.getMessage() == f"sent {SENSITIVE}"
