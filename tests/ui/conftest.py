"""Fixtures for the desktop app tests: a real MainWindow with settings in a temp dir, no audio device, no 3D."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtWidgets import QMessageBox

from app.ui.file_actions import example_clip

GEN_TIMEOUT_MS = 60_000


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    folder.mkdir()
    monkeypatch.setenv("VASA_RIG_CONFIG_DIR", str(folder))  # user settings are never touched
    monkeypatch.setenv("VASA_RIG_LOG_DIR", str(tmp_path / "logs"))  # crash reports stay in the test folder
    monkeypatch.setenv("VASA_RIG_NO_3D", "1")
    return folder


@pytest.fixture
def make_window(qtbot, config_dir):
    from app.ui.launch import create_app
    from app.ui.main_window import MainWindow
    from app.ui.settings import AppSettings

    create_app()
    made = []

    def make(preview_3d: bool = False, answer=QMessageBox.Discard):
        window = MainWindow(AppSettings(config_dir), audio_enabled=False, preview_3d=preview_3d)
        window.answers = []
        window.ask = lambda title, text, buttons, default: (window.answers.append(title), answer)[1]
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.generator.shutdown()
        window.files.wait()
        window.shutdown()


@pytest.fixture
def window(make_window):
    return make_window()


def open_example(qtbot, window):
    wav, transcript = example_clip()
    with qtbot.waitSignal(window.generator.idle, timeout=GEN_TIMEOUT_MS):
        assert window.files.open_path(wav, transcript=transcript, confirmed=True)
    assert window.document.take is not None
    return window.document.take


@pytest.fixture
def generated(qtbot, window):
    open_example(qtbot, window)
    assert window.document.take.meta.engine == "procedural"
    return window


def long_clip(tmp_path, repeats: int) -> tuple[str, str]:
    """The example line said ``repeats`` times (with its transcript repeated to match)."""
    wav, transcript = example_clip()
    samples, rate = sf.read(wav, dtype="float32")
    path = tmp_path / f"long_{repeats}.wav"
    sf.write(path, np.tile(samples, repeats), rate)
    return str(path), " ".join([transcript] * repeats)
