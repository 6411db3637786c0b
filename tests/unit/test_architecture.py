"""The module plan holds: pure stages never speak HTTP or drive a terminal; one module imports httpx."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
PURE = [
    "model.py",
    "catalog.py",
    "service_facts.py",
    "normalize.py",
    "diff.py",
    "calls.py",
    "plan.py",
    "planner.py",
    "safety.py",
    "planfile.py",
    "schema.py",
    "validate.py",
    "loader.py",
    "forked.py",
    "identity.py",
    "versions.py",
    "doctor.py",
    "described.py",
    "settings.py",  # configuration describes a connection; only the session opens one
    "connection.py",
    "variables.py",
    "verify.py",
    "region_policy.py",
    *[f"render/{p.name}" for p in (PACKAGE / "render").glob("*.py")],
]


def direct_imports(path: Path) -> set[str]:
    """Modules ``path`` imports (also inside functions), but not those only for type checking."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for child in ast.walk(statement)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def source_of(module: str) -> Path | None:
    parts = module.split(".")[1:]
    for candidate in (
        PACKAGE.joinpath(*parts).with_suffix(".py"),
        PACKAGE.joinpath(*parts, "__init__.py"),
    ):
        if parts and candidate.is_file():
            return candidate
    return None


def imported(path: Path) -> set[str]:
    """Top-level packages ``path`` reaches, directly or through the reconciler's own modules."""
    seen: set[Path] = set()
    reached: set[str] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for module in direct_imports(current):
            reached.add(module.split(".")[0])
            if module.startswith("reconciler."):
                found = source_of(module)
                if found is not None:
                    todo.append(found)
    return reached


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_neither_httpx_nor_click(module: str) -> None:
    assert not imported(PACKAGE / module) & {"httpx", "click"}


def reconciler_modules(path: Path) -> set[str]:
    """The reconciler modules ``path`` reaches, directly or through others."""
    seen: set[Path] = set()
    reached: set[str] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for module in direct_imports(current):
            found = source_of(module) if module.startswith("reconciler.") else None
            if found is not None:
                reached.add(found.relative_to(PACKAGE).as_posix())
                todo.append(found)
    return reached


def test_apply_runs_the_plan_it_is_given_and_never_plans() -> None:
    """Apply needs no spec, no catalog and no second plan; renderers never reach the code
    that writes (an apply's result is a value beside the plan)."""
    direct = {
        m.split(".")[1] for m in direct_imports(PACKAGE / "apply.py") if m.startswith("reconciler.")
    }
    assert not direct & {"planner", "catalog", "normalize", "diff", "calls", "verify"}
    for renderer in (PACKAGE / "render").glob("*.py"):
        assert "apply.py" not in reconciler_modules(renderer), renderer.name


def test_only_the_client_imports_httpx() -> None:
    users = sorted(
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if "httpx" in direct_imports(p) or any(m.startswith("httpx.") for m in direct_imports(p))
    )
    assert users == ["client.py"]


def test_nothing_prints_outside_cli_and_render() -> None:
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(("cli/", "render/", "sandbox/")):
            continue
        if (
            relative == "github/__main__.py"
        ):  # the workflows' command line, python -m reconciler.github
            continue
        calls = [
            n
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert not calls, relative
