"""The main window: timeline + curve editors in the centre, preview / controls / Live Link / log in docks.

The window wires models to views and user actions to commands; file handling lives in ``FileActions``
(app/ui/file_actions.py) and the menus and shortcuts in app/ui/actions.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDockWidget,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import EmotionKey, GenerationSettings
from app.core.timebase import SAMPLE_RATE
from app.engines.base import settings_to_regenerate
from app.engines.runner import Transcribe, WarmUp, shared_runner
from app.ui import actions
from app.ui.controls_panel import ControlsPanel
from app.ui.curve_editor import EDITOR_TABS, CurveEditor
from app.ui.document import Document
from app.ui.file_actions import FileActions
from app.ui.jobs import FunctionJob, GenerationController
from app.ui.live_panel import LivePanel
from app.ui.livelink_panel import LiveLinkPanel
from app.ui.log_panel import LogPanel, log
from app.ui.playback import Playback
from app.ui.preview_panel import PreviewPanel
from app.ui.recovery import AUTOSAVE_AFTER_EDIT_MS, AUTOSAVE_MS, RecoveryStore
from app.ui.settings import AppSettings
from app.ui.timeline import LEFT_COLUMN, TimeContext, TimelinePanel, TimeScrollBar

APP_TITLE = "VASA-Rig Studio"


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None, *, audio_enabled: bool = True,
                 preview_3d: bool = True):
        super().__init__()
        self.settings = settings or AppSettings()
        self.setWindowTitle(APP_TITLE)
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.resize(1600, 980)
        self.document = Document(self)
        self.context = TimeContext(parent=self)
        self.playback = Playback(self.context, self, audio_enabled=audio_enabled)
        self.generator = GenerationController(self)
        self.recovery = RecoveryStore(self.settings.folder / "recovery")
        self.clipboard: dict | None = None
        self._shown_meta = None
        self._focus_target = "curves"
        self._want_3d = preview_3d

        self._build_centre()
        self._build_docks()
        self._build_status()
        self.files = FileActions(self)
        actions.install(self)
        self._connect()
        self._restore_layout()

        self._autosave = QTimer(self)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.autosave_now)
        self._autosave.start()
        # Shortly after an edit as well, so a crash loses at most the last few seconds of work.
        self._autosave_soon = QTimer(self)
        self._autosave_soon.setSingleShot(True)
        self._last_autosave_ms = 0.0
        self._autosave_soon.timeout.connect(self.autosave_now)
        self.document.take_changed.connect(self._schedule_autosave)
        self._probe_device()
        self._update_title()

    # --- construction --------------------------------------------------------------------------------------------
    def _build_centre(self) -> None:
        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.timeline = TimelinePanel(self.context)
        self.timeline.setFixedHeight(200)
        layout.addWidget(self.timeline)
        self.editors: list[CurveEditor] = []
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for title, regions in EDITOR_TABS:
            editor = CurveEditor(title, regions, self.document, self.context)
            editor.status.connect(lambda msg: self.statusBar().showMessage(msg, 4000))
            self.editors.append(editor)
            self.tabs.addTab(editor, title)
        layout.addWidget(self.tabs, 1)
        scroll_row = QWidget()
        srl = QVBoxLayout(scroll_row)
        srl.setContentsMargins(LEFT_COLUMN, 0, 12, 0)
        self.scrollbar = TimeScrollBar(self.context)
        srl.addWidget(self.scrollbar)
        layout.addWidget(scroll_row)
        self.setCentralWidget(centre)
        self.scrollbar.attach()

    def _dock(self, title: str, widget: QWidget, area, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable
                         | QDockWidget.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.preview = PreviewPanel()
        self.preview_dock = self._dock("Face preview", self.preview, Qt.LeftDockWidgetArea, "previewDock")
        self.controls = ControlsPanel()
        self.controls_dock = self._dock("Performance", self.controls, Qt.RightDockWidgetArea, "controlsDock")
        self.livelink = LiveLinkPanel(self.settings)
        self.livelink.take_provider = lambda: self.document.take
        self.livelink_dock = self._dock("Live Link", self.livelink, Qt.RightDockWidgetArea, "liveLinkDock")
        self.live = LivePanel(self.settings)
        self.live.targets_provider = lambda: (self.livelink.parsed_targets(),
                                              self.livelink.subject.text().strip() or None)
        self.live.controls_provider = self.live_controls
        self.live_dock = self._dock("Live", self.live, Qt.RightDockWidgetArea, "liveDock")
        self.log_panel = LogPanel()
        self.log_dock = self._dock("Log", self.log_panel, Qt.LeftDockWidgetArea, "logDock")
        self.splitDockWidget(self.preview_dock, self.log_dock, Qt.Vertical)
        self.splitDockWidget(self.controls_dock, self.livelink_dock, Qt.Vertical)
        self.resizeDocks([self.preview_dock, self.controls_dock], [400, 330], Qt.Horizontal)
        self.resizeDocks([self.preview_dock, self.log_dock], [560, 200], Qt.Vertical)
        self.resizeDocks([self.controls_dock, self.livelink_dock], [700, 200], Qt.Vertical)
        self.tabifyDockWidget(self.livelink_dock, self.live_dock)
        self.livelink_dock.raise_()

    def _build_status(self) -> None:
        bar = self.statusBar()
        self.frame_label = QLabel("frame 0")
        self.undo_label = QLabel("")
        self.device_label = QLabel("device: …")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(220)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_generation)
        for w in (self.progress, self.cancel_button, self.undo_label, self.frame_label, self.device_label):
            bar.addPermanentWidget(w)

    def _connect(self) -> None:
        d = self.document
        d.take_replaced.connect(self._take_replaced)
        d.clip_changed.connect(self._clip_changed)
        d.take_changed.connect(self._take_changed)
        d.history_changed.connect(self._history_changed)
        d.path_changed.connect(self._update_title)
        d.variants_changed.connect(self._show_variants)
        self.context.frame_changed.connect(self._frame_changed)
        self.controls.request_changed.connect(self._controls_changed)
        self.live.live_changed.connect(self._live_changed)
        self.live.frame.connect(self.preview.set_frame)
        self.live.open_requested.connect(lambda path: self.files.open_path(path))
        self.controls.new_take_requested.connect(lambda r: self.generate(r, tag="variant", immediate=True))
        self.controls.variant_picked.connect(self.pick_variant)
        self.controls.problem.connect(lambda title, message: self.show_error(title, message))
        self.controls.transcribe_requested.connect(self.transcribe)
        self.controls.add_emotion_key_requested.connect(lambda: self.add_emotion_key(self.context.frame /
                                                                                     self.context.fps))
        lane = self.timeline.emotions
        lane.keys_edited.connect(self.set_emotion_keys)
        lane.add_requested.connect(self.add_emotion_key)
        lane.selection_changed.connect(lambda i: setattr(self, "_focus_target", "lane" if i >= 0 else "curves"))
        for editor in self.editors:
            editor.status.connect(lambda _m: setattr(self, "_focus_target", "curves"))
        g = self.generator
        g.started.connect(self._generation_started)
        g.progressed.connect(self._generation_progress)
        g.finished.connect(self._generation_finished)
        g.failed.connect(self._generation_failed)
        g.cancelled.connect(self._generation_cancelled)
        g.idle.connect(self._generation_idle)
        self.playback.state_changed.connect(self._playback_state)
        self.playback.message.connect(lambda m: (log.info(m), self.statusBar().showMessage(m, 6000)))

    # --- model -> views ---------------------------------------------------------------------------------------------
    def _take_replaced(self) -> None:
        if self.document.take is None:
            return
        self._clip_changed()
        self._sync_controls(force=True)
        self._frame_changed(self.context.frame)
        self.timeline.info.setText(self._take_info())
        self._update_title()

    def _clip_changed(self) -> None:
        take, clip = self.document.take, self.document.clip
        if take is None:
            return
        samples = clip.samples if clip is not None else None
        rate = clip.sample_rate if clip is not None else SAMPLE_RATE
        self.timeline.set_take(take.num_frames, take.fps, samples, rate)
        self.playback.set_audio(samples, rate)

    def _take_changed(self) -> None:
        self._sync_controls()
        self._frame_changed(self.context.frame)

    def _sync_controls(self, force: bool = False) -> None:
        take = self.document.take
        if take is None or (take.meta is self._shown_meta and not force):
            return
        self._shown_meta = take.meta
        request = settings_to_regenerate(take.meta)
        self.controls.show_request(request)
        self.timeline.emotions.set_keys(request.performance.emotion_keys)
        self.timeline.info.setText(self._take_info())

    def _take_info(self) -> str:
        take = self.document.take
        if take is None:
            return ""
        m = take.meta
        return (f"{take.num_frames} frames @ {take.fps:g} fps\n{take.duration:.2f} s · seed "
                f"{m.settings.performance.seed}\n"
                f"{m.engine_label()}"
                + ("\n" + f"{len(take.locks)} lock(s)" if take.locks else ""))

    def _history_changed(self) -> None:
        h = self.document.history
        self.act_undo.setEnabled(bool(h and h.can_undo))
        self.act_redo.setEnabled(bool(h and h.can_redo))
        self.act_undo.setText(f"Undo {h.undo_label}" if h and h.can_undo else "Undo")
        self.act_redo.setText(f"Redo {h.redo_label}" if h and h.can_redo else "Redo")
        self.undo_label.setText(f"last: {h.undo_label}" if h and h.can_undo else "")
        self._update_title()

    def _frame_changed(self, frame: int) -> None:
        take = self.document.take
        self.frame_label.setText(f"frame {frame}  ·  {frame / self.context.fps:.3f} s")
        self.controls.set_playhead(frame / self.context.fps)
        if take is None:
            return
        frame = min(frame, take.num_frames - 1)
        self.preview.set_frame(take.evaluate()[frame])
        self.livelink.on_frame(take, frame, self.playback.is_playing)

    def _update_title(self) -> None:
        name = self.document.display_name if self.document.has_take else "no take"
        dirty = "*" if self.document.is_dirty else ""
        self.setWindowTitle(f"{name}{dirty} — {APP_TITLE}")

    def _show_variants(self) -> None:
        take = self.document.take
        current = None
        for i, v in enumerate(self.document.variants):
            if take is not None and v.meta == take.meta:
                current = i
        self.controls.show_variants([f"{v.label}\n{v.meta.engine_label()}" for v in self.document.variants], current)

    # --- generation -------------------------------------------------------------------------------------------------
    def generate(self, request: GenerationSettings | None = None, tag: str = "regen", immediate: bool = False) -> bool:
        clip = self.document.clip
        if clip is None:
            self.statusBar().showMessage("This take has no audio to generate from; open a WAV file", 6000)
            return False
        request = request or self.controls.request()
        self.generator.request(clip, request, tag, immediate=immediate)
        return True

    def _controls_changed(self, request: GenerationSettings) -> None:
        if self.live.is_live:  # while live the controls steer the live performance, not the open take
            self.live.set_controls(self.live_controls())
            return
        self.timeline.emotions.set_keys(request.performance.emotion_keys)
        self.generate(request)

    # --- live mode ---------------------------------------------------------------------------------------------
    def live_controls(self):
        """The Performance panel's controls as live-mode controls (the emotion key at the playhead)."""
        from app.engines.streaming import LiveControls

        performance = self.controls.request().performance
        self.live.seed = performance.seed
        return LiveControls.from_performance(performance, self.controls.playhead_seconds)

    def _live_changed(self, live: bool) -> None:
        if live:
            self.playback.pause()
            self.livelink.stop()  # one stream per target: the live one
            self.statusBar().showMessage("Live: the Performance controls steer the live face", 6000)
        else:
            frame = self.context.frame
            self._frame_changed(frame)  # back to the open take's pose
        self.livelink.button.setEnabled(not live)
        self.act_play.setEnabled(not live)

    def transcribe(self) -> FunctionJob | None:
        """Recognise the words of the open recording in the background and put them in the transcript box for the
        user to check; the take then regenerates with them (forced alignment, the exact lip-sync path)."""
        clip = self.document.clip
        if clip is None:
            self.show_error("Nothing to transcribe", "Open a recording first.")
            return None
        # In the worker process: PocketSphinx holds the GIL for whole chunks, which would freeze the window.
        job = FunctionJob(lambda progress, cancel: shared_runner().run(Transcribe(clip), progress, cancel), self)
        self.controls.show_transcribing(True)
        self.statusBar().showMessage("Transcribing the recording…")

        def done(result) -> None:
            if self.document.clip is not clip:  # another file was opened meanwhile
                return
            if not result.text:
                self.statusBar().showMessage("No words recognised", 6000)
                log.warning("Transcribe: no words recognised in %s", Path(clip.path).name if clip.path else "the audio")
                return
            log.info("Transcribed %d words; check them in the transcript box", result.words)
            self.statusBar().showMessage(f"Transcribed {result.words} words: check and correct them", 8000)
            self.controls.set_transcript(result.text)

        def failed(message: str, _details: str) -> None:
            self.show_error("Cannot transcribe", message)
            log.error("Transcribe failed: %s", message)

        job.progressed.connect(lambda f, _m: self.statusBar().showMessage(f"Transcribing the recording… {f:.0%}"))
        job.succeeded.connect(done)
        job.failed.connect(failed)
        job.finished.connect(lambda: (self.controls.show_transcribing(False), job.deleteLater()))
        self._transcribe_job = job
        job.start()
        return job

    def set_emotion_keys(self, keys) -> None:
        request = self.controls.request().with_performance(emotion_keys=tuple(keys))
        self.controls.show_request(request)
        self.timeline.emotions.set_keys(request.performance.emotion_keys)
        self.generate(request, immediate=True)

    def add_emotion_key(self, seconds: float) -> None:
        request = self.controls.request()
        current = self.controls.current_emotion_key(request)
        frame_time = round(seconds * self.context.fps) / self.context.fps
        keys = [k for k in request.performance.emotion_keys if abs(k.time - frame_time) > 1e-9]
        keys.append(EmotionKey(frame_time, current.emotion, current.intensity))
        self.set_emotion_keys(sorted(keys, key=lambda k: k.time))

    def pick_variant(self, index: int) -> None:
        if not 0 <= index < len(self.document.variants) or self.document.take is None:
            return
        v = self.document.variants[index]
        self.document.apply_generation(v.base, v.meta, label=f"Pick {v.label.split('·')[0].strip()}")
        self._show_variants()

    def cancel_generation(self) -> None:
        self.generator.cancel()

    def _generation_started(self) -> None:
        self.progress.setValue(0)
        self.progress.setFormat("generating %p%")
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)

    def _generation_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        if message:
            self.progress.setFormat(f"{message} %p%")

    def _generation_finished(self, result, tag) -> None:
        base, meta = result
        take = self.document.take
        if take is None:
            return
        if base.shape[0] != take.num_frames:
            base = _fit_frames(base, take.num_frames)
        if tag == "initial":
            take.set_base(base, respect_locks=False)
            take.set_meta(meta)
        else:
            self.document.apply_generation(base, meta, label="New take" if tag == "variant" else "Generate")
        self.document.add_variant(take.base, meta)
        secs = self.generator.last_duration_s or 0.0
        log.info("Generated %.2f s of animation in %.2f s (%s engine, seed %d)", take.duration, secs, meta.engine,
                 meta.settings.performance.seed)
        if meta.provenance.phones_error:
            log.warning("The transcript was not used: %s. The take follows the audio alone.",
                        meta.provenance.phones_error)
            self.statusBar().showMessage(f"Generated in {secs:.2f} s from the audio alone: the transcript did not "
                                         f"fit (see the log)", 8000)
        else:
            self.statusBar().showMessage(f"Generated in {secs:.2f} s", 5000)

    def _generation_failed(self, message: str, details: str) -> None:
        log.error("Generation failed: %s", message)
        self._sync_controls(force=True)
        self.show_error("Generation failed", message, details)

    def _generation_cancelled(self) -> None:
        log.info("Generation cancelled")
        self.statusBar().showMessage("Generation cancelled", 4000)
        self._sync_controls(force=True)

    def _generation_idle(self) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    def _probe_device(self) -> None:
        job = FunctionJob(lambda _p, _c: _warm_up(), self)
        job.succeeded.connect(lambda text: (self.device_label.setText(f"engine device: {text}"),
                                            log.info("Engine device: %s", text)))
        job.finished.connect(job.deleteLater)
        self._device_job = job
        job.start()

    # --- playback ---------------------------------------------------------------------------------------------------
    def _playback_state(self, state: str) -> None:
        self.act_play.setChecked(state == "playing")
        take = self.document.take
        if state == "playing":
            self.livelink.on_play(take, self.context.frame, self.context.loop_enabled)
        else:
            self.livelink.on_pause()

    # --- editing dispatch -------------------------------------------------------------------------------------------
    def current_editor(self) -> CurveEditor:
        return self.tabs.currentWidget()

    def editor_for_region(self, region: str) -> CurveEditor:
        for i, editor in enumerate(self.editors):
            if region in editor.regions:
                self.tabs.setCurrentIndex(i)
                return editor
        raise KeyError(region)

    def delete_selection(self) -> None:
        if self._focus_target == "lane" and self.timeline.emotions.selected is not None:
            if not self.timeline.emotions.delete_selected():
                self.statusBar().showMessage("The first emotion key cannot be deleted; change it instead", 5000)
            return
        self.current_editor().delete_selected()

    def copy_keys(self) -> None:
        clip = self.current_editor().copy_selected()
        if clip:
            self.clipboard = clip
            self.statusBar().showMessage(f"Copied {sum(len(v) for v in clip.values())} key(s)", 3000)

    def paste_keys(self) -> None:
        if self.clipboard:
            self.current_editor().paste(self.clipboard, self.context.frame)

    def scale_offset_dialog(self) -> None:
        editor = self.current_editor()
        if not editor.selection:
            self.statusBar().showMessage("Select keys first (click, or drag a box)", 4000)
            return
        factor, ok = QInputDialog.getDouble(self, "Scale selection", "Scale values about their mean by", 1.0,
                                            -10.0, 10.0, 3)
        if not ok:
            return
        offset, ok = QInputDialog.getDouble(self, "Offset selection", "Then add", 0.0, -100.0, 100.0, 4)
        if ok:
            editor.scale_offset_selected(factor, offset)

    def lock_range(self, lock: bool = True) -> None:
        editor = self.current_editor()
        span = ((self.context.loop_start, self.context.loop_end) if self.context.loop_enabled
                else editor.selection_frame_span())
        if span is None:
            self.statusBar().showMessage("Set a loop range (I / O) or select keys to lock their frames", 5000)
            return
        editor.lock_range(span[0], span[1], lock)

    def set_loop_point(self, which: str) -> None:
        c = self.context
        if which == "in":
            c.set_loop(c.frame, max(c.loop_end, c.frame), enabled=True)
        else:
            c.set_loop(min(c.loop_start, c.frame), c.frame, enabled=True)
        self.act_loop.setChecked(True)

    # --- messages ---------------------------------------------------------------------------------------------------
    def show_error(self, title: str, message: str, details: str = "") -> QMessageBox:
        box = QMessageBox(QMessageBox.Warning, title, message, QMessageBox.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setWindowModality(Qt.WindowModal)
        box.open()  # not exec(): the app keeps running (and tests are not blocked)
        self._last_error_box = box
        return box

    def ask(self, title: str, text: str, buttons, default):
        """Blocking question; tests replace this method to answer without a dialog."""
        return QMessageBox.question(self, title, text, buttons, default)

    def _schedule_autosave(self) -> None:
        if not self._autosave_soon.isActive():  # not restarted by each edit: a long drag still saves every few seconds
            # A long take takes longer to save (on this thread): keep autosaving to about 5% of the time while editing.
            self._autosave_soon.start(max(AUTOSAVE_AFTER_EDIT_MS, int(20 * self._last_autosave_ms)))

    def autosave_now(self) -> None:
        if self.document.take is not None and self.document.is_dirty:
            start = time.perf_counter()
            try:
                self.recovery.autosave(self.document.take, self.document.path)
                self._last_autosave_ms = (time.perf_counter() - start) * 1000
            except OSError as exc:
                log.warning("Autosave failed: %s", exc)

    # --- window state -----------------------------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def save_layout(self) -> None:
        self.settings.set("window/geometry", self.saveGeometry())
        self.settings.set("window/state", self.saveState())
        self.settings.sync()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._want_3d and self.preview.view is None:
            self._want_3d = False
            QTimer.singleShot(0, self.preview.create_view)

    def dragEnterEvent(self, event) -> None:
        if self.files.acceptable_drop(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = self.files.acceptable_drop(event.mimeData())
        if path:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.files.open_path(path))

    def closeEvent(self, event) -> None:
        if not self.files.confirm_discard("closing"):
            event.ignore()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        self.save_layout()
        self.generator.shutdown()
        self.playback.shutdown()
        self.live.stop()
        self.livelink.stop()
        self._autosave.stop()
        self._autosave_soon.stop()
        for job in (getattr(self, "_device_job", None), getattr(self, "_transcribe_job", None)):
            if job is None:
                continue
            try:
                job.cancel()  # the recogniser polls it between chunks; the device probe is over in a moment anyway
                job.wait(5000)
            except RuntimeError:  # already deleted
                pass
        self.recovery.end_session()
        self.log_panel.detach()
        self.preview.close_view()


def _warm_up() -> str:
    """The worker process started, torch imported and the neural model loaded there; the device description."""
    try:
        return str(shared_runner().run(WarmUp(), timeout_s=120.0))
    except Exception:  # nothing cancels a warm-up; a worker that fails it leaves the CPU default
        return "CPU"


def _fit_frames(base: np.ndarray, n: int) -> np.ndarray:
    """Engines may round the length differently by a frame: pad with the last frame or trim."""
    if base.shape[0] >= n:
        return base[:n]
    pad = np.repeat(base[-1:], n - base.shape[0], axis=0)
    return np.concatenate([base, pad])
