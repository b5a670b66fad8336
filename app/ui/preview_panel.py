"""The face preview dock: the 3D head (app.ui.face_view.FaceView) or, while it cannot be shown, a placeholder.

The 3D view is created after the window is on screen (it needs a GL context); until then, or when VTK cannot
open one (``VASA_RIG_NO_3D=1`` forces this), a panel says so and the rest of the app works unchanged.
"""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedLayout, QWidget

from app.ui.log_panel import log

PLACEHOLDER_TEXT = "3D preview loading…"


class PreviewPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = None
        self._last: np.ndarray | None = None
        self.stack = QStackedLayout(self)
        self.placeholder = QLabel(PLACEHOLDER_TEXT)
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setMinimumSize(260, 260)
        self.stack.addWidget(self.placeholder)

    def create_view(self) -> bool:
        """Build the 3D view; False (and a message in the placeholder) when it is not available."""
        if self.view is not None:
            return True
        if os.environ.get("VASA_RIG_NO_3D"):
            self.placeholder.setText("3D preview off (VASA_RIG_NO_3D)")
            return False
        try:
            from app.ui.face_view import FaceView  # noqa: PLC0415 - VTK is slow to import

            self.view = FaceView(self)
        except Exception as exc:  # missing VTK/GL must not stop the app: curves and export still work
            self.placeholder.setText(f"3D preview unavailable\n{type(exc).__name__}: {exc}")
            log.warning("3D preview unavailable: %s", exc)
            return False
        self.stack.addWidget(self.view)
        self.stack.setCurrentWidget(self.view)
        if self._last is not None:
            self.view.set_frame(self._last)
        return True

    def set_frame(self, values: np.ndarray) -> None:
        self._last = values
        if self.view is not None:
            self.view.set_frame(values)

    def flush(self) -> None:
        if self.view is not None and hasattr(self.view, "flush"):
            self.view.flush()

    def close_view(self) -> None:
        if self.view is not None:
            self.view.close()
