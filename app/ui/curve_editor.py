"""Graph editor for one facial region: channel list (search, show/hide, solo) + curves with editable keys.

Curves show the evaluated values (engine base + the user's additive keys). A key handle sits on the curve at its
frame; dragging it changes the key's offset by the same amount, so what moves under the mouse is the curve itself.
Every edit goes through the History: a drag previews on the Take and pushes one undo step when the mouse is released.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core import key_edits as KE
from app.core import keys as K
from app.core.history import SetKeys
from app.ui import theme
from app.ui.document import Document
from app.ui.timeline import LEFT_COLUMN, TimeContext, make_playhead, style_plot

EDITOR_TABS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Mouth", ("mouth",)), ("Jaw", ("jaw",)), ("Eyes", ("eyes",)), ("Brows", ("eyebrows",)), ("Nose", ("nose",)),
    ("Cheeks", ("cheeks",)), ("Tongue / teeth", ("tongue", "teeth")), ("Neck", ("neck",)), ("Head", ("head",)),
    ("Ears", ("ears",)),
)
DEFAULT_VISIBLE = 6  # channels shown when a take opens: the ones that move most
HIT_PX = 8


def short_name(name: str) -> str:
    """CTRL_L_mouth_cornerPull-translateY -> L mouth_cornerPull.y (the full name is in the tooltip)."""
    s = name[5:] if name.startswith("CTRL_") else name
    for long, short in (("-translateX", ".x"), ("-translateY", ".y"), ("-translateZ", ".z")):
        s = s.replace(long, short)
    return s.replace("_", " ", 1) if s[:2] in ("L_", "R_", "C_") else s


class CurveViewBox(pg.ViewBox):
    """Mouse handling: click selects, double-click adds, drag moves keys or draws a selection box."""

    def __init__(self, editor: CurveEditor):
        super().__init__(enableMenu=False)
        self.editor = editor
        self._mode: str | None = None
        self._origin = None

    def wheelEvent(self, ev, axis=None):
        # Wheel zooms time (shared by every plot); Ctrl+wheel zooms values in this editor only.
        super().wheelEvent(ev, axis=1 if ev.modifiers() & Qt.ControlModifier else 0)

    def mouseClickEvent(self, ev):
        if ev.button() != Qt.LeftButton:
            return super().mouseClickEvent(ev)
        ev.accept()
        self.editor.setFocus()
        pos = self.mapSceneToView(ev.scenePos())
        if ev.double():
            self.editor.add_key(pos.x(), pos.y(), ev.scenePos())
            return
        hit = self.editor.key_at(ev.scenePos())
        extend = bool(ev.modifiers() & (Qt.ShiftModifier | Qt.ControlModifier))
        if hit is not None:
            self.editor.select({hit}, extend=extend, toggle=bool(ev.modifiers() & Qt.ControlModifier))
        else:
            if not extend:
                self.editor.select(set())
            ch = self.editor.curve_at(ev.scenePos())
            if ch is not None:
                self.editor.set_active_channel(ch)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() != Qt.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        if ev.isStart():
            hit = self.editor.key_at(ev.buttonDownScenePos())
            if hit is not None:
                if hit not in self.editor.selection:
                    self.editor.select({hit})
                self._mode = "move"
                self._origin = self.mapSceneToView(ev.buttonDownScenePos())
                self.editor.begin_move()
            else:
                self._mode = "box"
        if self._mode == "move":
            pos = self.mapSceneToView(ev.scenePos())
            self.editor.update_move(pos.x() - self._origin.x(), pos.y() - self._origin.y())
            if ev.isFinish():
                self.editor.end_move()
                self._mode = None
        elif self._mode == "box":
            self.updateScaleBox(ev.buttonDownPos(), ev.pos())
            if ev.isFinish():
                self.rbScaleBox.hide()
                a = self.mapSceneToView(ev.buttonDownScenePos())
                b = self.mapSceneToView(ev.scenePos())
                rect = QRectF(a, b).normalized()
                self.editor.select(self.editor.keys_in_rect(rect),
                                   extend=bool(ev.modifiers() & (Qt.ShiftModifier | Qt.ControlModifier)))
                self._mode = None


class CurveEditor(QWidget):
    status = Signal(str)

    def __init__(self, title: str, regions: tuple[str, ...], document: Document, context: TimeContext,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.regions = regions
        self.document = document
        self.context = context
        self.channels: list[int] = []
        self.visible: dict[int, bool] = {}
        self.user_visibility: dict[int, bool] = {}
        self.selection: set[tuple[int, int]] = set()
        self.active_channel: int | None = None
        self._curves: dict[int, pg.PlotDataItem] = {}
        self._stale = True
        self._drag: dict | None = None
        self.setFocusPolicy(Qt.StrongFocus)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        side = QWidget()
        side.setFixedWidth(LEFT_COLUMN)
        sl = QVBoxLayout(side)
        sl.setContentsMargins(6, 6, 6, 6)
        sl.setSpacing(4)
        self.search = QLineEdit()
        self.search.setPlaceholderText(f"Search {title.lower()} channels")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        sl.addWidget(self.search)
        self.solo = QCheckBox("Solo selected channel")
        self.solo.setToolTip("Draw only the channels selected in the list")
        self.solo.toggled.connect(self._apply_visibility)
        sl.addWidget(self.solo)
        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.ExtendedSelection)
        self.list.itemChanged.connect(self._item_checked)
        self.list.itemSelectionChanged.connect(self._list_selection)
        sl.addWidget(self.list, 1)
        layout.addWidget(side)

        self.view = CurveViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.view)
        style_plot(self.plot.getPlotItem())
        self.plot.getPlotItem().hideAxis("bottom")
        context.link(self.view)
        self._keys_item = pg.ScatterPlotItem(size=9, symbol="s", pxMode=True)
        self._keys_item.setZValue(40)
        self.plot.addItem(self._keys_item)
        self.plot.addItem(make_playhead(context))
        self._lock_items: list[pg.LinearRegionItem] = []
        layout.addWidget(self.plot, 1)
        document.take_replaced.connect(self._take_replaced)
        document.take_changed.connect(self._mark_stale)

    # --- model -> view ------------------------------------------------------------------------------------------
    @property
    def take(self):
        return self.document.take

    def _take_replaced(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        self.selection.clear()
        self.channels = []
        take = self.take
        if take is not None:
            rig = take.rig
            self.channels = [i for i, n in enumerate(rig.channel_names) if rig.region(n) in self.regions]
            shown = self._default_shown()
            self._base_seen = take.base
            for slot, ch in enumerate(self.channels):
                name = rig.channel_names[ch]
                item = QListWidgetItem(short_name(name))
                item.setData(Qt.UserRole, ch)
                item.setToolTip(f"{name}\nrange {rig.mins[ch]:g} .. {rig.maxs[ch]:g}")
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                vis = self.user_visibility.get(ch, ch in shown)
                self.visible[ch] = vis
                item.setCheckState(Qt.Checked if vis else Qt.Unchecked)
                item.setForeground(pg.mkColor(theme.curve_colour(slot)))
                self.list.addItem(item)
        self.list.blockSignals(False)
        self._rebuild_curves()
        self._mark_stale()
        if take is not None:
            self.view.enableAutoRange(axis="y")

    def _default_shown(self) -> set[int]:
        """The channels that move most in the take (what an animator wants to see first)."""
        values = self.take.evaluate()[:, self.channels] if self.channels else np.zeros((1, 0))
        motion = values.max(axis=0) - values.min(axis=0) if len(values) else np.zeros(len(self.channels))
        shown = {self.channels[i] for i in np.argsort(-motion)[:DEFAULT_VISIBLE] if motion[i] > 1e-6}
        return shown or set(self.channels[:DEFAULT_VISIBLE])

    def _base_changed(self) -> None:
        """New engine curves: re-pick the default channels, keeping every choice the user made."""
        shown = self._default_shown()
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            item = self.list.item(row)
            ch = item.data(Qt.UserRole)
            vis = self.user_visibility.get(ch, ch in shown)
            self.visible[ch] = vis
            item.setCheckState(Qt.Checked if vis else Qt.Unchecked)
        self.list.blockSignals(False)
        self._apply_visibility()
        self.view.enableAutoRange(axis="y")

    def _mark_stale(self) -> None:
        take = self.take
        if take is not None and getattr(self, "_base_seen", None) is not take.base and self.channels:
            self._base_seen = take.base
            if not take.edits:
                self._base_changed()
                return
        self._stale = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def shown_channels(self) -> list[int]:
        if self.solo.isChecked():
            chosen = [it.data(Qt.UserRole) for it in self.list.selectedItems()]
            if chosen:
                return chosen
        return [ch for ch in self.channels if self.visible.get(ch)]

    def _rebuild_curves(self) -> None:
        for item in self._curves.values():
            self.plot.removeItem(item)
        self._curves = {}
        for slot, ch in enumerate(self.channels):
            # A 1-pixel (cosmetic) pen: Qt draws thicker antialiased paths about ten times slower, which stalled the
            # GUI thread for seconds on a minute of curves.
            curve = pg.PlotDataItem(pen=pg.mkPen(theme.curve_colour(slot), width=1))
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
            self.plot.addItem(curve)
            self._curves[ch] = curve
        self._apply_visibility()

    def _apply_visibility(self) -> None:
        shown = set(self.shown_channels())
        for ch, curve in self._curves.items():
            curve.setVisible(ch in shown)
        self.selection = {(c, i) for c, i in self.selection if c in shown}
        self._mark_stale()

    def refresh(self) -> None:
        self._stale = False
        take = self.take
        if take is None:
            self._keys_item.setData([])
            return
        values = take.evaluate()
        x = np.arange(take.num_frames, dtype=np.float64)
        shown = self.shown_channels()
        for ch in shown:
            curve = self._curves.get(ch)
            if curve is not None:
                curve.setData(x, values[:, ch])
                active = ch == self.active_channel
                curve.setPen(pg.mkPen(curve.opts["pen"].color(), width=2 if active else 1))
                # The one thick curve is drawn as line segments, which Qt renders far faster than a wide path.
                curve.curve.setSegmentedLineMode("on" if active else "auto")
        spots = []
        for ch in shown:
            keys = take.keys(ch)
            if not len(keys):
                continue
            ys = np.interp(keys.frames, x, values[:, ch])
            for i, (f, y) in enumerate(zip(keys.frames, ys, strict=True)):
                sel = (ch, i) in self.selection
                spots.append({"pos": (f, y), "data": (ch, i), "size": 11 if sel else 8,
                              "brush": pg.mkBrush(theme.SELECTED_KEY if sel else theme.KEY),
                              "pen": pg.mkPen("#000", width=1)})
        self._keys_item.setData(spots)
        self._draw_locks()

    def _draw_locks(self) -> None:
        for item in self._lock_items:
            self.plot.removeItem(item)
        self._lock_items = []
        mine = set(self.channels)
        for lock in self.take.locks:
            if lock.channels is not None and not mine.intersection(lock.channels):
                continue
            item = pg.LinearRegionItem(values=(lock.start, lock.end - 1), movable=False,
                                       brush=pg.mkBrush(*theme.LOCK), pen=pg.mkPen(theme.ERROR, width=1))
            item.setZValue(-10)
            self.plot.addItem(item)
            self._lock_items.append(item)

    # --- channel list -------------------------------------------------------------------------------------------
    def _filter(self, text: str) -> None:
        text = text.strip().lower()
        for row in range(self.list.count()):
            item = self.list.item(row)
            full = self.take.rig.channel_names[item.data(Qt.UserRole)].lower() if self.take else ""
            item.setHidden(bool(text) and text not in item.text().lower() and text not in full)

    def _item_checked(self, item: QListWidgetItem) -> None:
        ch = item.data(Qt.UserRole)
        vis = item.checkState() == Qt.Checked
        self.visible[ch] = vis
        self.user_visibility[ch] = vis
        self._apply_visibility()

    def set_channel_visible(self, channel: int, visible: bool) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.UserRole) == channel:
                item.setCheckState(Qt.Checked if visible else Qt.Unchecked)

    def _list_selection(self) -> None:
        items = self.list.selectedItems()
        if items:
            self.active_channel = items[0].data(Qt.UserRole)
        if self.solo.isChecked():
            self._apply_visibility()
        else:
            self._mark_stale()

    def set_active_channel(self, channel: int) -> None:
        self.active_channel = channel
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.UserRole) == channel:
                self.list.blockSignals(True)
                self.list.setCurrentItem(item)
                self.list.blockSignals(False)
        name = self.take.rig.channel_names[channel]
        self.status.emit(f"{name}  (range {self.take.rig.mins[channel]:g} .. {self.take.rig.maxs[channel]:g})")
        self._mark_stale()

    # --- hit testing --------------------------------------------------------------------------------------------
    def _key_points(self) -> list[tuple[tuple[int, int], float, float]]:
        take = self.take
        out = []
        if take is None:
            return out
        values = take.evaluate()
        x = np.arange(take.num_frames, dtype=np.float64)
        for ch in self.shown_channels():
            keys = take.keys(ch)
            if len(keys):
                ys = np.interp(keys.frames, x, values[:, ch])
                out.extend(((ch, i), float(f), float(y)) for i, (f, y) in enumerate(zip(keys.frames, ys, strict=True)))
        return out

    def key_at(self, scene_pos) -> tuple[int, int] | None:
        best, best_d = None, HIT_PX
        for ref, f, y in self._key_points():
            p = self.view.mapViewToScene(pg.Point(f, y))
            d = max(abs(p.x() - scene_pos.x()), abs(p.y() - scene_pos.y()))
            if d <= best_d:
                best, best_d = ref, d
        return best

    def curve_at(self, scene_pos, max_px: float = 14) -> int | None:
        take = self.take
        if take is None:
            return None
        frame = int(np.clip(round(self.view.mapSceneToView(scene_pos).x()), 0, take.num_frames - 1))
        values = take.evaluate()[frame]
        best, best_d = None, max_px
        for ch in self.shown_channels():
            p = self.view.mapViewToScene(pg.Point(frame, float(values[ch])))
            d = abs(p.y() - scene_pos.y())
            if d <= best_d:
                best, best_d = ch, d
        return best

    def keys_in_rect(self, rect: QRectF) -> set[tuple[int, int]]:
        return {ref for ref, f, y in self._key_points() if rect.contains(f, y)}

    # --- selection ------------------------------------------------------------------------------------------------
    def select(self, refs: set, extend: bool = False, toggle: bool = False) -> None:
        if toggle:
            self.selection ^= set(refs)
        elif extend:
            self.selection |= set(refs)
        else:
            self.selection = set(refs)
        if refs:
            self.set_active_channel(next(iter(refs))[0])
        self.status.emit(f"{len(self.selection)} key(s) selected")
        self._mark_stale()

    def select_all_keys(self) -> None:
        self.select({ref for ref, _f, _y in self._key_points()})

    def selected_by_channel(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for ch, i in sorted(self.selection):
            out.setdefault(ch, []).append(i)
        return out

    # --- edits (the algorithms are in app.core.key_edits; these turn gestures into history steps) ------------
    def _curve(self, ch: int) -> KE.Curve:
        return KE.Curve.of(self.take, ch)

    def _selected_keys(self) -> dict[int, tuple[K.Keys, list[int]]]:
        return {ch: (self.take.keys(ch), idx) for ch, idx in self.selected_by_channel().items()}

    def add_key(self, frame: float, value: float, scene_pos=None) -> tuple[int, int] | None:
        take = self.take
        if take is None:
            return None
        ch = self.curve_at(scene_pos, max_px=24) if scene_pos is not None else None
        ch = ch if ch is not None else self.active_channel
        if ch is None:
            shown = self.shown_channels()
            if not shown:
                self.status.emit("Show a channel first: tick it in the list")
                return None
            ch = shown[0]
        old = take.keys(ch)
        new, idx = KE.add_key(old, self._curve(ch), frame, value)
        self.document.history.push(SetKeys(ch, old, new, label="Add key"))
        self.select({(ch, idx)})
        return ch, idx

    def begin_move(self) -> None:
        self._drag = {"sel": self._selected_keys(), "delta": (0, 0.0)}

    def update_move(self, d_frames: float, d_value: float) -> None:
        if not self._drag:
            return
        sel = self._drag["sel"]
        df = KE.shift_limit(sel, round(d_frames), self.take.num_frames)  # whole frames, stopping at the ends
        moved = KE.move_selection(sel, {ch: self._curve(ch) for ch in sel}, df, float(d_value))
        self._drag["delta"] = (df, float(d_value))
        for ch, (new, _idx) in moved.items():
            self.take.set_keys(ch, new)  # live preview; the undo step is pushed in end_move
        self.selection = {(ch, int(i)) for ch, (_new, idx) in moved.items() for i in idx}

    def end_move(self) -> None:
        drag, self._drag = self._drag, None
        if not drag:
            return
        history = self.document.history
        changed = [(ch, orig, self.take.keys(ch)) for ch, (orig, _idx) in drag["sel"].items()
                   if self.take.keys(ch) != orig]
        if not changed:
            return
        with history.group("Move keys"):
            for ch, orig, new in changed:
                history.push(SetKeys(ch, orig, new, label="Move keys"))
        df, dv = drag["delta"]
        self.status.emit(f"Moved {len(self.selection)} key(s) by {df:+g} frames, {dv:+.3f}")

    def _push_edits(self, label: str, new_keys: dict[int, K.Keys]) -> None:
        """Replace the keys of each channel in ``new_keys`` that changed, as one undo step."""
        history = self.document.history
        with history.group(label):
            for ch, new in new_keys.items():
                old = self.take.keys(ch)
                if new != old:
                    history.push(SetKeys(ch, old, new, label=label))

    def _edit_selection(self, label: str, fn) -> bool:
        """Apply ``fn(channel, keys, indices) -> keys`` to every channel with selected keys, as one undo step."""
        sel = self._selected_keys() if self.take is not None else {}
        if not sel:
            self.status.emit("Select keys first (click, or drag a box)")
            return False
        self._push_edits(label, {ch: fn(ch, keys, idx) for ch, (keys, idx) in sel.items()})
        return True

    def delete_selected(self) -> bool:
        ok = self._edit_selection("Delete keys", lambda ch, k, idx: K.delete_keys(k, idx))
        if ok:
            self.selection.clear()
            self._mark_stale()
        return ok

    def smooth_selected(self, strength: float = 0.5) -> bool:
        return self._edit_selection("Smooth keys", lambda ch, k, idx: KE.smooth(k, idx, self._curve(ch), strength))

    def set_interpolation(self, mode: K.Interp) -> bool:
        return self._edit_selection("Interpolation", lambda ch, k, idx: K.set_modes(k, idx, mode))

    def scale_offset_selected(self, factor: float, offset: float) -> bool:
        """Scale the selected keys' values (as seen on the curve) about their mean, then add ``offset``."""
        sel = self._selected_keys() if self.take is not None else {}
        if not sel:
            self.status.emit("Select keys first (click, or drag a box)")
            return False
        curves = {ch: self._curve(ch) for ch in sel}
        self._push_edits("Scale / offset keys", KE.scale_offset_selection(sel, curves, factor, offset))
        return True

    def reset_to_generated(self) -> bool:
        """Remove the user's keys from the channels with selected keys (or all of this region's channels)."""
        take = self.take
        if take is None:
            return False
        chans = list(self.selected_by_channel()) or [ch for ch in self.channels if len(take.keys(ch))]
        if not chans:
            self.status.emit(f"{self.title}: nothing to reset, the curves are as generated")
            return False
        self._push_edits("Reset to generated", {ch: K.Keys.empty() for ch in chans})
        self.selection.clear()
        return True

    def copy_selected(self) -> KE.Clipboard | None:
        if self.take is None:
            return None
        return KE.copy_keys(self._selected_keys()) or None

    def paste(self, clip: KE.Clipboard, at_frame: int) -> bool:
        take = self.take
        if take is None or not clip:
            return False
        pasted = {ch: KE.paste_keys(take.keys(ch), rows, at_frame, self._curve(ch)) for ch, rows in clip.items()}
        self._push_edits("Paste keys", {ch: new for ch, (new, _idx) in pasted.items()})
        for ch in clip:
            if ch in self.visible and not self.visible[ch]:
                self.set_channel_visible(ch, True)
        self.select({(ch, int(i)) for ch, (_new, idx) in pasted.items() for i in idx})
        return True

    def lock_range(self, start: int, end: int, lock: bool = True) -> bool:
        """Lock (or unlock) frames start..end of this editor's channels: kept when the take is regenerated."""
        take = self.take
        if take is None:
            return False
        mine = tuple(self.channels)
        if lock:
            locks = KE.lock_range(take.locks, start, end, mine)
            label = f"Lock {self.title} {start}-{end}"
            refusal = f"{self.title}: frames {start}-{end} are already locked"
        else:
            locks = KE.unlock_range(take.locks, start, end, mine)
            label = f"Unlock {self.title} {start}-{end}"
            refusal = f"{self.title}: no lock in frames {start}-{end}"
        if locks == take.locks:
            self.status.emit(refusal)
            return False
        self.document.history.set_locks(locks, label=label)
        return True

    def selection_frame_span(self) -> tuple[int, int] | None:
        pts = [f for ref, f, _y in self._key_points() if ref in self.selection]
        if not pts:
            return None
        return int(min(pts)), int(max(pts))
