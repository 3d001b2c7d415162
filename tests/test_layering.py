"""The three floors of STYLE.md §1: the sans-IO core imports no I/O and nothing from above."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "opensmsc"
CORE = ["smpp", "sms"]
FORBIDDEN_STDLIB = {"asyncio", "socket", "ssl", "time", "threading", "selectors", "logging"}
HIGHER_FLOORS = {
    "transport",
    "engine",
    "store",
    "routing",
    "network",
    "http",
    "accounts",
    "cluster",
    "config",
    "cli",
    "app",
    "observability",
    "policyd",
    "imps",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("floor", CORE)
def test_core_does_no_io_and_imports_nothing_above(floor: str) -> None:
    for module in sorted((PACKAGE / floor).rglob("*.py")):
        for name in _imports(module):
            top = name.split(".")[0]
            assert top not in FORBIDDEN_STDLIB, f"{module}: imports {name}"
            if top == "opensmsc":
                second = name.split(".")[1] if "." in name else ""
                assert second not in HIGHER_FLOORS, f"{module}: imports {name}"
