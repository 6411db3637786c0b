"""URL text as Elasticsearch parses it: what ``ServiceUtils.createUri`` refuses at PUT.

Owns one question, "would Elasticsearch's URL parser (``java.net.URI``) refuse
this text?", so that a placeholder copied from an example (``<url>``,
``<HF-URL>``) is an error at validate, not a 400 at apply. It follows the
parser's grammar only where it refuses (RFC 2396 characters, ``%`` escapes, an
empty authority, a missing scheme name) and accepts everything else: a false
refusal would block a spec the server takes. Messages name the character and
its index, never the URL (it may carry credentials). Pure.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Not in java.net.URI's character classes anywhere (RFC 2396 "unwise" and "delims", space).
_NEVER = frozenset(' "<>\\^`{|}')
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


@lru_cache(maxsize=4096)  # thousands of specs name a few provider URLs: each is read once
def uri_problem(text: str) -> str | None:
    """Why the server's URL parser refuses ``text``, or None when it parses."""
    for index, char in enumerate(text):
        if char in _NEVER or ord(char) < 0x20 or ord(char) == 0x7F:
            shown = repr(char) if char != " " else "a space"
            return f"{shown} at index {index} is not allowed in a URL"
        if char == "%" and not re.fullmatch(r"[0-9A-Fa-f]{2}", text[index + 1 : index + 3]):
            return f"'%' at index {index} does not start a %XX escape"
    if text.startswith(":"):
        return "expected a scheme name at index 0"
    scheme = _SCHEME.match(text)
    rest = text[scheme.end() :] if scheme else text
    offset = scheme.end() if scheme else 0
    if scheme and not rest:
        return f"expected a scheme-specific part at index {offset}"
    if rest.startswith("//"):
        authority = re.match(r"[^/?#]*", rest[2:])
        if authority is not None and not authority.group() and len(rest) == 2:
            return f"expected an authority at index {offset + 2}"
        path_start = offset + 2 + (authority.end() if authority else 0)
    else:
        path_start = offset
    path = re.match(r"[^?#]*", text[path_start:])
    for index, char in enumerate(path.group() if path else ""):
        if char in "[]":
            return f"{char!r} at index {path_start + index} is not allowed in a URL's path"
    return None
