"""The director's controls: emotion, gaze, head distance, articulation, engine, seed, takes, transcript.

The panel binds both ways to ``GenerationSettings`` (app.core.settings): a widget change emits ``request_changed``
with the whole new settings (the window regenerates, debounced); ``show_request`` puts settings into the widgets
without echoing signals back. Slider ranges come from ``RANGES``; which engine options are enabled comes from the
engine's capabilities. No generation logic lives here.
"""

from __future__ import annotations

import dataclasses
import random

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import EMOTIONS, RANGES, EmotionKey, GenerationSettings
from app.engines.base import available_engines, get_engine

TRANSCRIPT_DEBOUNCE_MS = 1200  # typing pauses this long before the take is regenerated


class LabeledSlider(QWidget):
    """A horizontal slider over a float range, with its value shown to the right."""

    valueChanged = Signal(float)

    def __init__(self, lo: float, hi: float, step: float, fmt: str = "{:.2f}", parent: QWidget | None = None):
        super().__init__(parent)
        self.lo, self.step, self.fmt = lo, step, fmt
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, int(round((hi - lo) / step)))
        self.label = QLabel()
        self.label.setMinimumWidth(52)
        self.label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.slider.valueChanged.connect(self._changed)
        self._changed(self.slider.value())

    def value(self) -> float:
        return round(self.lo + self.slider.value() * self.step, 6)

    def setValue(self, value: float) -> None:  # noqa: N802 - Qt naming, like the slider it wraps
        self.slider.setValue(int(round((value - self.lo) / self.step)))
        self.label.setText(self.fmt.format(self.value()))

    def _changed(self, _v: int) -> None:
        self.label.setText(self.fmt.format(self.value()))
        self.valueChanged.emit(self.value())


def _slider(name: str, step: float, fmt: str) -> LabeledSlider:
    """A slider over the control's range in app.core.settings.RANGES."""
    r = RANGES[name]
    return LabeledSlider(r.lo, r.hi, step, fmt)


class ControlsPanel(QWidget):
    request_changed = Signal(object)  # GenerationSettings: regenerate (debounced by the window)
    problem = Signal(str, str)  # title, message: something the user asked for could not be done
    transcribe_requested = Signal()  # recognise the words of the open recording into the transcript box
    new_take_requested = Signal(object)  # GenerationSettings with a fresh seed: generate as a new variant
    variant_picked = Signal(int)
    add_emotion_key_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._request = GenerationSettings()
        self._updating = False
        self.playhead_seconds = 0.0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        emo = QGroupBox("Emotion")
        f = QFormLayout(emo)
        self.emotion = QComboBox()
        self.emotion.addItems([e.capitalize() for e in EMOTIONS])
        self.intensity = LabeledSlider(0.0, 1.0, 0.01, "{:.0%}")
        self.add_key = QPushButton("Key emotion at playhead")
        self.add_key.setToolTip("Add an emotion key at the playhead (double-click the emotion lane does the same)")
        self.emotion_hint = QLabel("Edits the key in effect at the playhead.")
        self.emotion_hint.setObjectName("sectionHint")
        f.addRow("Category", self.emotion)
        f.addRow("Intensity", self.intensity)
        f.addRow(self.add_key)
        f.addRow(self.emotion_hint)
        layout.addWidget(emo)

        perf = QGroupBox("Performance")
        f = QFormLayout(perf)
        self.gaze_yaw = _slider("gaze_yaw", 0.5, "{:+.1f}°")
        self.gaze_pitch = _slider("gaze_pitch", 0.5, "{:+.1f}°")
        self.eye_contact = _slider("eye_contact", 0.01, "{:.0%}")
        self.head_distance = _slider("head_distance", 1.0, "{:.0f} cm")
        self.articulation = _slider("articulation", 0.01, "{:.0%}")
        f.addRow("Gaze yaw", self.gaze_yaw)
        f.addRow("Gaze pitch", self.gaze_pitch)
        f.addRow("Eye contact", self.eye_contact)
        f.addRow("Head distance", self.head_distance)
        f.addRow("Articulation", self.articulation)
        layout.addWidget(perf)

        gen = QGroupBox("Engine")
        f = QFormLayout(gen)
        self.engine = QComboBox()
        for name, reason in available_engines().items():
            self.engine.addItem(get_engine(name).caps.label, name)
            if reason:
                item = self.engine.model().item(self.engine.count() - 1)
                item.setEnabled(False)
                item.setToolTip(reason)
        self.steps = QSpinBox()
        self.steps.setRange(int(RANGES["steps"].lo), int(RANGES["steps"].hi))
        self.steps.setToolTip("Sampling steps of the neural engine (more: smoother, slower)")
        self.guidance = QDoubleSpinBox()
        self.guidance.setRange(RANGES["guidance"].lo, RANGES["guidance"].hi)
        self.guidance.setSingleStep(0.25)
        self.guidance.setDecimals(2)
        self.guidance.setToolTip("Neural engine: how closely the face follows the audio and emotion (1 = off; "
                                 "1.5 gives crisper lip sync and livelier motion at about 3/4 of the speed)")
        seed_row = QHBoxLayout()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.new_take = QPushButton("New take")
        self.new_take.setToolTip("Generate another performance with a fresh seed; compare takes in the list")
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.new_take)
        f.addRow("Engine", self.engine)
        f.addRow("Steps", self.steps)
        f.addRow("Guidance", self.guidance)
        f.addRow("Seed", seed_row)
        self.takes = QListWidget()
        self.takes.setMaximumHeight(150)
        self.takes.setToolTip("Generated takes: click one to use it (undoable)")
        f.addRow(self.takes)
        layout.addWidget(gen)

        tr = QGroupBox("Transcript (optional, improves lip sync)")
        tl = QVBoxLayout(tr)
        self.transcript = QPlainTextEdit()
        self.transcript.setPlaceholderText("Type what is said; the take regenerates when you pause typing.")
        self.transcript.setMaximumHeight(80)
        tl.addWidget(self.transcript)
        self.transcribe = QPushButton("Transcribe")
        self.transcribe.setToolTip("Recognise the words (slow: about 1-2 s per second of audio) and put them here "
                                   "to check and correct; the take then follows them")
        phones_row = QHBoxLayout()
        self.phones_label = QLabel()
        self.phones_label.setWordWrap(True)
        self.load_phones = QPushButton("Phones…")
        self.load_phones.setToolTip("Use phone timings from another aligner (Praat TextGrid, HTK .lab, TIMIT .phn, "
                                    "TSV, JSON) instead of aligning the transcript: for any language")
        self.clear_phones = QPushButton("Clear")
        self.clear_phones.setToolTip("Stop using the phone file; the transcript is aligned again")
        phones_row.addWidget(self.transcribe)
        phones_row.addStretch(1)
        phones_row.addWidget(self.load_phones)
        phones_row.addWidget(self.clear_phones)
        tl.addWidget(self.phones_label)
        tl.addLayout(phones_row)
        layout.addWidget(tr)
        layout.addStretch(1)

        self._transcript_timer = QTimer(self)
        self._transcript_timer.setSingleShot(True)
        self._transcript_timer.setInterval(TRANSCRIPT_DEBOUNCE_MS)
        self._transcript_timer.timeout.connect(self._emit)
        self.transcript.textChanged.connect(lambda: None if self._updating else self._transcript_timer.start())
        for w in (self.intensity, self.gaze_yaw, self.gaze_pitch, self.eye_contact, self.head_distance,
                  self.articulation):
            w.valueChanged.connect(self._emit)
        self.emotion.currentIndexChanged.connect(self._emit)
        self.engine.currentIndexChanged.connect(self._engine_changed)
        self.steps.valueChanged.connect(self._emit)
        self.guidance.valueChanged.connect(self._emit)
        self.seed.valueChanged.connect(self._emit)
        self.new_take.clicked.connect(self._new_take)
        self.add_key.clicked.connect(self.add_emotion_key_requested)
        self.takes.itemClicked.connect(lambda item: self.variant_picked.emit(self.takes.row(item)))
        self.load_phones.clicked.connect(self._pick_phone_file)
        self.transcribe.clicked.connect(self.transcribe_requested)
        self.clear_phones.clicked.connect(lambda: self.set_phone_file(None))
        self.show_request(self._request)

    # --- model -> widgets ---------------------------------------------------------------------------------------
    def show_request(self, request: GenerationSettings) -> None:
        self._updating = True
        try:
            self._request = request
            p, o = request.performance, request.options
            key = self.current_emotion_key(request)
            self.emotion.setCurrentIndex(EMOTIONS.index(key.emotion))
            self.intensity.setValue(key.intensity)
            self.gaze_yaw.setValue(p.gaze[0])
            self.gaze_pitch.setValue(p.gaze[1])
            self.eye_contact.setValue(p.eye_contact)
            self.head_distance.setValue(p.head_distance)
            self.articulation.setValue(p.articulation)
            idx = self.engine.findData(request.engine)
            self.engine.setCurrentIndex(max(idx, 0))
            self.steps.setValue(o.steps)
            self.guidance.setValue(o.guidance)
            self._enable_engine_options()
            self.seed.setValue(p.seed)
            transcript = request.inputs.transcript
            if self.transcript.toPlainText().strip() != (transcript or "").strip():
                self.transcript.setPlainText(transcript or "")
            self._show_phone_file(request.inputs.phones_file)
            n = len(p.emotion_keys)
            self.emotion_hint.setText(f"{n} emotion key{'s' if n != 1 else ''}; edits the key in effect at the "
                                      "playhead.")
        finally:
            self._updating = False

    def set_playhead(self, seconds: float) -> None:
        """The emotion widgets show the key in effect at the playhead."""
        self.playhead_seconds = seconds
        key = self.current_emotion_key(self._request)
        if (EMOTIONS[self.emotion.currentIndex()], self.intensity.value()) != (key.emotion, key.intensity):
            self.show_request(self._request)

    def show_variants(self, labels: list[str], current: int | None) -> None:
        """One item per take; a label's second line (how it was made) is shown indented under its first."""
        self.takes.clear()
        for i, label in enumerate(labels):
            head, _, detail = label.partition("\n")
            marker = "▶ " if i == current else "   "
            item = QListWidgetItem(marker + head + (f"\n     {detail}" if detail else ""))
            item.setToolTip(label.replace("\n", "  ·  "))
            if i == current:
                item.setForeground(Qt.GlobalColor.white)
            self.takes.addItem(item)
        if current is not None:
            self.takes.scrollToItem(self.takes.item(current))

    def current_emotion_index(self, request: GenerationSettings) -> int:
        return request.performance.key_index_at(self.playhead_seconds)

    def current_emotion_key(self, request: GenerationSettings) -> EmotionKey:
        return request.performance.key_at(self.playhead_seconds)

    # --- widgets -> model ---------------------------------------------------------------------------------------
    def request(self) -> GenerationSettings:
        """The settings the widgets describe now."""
        r = self._request
        keys = list(r.performance.emotion_keys)
        i = self.current_emotion_index(r)
        keys[i] = EmotionKey(keys[i].time, EMOTIONS[self.emotion.currentIndex()], self.intensity.value())
        performance = dataclasses.replace(
            r.performance, emotion_keys=tuple(keys), gaze=(self.gaze_yaw.value(), self.gaze_pitch.value()),
            eye_contact=self.eye_contact.value(), head_distance=self.head_distance.value(),
            articulation=self.articulation.value(), seed=self.seed.value())
        options = dataclasses.replace(r.options, steps=self.steps.value(), guidance=self.guidance.value())
        inputs = dataclasses.replace(r.inputs, transcript=self.transcript.toPlainText().strip() or None)
        return dataclasses.replace(r, engine=self.engine.currentData() or "procedural", performance=performance,
                                   options=options, inputs=inputs)

    def _emit(self, *_):
        if self._updating:
            return
        self._request = self.request()
        self.request_changed.emit(self._request)

    def show_transcribing(self, busy: bool) -> None:
        self.transcribe.setEnabled(not busy)
        self.transcribe.setText("Transcribing…" if busy else "Transcribe")

    def set_transcript(self, text: str) -> None:
        """Put ``text`` in the transcript box as if typed: the take regenerates with it."""
        self.transcript.setPlainText(text)
        self._transcript_timer.stop()
        self._emit()

    def _show_phone_file(self, path: str | None) -> None:
        from pathlib import Path

        if path:
            self.phones_label.setText(f"Phones: {Path(path).name}")
            self.phones_label.setToolTip(f"{path}\nUsed instead of aligning the transcript")
        else:
            self.phones_label.setText("Phones: aligned from the transcript")
            self.phones_label.setToolTip("")
        self.clear_phones.setEnabled(bool(path))

    def set_phone_file(self, path: str | None) -> bool:
        """Use the phone timings in ``path`` (None: align the transcript again) and regenerate. A file that
        cannot be read is refused with a message; returns whether the request changed."""
        if path:
            from app.engines.phonetics.phone_files import read_phone_file
            from app.engines.phonetics.segments import PhoneticsError

            try:
                read_phone_file(path)
            except PhoneticsError as exc:
                self.problem.emit("Cannot use this phone file", str(exc))
                return False
        if (path or None) == self._request.inputs.phones_file:
            return False
        self._request = self._request.with_inputs(phones_file=path or None)
        self._show_phone_file(self._request.inputs.phones_file)
        self._emit()
        return True

    def _pick_phone_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Phone timings", "",
                                              "Phone timings (*.TextGrid *.textgrid *.lab *.phn *.tsv *.json);;"
                                              "All files (*)")
        if path:
            self.set_phone_file(path)

    def _engine_changed(self, *_):
        self._enable_engine_options()
        self._emit()

    def _enable_engine_options(self) -> None:
        """Sampler settings only for an engine that has a sampler."""
        name = self.engine.currentData()
        sampler = bool(name) and get_engine(name).caps.sampler
        self.steps.setEnabled(sampler)
        self.guidance.setEnabled(sampler)

    def _new_take(self) -> None:
        seed = random.randrange(1, 2**31 - 1)
        self._updating = True
        self.seed.setValue(seed)
        self._updating = False
        self._request = self.request()
        self.new_take_requested.emit(self._request)
