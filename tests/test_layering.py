"""The layers of the design stay separate: the document model imports neither Qt nor torch, only app.ui imports Qt,
and the models never import the UI. The import-linter contracts in pyproject.toml ([tool.importlinter]) hold the
layering of app and models as a whole: entry points > model tools > engines > model runtime > core."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "pyvistaqt")


def _imports(folder: Path) -> list[tuple[Path, str]]:
    found = []
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(path, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module))
    return found


def _violations(folder: str, banned: tuple[str, ...]) -> list[str]:
    return [f"{p.relative_to(ROOT)} imports {m}" for p, m in _imports(ROOT / folder)
            if any(m == b or m.startswith(b + ".") for b in banned)]


@pytest.mark.parametrize("folder,banned", [
    ("app/core", QT + ("torch", "models", "app.ui", "app.engines", "app.io")),
    ("app/engines", QT + ("app.ui",)),
    ("app/io", QT + ("app.ui",)),
    ("models", ("app.ui",) + QT),
])
def test_static_imports(folder, banned):
    assert _violations(folder, banned) == []


def test_importing_core_loads_no_qt_or_torch():
    modules = sorted(f"app.core.{p.stem}" for p in (ROOT / "app" / "core").glob("*.py") if p.stem != "__init__")
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch', 'pyqtgraph', 'pyvista')]\n"
            + "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    assert lint.is_file(), f"{lint} is missing: install the test extra (pip install -e '.[test]')"
    out = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_model_module_has_a_layer():
    """A new module under models/ is a runtime module or a tool: the layers contract must say which."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    named = {m.strip() for layer in layers for m in layer.replace("|", ":").split(":")}
    modules = {f"models.{p.stem}" for p in (ROOT / "models").glob("*.py") if p.stem != "__init__"}
    modules |= {f"models.{p.parent.name}" for p in (ROOT / "models").glob("*/__init__.py")}
    assert sorted(modules - named) == []
