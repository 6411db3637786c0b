"""URLs as Elasticsearch's parser (java.net.URI via ServiceUtils.createUri) takes or refuses them.

Refusing a URL the server takes would block a working spec, so the accepted column matters as
much as the refused one: every real endpoint form below must pass.
"""

from __future__ import annotations

import pytest

from reconciler.uris import uri_problem


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1/embeddings",
        "https://acme.endpoints.huggingface.cloud",
        "http://localhost:8080/v1/chat/completions",
        "localhost:8080",
        "http://[::1]:8080/embed",
        "https://example.com/search?ids=[1,2]&q=a%20b",
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/l/endpoints/e:rawPredict",
        "https://exämple.com/ünicode",
        "https://example.com/path#fragment",
    ],
)
def test_urls_the_server_parses_pass(url: str) -> None:
    assert uri_problem(url) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("<url>", "'<' at index 0 is not allowed"),
        ("<HF-URL>", "'<' at index 0 is not allowed"),
        ("https://example.com/a b", "a space at index 21"),
        ("https://%LOCATION_ID%-aiplatform.googleapis.com", "'%' at index 8 does not start"),
        ("https://example.com/{model}", "'{' at index 20"),
        ("https://", "expected an authority at index 8"),
        (":8080", "expected a scheme name at index 0"),
        ("https://example.com/p[1]", "'[' at index 21 is not allowed in a URL's path"),
    ],
)
def test_urls_the_server_refuses_are_named_by_character_and_index(url: str, problem: str) -> None:
    found = uri_problem(url)
    assert found is not None and problem in found and url not in found
