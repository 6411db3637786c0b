"""``import`` in process: live endpoints become spec files that validate and plan clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.catalog import load_catalog
from reconciler.importer import write_specs as import_specs
from reconciler.live import read_endpoints, read_version
from reconciler.run import ApplyHooks, ApplyOptions, apply_specs, make_plan
from reconciler.validate import validate_directory
from tests.specs import EMBED, RERANK, write_specs

pytestmark = pytest.mark.usefixtures("secret_variables")


def test_imported_specs_validate_and_plan_no_change(
    tmp_path: Path, connect: Any, monkeypatch: Any
) -> None:
    specs = write_specs(tmp_path / "made", RERANK, EMBED)
    with connect() as session:
        apply_specs(session, specs, options=ApplyOptions(), hooks=ApplyHooks())
        endpoints = read_endpoints(session.client)
        version = read_version(session.client)
    ours = [e for e in endpoints if not e.preconfigured]
    written = import_specs(
        ours, tmp_path / "imported", load_catalog(), schema_ref="x.json", version=version
    )
    assert sorted(p.name for p in written) == ["team-embed.yaml", "team-rerank.yaml"]
    monkeypatch.setenv("TEAM_RERANK_API_KEY", "rerank-secret-value-1")
    monkeypatch.setenv("TEAM_EMBED_API_KEY", "openai-secret-value-1")
    result = validate_directory(tmp_path / "imported")
    assert result.ok, [str(d) for d in result.diagnostics]
    with connect() as session:
        planned = make_plan(session, result.specs, prune=False)
    assert not planned.plan.has_changes, [c.address for c in planned.plan.changes]
