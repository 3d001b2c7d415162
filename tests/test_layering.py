"""The floors of docs/design/architecture.md, as a table: which package may import which.

A new edge between packages is a decision someone writes down here, not an accident. Three
rules are checked over every module under src/opensmsc:

1. the sans-IO core (`smpp`, `sms`) imports no I/O, no clock and no logging;
2. a package imports only the packages its row of ALLOWED lists;
3. across packages, only a package's public API is imported: `from opensmsc.store import X`
   where X is in `opensmsc.store.__all__`, never `opensmsc.store.sqlite` or a `_private` module.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "opensmsc"
CORE = ["smpp", "sms"]
# Sans-IO modules of packages that also hold drivers: the same rule as CORE, and from opensmsc
# they import only `errors`, the sans-IO core (CORE) and their own package.
# imps: the PTS codec, its code tables and the CIR texts stay sans-IO below the IMPS service.
CORE_MODULES = [
    "policyd/wire.py",
    "policyd/params.py",
    "imps/pts.py",
    "imps/cir.py",
    "imps/codes.py",
]
FORBIDDEN_IN_CORE = {"asyncio", "socket", "ssl", "time", "threading", "selectors", "logging"}

# errors and logtext (escaping peer strings for logs) import nothing of ours
_CORE = {"errors", "logtext"}
_WIRE = _CORE | {"smpp", "sms"}
_SERVICES = _WIRE | {"observability"}
_SERVICES_BELOW_FRONT_DOORS = _SERVICES | {"transport", "accounts", "store", "routing", "engine"}

# package → the packages it may import (besides itself). Floors, bottom up:
# core (errors, smpp, sms) ← transport ← services ← front doors (smsc, upstream, http)
# ← app (the composition root) ← cli.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "logtext": set(),
    # a receipt's text is written in the GSM 7-bit alphabet: smpp reads sms's tables
    "smpp": _CORE | {"sms"},
    "sms": _CORE,
    "transport": _WIRE,
    "config": _WIRE,
    "accounts": _WIRE | {"transport"},
    "store": _WIRE,
    # config: routing/policy_file.py reads the policy file through config's loader (file:line:
    # key errors); config imports nothing of routing.
    "routing": _WIRE | {"store", "config"},
    "observability": _WIRE,
    "engine": _SERVICES | {"store", "routing"},
    "network": _SERVICES | {"store", "routing"},
    "smsc": _SERVICES_BELOW_FRONT_DOORS,
    "upstream": _SERVICES_BELOW_FRONT_DOORS,
    "http": _SERVICES_BELOW_FRONT_DOORS | {"network"},
    "policyd": _WIRE | {"transport", "store", "routing"},
    # IMPS over SMS (issue 13): the sans-IO codec (pts, codes, cir: CORE_MODULES) reads sms's
    # GSM 7-bit tables; the binding into the SMSC reads stored records (store), answers the
    # scheduler's attempts (routing) and stores its SMS through the engine's Acceptor. No config:
    # app/imps.py turns [imps] into ImpsSettings, so the service is built without a file.
    "imps": _SERVICES | {"store", "routing", "engine"},
    # Several nodes as one (issue 14): the cluster's limits are accounts' token buckets shared
    # out (accounts); it may read stored records (store), never the reverse. The engine and
    # the sessions it wakes are reached through Protocols, so no edge to engine or smsc.
    "cluster": _SERVICES | {"accounts", "store"},
    # app → cluster: the composition root wires [cluster] (app/cluster.py).
    "app": _SERVICES_BELOW_FRONT_DOORS
    | {"config", "network", "smsc", "upstream", "http", "policyd", "imps", "app", "cluster"},
    # cli → imps: the demo client (`opensmsc imps`) speaks PTS as a phone would
    "cli": _SERVICES_BELOW_FRONT_DOORS
    | {"config", "network", "app", "http", "smsc", "upstream", "policyd", "imps"},
    "__main__": {"cli"},
    "__init__": set(),
}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _package_of(module: Path) -> str:
    first = module.relative_to(PACKAGE).parts[0]
    return first.removesuffix(".py")


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names imported from it) for every absolute import."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "opensmsc" and node.level == 0:
            # `from opensmsc import smpp` imports the package smpp; `__version__` is the root's
            for alias in node.names:
                is_package = (PACKAGE / alias.name).is_dir() or (
                    PACKAGE / f"{alias.name}.py"
                ).exists()
                found.append((f"opensmsc.{alias.name}", []) if is_package else ("opensmsc", []))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


@pytest.mark.parametrize("floor", CORE)
def test_core_does_no_io_and_imports_nothing_above(floor: str) -> None:
    for module in sorted((PACKAGE / floor).rglob("*.py")):
        for name, _ in _imports(module):
            assert name.split(".")[0] not in FORBIDDEN_IN_CORE, f"{module}: imports {name}"


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_modules_do_no_io_and_import_only_errors(module: str) -> None:
    path = PACKAGE / module
    own = "opensmsc." + module.split("/", maxsplit=1)[0]
    for name, _ in _imports(path):
        assert name.split(".")[0] not in FORBIDDEN_IN_CORE, f"{module}: imports {name}"
        if name.startswith("opensmsc"):
            # the CIR texts are GSM 7-bit packed with sms's tables: core below core
            parts = name.split(".")
            below = name == "opensmsc.errors" or (len(parts) > 1 and parts[1] in CORE)
            assert below or name.startswith(own + "."), f"{module}: imports {name}"


def test_every_package_has_a_row() -> None:
    packages = {_package_of(m) for m in _modules()}
    assert packages <= set(ALLOWED), f"add a row to ALLOWED for {packages - set(ALLOWED)}"


def test_packages_import_only_what_their_row_allows() -> None:
    wrong = []
    for module in _modules():
        package = _package_of(module)
        for name, _ in _imports(module):
            parts = name.split(".")
            if parts[0] != "opensmsc" or len(parts) < 2 or parts[1] == package:
                continue
            if parts[1] not in ALLOWED[package]:
                wrong.append(f"{module.relative_to(PACKAGE)}: {package} → {parts[1]} ({name})")
    assert not wrong, "edges not in ALLOWED:\n" + "\n".join(wrong)


def test_other_packages_use_only_the_public_api() -> None:
    wrong = []
    for module in _modules():
        package = _package_of(module)
        for name, names in _imports(module):
            parts = name.split(".")
            if parts[0] != "opensmsc" or len(parts) < 2 or parts[1] == package:
                continue
            if len(parts) > 2:
                wrong.append(f"{module.relative_to(PACKAGE)}: imports the module {name}")
                continue
            public = set(getattr(importlib.import_module(name), "__all__", ()))
            private = [n for n in names if n not in public]
            if (PACKAGE / parts[1]).is_dir() and private:
                wrong.append(f"{module.relative_to(PACKAGE)}: {name} does not export {private}")
    assert not wrong, "imports past a package's __all__:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    "package", sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
)
def test_every_package_lists_its_public_names(package: str) -> None:
    module = importlib.import_module(f"opensmsc.{package}")
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"opensmsc.{package} has no __all__"
    missing = [name for name in exported if not hasattr(module, name)]
    assert not missing, f"opensmsc.{package}.__all__ names what it lacks: {missing}"
