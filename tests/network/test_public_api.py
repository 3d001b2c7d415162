"""The import convention (issue 9): other packages use the simulator only through
`opensmsc.network`'s `__all__`, and routing never depends on the simulator."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import opensmsc.http
import opensmsc.network

PACKAGE = Path(opensmsc.network.__file__).resolve().parents[1]
NETWORK_MODULES = sorted(p.stem for p in (PACKAGE / "network").glob("*.py") if p.stem != "__init__")


def _opensmsc_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, name) for line, name in found if name.startswith("opensmsc.")]


@pytest.mark.parametrize(
    "module",
    [
        *sorted((PACKAGE / "http").rglob("*.py")),
        PACKAGE / "cli" / "network.py",
    ],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_admin_api_and_cli_use_only_public_apis(module: Path) -> None:
    inside = module.relative_to(PACKAGE).parts[0]
    for line, name in _opensmsc_imports(module):
        package = name.split(".")[1]
        if package in (inside, "errors") or name == "opensmsc":
            continue
        # `opensmsc.network`, never `opensmsc.network.hlr`.
        assert name.count(".") == 1, f"{module}:{line}: imports {name}, not its package's API"


def test_routing_does_not_import_the_simulator() -> None:
    for module in sorted((PACKAGE / "routing").rglob("*.py")):
        for line, name in _opensmsc_imports(module):
            assert not name.startswith("opensmsc.network"), f"{module}:{line}: imports {name}"


@pytest.mark.parametrize("module", NETWORK_MODULES)
def test_each_module_imports_on_its_own(module: str) -> None:
    # An import cycle through routing once made `import opensmsc.network.subscribers` fail
    # when it was the first module imported.
    done = subprocess.run(
        [sys.executable, "-c", f"import opensmsc.network.{module}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("package", [opensmsc.network, opensmsc.http])
def test_all_names_exist(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    for name in names:
        assert hasattr(package, name), name
