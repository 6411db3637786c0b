"""The repository is self-contained: no tracked file outside docs/ cites a document outside it.

What the code relies on (the architecture, Elasticsearch's behaviour) is written in
``docs/``; a citation of a file that only exists on one engineer's machine is a dead
link for every other contributor. Every tracked file is scanned, not only Python.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Built from parts so that this file does not itself contain what it forbids.
FORBIDDEN = (
    "/work/" + "shared",
    "../" + "shared",
    "DESIGN" + ".md",
    "STYLE" + ".md",
    "es-api-" + "behaviour",
    "service-" + "behaviour",
    "spec-" + "notes",
    "catalog-" + "audit",
)

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")


def outside_citations(root: Path) -> list[str]:
    """``file:line: text`` for every mention of an outside document in ``root``'s tracked files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    found: list[str] = []
    for name in sorted(filter(None, listed.split("\0"))):
        path = root / name
        if name.startswith("docs/") or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # binary files cite nothing
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if any(word.lower() in line.lower() for word in FORBIDDEN):
                found.append(f"{name}:{number}: {line.strip()}")
    return found


@needs_git
def test_no_tracked_file_outside_docs_cites_an_outside_document() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    found = outside_citations(ROOT)
    assert not found, "cite docs/ instead:\n" + "\n".join(found)


@needs_git
def test_the_scan_finds_a_citation_and_ignores_docs(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "sources.md").write_text(
        "read from service-" + "behaviour.md\n", encoding="utf-8"
    )
    cited = "# see ../" + "Shared/DESIGN" + ".md §4"  # matched whatever the case
    (tmp_path / "module.py").write_text('"""Clean."""\n' + cited + "\n", encoding="utf-8")
    (tmp_path / "untracked.py").write_text("# " + "/work/" + "shared/x\n", encoding="utf-8")
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe" + ("STYLE" + ".md").encode())
    subprocess.run(["git", "add", "docs", "module.py", "blob.bin"], cwd=tmp_path, check=True)

    assert outside_citations(tmp_path) == [f"module.py:2: {cited}"]
