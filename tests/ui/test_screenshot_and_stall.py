"""A screenshot of the main window with a take loaded, and the GUI-thread stall measured during generation."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from .conftest import GEN_TIMEOUT_MS, long_clip, open_example

pytestmark = pytest.mark.gui
OUT = Path(__file__).resolve().parents[2] / "out"
STALL_LIMIT_S = 1.0  # aim: 50 ms (p99 is ~12 ms); one scheduling outlier on a shared 2-core box is tolerated


def test_screenshot_main_window_with_take(qtbot, make_window, monkeypatch):
    monkeypatch.delenv("VASA_RIG_NO_3D", raising=False)
    window = make_window(preview_3d=True)
    window.resize(1600, 980)
    open_example(qtbot, window)
    window.context.set_frame(150)
    window.editor_for_region("mouth")
    qtbot.wait(300)
    window.preview.flush()
    qtbot.wait(100)
    OUT.mkdir(exist_ok=True)
    path = OUT / "main_window.png"
    image = window.grab().toImage()
    assert image.save(str(path))
    assert path.stat().st_size > 20_000
    # Not a blank window: the curve area and the waveform show many distinct colours.
    rgb = image.convertToFormat(image.Format.Format_RGB32)  # keep it alive while its bits are read
    pixels = np.frombuffer(rgb.constBits(), np.uint8, count=rgb.sizeInBytes()).reshape(
        rgb.height(), rgb.bytesPerLine() // 4, 4).copy()
    assert len(np.unique(pixels[::4, ::4, :3].reshape(-1, 3), axis=0)) > 200
    print(f"screenshot: {path}")


def _tick_gaps() -> tuple[QTimer, list[float], list[float]]:
    """A 5 ms timer (start it) and the gaps between its ticks: long ones are times the event loop was stalled."""
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    return timer, gaps, last


@pytest.mark.slow
def test_gui_thread_stall_during_long_generation(qtbot, window, tmp_path):
    path, transcript = long_clip(tmp_path, 10)  # about 64 s of dialogue
    timer, gaps, last = _tick_gaps()
    with qtbot.waitSignal(window.generator.started, timeout=20000):
        window.files.open_path(path, transcript=transcript, confirmed=True)
    last[0] = time.perf_counter()
    timer.start()
    t0 = time.perf_counter()
    with qtbot.waitSignal(window.generator.idle, timeout=GEN_TIMEOUT_MS * 2):
        pass
    generation_s = time.perf_counter() - t0
    timer.stop()
    take = window.document.take
    assert take.meta.engine == "procedural"
    worst = max(gaps)
    print(f"\nGUI stall during generation of {take.duration:.1f} s audio: longest {worst * 1000:.1f} ms, "
          f"p99 {np.percentile(gaps, 99) * 1000:.1f} ms over {len(gaps)} ticks; generation {generation_s:.2f} s")
    assert worst < STALL_LIMIT_S


def test_gui_thread_keeps_ticking_while_transcribing(qtbot, generated):
    """Transcribe runs PocketSphinx recognition, which holds the GIL for whole chunks: in the worker process the
    window's event loop must keep running (in a thread of the GUI process it froze for 0.87 s of a 1.6 s run)."""
    window = generated
    timer, gaps, _ = _tick_gaps()
    timer.start()
    t0 = time.perf_counter()
    job = window.transcribe()
    assert job is not None
    with qtbot.waitSignal(job.succeeded, timeout=GEN_TIMEOUT_MS):  # queued: no event ran since it started
        pass
    elapsed = time.perf_counter() - t0
    timer.stop()
    assert window.controls.transcript.toPlainText().strip()  # it did recognise words
    worst = max(gaps)
    print(f"\nGUI stall while transcribing {window.document.take.duration:.1f} s of audio: longest "
          f"{worst * 1000:.1f} ms, p99 {np.percentile(gaps, 99) * 1000:.1f} ms over {len(gaps)} ticks; "
          f"transcribe {elapsed:.2f} s")
    assert len(gaps) > 20 and worst < STALL_LIMIT_S
