"""Export dialog: file format, path, frame rate, curve naming, range and FBX options -> ExportOptions.

The dialog only collects choices; the window writes the file in a worker thread with app.io.export.write_take.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.core.timebase import EXPORT_FPS_CHOICES
from app.io.export import ExportOptions

FORMATS = (  # label, suffix, uses curve naming, FBX options
    ("FBX animation curves (Unreal Engine)", ".fbx", True, True),
    ("Live Link Face CSV", ".csv", False, False),
    ("EmoFace text (174 controls)", ".txt", False, False),
    ("JSON named curves", ".json", True, False),
)
CURVE_SETS = (("MetaHuman curves (CTRL_expressions_*)", "metahuman"), ("Face-board controls", "faceboard"),
              ("ARKit blendshapes", "arkit"))


class ExportDialog(QDialog):
    def __init__(self, take_name: str, num_frames: int, fps: float, folder: str,
                 loop_range: tuple[int, int] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        self.setMinimumWidth(520)
        self.num_frames = num_frames
        form = QFormLayout(self)
        self.format = QComboBox()
        for label, suffix, *_ in FORMATS:
            self.format.addItem(f"{label}  ({suffix})", suffix)
        form.addRow("Format", self.format)
        path_row = QHBoxLayout()
        self.path = QLineEdit(str(Path(folder) / f"{take_name}.fbx"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        form.addRow("File", path_row)
        self.fps = QComboBox()
        for value in EXPORT_FPS_CHOICES:
            self.fps.addItem(f"{value:g} fps", value)
        self.fps.setCurrentIndex(self.fps.findData(fps) if self.fps.findData(fps) >= 0 else self.fps.count() - 1)
        form.addRow("Frame rate", self.fps)
        self.curves = QComboBox()
        for label, value in CURVE_SETS:
            self.curves.addItem(label, value)
        form.addRow("Curves", self.curves)
        range_row = QHBoxLayout()
        self.range_mode = QComboBox()
        self.range_mode.addItems(["Whole take", "Loop range", "Custom"])
        self.start = QSpinBox()
        self.end = QSpinBox()
        for box in (self.start, self.end):
            box.setRange(0, max(num_frames - 1, 0))
        self.end.setValue(max(num_frames - 1, 0))
        self.loop_range = loop_range
        self.range_mode.model().item(1).setEnabled(loop_range is not None)
        range_row.addWidget(self.range_mode)
        range_row.addWidget(self.start)
        range_row.addWidget(self.end)
        form.addRow("Frames", range_row)
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setDecimals(5)
        self.tolerance.setRange(0.0, 0.1)
        self.tolerance.setSingleStep(0.0001)
        self.tolerance.setValue(1e-4)
        self.tolerance.setToolTip("FBX key reduction: keys within this of the interpolated curve are dropped (0 keeps "
                                  "every frame)")
        form.addRow("Key tolerance", self.tolerance)
        self.drop_constant = QCheckBox("Skip curves that stay at rest")
        form.addRow("", self.drop_constant)
        self.root_name = QLineEdit("root")
        self.head_name = QLineEdit("head")
        form.addRow("Root node", self.root_name)
        form.addRow("Head node", self.head_name)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.range_mode.currentIndexChanged.connect(self._range_changed)
        self._format_changed()
        self._range_changed()

    def _format_changed(self, *_):
        suffix = self.format.currentData()
        _label, _suffix, naming, fbx = FORMATS[self.format.currentIndex()]
        self.curves.setEnabled(naming)
        for w in (self.tolerance, self.drop_constant, self.root_name, self.head_name):
            w.setEnabled(fbx)
        path = Path(self.path.text())
        self.path.setText(str(path.with_suffix(suffix)))

    def _range_changed(self, *_):
        mode = self.range_mode.currentIndex()
        custom = mode == 2
        self.start.setEnabled(custom)
        self.end.setEnabled(custom)
        if mode == 0:
            self.start.setValue(0)
            self.end.setValue(max(self.num_frames - 1, 0))
        elif mode == 1 and self.loop_range:
            self.start.setValue(self.loop_range[0])
            self.end.setValue(self.loop_range[1])

    def _browse(self) -> None:
        suffix = self.format.currentData()
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(), f"*{suffix}")
        if path:
            if not path.lower().endswith(suffix):
                path += suffix
            self.path.setText(path)

    def set_format(self, suffix: str) -> None:
        self.format.setCurrentIndex(self.format.findData(suffix))

    def chosen_path(self) -> Path:
        return Path(self.path.text()).expanduser()

    def options(self) -> ExportOptions:
        _label, _suffix, _naming, fbx = FORMATS[self.format.currentIndex()]
        tolerance = self.tolerance.value()
        return ExportOptions(fps=float(self.fps.currentData()), curves=self.curves.currentData(),
                             start_frame=self.start.value(), end_frame=max(self.end.value(), self.start.value()),
                             key_tolerance=tolerance if tolerance > 0 else None,
                             drop_constant=self.drop_constant.isChecked() and fbx,
                             root_name=self.root_name.text().strip() or "root",
                             head_name=self.head_name.text().strip() or "head")
