"""`reconciler validate`: every problem, at its file and line, with a message a person can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.validate import validate_directory
from tests.e2e.helpers import run_cli

AZURE = """\
inference_id: azure-embed
task_type: text_embedding
service: azureopenai
service_settings:
  resource_name: acme
  deployment_id: text-embedding-3-large
  api_version: "2024-02-01"
  api_key: ${env:AZURE_KEY}
"""
SHIFT = """\
inference_id: shift-rerank
task_type: rerank
service: openshift_ai
service_settings:
  url: https://rerank.example/v1
  model_id: bge-reranker-v2-m3
  api_key: ${env:SHIFT_KEY}
task_settings:
  top_n: 3
  return_documents: true
"""
VALID = [
    AZURE,
    AZURE.replace("api_key: ${env:AZURE_KEY}", "entra_id: ${file:entra.token}"),
    AZURE.replace(
        "  api_key: ${env:AZURE_KEY}\n",
        "  client_id: app\n  scopes: [api://x/.default]\n"
        "  tenant_id: t1\n  client_secret: ${env:AZURE_SECRET}\n",
    ),
    AZURE.replace("text_embedding", "completion") + "task_settings:\n  user: alice\n",
    AZURE.replace("text_embedding", "chat_completion"),
    AZURE + "chunking_settings:\n  strategy: word\n  max_chunk_size: 100\n  overlap: 50\n",
    AZURE
    + "chunking_settings:\n  strategy: recursive\n  max_chunk_size: 100\n  separator_group: markdown\n",
    AZURE + "chunking_settings:\n  strategy: none\n",
    AZURE.replace(
        '  api_version: "2024-02-01"\n',
        '  api_version: "2024-02-01"\n  dimensions: 1024\n'
        "  rate_limit:\n    requests_per_minute: 100\n",
    ),
    SHIFT,
    SHIFT.replace("task_type: rerank", "task_type: text_embedding").split("task_settings")[0]
    + "chunking_settings:\n  strategy: sentence\n  max_chunk_size: 20\n  sentence_overlap: 0\n",
    SHIFT.replace("task_type: rerank", "task_type: completion").split("task_settings")[0],
    SHIFT.replace("task_type: rerank", "task_type: chat_completion").split("task_settings")[0],
]

# (spec text, expected line, expected message fragment)
INVALID = [
    (AZURE.replace("${env:AZURE_KEY}", "sk-literal-key"), 8, "is a secret"),
    (AZURE + "  entra_id: ${env:E}\n", 4, "service_settings"),
    (
        AZURE.replace(
            "  api_key: ${env:AZURE_KEY}\n", "  client_id: app\n  client_secret: ${env:S}\n"
        ),
        4,
        "service_settings",
    ),
    (AZURE.replace('  api_version: "2024-02-01"\n', ""), 4, "missing required field 'api_version'"),
    (AZURE.replace("  resource_name: acme\n", ""), 4, "missing required field 'resource_name'"),
    (AZURE + "  colour: blue\n", 9, "unknown field 'colour'"),
    (SHIFT.replace("https://rerank.example/v1", "${env:HFURL}"), 5, "secret field"),
    (SHIFT.replace("https://rerank.example/v1", "https://${file:host}/v1"), 5, "secret field"),
    (SHIFT.replace("bge-reranker-v2-m3", "${var:nope"), 6, "'${var:nope' is not a reference"),
    (SHIFT.replace("bge-reranker-v2-m3", "x-${var:}"), 6, "is not a reference"),
    (SHIFT.replace("bge-reranker-v2-m3", "${{var:x}}"), 6, "is not a reference"),
    (AZURE + "task_settings:\n  user: ${env:USER}\n", 10, "may stand only"),
    (SHIFT.replace("bge-reranker-v2-m3", "${input}"), 6, "is not a reference"),  # custom only
    (AZURE + "extra_top: 1\n", 9, "unknown field 'extra_top'"),
    (AZURE + "task_settings:\n  top_n: 3\n", 10, "top_n"),
    (
        AZURE.replace("text_embedding", "completion") + "chunking_settings:\n  strategy: none\n",
        9,
        "chunking_settings",
    ),
    (
        AZURE + "chunking_settings:\n  strategy: sentence\n  max_chunk_size: 19\n",
        11,
        "must be >= 20",
    ),
    (
        AZURE + "chunking_settings:\n  strategy: word\n  max_chunk_size: 5\n  overlap: 1\n",
        11,
        "must be >= 10",
    ),
    (
        AZURE + "chunking_settings:\n  strategy: word\n  max_chunk_size: 100\n  overlap: 60\n",
        12,
        "at most half of max_chunk_size",
    ),
    (
        AZURE + "chunking_settings:\n  strategy: sentence\n  max_chunk_size: 100\n  overlap: 10\n",
        12,
        "overlap",
    ),
    (
        AZURE
        + "chunking_settings:\n  strategy: sentence\n  max_chunk_size: 100\n  sentence_overlap: 2\n",
        12,
        "sentence_overlap",
    ),
    (
        AZURE + "chunking_settings:\n  strategy: recursive\n  max_chunk_size: 100\n",
        9,
        "chunking_settings",
    ),
    (
        AZURE
        + "chunking_settings:\n  strategy: recursive\n  max_chunk_size: 100\n  separator_group: markdown\n"
        "  separators: [a]\n",
        9,
        "chunking_settings",
    ),
    (AZURE + "chunking_settings:\n  strategy: paragraph\n", 10, "strategy"),
    (AZURE.replace("azure-embed", "Azure-Embed"), 1, "inference_id"),
    (AZURE.replace("azure-embed", ".azure-embed"), 1, "inference_id"),
    (AZURE.replace("azure-embed", "_all"), 1, "inference_id"),
    (AZURE.replace("azure-embed", "ends-with-dash-"), 1, "inference_id"),
    (AZURE.replace("service: azureopenai", "service: azure_openai"), 3, "service"),
    (AZURE.replace("task_type: text_embedding", "task_type: rerank"), 2, "task_type"),
    (AZURE.replace("task_type: text_embedding", "task_type: sparse_embedding"), 2, "task_type"),
    (AZURE.replace('"2024-02-01"', "[1, 2]"), 7, "expected string, got array"),
    (AZURE + "  dimensions: many\n", 9, "expected integer, got string"),
    (
        AZURE + "  rate_limit:\n    requests_per_minute: 10\n    burst: 5\n",
        11,
        "unknown field 'burst'",
    ),
    (AZURE + "  rate_limit:\n    requests_per_minute: 0\n", 10, "requests_per_minute"),
    (SHIFT.replace("  url: https://rerank.example/v1\n", ""), 4, "missing required field 'url'"),
    (SHIFT.replace("  api_key: ${env:SHIFT_KEY}\n", ""), 4, "missing required field 'api_key'"),
    (SHIFT.replace("top_n: 3", "top_n: three"), 9, "expected integer"),
    (
        SHIFT.replace("return_documents: true", "return_documents: sometimes"),
        10,
        "expected boolean",
    ),
    (SHIFT.replace("task_type: rerank", "task_type: text_embedding"), 9, "top_n"),
    (SHIFT + "  similarity: manhattan\n", 11, "similarity"),
    (SHIFT.replace("task_settings:", "task_settings:\n  user: bob"), 9, "user"),
    (SHIFT.replace("${env:SHIFT_KEY}", "${vault:SHIFT_KEY}"), 7, "is a secret"),
    (SHIFT.replace("inference_id: shift-rerank\n", ""), 1, "missing required field 'inference_id'"),
    (SHIFT.replace("service: openshift_ai\n", ""), 1, "missing required field 'service'"),
]


def run_validate(tmp_path: Path, text: str) -> tuple[int, str]:
    (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
    result = run_cli("validate", str(tmp_path), cwd=tmp_path)
    return result.code, result.output


@pytest.mark.parametrize("text", VALID)
def test_valid_shapes_of_the_seed_services(tmp_path: Path, text: str) -> None:
    result = validate_directory(tmp_path if (tmp_path / "spec.yaml").write_text(text) else tmp_path)
    assert result.ok, [str(d) for d in result.diagnostics]
    assert len(result.specs) == 1


@pytest.mark.parametrize(("text", "line", "fragment"), INVALID)
def test_invalid_specs_name_file_line_and_problem(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
    result = validate_directory(tmp_path)
    assert not result.ok
    shown = [str(d) for d in result.diagnostics]
    assert any(f"spec.yaml:{line}:" in s and fragment in s for s in shown), shown
    assert not any("sk-literal-key" in s for s in shown)


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(AZURE.replace("${env:AZURE_KEY}", "literal") + "colour: red\n")
    (tmp_path / "b.yaml").write_text(SHIFT + "---\n" + SHIFT)
    (tmp_path / "c.yaml").write_text("- just\n- a list\n")
    result = validate_directory(tmp_path)
    shown = "\n".join(str(d) for d in result.diagnostics)
    assert "a.yaml:8:" in shown and "a.yaml:9:" in shown
    assert "b.yaml:12:" in shown and "declared twice" in shown and "b.yaml:1" in shown
    assert "c.yaml:1:1: a spec document must be a mapping" in shown


def test_cli_exit_codes_and_output(tmp_path: Path) -> None:
    code, output = run_validate(tmp_path, AZURE)
    assert code == 0 and "1 endpoint spec valid" in output
    code, output = run_validate(tmp_path, AZURE + "colour: red\n")
    assert code == 1 and "spec.yaml:9:1: unknown field 'colour'" in output
    assert "Traceback" not in output


def test_a_leading_dot_id_is_reserved_not_a_regular_expression(tmp_path: Path) -> None:
    code, output = run_validate(tmp_path, SHIFT.replace("shift-rerank", ".shift-rerank"))
    assert code == 1, output
    assert (
        "spec.yaml:1:1: inference_id: '.shift-rerank' is reserved for Elasticsearch's "
        "preconfigured endpoints" in output
    )
    assert "does not match" not in output and "Traceback" not in output
    code, output = run_validate(tmp_path, SHIFT.replace("shift-rerank", "Shift-Rerank"))
    assert code == 1 and "does not match" in output and "reserved" not in output


def test_a_trailing_separator_validates(tmp_path: Path) -> None:
    code, output = run_validate(tmp_path, SHIFT + "---\n# next endpoint goes here\n---\n")
    assert code == 0 and "1 endpoint spec valid" in output, output


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        (".", "1 endpoint spec valid in ./.\n"),
        ("spec.yaml", "1 endpoint spec valid in spec.yaml.\n"),
    ],
)
def test_the_success_line_never_ends_in_a_double_period(
    tmp_path: Path, argument: str, expected: str
) -> None:
    (tmp_path / "spec.yaml").write_text(SHIFT, encoding="utf-8")
    result = run_cli("validate", argument, cwd=tmp_path)
    assert result.code == 0 and result.stdout == expected, result.output


def test_examples_validate() -> None:
    root = Path(__file__).resolve().parents[2] / "examples"
    for directory in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "github"):
        result = validate_directory(directory)
        assert result.ok, (directory, [str(d) for d in result.diagnostics])
        assert result.specs, directory
