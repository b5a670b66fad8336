"""The dark theme: one place for the colours every widget uses.

Animation tools are dark so the face and the curves stand out and the eye is not tired in a dim room; mid-grey
panels, a slightly darker canvas behind the curves, one accent colour for selection and the playhead.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

WINDOW = "#2b2d31"
PANEL = "#232428"
CANVAS = "#1b1c1f"
GRID = "#34363b"
TEXT = "#d7d9de"
TEXT_DIM = "#8d9199"
ACCENT = "#f0a030"  # playhead, selection
SELECTED_KEY = "#ffd166"
KEY = "#e8e8e8"
WAVE = "#4fa3d9"
LOCK = (220, 70, 70, 45)
LOOP = (240, 160, 48, 28)
ERROR = "#ff6b6b"
WARNING = "#f0c040"

# Curves of one region are told apart by hue; the order is fixed so a channel keeps its colour while others hide.
CURVE_COLOURS = (
    "#ff7a7a", "#7ad0ff", "#9be37b", "#ffc857", "#c89bff", "#5fe0c8", "#ff9bd2", "#b7c4ff",
    "#ffa55f", "#8fe3ff", "#e4f06a", "#ff8f8f",
)

EMOTION_COLOURS = {
    "neutral": "#9aa0a6", "happy": "#ffd166", "sad": "#6fa8dc", "angry": "#ff6b6b", "fearful": "#b48ead",
    "disgusted": "#8fbf5a", "surprised": "#5fe0c8", "contempt": "#d08770",
}

STYLESHEET = f"""
QMainWindow, QDialog {{ background: {WINDOW}; }}
QDockWidget {{ color: {TEXT}; font-weight: 600; }}
QDockWidget::title {{ background: {PANEL}; padding: 4px 8px; border-bottom: 1px solid #111; }}
QToolBar {{ background: {PANEL}; border: none; spacing: 2px; padding: 2px; }}
QToolButton {{ color: {TEXT}; padding: 3px 6px; border-radius: 3px; }}
QToolButton:hover {{ background: #3a3d43; }}
QToolButton:checked {{ background: #4a4030; color: {ACCENT}; }}
QTabWidget::pane {{ border: 1px solid #151618; top: -1px; }}
QTabBar::tab {{ background: {PANEL}; color: {TEXT_DIM}; padding: 4px 10px; border: 1px solid #151618;
                border-bottom: none; }}
QTabBar::tab:selected {{ background: {WINDOW}; color: {TEXT}; border-top: 2px solid {ACCENT}; }}
QGroupBox {{ color: {TEXT_DIM}; border: 1px solid #3a3d43; border-radius: 4px; margin-top: 12px; padding-top: 4px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; padding: 0 3px; }}
QLineEdit, QPlainTextEdit, QSpinBox, QDoubleSpinBox, QComboBox, QListWidget, QTreeWidget {{
    background: {PANEL}; color: {TEXT}; border: 1px solid #3a3d43; border-radius: 3px;
    selection-background-color: #5a4a2a; }}
QPushButton {{ background: #3a3d43; color: {TEXT}; border: 1px solid #4a4d55; border-radius: 3px; padding: 3px 10px; }}
QPushButton:hover {{ background: #454950; }}
QPushButton:disabled {{ color: #6b6f76; }}
QSlider::groove:horizontal {{ height: 4px; background: #45484f; border-radius: 2px; }}
QSlider::handle:horizontal {{ background: {ACCENT}; width: 12px; margin: -5px 0; border-radius: 6px; }}
QStatusBar {{ background: {PANEL}; color: {TEXT_DIM}; }}
QProgressBar {{ background: {CANVAS}; border: 1px solid #3a3d43; border-radius: 3px; color: {TEXT}; height: 14px;
                text-align: center; }}
QProgressBar::chunk {{ background: {ACCENT}; }}
QLabel#placeholder {{ color: {TEXT_DIM}; font-size: 15px; background: {CANVAS}; border: 1px dashed #3a3d43; }}
QLabel#sectionHint {{ color: {TEXT_DIM}; }}
"""


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    for role, colour in (
        (QPalette.Window, WINDOW), (QPalette.WindowText, TEXT), (QPalette.Base, PANEL),
        (QPalette.AlternateBase, WINDOW), (QPalette.Text, TEXT), (QPalette.Button, "#3a3d43"),
        (QPalette.ButtonText, TEXT), (QPalette.Highlight, "#5a4a2a"), (QPalette.HighlightedText, "#ffffff"),
        (QPalette.ToolTipBase, PANEL), (QPalette.ToolTipText, TEXT), (QPalette.PlaceholderText, TEXT_DIM),
    ):
        pal.setColor(role, QColor(colour))
    pal.setColor(QPalette.Disabled, QPalette.Text, QColor("#6b6f76"))
    pal.setColor(QPalette.Disabled, QPalette.ButtonText, QColor("#6b6f76"))
    app.setPalette(pal)
    app.setStyleSheet(STYLESHEET)
    configure_pyqtgraph()


def configure_pyqtgraph() -> None:
    pg.setConfigOptions(background=CANVAS, foreground=TEXT_DIM, antialias=True)


def curve_colour(slot: int) -> str:
    return CURVE_COLOURS[slot % len(CURVE_COLOURS)]
