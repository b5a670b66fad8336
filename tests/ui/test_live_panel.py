"""The Live panel in a real window: a file played as the microphone, streamed to a UDP receiver on 127.0.0.1,
recorded, the preview following, the Performance controls steering the live face, and the recording opening."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.io.livelink import LiveLinkReceiver

pytestmark = pytest.mark.gui

SPEECH = Path(__file__).parents[1] / "engines" / "data" / "asterisk-agent-pass.wav"


def _choose_file(panel, path) -> None:
    panel.source.setCurrentIndex(panel.source.findData("file"))
    panel.file.setText(str(path))


def test_live_from_a_file_to_a_receiver_with_recording(qtbot, window):
    panel = window.live
    receiver = LiveLinkReceiver(0)
    shown = []
    window.preview.set_frame = lambda values: shown.append(np.array(values))
    window.live.frame.disconnect()
    window.live.frame.connect(window.preview.set_frame)
    try:
        window.livelink.targets.setPlainText(f"127.0.0.1:{receiver.port}")
        _choose_file(panel, SPEECH)
        assert panel.file_row.isVisibleTo(panel)
        panel.record.setChecked(True)
        panel.button.click()
        assert panel.is_live and panel.button.text() == "Stop"
        assert not window.livelink.button.isEnabled()  # one stream per target while live
        # The Performance controls steer the live face instead of regenerating the open take.
        window.controls.emotion.setCurrentIndex(window.controls.emotion.findText("Happy"))
        window.controls.intensity.setValue(0.8)
        qtbot.waitUntil(lambda: panel.session is None or panel.session.controls.emotion == "happy", timeout=5000)
        qtbot.waitUntil(lambda: "ms typical" in panel.latency.text(), timeout=10_000)
        qtbot.waitUntil(lambda: not panel.is_live, timeout=30_000)  # the file ended: the panel stops by itself
        assert receiver.wait_for(100, 5.0)
    finally:
        receiver.stop()
    assert "Stopped:" in panel.status.text() and "Recorded" in panel.status.text()
    assert len(shown) > 20  # the preview followed the live face
    assert panel.open_button.isEnabled() and Path(panel.last_recording).is_file()
    assert window.livelink.button.isEnabled() and panel.button.text() == "Go live"
    panel.open_button.click()
    qtbot.waitUntil(lambda: window.document.take is not None and bool(window.document.take.meta.provenance.live_input),
                    timeout=20_000)
    assert window.document.take.audio is not None


def test_an_input_the_live_process_cannot_open_is_reported(qtbot, window, tmp_path):
    panel = window.live
    bad = tmp_path / "notes.wav"
    bad.write_bytes(b"this is not audio" * 100)
    _choose_file(panel, bad)
    panel.send.setChecked(False)
    panel.button.click()
    qtbot.waitUntil(lambda: "Cannot go live" in panel.status.text(), timeout=60_000)
    assert not panel.is_live and panel.button.text() == "Go live" and panel.source.isEnabled()
    assert "notes.wav" in panel.status.text()


def test_live_without_targets_or_file_says_why(qtbot, window):
    panel = window.live
    window.livelink.targets.setPlainText("")
    _choose_file(panel, SPEECH)
    panel.send.setChecked(True)
    panel.button.click()
    assert not panel.is_live and "Live Link target" in panel.status.text()
    assert panel.button.text() == "Go live" and not panel.button.isChecked()
    panel.file.setText("")
    panel.send.setChecked(False)
    panel.button.click()
    assert not panel.is_live and "choose an audio file" in panel.status.text()
