"""doctor.compare: the catalog against a `_services` listing (golden agreement/disagreement).

The listing comes from the sandbox's own service table (independent of the
catalog) through its HTTP API on 127.0.0.1, then is edited the way a real
cluster can differ: a service missing, a task type missing, a field flag
flipped, an unknown service and field.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from reconciler.catalog import load_catalog
from reconciler.doctor import compare
from reconciler.sandbox import SandboxServer
from tests.sandbox.helpers import plain

GOLDEN = Path(__file__).parent / "golden" / "doctor_disagreement.txt"
VERSIONS = ["8.18.0", "8.19.0", "9.0.0", "9.1.0", "9.3.0", "9.4.0", "9.5.0"]


def listing(version: str) -> list[dict[str, Any]]:
    with SandboxServer(port=0, version=version) as server:
        return list(plain.get(server.url + "/_inference/_services").json())


@pytest.mark.parametrize("version", VERSIONS)
def test_the_sandbox_listing_agrees_with_the_catalog(version: str) -> None:
    assert [
        str(d) for d in compare(load_catalog(), listing(version), cluster_version=version)
    ] == []


def edited(body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    services = {entry["service"]: copy.deepcopy(entry) for entry in body}
    del services["cohere"]
    services["openai"]["task_types"].remove("embedding")
    services["openai"]["configurations"]["api_key"]["sensitive"] = False
    services["openai"]["configurations"]["organization_id"]["updatable"] = False
    services["mistral"]["configurations"]["model"]["required"] = False
    del services["groq"]["configurations"]["organization_id"]
    services["groq"]["configurations"]["reasoning_effort"] = {
        "label": "Reasoning effort",
        "required": False,
        "sensitive": False,
        "updatable": False,
        "type": "str",
        "supported_task_types": ["chat_completion"],
    }
    services["mixedbread"] = {
        "service": "mixedbread",
        "name": "Mixedbread",
        "task_types": ["rerank"],
        "configurations": {},
    }
    return list(services.values())


def test_a_listing_that_differs_gives_one_line_per_difference() -> None:
    found = compare(load_catalog(), edited(listing("9.5.0")), cluster_version="9.5.0")
    lines = "".join(f"{d}\n" for d in found)
    assert lines == GOLDEN.read_text(encoding="utf-8")


def test_services_newer_than_the_cluster_version_are_disagreements() -> None:
    # a 9.0 listing read as if the cluster ran 8.17: every 8.18 service is then news
    found = [str(d) for d in compare(load_catalog(), listing("9.0.0"), cluster_version="8.17.0")]
    assert "jinaai: service: offered by the cluster; the catalog dates it 8.18.0" in found
    assert (
        "watsonxai: task_type rerank: offered by the cluster; not in the catalog for this version"
        in found
    )


def test_a_listing_that_is_not_an_array_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON array"):
        compare(load_catalog(), {"endpoints": []}, cluster_version="9.5.0")
