"""What ``import`` writes for one live endpoint: the choices that no example exercises."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.catalog import load_catalog
from reconciler.importer import Recorded, spec_for
from reconciler.model import LiveEndpoint

VERSION = (9, 5, 0)


def imported(body: dict[str, Any], recorded: Recorded | None = None) -> Any:
    endpoint = LiveEndpoint.from_api({"inference_id": "team-x", **body})
    catalog = load_catalog()
    facts = catalog.facts(endpoint.service, endpoint.task_type, VERSION)
    return spec_for(endpoint, facts, catalog.service(endpoint.service), recorded=recorded)


AZURE = {
    "task_type": "completion",
    "service": "azureopenai",
    "service_settings": {"resource_name": "r", "deployment_id": "d", "api_version": "2024-10-21"},
}


@pytest.mark.parametrize(
    ("recorded", "field", "note"),
    [
        (None, "api_key", "also accepts client_secret, entra_id"),
        (Recorded(secrets=("service_settings.entra_id",)), "entra_id", ""),
        (Recorded(declared=("service_settings.entra_id",)), "entra_id", ""),
    ],
)
def test_azure_credential_comes_from_the_state_else_is_a_named_guess(
    recorded: Recorded | None, field: str, note: str
) -> None:
    result = imported(AZURE, recorded)
    secrets = {k for k, v in result.spec["service_settings"].items() if str(v).startswith("${env:")}
    assert secrets == {field}
    assert result.variables == (f"TEAM_X_{field.upper()}",)
    assert (note in " ".join(result.notes)) if note else not result.notes


def test_oauth_client_id_means_client_secret() -> None:
    body = {**AZURE, "service_settings": {**AZURE["service_settings"], "client_id": "app"}}
    assert "client_secret" in imported(body).spec["service_settings"]


def test_custom_without_secret_templates_writes_no_map_and_says_so() -> None:
    body = {
        "task_type": "completion",
        "service": "custom",
        "service_settings": {
            "url": "https://llm.internal/v1?q=${query}",
            "request": '{"input": ${input}, "t": ${temperature}}',
            "response": {"json_parser": {"completion_result": "$.text"}},
        },
        "task_settings": {"parameters": {"temperature": 0.2}},
    }
    result = imported(body)
    assert "secret_parameters" not in result.spec["service_settings"]
    assert any("no secret parameter" in note for note in result.notes)


@pytest.mark.parametrize(
    ("shown", "kept"),
    [
        ({"dimensions": 256, "dimensions_set_by_user": True}, True),
        ({"dimensions": 4096, "dimensions_set_by_user": False}, False),
    ],
)
def test_openshift_ai_says_whether_the_user_chose_dimensions(
    shown: dict[str, Any], kept: bool
) -> None:
    body = {
        "task_type": "text_embedding",
        "service": "openshift_ai",
        "service_settings": {"url": "https://e.example/v1", "similarity": "dot_product", **shown},
    }
    settings = imported(body).spec["service_settings"]
    assert ("dimensions" in settings) is kept
    assert "dimensions_set_by_user" not in settings  # shown, but refused in a request


def test_declared_dimensions_are_written_and_undeclared_ones_are_not() -> None:
    body = {
        "task_type": "text_embedding",
        "service": "openai",
        "service_settings": {"model_id": "text-embedding-3-small", "dimensions": 512},
    }
    names = ("service_settings.api_key", "service_settings.model_id")
    assert "dimensions" not in imported(body, Recorded(declared=names)).spec["service_settings"]
    chosen = Recorded(declared=(*names, "service_settings.dimensions"))
    assert imported(body, chosen).spec["service_settings"]["dimensions"] == 512
