"""tools/catalog_check.py against a small specification checkout written here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import catalog_check  # noqa: E402

REQUEST = """
/**
 * Create a Jina AI inference endpoint.
 * @availability stack since=8.18.0 stability=stable visibility=public
 */
export interface Request extends RequestBase {
  path_parts: {
    /** The task type. */
    task_type: JinaAITaskType
    jinaai_inference_id: Id
  }
  body: {
    chunking_settings?: InferenceChunkingSettings
    service: JinaAIServiceType
    service_settings: JinaAIServiceSettings
    task_settings?: JinaAITaskSettings
  }
}
"""
TYPES = """
export class JinaAIServiceSettings {
  /** The key. */
  api_key: string
  model_id: string
  rate_limit?: RateLimitSetting
  similarity?: JinaAISimilarityType
  dimensions?: integer
  element_type?: string
}
export class JinaAITaskSettings {
  return_documents?: boolean
  task?: JinaAITextEmbeddingTask
  top_n?: integer
  late_chunking?: boolean
}
export enum JinaAITaskType {
  rerank,
  text_embedding,
  embedding,
  sparse_embedding
}
export enum JinaAIServiceType {
  jinaai
}
"""


def test_prints_each_disagreement_and_the_catalogs_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inference = tmp_path / "specification" / "inference"
    (inference / "put_jinaai").mkdir(parents=True)
    (inference / "_types").mkdir()
    (inference / "put_jinaai" / "PutJinaAiRequest.ts").write_text(REQUEST, encoding="utf-8")
    (inference / "_types" / "JinaTypes.ts").write_text(TYPES, encoding="utf-8")
    code = catalog_check.main([str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 2
    assert "jinaai: task_type sparse_embedding: in the specification; not in the catalog" in lines
    assert (
        "jinaai: service_settings.element_type: in the specification; not in the catalog" in lines
    )
    assert "jinaai: task_settings.task: in the specification; not in the catalog" in lines
    assert "jinaai: task_settings.input_type: in the catalog; not in the specification" in lines
    (reason,) = [line for line in lines if "service_settings.max_input_tokens" in line]
    assert reason.endswith("-- catalog: Maximum tokens per input (server source; not in the spec).")
    # every other catalog service has no put API in this specification
    assert "ai21: service: in the catalog; no put API in the specification" in lines


def test_not_a_checkout_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not a checkout of elasticsearch-specification"):
        catalog_check.main([str(tmp_path)])
