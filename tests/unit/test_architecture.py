"""The module plan holds: pure stages never speak HTTP or drive a terminal; one module imports httpx."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
PURE = [
    "normalize.py",
    "diff.py",
    "plan.py",
    "schema.py",
    "validate.py",
    "loader.py",
    *[f"render/{p.name}" for p in (PACKAGE / "render").glob("*.py")],
]


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_neither_httpx_nor_click(module: str) -> None:
    assert not imported(PACKAGE / module) & {"httpx", "click"}


def test_only_the_client_imports_httpx() -> None:
    users = sorted(
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if "httpx" in imported(p)
    )
    assert users == ["client.py"]


def test_nothing_prints_outside_cli_and_render() -> None:
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "cli.py" or relative.startswith(("render/", "sandbox/")):
            continue
        calls = [
            n
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert not calls, relative


def reached(module: str) -> set[str]:
    """Every reconciler module ``module`` imports, directly or through another (function-level
    imports included: they run too)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = PACKAGE.parent / (name.replace(".", "/") + ".py")
        if not path.exists():
            path = PACKAGE.parent / name.replace(".", "/") / "__init__.py"
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                todo.append(node.module)
            elif isinstance(node, ast.Import):
                todo.extend(alias.name for alias in node.names)
    return {name for name in seen if name.startswith("reconciler")} - {module}


@pytest.mark.parametrize(
    "module",
    [
        "reconciler.settings",
        "reconciler.connection",
        "reconciler.variables",
        "reconciler.validate",
        "reconciler.schema",
        "reconciler.planfile",
    ],
)
def test_configuration_never_reaches_the_http_client(module: str) -> None:
    """Settings describe a connection; only the session opens one."""
    assert "reconciler.client" not in reached(module), sorted(reached(module))
