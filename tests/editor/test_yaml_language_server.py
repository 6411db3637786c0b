"""The schemas in an editor: yaml-language-server (what VS Code's YAML extension runs) reports
every error of a spec at its line, with the schemas referenced as the docs tell users to.

The server is the `yaml-language-server` npm package, installed by this test into a folder
of its own (or taken from $YAML_LANGUAGE_SERVER, which .ci/run sets); without npm, or when
npm cannot install it, the test is skipped and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.editor.lsp import LanguageServer

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "yaml-language-server@1.25.0"


@pytest.fixture(scope="session")
def server_command(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    given = os.environ.get("YAML_LANGUAGE_SERVER")
    if given:
        return [given, "--stdio"]
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm/node not found: cannot install yaml-language-server")
    folder = tmp_path_factory.getbasetemp().parent / "yaml-language-server"
    script = folder / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
    if not script.exists():
        folder.mkdir(parents=True, exist_ok=True)
        installed = subprocess.run(
            [
                npm,
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "--prefix",
                str(folder),
                PACKAGE,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if installed.returncode != 0 or not script.exists():
            pytest.skip(f"npm could not install {PACKAGE}: {installed.stderr.strip()[-300:]}")
    return [node, str(script), "--stdio"]


@pytest.fixture()
def editor(server_command: list[str], tmp_path: Path) -> Iterator[LanguageServer]:
    server = LanguageServer(server_command, tmp_path)
    try:
        yield server
    finally:
        server.close()


BROKEN = """\
# yaml-language-server: $schema={schema}
inference_id: Rerank Docs
task_type: rerank
service: jinaai
service_settings:
  api_key: ${{env:JINA_API_KEY}}
  model_id: jina-reranker-v2-base-multilingual
  modle_id: typo
task_settings:
  top_n: three
  return_documents: yes please
"""


def test_every_error_of_a_spec_is_reported_at_its_line(
    editor: LanguageServer, tmp_path: Path
) -> None:
    """The modeline of docs/editors.md, with a path relative to the spec as in examples/."""
    endpoints = tmp_path / "endpoints"
    endpoints.mkdir()
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    spec = endpoints / "rerank.yaml"
    spec.write_text(BROKEN.format(schema="../schemas/endpoint.schema.json"), encoding="utf-8")
    diagnostics = editor.diagnostics(spec)
    lines = sorted({d["range"]["start"]["line"] + 1 for d in diagnostics})
    assert lines == [2, 8, 10, 11], [
        (d["range"]["start"]["line"] + 1, d["message"]) for d in diagnostics
    ]
    assert not [d for d in diagnostics if "Problems loading reference" in d["message"]]
    assert any("modle_id" in d["message"] for d in diagnostics)


def test_a_valid_example_has_no_diagnostics(editor: LanguageServer) -> None:
    diagnostics = editor.diagnostics(REPO / "examples" / "services" / "jinaai" / "rerank.yaml")
    assert diagnostics == []
