"""`reconciler validate`: every problem, at its file and line, with a message a person can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.validate import validate_directory
from tests.e2e.helpers import run_cli
from tests.specs import AZURE, DEFERRED, INVALID, SHIFT, VALID


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


@pytest.mark.parametrize(("text", "line", "fragment"), DEFERRED)
def test_what_the_catalog_does_not_know_is_a_warning_offline(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
    result = validate_directory(tmp_path)
    assert result.ok and len(result.specs) == 1, [str(d) for d in result.diagnostics]
    shown = [str(d) for d in result.warnings]
    assert any(f"spec.yaml:{line}:" in s and "warning: " + fragment in s for s in shown), shown


def test_strict_counts_what_the_catalog_does_not_know_as_an_error(tmp_path: Path) -> None:
    text, line, fragment = DEFERRED[0]
    (tmp_path / "spec.yaml").write_text(text, encoding="utf-8")
    relaxed = run_cli("validate", str(tmp_path), cwd=tmp_path)
    assert relaxed.code == 0, relaxed.output
    assert f"spec.yaml:{line}:3: warning: {fragment}" in relaxed.stderr
    assert "checked against the cluster at plan time" in relaxed.stderr
    strict = run_cli("validate", "--strict", str(tmp_path), cwd=tmp_path)
    assert strict.code == 1, strict.output
    assert f"spec.yaml:{line}:3: {fragment}" in strict.stderr
    assert "warning:" not in strict.stderr and "Error: 1 problem(s)" in strict.stderr


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


MANY_PROBLEMS = """\
inference_id: many-problems
task_type: text_embedding
service: hugging_face
service_settings:
  api_key: ${env:HF_KEY}
  url: <url>
  model_id: ${env:NOT_A_SECRET}
  not_in_the_catalog: 1
task_settings:
  unknown_task_setting: 2
chunking_settings:
  strategy: word
  max_chunk_size: 100
  overlap: 80
---
inference_id: old-layout
task_type: text_embedding
service: openai
service_settings:
  api_key: ${env:OPENAI_KEY}
  url: https://example.com/v1/<path>
task_settings:
  model: text-embedding-3-small
"""


def test_every_check_of_a_document_reports_at_its_own_line(tmp_path: Path) -> None:
    """The per-document checks share their look-ups (one pass per document): each still reports
    every problem it finds, at the line of the node it is about."""
    (tmp_path / "spec.yaml").write_text(MANY_PROBLEMS, encoding="utf-8")
    result = validate_directory(tmp_path)

    def shown(found: tuple[object, ...]) -> list[str]:
        return [str(d).split("spec.yaml:", 1)[1] for d in found]

    url = "Elasticsearch cannot parse this URL ('<' at index {}"
    unknown = "unknown field '{}' (service hugging_face, task type text_embedding)"
    assert shown(result.diagnostics) == [
        f"6:3: service_settings.url: {url.format(0)} is not allowed in a URL); a placeholder "
        "from an example left in?",
        "7:3: service_settings.model_id: ${env:...} may stand only as the whole value of a secret "
        "field (service_settings.api_key); write ${var:NAME} here",
        f"7:3: service_settings: {unknown.format('model_id')}",
        f"10:3: task_settings: {unknown.format('unknown_task_setting')}",
        "14:3: chunking_settings.overlap: must be at most half of max_chunk_size (50), got 80",
        f"21:3: service_settings.url: {url.format(23)} is not allowed in a URL); a placeholder "
        "from an example left in?",
    ]
    assert shown(result.warnings) == [
        "8:3: warning: service_settings.not_in_the_catalog of service 'hugging_face' is not in "
        "the catalog: checked against the cluster at plan time"
    ]
    assert shown(result.notes) == [
        "23:3: note: task_settings.model is an old layout that Elasticsearch still accepts and "
        "reads as service_settings.model_id; the current layout is service_settings.model_id: "
        "text-embedding-3-small"
    ]
