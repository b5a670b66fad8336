"""Live panel: animate a live voice (an input device, or a file played in real time) and stream it to the Live Link
targets; the preview face follows, and the session can be recorded into a project that opens like any take.

The session (app/engines/live.py) runs in a child process (app/engines/live_process.py), so the preview and the
editors never hold up its frames. The panel polls its figures ten times a second (level
meter, latency) and shows the newest frame in the preview at most at the display's pace; messages from the session
threads reach the GUI thread through a queued signal. While live, the window routes the Performance controls to
the session instead of regenerating the open take.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.log_panel import log

METER_FLOOR_DB = -60.0
POLL_MS = 100
PREVIEW_MS = 33
_FILE_ITEM = "file"


class _Relay(QObject):
    message = Signal(str)


class LivePanel(QWidget):
    live_changed = Signal(bool)
    frame = Signal(object)  # (180,) rig values of the newest live frame, on the GUI thread, at display pace
    open_requested = Signal(str)  # the user asked to open the recording just made

    def __init__(self, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.session = None
        self.targets_provider = None  # callable -> (targets, subject), set by the window (the Live Link panel's)
        self.controls_provider = None  # callable -> LiveControls, set by the window (the Performance panel's)
        self.seed = 0
        self._latest: tuple[int, np.ndarray] | None = None
        self._shown = -1
        self._latest_lock = threading.Lock()
        self.last_recording: str | None = None
        self._where, self._record_name, self._announced = "", None, False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        form = QFormLayout()
        row = QHBoxLayout()
        self.source = QComboBox()
        self.source.setToolTip("The microphone or other input to animate, or an audio file played in real time")
        self.refresh = QPushButton("Refresh")
        self.refresh.setToolTip("List the input devices again (after plugging one in)")
        row.addWidget(self.source, 1)
        row.addWidget(self.refresh)
        form.addRow("Input", row)
        file_row = QHBoxLayout()
        self.file = QLineEdit(str(settings.value("live/file", "") or ""))
        self.file.setPlaceholderText("audio file played as the input")
        self.browse = QPushButton("Browse…")
        file_row.addWidget(self.file, 1)
        file_row.addWidget(self.browse)
        self.file_row = QWidget()
        self.file_row.setLayout(file_row)
        file_row.setContentsMargins(0, 0, 0, 0)
        form.addRow("File", self.file_row)
        self.send = QCheckBox("Send to the Live Link targets")
        self.send.setChecked(bool(settings.value("live/send", True, bool)))
        self.record = QCheckBox("Record the session (audio and curves)")
        self.record.setChecked(bool(settings.value("live/record", False, bool)))
        self.record.setToolTip(f"Saved as a project in {self.record_folder()} every 30 s and when you stop")
        form.addRow(self.send)
        form.addRow(self.record)
        self.meter = QProgressBar()
        self.meter.setRange(int(METER_FLOOR_DB), 0)
        self.meter.setValue(int(METER_FLOOR_DB))
        self.meter.setFormat("—")
        self.meter.setTextVisible(True)
        form.addRow("Level", self.meter)
        self.latency = QLabel("—")
        form.addRow("Latency", self.latency)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        self.button = QPushButton("Go live")
        self.button.setCheckable(True)
        self.open_button = QPushButton("Open recording")
        self.open_button.setEnabled(False)
        buttons.addWidget(self.button, 1)
        buttons.addWidget(self.open_button)
        layout.addLayout(buttons)
        self.status = QLabel("Not live")
        self.status.setObjectName("sectionHint")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self._relay = _Relay()
        self._relay.message.connect(self._session_message, Qt.QueuedConnection)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._update_figures)
        self._preview = QTimer(self)
        self._preview.setInterval(PREVIEW_MS)
        self._preview.timeout.connect(self._show_newest)
        self.button.toggled.connect(lambda on: self.start() if on else self.stop())
        self.refresh.clicked.connect(self.list_inputs)
        self.browse.clicked.connect(self._pick_file)
        self.open_button.clicked.connect(lambda: self.last_recording and self.open_requested.emit(self.last_recording))
        self.source.currentIndexChanged.connect(self._source_changed)
        self.list_inputs()

    # --- inputs -------------------------------------------------------------------------------------------------
    def list_inputs(self) -> None:
        from app.io.audio_input import AudioInputError, input_devices

        keep = self.source.currentData()
        self.source.blockSignals(True)
        self.source.clear()
        try:
            devices = input_devices()
            problem = None
        except AudioInputError as exc:
            devices, problem = [], str(exc)
        if devices:
            self.source.addItem("System default input", None)
            for d in devices:
                self.source.addItem(d.label(), d.index)
        self.source.addItem("Audio file (played in real time)", _FILE_ITEM)
        index = self.source.findData(keep) if keep is not None else -1
        self.source.setCurrentIndex(index if index >= 0 else 0)
        self.source.blockSignals(False)
        self._source_changed()
        if not devices and self.session is None:
            self.status.setText(problem or "No audio input devices found: connect a microphone and press Refresh, "
                                "or play an audio file as the input.")

    def _source_changed(self, *_):
        self.file_row.setVisible(self.source.currentData() == _FILE_ITEM)

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Audio file to play as the live input",
                                              self.settings.last_folder("audio"),
                                              "Audio (*.wav *.flac *.ogg *.mp3 *.aiff *.aif);;All files (*)")
        if path:
            self.file.setText(path)
            self.settings.set_last_folder("audio", path)

    def record_folder(self) -> Path:
        return Path(str(self.settings.value("live/record_folder", "") or (self.settings.folder / "live")))

    def _source_spec(self) -> tuple:
        data = self.source.currentData()
        if data == _FILE_ITEM:
            path = self.file.text().strip()
            if not path:
                raise ValueError("choose an audio file to play as the input")
            if not Path(path).is_file():
                raise ValueError(f"file not found: {path}")
            return ("file", path)
        return ("device", data)

    # --- session ------------------------------------------------------------------------------------------------
    @property
    def is_live(self) -> bool:
        return self.session is not None

    def start(self) -> bool:
        """Start a session in its child process (see app/engines/live_process.py); it reports a moment later
        whether the input opened."""
        from app.engines.live import LiveError
        from app.engines.live_process import LiveProcess, LiveSpec
        from app.io.livelink import LiveLinkError

        if self.session is not None:
            return True
        record = None
        try:
            source = self._source_spec()
            targets, subject = ([], None)
            if self.send.isChecked() and self.targets_provider is not None:
                targets, subject = self.targets_provider()
                if not targets:
                    raise LiveError("enter a Live Link target in the Live Link panel, or untick sending")
            if self.record.isChecked():
                record = str(self.record_folder() / time.strftime("live_%Y%m%d_%H%M%S.vrig"))
            controls = self.controls_provider() if self.controls_provider is not None else None
        except (LiveError, LiveLinkError, ValueError) as exc:
            self._set_button(False)
            self.status.setText(f"Cannot go live: {exc}")
            log.error("Live: %s", exc)
            return False
        session = LiveProcess(LiveSpec(source=source, targets=list(targets), subject=subject, record=record,
                                       controls=controls, seed=self.seed),
                              on_message=self._relay.message.emit, on_frame=self._on_frame)
        session.start()
        self.session = session
        self._where = ", ".join(f"{h}:{p}" for h, p in targets) or "no targets (preview only)"
        self._record_name = Path(record).name if record else None
        self.settings.set("live/send", self.send.isChecked())
        self.settings.set("live/record", self.record.isChecked())
        if source[0] == "file":
            self.settings.set("live/file", source[1])
        self.status.setText("Starting the live engine…")
        self.latency.setText("starting…")
        self._shown = -1
        self._announced = False
        self._poll.start()
        self._preview.start()
        self._set_button(True)
        for w in (self.source, self.refresh, self.file_row, self.send, self.record):
            w.setEnabled(False)
        self.live_changed.emit(True)
        return True

    def set_controls(self, controls) -> None:
        """New performance controls for the running session (emotion, gaze, eye contact, head distance)."""
        if self.session is not None:
            self.session.controls = controls

    def stop(self) -> None:
        session, self.session = self.session, None
        self._poll.stop()
        self._preview.stop()
        if session is not None:
            self.setCursor(Qt.WaitCursor)
            try:
                stats = session.stop()
            finally:
                self.unsetCursor()
            p95 = stats.percentile(95)
            text = (f"Stopped: {stats.frames_sent} frames sent, latency p95 "
                    f"{'—' if p95 is None else f'{p95:.0f} ms'}, {stats.frames_late} late.")
            if stats.messages:
                text = f"{stats.messages[-1][:1].upper()}{stats.messages[-1][1:]}. {text}"
            if stats.record_path:
                self.last_recording = stats.record_path
                text += f" Recorded {stats.recorded_s:.1f} s to {stats.record_path}."
            self.status.setText(text)
            log.info("Live stopped: %s", text)
            self.open_button.setEnabled(bool(self.last_recording))
            self.live_changed.emit(False)
        self._reset_controls()

    def _reset_controls(self) -> None:
        self._poll.stop()
        self._preview.stop()
        self.meter.setValue(int(METER_FLOOR_DB))
        self.meter.setFormat("—")
        self.latency.setText("—")
        self._set_button(False)
        for w in (self.source, self.refresh, self.file_row, self.send, self.record):
            w.setEnabled(True)

    def _set_button(self, on: bool) -> None:
        self.button.blockSignals(True)
        self.button.setChecked(on)
        self.button.setText("Stop" if on else "Go live")
        self.button.blockSignals(False)

    # --- from the session threads -------------------------------------------------------------------------------
    def _on_frame(self, index: int, curves: np.ndarray) -> None:
        with self._latest_lock:
            self._latest = (index, curves)

    def _session_message(self, text: str) -> None:
        self.status.setText(f"Live: {text}")
        log.warning("Live: %s", text)

    # --- GUI thread ---------------------------------------------------------------------------------------------
    def _show_newest(self) -> None:
        with self._latest_lock:
            latest = self._latest
        if latest is not None and latest[0] != self._shown:
            self._shown = latest[0]
            self.frame.emit(latest[1])

    def _update_figures(self) -> None:
        session = self.session
        if session is None:
            return
        if session.state == "failed" and not self._announced:
            self.session = None
            session.stop()
            self._reset_controls()
            self.status.setText(f"Cannot go live: {session.error}")
            log.error("Live: %s", session.error)
            self.live_changed.emit(False)
            return
        if session.state == "starting":
            return
        if not self._announced:
            self._announced = True
            self.status.setText(f"Live from {session.source_name} to {self._where}"
                                + (f"; recording to {self._record_name}" if self._record_name else ""))
            log.info("Live from %s to %s", session.source_name, self._where)
        stats = session.stats()
        db = max(METER_FLOOR_DB, min(0.0, stats.level_db))
        self.meter.setValue(int(round(db)))
        self.meter.setFormat(f"{stats.level_db:.0f} dBFS" if stats.level_db > METER_FLOOR_DB else "silent")
        p50, p95 = stats.percentile(50), stats.percentile(95)
        if p50 is None:
            self.latency.setText("waiting for audio…")
        else:
            self.latency.setText(f"{p50:.0f} ms typical, {p95:.0f} ms p95 · {stats.frames_late} late"
                                 + (f" · {stats.backlog_s:.1f} s behind" if stats.backlog_s > 0.2 else "")
                                 + (f" · {stats.input_overruns} input overruns" if stats.input_overruns else ""))
        if stats.state == "failed" or session.wait(0):
            self.stop()  # the input ended (a file) or the engine stopped: tidy up and say so
