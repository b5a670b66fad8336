"""The main window end to end: open, generate, edit + undo, emotion, export, Live Link, cancel, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from app.core.take import EMOTIONS
from app.io.export import ExportOptions, read_take
from app.io.livelink import LiveLinkReceiver

from .conftest import GEN_TIMEOUT_MS, long_clip, open_example

pytestmark = pytest.mark.gui


def test_open_audio_generates_curves(qtbot, window):
    take = open_example(qtbot, window)
    assert take.meta.engine == "procedural"
    mouth = window.editor_for_region("mouth")
    values = take.evaluate()[:, mouth.channels]
    assert np.ptp(values, axis=0).max() > 0.2  # the mouth moves
    assert window.settings.recent_files()[0].endswith("example_dialogue.wav")
    assert len(window.document.variants) == 1
    assert window.context.num_frames == take.num_frames
    # The mouth editor shows the channels that move, not the first ones in the list.
    shown = mouth.shown_channels()
    assert shown and all(np.ptp(take.evaluate()[:, ch]) > 0 for ch in shown)


def test_add_key_with_mouse_then_drag_is_one_undo_step(qtbot, generated):
    window = generated
    take = window.document.take
    editor = window.editor_for_region("jaw")
    ch = take.rig.index("CTRL_C_jaw-translateY")
    editor.user_visibility.clear()
    for other in editor.channels:
        editor.set_channel_visible(other, other == ch)
    qtbot.wait(50)
    before = take.evaluate()[:, ch].copy()
    frame = 120
    target = float(np.clip(before[frame] + 0.3, 0.05, 0.95))
    # What a double-click at (frame, target) does: the key goes on the curve under the mouse.
    scene = editor.view.mapViewToScene(pg.Point(frame, target))
    editor.add_key(frame, target, scene)
    assert len(take.keys(ch)) >= 1, "double-click adds a key"
    hit = editor.key_at(scene)
    assert hit is not None and hit[0] == ch, "the new key is under the mouse"
    assert take.evaluate()[frame, ch] == pytest.approx(target, abs=0.02)
    assert window.document.history.undo_label == "Add key"

    # A drag (many mouse moves) previews live and lands as one undo step.
    steps_before = len(window.document.history._undo)
    editor.begin_move()
    for dv in np.linspace(0, -0.2, 12):
        editor.update_move(3, float(dv))
    editor.end_move()
    assert len(window.document.history._undo) == steps_before + 1
    key_before = float(take.base[frame, ch]) + 0.0
    moved_keys = take.keys(ch)
    i = int(np.nonzero(moved_keys.frames == frame + 3)[0][0])
    assert float(take.base[frame + 3, ch] + moved_keys.values[i]) == pytest.approx(
        float(np.clip(target - 0.2 - key_before + take.base[frame + 3, ch], 0, 1)), abs=0.02)

    window.act_undo.trigger()
    assert take.evaluate()[frame, ch] == pytest.approx(target, abs=0.02)
    window.act_undo.trigger()
    np.testing.assert_allclose(take.evaluate()[:, ch], before, atol=1e-6)
    window.act_redo.trigger()
    assert take.evaluate()[frame, ch] == pytest.approx(target, abs=0.02)


def test_key_values_are_clamped_to_the_control_range(qtbot, generated):
    window = generated
    take = window.document.take
    editor = window.editor_for_region("jaw")
    ch = take.rig.index("CTRL_C_jaw-translateY")
    editor.set_active_channel(ch)
    editor.add_key(50, 5.0)  # far above the control's maximum of 1
    assert take.evaluate()[50, ch] == pytest.approx(float(take.rig.maxs[ch]))
    assert float(take.base[50, ch] + take.keys(ch).values.max()) <= take.rig.maxs[ch] + 1e-6


def test_box_select_smooth_scale_copy_paste_delete_reset(qtbot, generated):
    window = generated
    take = window.document.take
    editor = window.editor_for_region("mouth")
    ch = editor.shown_channels()[0]
    editor.set_active_channel(ch)
    for f, v in ((40, 0.5), (60, 0.1), (80, 0.6)):
        editor.add_key(f, v)
    # The first key on an empty channel brings zero-offset anchors 12 frames either side (28 and 52).
    rect = pg.QtCore.QRectF(25, -10, 60, 20)
    editor.select(editor.keys_in_rect(rect))
    assert len(editor.selection) == 5
    window.act_smooth.trigger()
    assert window.document.history.undo_label == "Smooth keys"
    editor.scale_offset_selected(0.5, 0.0)
    assert window.document.history.undo_label == "Scale / offset keys"
    window.act_copy.trigger()
    window.context.set_frame(200)
    window.act_paste.trigger()
    pasted = 200.0 + np.array([0, 12, 24, 32, 52])
    assert np.isin(pasted, take.keys(ch).frames).all()
    window.delete_selection()
    assert not np.isin(pasted, take.keys(ch).frames).any()
    window.act_reset.trigger()
    assert len(take.keys(ch)) == 0
    np.testing.assert_allclose(take.evaluate()[:, ch], take.rig.clamp(take.base)[:, ch])


def test_change_emotion_regenerates_and_undo_restores(qtbot, generated):
    window = generated
    take = window.document.take
    before = take.evaluate().copy()
    with qtbot.waitSignal(window.generator.finished, timeout=GEN_TIMEOUT_MS):
        window.controls.emotion.setCurrentIndex(EMOTIONS.index("happy"))
        window.controls.intensity.setValue(0.9)
    qtbot.waitUntil(lambda: not window.generator.busy, timeout=GEN_TIMEOUT_MS)
    assert take.meta.settings.performance.emotion_keys[0].emotion == "happy"
    assert take.meta.settings.performance.emotion_keys[0].intensity == pytest.approx(0.9)
    after = take.evaluate()
    assert np.abs(after - before).max() > 0.05, "a happy face differs from a neutral one"
    assert window.timeline.emotions.keys[0].emotion == "happy"
    window.act_undo.trigger()
    np.testing.assert_allclose(take.evaluate(), before, atol=1e-6)
    assert window.controls.emotion.currentIndex() == EMOTIONS.index("neutral")


def test_emotion_key_added_on_timeline_and_locked_range_kept(qtbot, generated):
    window = generated
    take = window.document.take
    editor = window.editor_for_region("mouth")
    window.context.set_loop(100, 160, enabled=True)
    window.lock_range(True)
    assert take.locks and take.locks[0].start == 100
    held = take.evaluate()[100:161, editor.channels].copy()
    window.context.set_frame(200)
    window.controls.emotion.blockSignals(True)
    window.controls.emotion.setCurrentIndex(EMOTIONS.index("angry"))
    window.controls.emotion.blockSignals(False)
    with qtbot.waitSignal(window.generator.finished, timeout=GEN_TIMEOUT_MS):
        window.controls.add_key.click()
    qtbot.waitUntil(lambda: not window.generator.busy, timeout=GEN_TIMEOUT_MS)
    keys = take.meta.settings.performance.emotion_keys
    assert len(keys) == 2 and keys[1].emotion == "angry" and keys[1].time == pytest.approx(200 / 60)
    np.testing.assert_allclose(take.evaluate()[100:161, editor.channels], held, atol=1e-5)
    # Delete the emotion key from the lane.
    window.timeline.emotions.select(1)
    with qtbot.waitSignal(window.generator.finished, timeout=GEN_TIMEOUT_MS):
        window.act_delete.trigger()
    qtbot.waitUntil(lambda: not window.generator.busy, timeout=GEN_TIMEOUT_MS)
    assert len(take.meta.settings.performance.emotion_keys) == 1


def test_new_take_and_pick_from_list(qtbot, generated):
    window = generated
    take = window.document.take
    first = take.base.copy()
    with qtbot.waitSignal(window.generator.finished, timeout=GEN_TIMEOUT_MS):
        window.controls.new_take.click()
    qtbot.waitUntil(lambda: not window.generator.busy, timeout=GEN_TIMEOUT_MS)
    assert len(window.document.variants) == 2
    assert take.meta.settings.performance.seed != 0 and not np.array_equal(take.base, first)
    window.pick_variant(0)
    np.testing.assert_array_equal(take.base, first)
    assert window.controls.takes.count() == 2


def test_export_fbx_and_csv(qtbot, generated, tmp_path):
    window = generated
    take = window.document.take
    fbx = tmp_path / "line.fbx"
    with qtbot.waitSignal(window.files.exported, timeout=30000):
        window.files.export_to(fbx, ExportOptions(fps=30.0))
    back = read_take(fbx)
    assert abs(back.duration - take.duration) < 0.05
    dialog = window.files.export_dialog()
    dialog.set_format(".csv")
    dialog.path.setText(str(tmp_path / "line.csv"))
    dialog.range_mode.setCurrentIndex(2)
    dialog.start.setValue(60)
    dialog.end.setValue(180)
    with qtbot.waitSignal(window.files.exported, timeout=30000):
        dialog.accept()
    csv = read_take(tmp_path / "line.csv")
    assert abs(csv.num_frames - 121) <= 1


def test_export_error_is_shown(qtbot, generated, tmp_path):
    window = generated
    with qtbot.waitSignal(window.files.export_failed, timeout=30000):
        window.files.export_to(tmp_path / "missing" / "x.fbx", ExportOptions())
    assert "folder does not exist" in window._last_error_box.text()
    qtbot.waitUntil(lambda: any("Export failed" in m for m in window.log_panel.messages()), timeout=3000)


def test_stream_to_local_receiver_while_playing(qtbot, generated):
    window = generated
    with LiveLinkReceiver(0, host="127.0.0.1") as receiver:
        window.livelink.targets.setPlainText(f"127.0.0.1:{receiver.port}")
        window.livelink.subject.setText("TestFace")
        window.livelink.button.click()
        assert window.livelink.is_streaming
        window.playback.play()
        assert receiver.wait_for(30, timeout=5.0)
        qtbot.waitUntil(lambda: window.context.frame > 10, timeout=5000)
        window.playback.pause()
        window.livelink.button.click()
        assert not window.livelink.is_streaming
        packets = receiver.packets()
    assert {p.packet.subject for p in packets} == {"TestFace"}
    # Jaw motion is in the stream: ARKit JawOpen varies across what was sent.
    jaw = [p.packet.value("JawOpen") for p in packets]
    assert max(jaw) > min(jaw)
    assert window.settings.livelink_targets().startswith("127.0.0.1:")


def test_cancel_generation_keeps_take_unchanged(qtbot, window, tmp_path):
    path, transcript = long_clip(tmp_path, 4)
    with qtbot.waitSignal(window.generator.started, timeout=20000):
        window.files.open_path(path, transcript=transcript, confirmed=True)
    take = window.document.take
    with qtbot.waitSignal(window.generator.cancelled, timeout=GEN_TIMEOUT_MS):
        window.cancel_button.click()
    qtbot.waitUntil(lambda: not window.generator.busy, timeout=GEN_TIMEOUT_MS)
    np.testing.assert_array_equal(take.base, take.rig.rest_curves(take.num_frames))
    assert not window.progress.isVisible()
    qtbot.waitUntil(lambda: any("cancelled" in m for m in window.log_panel.messages()), timeout=3000)


def test_playback_without_audio_device_advances_and_stops(qtbot, generated):
    window = generated
    window.context.set_frame(0)
    window.act_play.trigger()
    assert window.playback.is_playing
    qtbot.waitUntil(lambda: window.context.frame >= 20, timeout=5000)
    window.act_play.trigger()
    assert not window.playback.is_playing
    stopped_at = window.context.frame
    qtbot.wait(100)
    assert window.context.frame == stopped_at
    window.act_next.trigger()
    assert window.context.frame == stopped_at + 1
    window.act_l.trigger()
    window.act_l.trigger()
    assert window.playback.speed == 2.0
    window.act_k.trigger()
    assert not window.playback.is_playing


def test_save_open_dirty_prompt_and_recent(qtbot, generated, tmp_path, make_window):
    window = generated
    project = tmp_path / "scene.vrig"
    assert window.files.save_as(project)
    assert not window.document.is_dirty
    editor = window.editor_for_region("jaw")
    ch = editor.channels[1]
    editor.set_active_channel(ch)
    editor.add_key(90, 0.4)
    assert window.document.is_dirty and "*" in window.windowTitle()
    other = make_window()
    assert other.files.open_path(project, confirmed=True)
    assert other.document.take.num_frames == window.document.take.num_frames
    assert not other.document.is_dirty
    # Opening over unsaved work asks first; "Cancel" keeps the work.
    window.ask = lambda *a: QMessageBox.Cancel
    assert not window.files.open_path(project)
    assert len(window.document.take.keys(ch)) > 0


def test_crash_recovery_offers_autosaved_take(qtbot, generated, make_window):
    window = generated
    editor = window.editor_for_region("jaw")
    ch = editor.channels[1]
    editor.set_active_channel(ch)
    editor.add_key(90, 0.4)
    window.recovery.begin_session()
    window.autosave_now()
    marker = window.recovery.marker
    marker.write_text(marker.read_text().replace(f'"pid": {__import__("os").getpid()}', '"pid": 999999999'))
    restored = make_window(answer=QMessageBox.Yes)
    assert restored.files.offer_recovery()
    assert restored.answers == ["Restore work?"]
    assert len(restored.document.take.keys(ch)) == len(window.document.take.keys(ch))
    assert restored.document.is_dirty


def test_drop_audio_file_opens_it(qtbot, window):
    from app.ui.file_actions import example_clip

    wav, _ = example_clip()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(wav))])
    event = QDropEvent(window.rect().center().toPointF(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    with qtbot.waitSignal(window.files.opened, timeout=20000):
        window.dropEvent(event)
    assert Path(window.document.take.audio.path).name == "example_dialogue.wav"
    window.generator.cancel()


def test_bad_file_gives_a_clear_error(qtbot, window, tmp_path):
    bad = tmp_path / "broken.vrig"
    bad.write_bytes(b"not a zip")
    assert not window.files.open_path(bad, confirmed=True)
    assert "not a VASA-Rig project" in window._last_error_box.text()


def test_settings_are_isolated_in_temp_dir(window, config_dir):
    window.settings.add_recent(config_dir / "x.wav")
    window.save_layout()
    assert (config_dir / "settings.ini").exists()
    assert window.settings.folder == config_dir


def test_neural_engine_with_guidance_from_the_panel(qtbot, generated):
    window = generated
    controls = window.controls
    assert not controls.guidance.isEnabled()  # procedural: guidance means nothing
    with qtbot.waitSignal(window.generator.finished, timeout=GEN_TIMEOUT_MS):
        controls.engine.setCurrentIndex(controls.engine.findData("neural"))
    qtbot.waitUntil(lambda: not window.generator.busy, timeout=GEN_TIMEOUT_MS)
    plain = window.document.take.evaluate().copy()
    assert controls.guidance.isEnabled() and window.document.take.meta.provenance.guidance == 1.0
    with qtbot.waitSignal(window.generator.finished, timeout=GEN_TIMEOUT_MS):
        controls.guidance.setValue(1.5)
    qtbot.waitUntil(lambda: not window.generator.busy, timeout=GEN_TIMEOUT_MS)
    take = window.document.take
    assert take.meta.engine == "neural" and take.meta.provenance.guidance == 1.5
    assert np.abs(take.evaluate() - plain).max() > 0.01
    with qtbot.waitSignal(window.generator.finished, timeout=GEN_TIMEOUT_MS):
        controls.new_take.click()
    qtbot.waitUntil(lambda: not window.generator.busy, timeout=GEN_TIMEOUT_MS)
    # The takes list and the take's info say how each take was sampled, so takes can be told apart.
    newest = controls.takes.item(controls.takes.count() - 1).text()
    assert "neural, 2 steps, guidance 1.5" in newest and "procedural" in controls.takes.item(0).text()
    # The example comes with its transcript, so the neural take also followed the aligned phones.
    assert "transcript phones" in newest and take.meta.provenance.phones_source == "forced"
    assert "guidance 1.5" in window.timeline.info.text()
    window.act_undo.trigger()  # back to the guided take of before the new one
    window.act_undo.trigger()  # back to the unguided take, and the panel follows
    assert controls.guidance.value() == 1.0


def test_transcript_and_phone_file_beside_the_audio_are_used(qtbot, window, tmp_path):
    import shutil

    from app.engines.phonetics.pocketsphinx_aligner import align_audio
    from app.io.audio import load_audio
    from app.ui.file_actions import example_clip

    wav, transcript = example_clip()
    line = tmp_path / "line.wav"
    shutil.copy(wav, line)
    (tmp_path / "line.txt").write_text(transcript + "\n", encoding="utf-8")
    clip = load_audio(line)
    phones = align_audio(clip.samples, clip.sample_rate, transcript).phones
    (tmp_path / "line.lab").write_text("".join(f"{round(p.start * 1e7)} {round(p.end * 1e7)} {p.phone.lower()}\n"
                                               for p in phones))
    with qtbot.waitSignal(window.generator.idle, timeout=GEN_TIMEOUT_MS):
        assert window.files.open_path(line, confirmed=True)
    take = window.document.take
    assert take.meta.settings.inputs.transcript == transcript
    assert take.meta.settings.inputs.phones_file == str(tmp_path / "line.lab") and take.meta.provenance.phones > 20
    controls = window.controls
    assert "line.lab" in controls.phones_label.text() and controls.clear_phones.isEnabled()
    # Clear: the transcript is aligned again.
    with qtbot.waitSignal(window.generator.finished, timeout=GEN_TIMEOUT_MS):
        controls.clear_phones.click()
    qtbot.waitUntil(lambda: not window.generator.busy, timeout=GEN_TIMEOUT_MS)
    assert take.meta.settings.inputs.phones_file is None and take.meta.provenance.phones_source == "forced"
    assert not controls.clear_phones.isEnabled() and "transcript" in controls.phones_label.text()
    # A file that does not parse is refused with a message and changes nothing.
    bad = tmp_path / "bad.TextGrid"
    bad.write_text("nothing like a TextGrid")
    assert not controls.set_phone_file(str(bad))
    assert "Cannot use this phone file" in window._last_error_box.text() + window._last_error_box.windowTitle()
    assert take.meta.settings.inputs.phones_file is None and not window.generator.busy
    # Undo brings the phone file back, and the panel shows it.
    window.act_undo.trigger()
    assert take.meta.settings.inputs.phones_file == str(tmp_path / "line.lab")
    assert "line.lab" in controls.phones_label.text()


def test_transcribe_fills_the_transcript_box_and_the_take_follows_it(qtbot, generated):
    import re

    window = generated
    controls = window.controls
    truth = window.document.take.meta.settings.inputs.transcript
    controls.set_transcript("")  # as if the line came without one
    qtbot.waitUntil(lambda: not window.generator.busy and window.document.take.meta.settings.inputs.transcript is None,
                    timeout=GEN_TIMEOUT_MS)
    with qtbot.waitSignal(window.generator.finished, timeout=GEN_TIMEOUT_MS):
        controls.transcribe.click()
        assert not controls.transcribe.isEnabled()  # one at a time
    qtbot.waitUntil(lambda: not window.generator.busy, timeout=GEN_TIMEOUT_MS)
    text = controls.transcript.toPlainText()
    words = lambda s: re.findall(r"[a-z']+", s.lower())  # noqa: E731
    said = set(words(truth))
    assert len(said & set(words(text))) >= 0.6 * len(said)  # a draft for the user to correct
    take = window.document.take
    assert take.meta.settings.inputs.transcript == text and take.meta.provenance.phones_source == "forced"
    assert controls.transcribe.isEnabled() and controls.transcribe.text() == "Transcribe"
