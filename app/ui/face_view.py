"""The 3D face preview widget: the preview head in a pyvistaqt interactor, driven one frame at a time.

``set_frame(values)`` only stores the newest frame; the head is re-posed and redrawn once per turn of the event
loop, so a fast playback clock never queues up renders (frames in between are skipped, never delayed).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QButtonGroup, QCheckBox, QHBoxLayout, QToolButton, QVBoxLayout, QWidget
from pyvistaqt import QtInteractor

from app.preview.model import HeadModel
from app.preview.scene import VIEWS, HeadScene, set_view

VIEW_LABELS = {"front": "Front", "three-quarter": "3/4", "side": "Side"}


class FaceView(QWidget):
    """Orbit with the left mouse button, zoom with the wheel; presets and wireframe on the strip above."""

    frameShown = Signal(float)          # milliseconds the last pose + draw took

    def __init__(self, parent: QWidget | None = None, model: HeadModel | None = None):
        super().__init__(parent)
        self.model = model or HeadModel.load()
        self._pending: np.ndarray | None = None
        self._current = self.model.rest_values()
        self._influence_channel: int | None = None
        self._view = "front"

        self.plotter = QtInteractor(self)
        self.scene = HeadScene(self.plotter, self.model)
        set_view(self.plotter, self._view)

        strip = QHBoxLayout()
        strip.setContentsMargins(4, 2, 4, 2)
        self._view_buttons = QButtonGroup(self)
        for name in VIEWS:
            button = QToolButton(text=VIEW_LABELS[name], checkable=True)
            button.setToolTip(f"{VIEW_LABELS[name]} view")
            button.clicked.connect(lambda _=False, n=name: self.set_view(n))
            self._view_buttons.addButton(button)
            strip.addWidget(button)
            if name == self._view:
                button.setChecked(True)
        strip.addStretch(1)
        self.wireframe_box = QCheckBox("Wireframe")
        self.wireframe_box.toggled.connect(self.set_wireframe)
        strip.addWidget(self.wireframe_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(strip)
        layout.addWidget(self.plotter.interactor, 1)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._show_pending)

    # ---- driving the head ---------------------------------------------------------------------------------
    def set_frame(self, values: np.ndarray) -> None:
        """Pose the head with one (180,) frame; cheap to call at any rate."""
        self._pending = np.asarray(values, np.float32).copy()
        if not self._timer.isActive():
            self._timer.start()

    def current_frame(self) -> np.ndarray:
        return self._current.copy()

    def flush(self) -> None:
        """Show a pending frame now (tests and screenshots)."""
        self._timer.stop()
        self._show_pending()

    def _show_pending(self) -> None:
        if self._pending is None:
            return
        import time  # noqa: PLC0415

        t0 = time.perf_counter()
        values, self._pending = self._pending, None
        self.scene.set_frame(values)
        self._current = values
        self.plotter.render()
        self.frameShown.emit((time.perf_counter() - t0) * 1000)

    # ---- display options ----------------------------------------------------------------------------------
    def set_view(self, name: str) -> None:
        set_view(self.plotter, name)
        self._view = name
        for button in self._view_buttons.buttons():
            button.setChecked(button.text() == VIEW_LABELS[name])
        self.plotter.render()

    def view(self) -> str:
        return self._view

    def set_wireframe(self, on: bool) -> None:
        self.scene.set_wireframe(on)
        if self.wireframe_box.isChecked() != on:
            self.wireframe_box.setChecked(on)
        self.plotter.render()

    def show_influence(self, channel: str | int | None) -> None:
        """Tint the vertices the given channel moves (None clears the highlight)."""
        if channel is None:
            self._influence_channel = None
            self.scene.highlight(None)
        else:
            index = channel if isinstance(channel, int) else self.model.index(channel)
            self._influence_channel = index
            lo = self.model.influence(index, -1.0) if index < self.model.num_controls else None
            hi = self.model.influence(index)
            if lo is not None:
                hi = {p: np.maximum(hi[p], lo[p]) for p in hi}
            self.scene.highlight(hi)
        self.plotter.render()

    def influence_channel(self) -> int | None:
        return self._influence_channel

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._timer.stop()
        self.plotter.close()
        super().closeEvent(event)
