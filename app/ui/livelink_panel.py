"""Live Link panel: where to stream (hosts), as which subject, start/stop, and streaming that follows playback.

While streaming is on, the sender mirrors the transport: play sends frames paced at the take's rate from the
playhead, pause stops, and a scrub or step sends the frame under the playhead once. The sender runs its own thread;
its error callback is relayed to the GUI thread by a queued signal.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.io.livelink import DEFAULT_SUBJECT, LiveLinkError, LiveLinkSender, parse_target, to_packet_units
from app.ui.log_panel import log


class _Relay(QObject):
    error = Signal(str)


class LiveLinkPanel(QWidget):
    streaming_changed = Signal(bool)

    def __init__(self, settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings
        self.sender: LiveLinkSender | None = None
        self._frames: np.ndarray | None = None
        self._frames_revision: tuple | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        form = QFormLayout()
        self.targets = QPlainTextEdit(settings.livelink_targets())
        self.targets.setMaximumHeight(60)
        self.targets.setToolTip("One destination per line: host or host:port (default port 11111)")
        self.subject = QLineEdit(settings.livelink_subject(DEFAULT_SUBJECT))
        self.follow = QCheckBox("Stream while playing")
        self.follow.setChecked(True)
        form.addRow("Targets", self.targets)
        form.addRow("Subject", self.subject)
        form.addRow(self.follow)
        layout.addLayout(form)
        self.button = QPushButton("Start streaming")
        self.button.setCheckable(True)
        self.button.toggled.connect(self._toggled)
        layout.addWidget(self.button)
        self.status = QLabel("Not streaming")
        self.status.setObjectName("sectionHint")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self._relay = _Relay()
        self._relay.error.connect(self._sender_error, Qt.QueuedConnection)
        self.take_provider = None  # callable -> Take | None, set by the window

    @property
    def is_streaming(self) -> bool:
        return self.sender is not None

    def parsed_targets(self) -> list[tuple[str, int]]:
        lines = [line.strip() for line in self.targets.toPlainText().replace(",", "\n").splitlines()]
        return [parse_target(line) for line in lines if line]

    def _toggled(self, on: bool) -> None:
        if on:
            self.start()
        else:
            self.stop()

    def start(self) -> bool:
        if self.sender is not None:
            return True
        take = self.take_provider() if self.take_provider else None
        try:
            targets = self.parsed_targets()
            if not targets:
                raise LiveLinkError("enter at least one target, e.g. 127.0.0.1:11111")
            if take is None:
                raise LiveLinkError("open or generate a take first")
            self.sender = LiveLinkSender(targets, subject=self.subject.text().strip() or DEFAULT_SUBJECT,
                                         fps=take.fps, on_error=self._relay.error.emit, neutral_on_stop=False)
        except (LiveLinkError, ValueError) as exc:
            self._set_button(False)
            self.status.setText(f"Cannot stream: {exc}")
            log.error("Live Link: %s", exc)
            return False
        self.settings.set_livelink_targets(self.targets.toPlainText().strip())
        self.settings.set_livelink_subject(self.subject.text().strip())
        names = ", ".join(str(t) for t in self.sender.targets)
        self.status.setText(f"Streaming subject '{self.sender.subject}' to {names}")
        log.info("Live Link streaming to %s", names)
        self._set_button(True)
        self.streaming_changed.emit(True)
        return True

    def stop(self) -> None:
        sender, self.sender = self.sender, None
        if sender is not None:
            sender.send_neutral()  # pauses keep the pose; stopping the stream lets the face relax
            sender.close()
            self.status.setText(f"Stopped. {sender.status.frames_sent} frames sent.")
            log.info("Live Link stopped after %d frames", sender.status.frames_sent)
            self.streaming_changed.emit(False)
        self._set_button(False)

    def _set_button(self, on: bool) -> None:
        self.button.blockSignals(True)
        self.button.setChecked(on)
        self.button.setText("Stop streaming" if on else "Start streaming")
        self.button.blockSignals(False)

    def _packet_frames(self, take) -> np.ndarray:
        key = (id(take), take.revision)
        if self._frames is None or self._frames_revision != key:
            self._frames = to_packet_units(take.rig.to_arkit(take.evaluate()))
            self._frames_revision = key
        return self._frames

    # --- following the transport ------------------------------------------------------------------------------------
    def on_play(self, take, frame: int, loop: bool) -> None:
        if self.sender is None or not self.follow.isChecked() or take is None:
            return
        self.sender.play(self._packet_frames(take), start_frame=int(frame), loop=loop)

    def on_pause(self) -> None:
        if self.sender is not None and self.sender.is_playing:
            self.sender.stop()

    def on_frame(self, take, frame: int, playing: bool) -> None:
        """A frame shown while not playing (scrub, step, edit) is sent once."""
        if self.sender is None or playing or take is None or not self.follow.isChecked():
            return
        frames = self._packet_frames(take)
        frame = int(np.clip(frame, 0, len(frames) - 1))
        try:
            # Load the current frames, then seek: a seek while stopped sends exactly that frame, synchronously.
            self.sender.play(frames, start_frame=frame)
            self.sender.stop()
            self.sender.seek(frame)
        except (LiveLinkError, ValueError) as exc:
            self._sender_error(str(exc))

    def _sender_error(self, message: str) -> None:
        self.status.setText(f"Live Link problem: {message}")
        log.warning("Live Link: %s", message)
