"""Task types newer than the cluster, and services the cluster's `_services` does not offer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.availability import offer_problems, parse_offered
from reconciler.catalog import load_catalog
from reconciler.model import EndpointSpec
from reconciler.validate import validate_directory
from reconciler.versions import too_new

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "services"


def load(tmp_path: Path, *names: str) -> tuple[EndpointSpec, ...]:
    for name in names:
        service, task_type = name.split("/")
        target = tmp_path / service
        target.mkdir(exist_ok=True)
        shutil.copy(EXAMPLES / service / f"{task_type}.yaml", target / f"{task_type}.yaml")
    result = validate_directory(tmp_path, variables={})
    assert result.ok, result.diagnostics
    return result.specs


@pytest.mark.parametrize(
    ("version", "refused"),
    [
        ("8.17.0", {"chat_completion", "rerank", "embedding"}),
        ("8.18.3", {"rerank", "embedding"}),
        ("8.19.0", {"embedding"}),
        ("9.0.0", {"rerank", "embedding"}),
        ("9.3.9", {"embedding"}),
        ("9.4.0", set()),
    ],
)
def test_task_type_versions_follow_the_release_line(
    tmp_path: Path, version: str, refused: set[str]
) -> None:
    specs = load(tmp_path, "elastic/chat_completion", "elastic/rerank", "elastic/embedding")
    problems = too_new(specs, catalog=load_catalog(), cluster_version=version)
    assert {p.file.rsplit("/", 1)[1].removesuffix(".yaml") for p in problems} == refused
    assert all(p.message.endswith(f"the cluster runs {version}") for p in problems)


def test_offer_problems(tmp_path: Path) -> None:
    specs = load(tmp_path, "elastic/rerank", "elastic/chat_completion", "jinaai/rerank")
    catalog = load_catalog()
    offered = parse_offered(
        [
            {"service": "elastic", "task_types": ["chat_completion", "sparse_embedding"]},
            {"service": "jinaai", "task_types": ["rerank", "text_embedding"]},
            "not a configuration",
        ]
    )
    (problem,) = offer_problems(specs, catalog, offered)
    assert problem.file.endswith("rerank.yaml") and "elastic" in problem.file
    assert (
        "offered by this cluster for task types [chat_completion, sparse_embedding], not for 'rerank'"
        in (problem.message)
    )
    # a cluster listing nothing offers nothing: every spec is named, EIS with its hint
    missing = offer_problems(specs, catalog, {})
    assert len(missing) == 3
    (jina,) = [p for p in missing if "jinaai" in p.file]
    assert "service 'jinaai' is not offered by this cluster" in jina.message
    (eis,) = [p for p in missing if "elastic" in p.file and "rerank" in p.file]
    assert "Cloud Connect" in eis.message


def test_an_alias_is_offered_as_the_service_it_names(tmp_path: Path) -> None:
    specs = load(tmp_path, "elser/sparse_embedding")
    offered = {"elasticsearch": frozenset({"sparse_embedding", "text_embedding", "rerank"})}
    assert offer_problems(specs, load_catalog(), offered) == []


def test_the_clusters_word_beats_the_catalogs_dates(tmp_path: Path) -> None:
    """fireworksai is dated 9.4.0; a 9.3.0 cluster whose _services lists it is not refused."""
    (spec,) = load(tmp_path, "fireworksai/text_embedding")
    catalog = load_catalog()
    assert too_new((spec,), catalog=catalog, cluster_version="9.3.0") != []
    listed = {"fireworksai": frozenset({"text_embedding"})}
    assert too_new((spec,), catalog=catalog, cluster_version="9.3.0", offered=listed) == []
    # a task type it does not list is the listing's to refuse (blocked), naming what it lists
    other = {"fireworksai": frozenset({"completion"}), "openai": frozenset({"completion"})}
    assert too_new((spec,), catalog=catalog, cluster_version="9.3.0", offered=other) == []
    (refused,) = offer_problems([spec], catalog, other)
    assert "for task types [completion], not for 'text_embedding'" in refused.message


def test_an_endpoint_the_cluster_holds_is_never_refused_by_a_date(tmp_path: Path) -> None:
    (spec,) = load(tmp_path, "fireworksai/text_embedding")
    held = ((spec.inference_id, "fireworksai", "text_embedding"),)
    assert too_new((spec,), catalog=load_catalog(), cluster_version="9.3.0", held=held) == []
    other = ((spec.inference_id, "fireworksai", "completion"),)  # another endpoint: checked
    assert too_new((spec,), catalog=load_catalog(), cluster_version="9.3.0", held=other) != []
