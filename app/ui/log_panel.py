"""Log and problems panel: every message of the ``vasa_rig`` logger, warnings and errors counted as problems.

A logging handler may be called from any thread; it hands records to the GUI thread through a queued signal.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from app.ui import theme

LOGGER_NAME = "vasa_rig"
MAX_ROWS = 2000
log = logging.getLogger(LOGGER_NAME)


class _Relay(QObject):
    record = Signal(int, str, float)


class _QtHandler(logging.Handler):
    def __init__(self, relay: _Relay):
        super().__init__(logging.INFO)
        self.relay = relay

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.relay.record.emit(record.levelno, record.getMessage(), record.created)
        except RuntimeError:
            pass  # the panel was deleted while a worker still logged


class LogPanel(QWidget):
    problems_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.problems = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.only_problems = QCheckBox("Problems only")
        self.only_problems.toggled.connect(self._filter)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        bar.addWidget(self.only_problems)
        bar.addStretch(1)
        bar.addWidget(clear)
        layout.addLayout(bar)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        layout.addWidget(self.list, 1)
        self._relay = _Relay()
        self._relay.record.connect(self._add, Qt.QueuedConnection)
        self._handler = _QtHandler(self._relay)
        log.addHandler(self._handler)
        log.setLevel(logging.INFO)

    def detach(self) -> None:
        log.removeHandler(self._handler)

    def messages(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def clear(self) -> None:
        self.list.clear()
        self.problems = 0
        self.problems_changed.emit(0)

    def _add(self, level: int, message: str, created: float) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(created))
        tag = {logging.WARNING: "warning", logging.ERROR: "error", logging.CRITICAL: "error"}.get(level, "info")
        item = QListWidgetItem(f"{stamp}  {tag:<7}  {message}")
        item.setData(Qt.UserRole, level)
        if level >= logging.ERROR:
            item.setForeground(QColor(theme.ERROR))
        elif level >= logging.WARNING:
            item.setForeground(QColor(theme.WARNING))
        self.list.addItem(item)
        item.setHidden(self.only_problems.isChecked() and level < logging.WARNING)
        while self.list.count() > MAX_ROWS:
            self.list.takeItem(0)
        self.list.scrollToBottom()
        if level >= logging.WARNING:
            self.problems += 1
            self.problems_changed.emit(self.problems)

    def _filter(self, only: bool) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(only and item.data(Qt.UserRole) < logging.WARNING)
