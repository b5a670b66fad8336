"""The frozen-build smoke test script, run against the installed command instead of a PyInstaller folder (the
build itself takes minutes and gigabytes; packaging/build.sh makes it)."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _smoke_module():
    spec = importlib.util.spec_from_file_location("smoke_test", ROOT / "packaging" / "smoke_test.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wrapper(tmp_path: Path) -> Path:
    exe = tmp_path / "vasa-rig"
    exe.write_text(f"#!/bin/sh\ncd {ROOT} && exec {sys.executable} -m app \"$@\"\n")
    exe.chmod(0o755)
    return exe


def test_smoke_script_reports_a_broken_executable(tmp_path):
    exe = tmp_path / "vasa-rig"
    exe.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    exe.chmod(0o755)
    assert _smoke_module().main(["--exe", str(exe), "--no-gui"]) == 1


def test_smoke_script_needs_an_executable(tmp_path):
    assert _smoke_module().main([str(tmp_path)]) == 1


@pytest.mark.slow
def test_smoke_script_passes_on_the_installed_command(tmp_path, monkeypatch):
    monkeypatch.setenv("VASA_RIG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("VASA_RIG_LOG_DIR", str(tmp_path / "logs"))
    assert _smoke_module().main(["--exe", str(_wrapper(tmp_path))]) == 0
