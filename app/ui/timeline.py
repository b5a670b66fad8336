"""The shared time axis: ruler (frames and seconds), emotion lane, waveform, playhead, loop range, scroll bar.

Every plot in the window shows time in frames on x and links its x range to ``TimeContext.master``, so zooming or
scrolling any of them moves all of them. The left column of each row is the same width (``LEFT_COLUMN``) so the
plots line up from the waveform down to the last curve editor.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollBar, QVBoxLayout, QWidget

from app.core.take import EmotionKey
from app.ui import theme

LEFT_COLUMN = 232  # px: channel lists and the transport readout share this width, so plots align
AXIS_WIDTH = 52
RIGHT_MARGIN = 12
SCROLL_STEPS = 1000


class TimeContext(QObject):
    """Playhead, loop range and the master x view, shared by every time-based widget."""

    frame_changed = Signal(int)
    loop_changed = Signal()
    scrub_started = Signal()
    scrub_finished = Signal()

    def __init__(self, fps: float = 60.0, parent: QObject | None = None):
        super().__init__(parent)
        self.fps = fps
        self.num_frames = 1
        self.frame = 0
        self.loop_enabled = False
        self.loop_start = 0
        self.loop_end = 0
        self.master: pg.ViewBox | None = None
        self.views: list[pg.ViewBox] = []
        self.scrubbing = False

    def set_length(self, num_frames: int, fps: float) -> None:
        self.num_frames = max(int(num_frames), 1)
        self.fps = float(fps)
        self.loop_start, self.loop_end = 0, self.num_frames - 1
        self.set_frame(min(self.frame, self.num_frames - 1))
        self.loop_changed.emit()
        self.frame_all()

    def set_frame(self, frame: int) -> None:
        frame = int(np.clip(int(round(frame)), 0, self.num_frames - 1))
        if frame != self.frame:
            self.frame = frame
            self.frame_changed.emit(frame)

    def set_loop(self, start: int, end: int, enabled: bool | None = None) -> None:
        start, end = sorted((int(round(start)), int(round(end))))
        self.loop_start = int(np.clip(start, 0, self.num_frames - 1))
        self.loop_end = int(np.clip(end, self.loop_start, self.num_frames - 1))
        if enabled is not None:
            self.loop_enabled = enabled
        self.loop_changed.emit()

    def play_range(self) -> tuple[int, int]:
        return (self.loop_start, self.loop_end) if self.loop_enabled else (0, self.num_frames - 1)

    def link(self, view: pg.ViewBox) -> None:
        if self.master is None:
            self.master = view
        else:
            view.setXLink(self.master)
        self.views.append(view)
        view.setLimits(xMin=-30, xMax=self.num_frames + 30, minXRange=8)

    def frame_all(self) -> None:
        for view in self.views:  # every linked view: a slave's limits would clamp the shared range
            view.setLimits(xMin=-30, xMax=self.num_frames + 30)
        if self.master is not None:
            self.master.setXRange(0, self.num_frames - 1, padding=0.01)

    def zoom(self, factor: float) -> None:
        if self.master is None:
            return
        lo, hi = self.master.viewRange()[0]
        centre = self.frame if lo <= self.frame <= hi else (lo + hi) / 2
        half = (hi - lo) / 2 / factor
        self.master.setXRange(centre - half, centre + half, padding=0)


def make_playhead(context: TimeContext, movable: bool = False) -> pg.InfiniteLine:
    line = pg.InfiniteLine(pos=context.frame, angle=90, movable=movable,
                           pen=pg.mkPen(theme.ACCENT, width=1.5), hoverPen=pg.mkPen(theme.SELECTED_KEY, width=2))
    line.setZValue(50)
    context.frame_changed.connect(line.setValue)
    if movable:
        def dragged():
            context.scrubbing = True
            context.set_frame(line.value())
        line.sigDragged.connect(dragged)
        line.sigPositionChangeFinished.connect(lambda: _end_scrub(context))
    return line


def _end_scrub(context: TimeContext) -> None:
    context.scrubbing = False
    context.scrub_finished.emit()


def style_plot(plot: pg.PlotItem, *, left_label: str | None = None) -> None:
    plot.showGrid(x=True, y=True, alpha=0.12)
    left = plot.getAxis("left")
    left.setWidth(AXIS_WIDTH)
    left.setTextPen(theme.TEXT_DIM)
    if left_label:
        left.setLabel(left_label)
    plot.getAxis("bottom").setTextPen(theme.TEXT_DIM)
    plot.layout.setContentsMargins(0, 0, RIGHT_MARGIN, 0)
    plot.hideButtons()
    plot.setMenuEnabled(False)


class ScrubViewBox(pg.ViewBox):
    """Click or drag on the ruler to move the playhead; the wheel zooms time."""

    def __init__(self, context: TimeContext):
        super().__init__(enableMenu=False)
        self.context = context
        self.setMouseEnabled(x=True, y=False)

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.LeftButton:
            ev.accept()
            self.context.set_frame(self.mapSceneToView(ev.scenePos()).x())
            self.context.scrub_finished.emit()
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != Qt.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        if ev.isStart():
            self.context.scrubbing = True
            self.context.scrub_started.emit()
        self.context.set_frame(self.mapSceneToView(ev.scenePos()).x())
        if ev.isFinish():
            _end_scrub(self.context)


class EmotionLaneViewBox(ScrubViewBox):
    """Emotion keys as coloured diamonds: click to select, drag to move, double-click to add, Delete to remove."""

    def __init__(self, context: TimeContext, lane: EmotionLane):
        super().__init__(context)
        self.lane = lane
        self._drag_index: int | None = None

    def mouseClickEvent(self, ev):
        if ev.button() != Qt.LeftButton:
            return super().mouseClickEvent(ev)
        ev.accept()
        frame = self.mapSceneToView(ev.scenePos()).x()
        if ev.double():
            self.lane.add_requested.emit(max(frame, 0.0) / self.context.fps)
            return
        self.lane.select(self.lane.key_at(ev.scenePos()))
        self.lane.setFocus()

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != Qt.LeftButton:
            return super().mouseDragEvent(ev, axis)
        if ev.isStart():
            self._drag_index = self.lane.key_at(ev.buttonDownScenePos())
            if self._drag_index is None:
                return super().mouseDragEvent(ev, axis)
            self.lane.select(self._drag_index)
        if self._drag_index is None:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        frame = max(self.mapSceneToView(ev.scenePos()).x(), 0.0)
        self.lane.preview_move(self._drag_index, frame / self.context.fps)
        if ev.isFinish():
            self._drag_index = None
            self.lane.commit_move()


class EmotionLane(pg.PlotItem):
    """Shows and edits the take's emotion keys; emits the whole new key tuple when an edit ends."""

    keys_edited = Signal(object)  # tuple[EmotionKey, ...]
    add_requested = Signal(float)  # seconds
    selection_changed = Signal(int)  # index, or -1 for none (never None: PySide6 miscounts None in signals)

    def __init__(self, context: TimeContext):
        self.context = context
        super().__init__(viewBox=EmotionLaneViewBox(context, self))
        style_plot(self, left_label=None)
        self.showGrid(x=True, y=False, alpha=0.12)
        self.hideAxis("bottom")
        self.getAxis("left").setTicks([[(0.5, "emotion")]])
        self.setYRange(0, 1, padding=0)
        self.keys: tuple[EmotionKey, ...] = ()
        self._draft: tuple[EmotionKey, ...] | None = None
        self.selected: int | None = None
        self._scatter = pg.ScatterPlotItem(size=13, symbol="d", pxMode=True)
        self.addItem(self._scatter)
        self._labels: list[pg.TextItem] = []
        self._band = pg.PlotCurveItem()
        self.addItem(self._band)
        self.addItem(make_playhead(context))

    def set_keys(self, keys) -> None:
        self.keys = tuple(sorted(keys, key=lambda k: k.time))
        self._draft = None
        if self.selected is not None and self.selected >= len(self.keys):
            self.selected = None
        self._redraw(self.keys)

    def key_at(self, scene_pos) -> int | None:
        if not self.keys:
            return None
        view = self.getViewBox()
        xs = np.array([k.time * self.context.fps for k in self.keys])
        points = [view.mapViewToScene(pg.Point(x, 0.5)) for x in xs]
        dist = [abs(p.x() - scene_pos.x()) for p in points]
        i = int(np.argmin(dist))
        return i if dist[i] <= 9 else None

    def select(self, index: int | None) -> None:
        self.selected = index
        self._redraw(self._draft or self.keys)
        self.selection_changed.emit(-1 if index is None else index)

    def preview_move(self, index: int, seconds: float) -> None:
        keys = list(self.keys)
        k = keys[index]
        keys[index] = EmotionKey(round(seconds * self.context.fps) / self.context.fps, k.emotion, k.intensity)
        self._draft = tuple(keys)
        self._redraw(self._draft)

    def commit_move(self) -> None:
        if self._draft is not None and self._draft != self.keys:
            self.keys_edited.emit(tuple(sorted(self._draft, key=lambda k: k.time)))
        self._draft = None

    def delete_selected(self) -> bool:
        if self.selected is None or len(self.keys) <= 1:
            return False  # the first key stays: the take always has an emotion
        keys = [k for i, k in enumerate(self.keys) if i != self.selected]
        self.selected = None
        self.keys_edited.emit(tuple(keys))
        return True

    def _redraw(self, keys) -> None:
        for label in self._labels:
            self.removeItem(label)
        self._labels = []
        spots = []
        for i, k in enumerate(keys):
            colour = theme.EMOTION_COLOURS.get(k.emotion, theme.TEXT)
            selected = i == self.selected
            spots.append({"pos": (k.time * self.context.fps, 0.5), "brush": pg.mkBrush(colour),
                          "pen": pg.mkPen(theme.SELECTED_KEY if selected else "#000", width=2 if selected else 1),
                          "size": 15 if selected else 12})
            label = pg.TextItem(f"{k.emotion} {k.intensity:.0%}", color=colour, anchor=(-0.15, 0.5))
            label.setFont(QFont("Sans", 8))
            label.setPos(k.time * self.context.fps, 0.5)
            self.addItem(label)
            self._labels.append(label)
        self._scatter.setData(spots)


class Waveform(pg.PlotItem):
    def __init__(self, context: TimeContext):
        super().__init__(viewBox=ScrubViewBox(context))
        self.context = context
        style_plot(self)
        self.hideAxis("bottom")
        self.getAxis("left").setTicks([[(0, "audio")]])
        self.setYRange(-1, 1, padding=0.05)
        pen = pg.mkPen(theme.WAVE, width=1)
        self._top = pg.PlotDataItem(pen=pen)
        self._bottom = pg.PlotDataItem(pen=pen)
        self._fill = pg.FillBetweenItem(self._top, self._bottom, brush=pg.mkBrush(QColor(theme.WAVE).darker(160)))
        for item in (self._fill, self._top, self._bottom):
            self.addItem(item)
        self.playhead = make_playhead(context, movable=True)
        self.addItem(self.playhead)

    def set_audio(self, samples: np.ndarray | None, sample_rate: int) -> None:
        if samples is None or len(samples) == 0:
            self._top.setData([], [])
            self._bottom.setData([], [])
            return
        # Peaks per half frame: fine enough to see every syllable at full zoom, cheap for hour-long files.
        per_bin = max(int(sample_rate / (self.context.fps * 2)), 1)
        n_bins = len(samples) // per_bin
        trimmed = samples[:n_bins * per_bin].reshape(n_bins, per_bin)
        peak = float(np.max(np.abs(samples))) or 1.0
        hi, lo = trimmed.max(axis=1) / peak, trimmed.min(axis=1) / peak
        x = (np.arange(n_bins) + 0.5) * per_bin / sample_rate * self.context.fps
        self._top.setData(x, hi)
        self._bottom.setData(x, lo)


class Ruler(pg.PlotItem):
    """Frames on top, seconds below; the loop range is the shaded band."""

    def __init__(self, context: TimeContext):
        super().__init__(viewBox=ScrubViewBox(context))
        self.context = context
        style_plot(self)
        self.showGrid(x=False, y=False)
        self.showAxis("top")
        self.getAxis("top").setLabel("frame")
        self.getAxis("left").setTicks([[]])
        self.getAxis("left").setStyle(showValues=False)
        for name in ("top", "bottom"):
            self.getAxis(name).setTextPen(theme.TEXT)
            self.getAxis(name).label.setDefaultTextColor(QColor(theme.TEXT_DIM))
        self.setYRange(0, 1, padding=0)
        self.loop = pg.LinearRegionItem(values=(0, 1), brush=pg.mkBrush(*theme.LOOP),
                                        pen=pg.mkPen(theme.ACCENT, width=1))
        self.loop.setZValue(-5)
        self.addItem(self.loop)
        self.loop.sigRegionChangeFinished.connect(self._loop_dragged)
        self.addItem(make_playhead(context))
        context.loop_changed.connect(self._show_loop)
        self._show_loop()

    def set_fps(self, fps: float) -> None:
        self.getAxis("bottom").setScale(1.0 / fps)

    def _show_loop(self) -> None:
        c = self.context
        self.loop.blockSignals(True)
        self.loop.setRegion((c.loop_start, c.loop_end))
        self.loop.blockSignals(False)
        self.loop.setVisible(c.loop_enabled)

    def _loop_dragged(self) -> None:
        lo, hi = self.loop.getRegion()
        self.context.set_loop(lo, hi)


class TimelinePanel(QWidget):
    """Transport readout on the left; ruler, emotion lane and waveform on the right."""

    def __init__(self, context: TimeContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.context = context
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        side = QWidget()
        side.setFixedWidth(LEFT_COLUMN)
        sl = QVBoxLayout(side)
        sl.setContentsMargins(10, 6, 10, 6)
        self.timecode = QLabel("0000")
        self.timecode.setStyleSheet(f"font: 600 22px monospace; color: {theme.ACCENT};")
        self.seconds = QLabel("0.000 s")
        self.seconds.setStyleSheet(f"font: 13px monospace; color: {theme.TEXT};")
        self.info = QLabel("")
        self.info.setObjectName("sectionHint")
        self.info.setWordWrap(True)
        for w in (self.timecode, self.seconds, self.info):
            sl.addWidget(w)
        sl.addStretch(1)
        outer.addWidget(side)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.layout.setSpacing(0)
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.ruler = Ruler(context)
        self.emotions = EmotionLane(context)
        self.waveform = Waveform(context)
        self.graphics.addItem(self.ruler, row=0, col=0)
        self.graphics.addItem(self.emotions, row=1, col=0)
        self.graphics.addItem(self.waveform, row=2, col=0)
        self.ruler.setFixedHeight(54)
        self.emotions.setFixedHeight(30)
        context.link(self.ruler.getViewBox())
        context.link(self.emotions.getViewBox())
        context.link(self.waveform.getViewBox())
        outer.addWidget(self.graphics, 1)
        context.frame_changed.connect(self._show_frame)
        self._show_frame(context.frame)

    def set_take(self, num_frames: int, fps: float, samples: np.ndarray | None, sample_rate: int) -> None:
        self.ruler.set_fps(fps)
        self.context.set_length(num_frames, fps)
        self.waveform.set_audio(samples, sample_rate)
        self._show_frame(self.context.frame)

    def _show_frame(self, frame: int) -> None:
        self.timecode.setText(f"{frame:04d}")
        self.seconds.setText(f"{frame / self.context.fps:7.3f} s   / {self.context.num_frames - 1}")


class TimeScrollBar(QScrollBar):
    """Scrolls the shared view; follows zoom and pan made in any plot."""

    def __init__(self, context: TimeContext, parent: QWidget | None = None):
        super().__init__(Qt.Horizontal, parent)
        self.context = context
        self.setRange(0, SCROLL_STEPS)
        self._updating = False
        self.valueChanged.connect(self._scrolled)
        self._poll = QTimer(self)
        self._poll.setInterval(0)

    def attach(self) -> None:
        self.context.master.sigXRangeChanged.connect(self._follow)
        self._follow()

    def _follow(self, *_):
        lo, hi = self.context.master.viewRange()[0]
        total = max(self.context.num_frames, 1)
        width = min(max((hi - lo) / total, 0.0), 1.0)
        self._updating = True
        self.setPageStep(max(int(width * SCROLL_STEPS), 1))
        self.setMaximum(SCROLL_STEPS - self.pageStep())
        self.setValue(int(np.clip(lo / total, 0, 1) * SCROLL_STEPS))
        self._updating = False

    def _scrolled(self, value: int) -> None:
        if self._updating or self.context.master is None:
            return
        lo, hi = self.context.master.viewRange()[0]
        start = value / SCROLL_STEPS * self.context.num_frames
        self.context.master.setXRange(start, start + (hi - lo), padding=0)
