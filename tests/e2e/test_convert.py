"""`reconciler convert`: Dev Tools console text -> spec files, run in-process as a user would.

Console text copied from Elastic's documentation and notebooks: several requests, comments
(``#``, ``//``, ``/* */``), trailing commas, triple-quoted strings, ``PUT _inference/{id}``
with the task type in the body, requests that create nothing. Every secret literal becomes an
``${env:NAME}`` reference and is found in no output and no file; old layouts are kept or
modernised; existing files are never replaced; what convert writes validates.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import yaml

from reconciler.cli import main
from reconciler.validate import validate_directory

OPENAI_KEY = "sk-proj-THISISTHEOPENAIKEY0123456789"
COHERE_KEY = "co-THISISTHECOHEREKEY987654"
CUSTOM_KEY = "custom-SECRET-PARAMETER-5555"

CONSOLE = f'''# From the 8.12 semantic search notebook
PUT _inference/text_embedding/openai-embeddings
{{
  "service": "openai",
  "service_settings": {{
    "api_key": "{OPENAI_KEY}", // paste your key here
  }},
  "task_settings": {{
    "model": "text-embedding-ada-002",
  }},
}}

/* the reranker, with the task type in the body */
PUT /_inference/cohere-rerank?timeout=30s
{{
  "task_type": "rerank",
  "service": "cohere",
  "service_settings": {{"api_key": "{COHERE_KEY}", "model": "rerank-english-v3.0"}},
  "task_settings": {{"top_n": 10, "return_documents": true,}}
}}

// try it
POST _inference/text_embedding/openai-embeddings
{{"input": """two
lines"""}}

PUT _inference/sparse_embedding/my-elser
{{
  "service": "elser",
  "service_settings": {{"num_allocations": 1, "num_threads": 1}}
}}

PUT _inference/text_embedding/custom-embeddings
{{
  "service": "custom",
  "service_settings": {{
    "secret_parameters": {{"api_key": "{CUSTOM_KEY}"}},
    "url": "https://api.example.com/v1/embeddings",
    "headers": {{"Authorization": "Bearer ${{api_key}}"}},
    "request": """{{"input": ${{input}}}}""",
    "response": {{"json_parser": {{"text_embeddings": "$.data[*].embedding[*]"}}}}
  }}
}}
'''
SECRETS = (OPENAI_KEY, COHERE_KEY, CUSTOM_KEY)


def convert(
    args: list[str], stdin: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    with pytest.raises(SystemExit) as exited:
        main(["convert", *args])
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def every_file_text(directory: Path) -> str:
    return "".join(
        p.read_text(encoding="utf-8") for p in sorted(directory.rglob("*")) if p.is_file()
    )


def test_console_text_becomes_one_spec_per_request_with_no_secret_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "console.txt"
    source.write_text(CONSOLE, encoding="utf-8")
    out = tmp_path / "endpoints"
    code, stdout, stderr = convert([str(source), "--out", str(out)], "", capsys, monkeypatch)
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "cohere-rerank.yaml",
        "custom-embeddings.yaml",
        "my-elser.yaml",
        "openai-embeddings.yaml",
    ]
    written = every_file_text(out)
    for secret in SECRETS:
        assert secret not in stdout + stderr + written
    assert "replaced the literal api_key of openai-embeddings" in stderr
    assert "replaced the literal secret_parameters.api_key of custom-embeddings" in stderr
    assert f"{source}:23: skipped POST _inference/text_embedding/openai-embeddings" in stderr
    openai = yaml.safe_load((out / "openai-embeddings.yaml").read_text(encoding="utf-8"))
    assert openai == {
        "inference_id": "openai-embeddings",
        "task_type": "text_embedding",
        "service": "openai",
        "service_settings": {"api_key": "${env:OPENAI_EMBEDDINGS_API_KEY}"},
        "task_settings": {"model": "text-embedding-ada-002"},  # kept as written
    }
    cohere = yaml.safe_load((out / "cohere-rerank.yaml").read_text(encoding="utf-8"))
    assert (cohere["task_type"], cohere["task_settings"]) == (
        "rerank",
        {"top_n": 10, "return_documents": True},
    )
    custom = yaml.safe_load((out / "custom-embeddings.yaml").read_text(encoding="utf-8"))
    assert custom["service_settings"]["secret_parameters"] == {
        "api_key": "${env:CUSTOM_EMBEDDINGS_SECRET_PARAMETERS_API_KEY}"
    }
    assert custom["service_settings"]["request"] == '{"input": ${input}}'  # triple quotes verbatim
    assert "OPENAI_EMBEDDINGS_API_KEY" in stdout and "# Note: old layout kept" in written
    result = validate_directory(out)  # what convert writes validates, old layouts with a note
    assert result.ok, [str(d) for d in result.diagnostics]
    assert len(result.notes) == 3


def test_modernise_writes_the_current_layout_and_existing_files_are_never_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "endpoints"
    code, _, stderr = convert(["--out", str(out), "--modernise"], CONSOLE, capsys, monkeypatch)
    assert code == 0, stderr
    openai = yaml.safe_load((out / "openai-embeddings.yaml").read_text(encoding="utf-8"))
    assert openai["service_settings"] == {
        "api_key": "${env:OPENAI_EMBEDDINGS_API_KEY}",
        "model_id": "text-embedding-ada-002",
    }
    assert "task_settings" not in openai
    elser = yaml.safe_load((out / "my-elser.yaml").read_text(encoding="utf-8"))
    assert elser["service"] == "elasticsearch"
    assert elser["service_settings"]["model_id"] == ".elser_model_2"
    assert validate_directory(out).ok and not validate_directory(out).notes
    before = every_file_text(out)
    code, stdout, stderr = convert(["--out", str(out)], CONSOLE, capsys, monkeypatch)
    assert code == 1 and "refusing to overwrite" in stderr and "nothing was written" in stderr
    assert every_file_text(out) == before
    assert all(secret not in stdout + stderr for secret in SECRETS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'PUT _inference/text_embedding/x\n{"service": "openai",\n  "service_settings": {"api_key": '
            f'"{OPENAI_KEY}" "model_id": "m"}}}}\n',
            "<stdin>:3:",
        ),
        (
            f'PUT _inference/x\n{{"service": "openai", "service_settings": {{"api_key": "{OPENAI_KEY}"}}}}\n',
            "names no task type",
        ),
        (
            'PUT _inference/rerank/x\n{"task_type": "completion", "service": "openai"}\n',
            "Elasticsearch refuses the conflict",
        ),
        (
            'PUT _inference/text_embedding/x\n{"service": "custom", "service_settings": {'
            f'"secret_parameters": {{"k": "{CUSTOM_KEY}"}}, "headers": {{"A": "{CUSTOM_KEY}"}}}}}}\n',
            "also appears in service_settings.headers.A",
        ),
        ("GET _inference/_all\n", "holds no PUT _inference request"),
        ("PUT _inference/rerank/x\n" + "[" * 5000, "<stdin>:2:66: nesting deeper than 64 levels"),
    ],
    ids=[
        "syntax error",
        "no task type",
        "conflicting task types",
        "secret copied",
        "nothing",
        "deep",
    ],
)
def test_bad_console_text_is_refused_at_its_line_and_nothing_is_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    message: str,
) -> None:
    out = tmp_path / "endpoints"
    code, stdout, stderr = convert(["--out", str(out)], text, capsys, monkeypatch)
    assert code == 1 and message in stderr, stderr
    assert "Traceback" not in stderr and not out.exists()
    assert all(secret not in stdout + stderr for secret in SECRETS)
