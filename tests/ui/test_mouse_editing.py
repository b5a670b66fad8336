"""Key editing with real mouse events on the curve editor (press, move, release; double-click)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

pytestmark = pytest.mark.gui


def _widget_pos(editor, frame: float, value: float) -> QPoint:
    scene = editor.view.mapViewToScene(pg.Point(frame, value))
    return editor.plot.mapFromScene(scene)


def _solo(editor, ch):
    editor.user_visibility.clear()
    for other in editor.channels:
        editor.set_channel_visible(other, other == ch)
    editor.set_active_channel(ch)


def _jaw_editor(qtbot, window):
    """The take, the jaw editor showing only jaw open, and that channel."""
    take = window.document.take
    editor = window.editor_for_region("jaw")
    ch = take.rig.index("CTRL_C_jaw-translateY")
    _solo(editor, ch)
    qtbot.wait(100)
    return take, editor, ch


def _drag(viewport, start: QPoint, end: QPoint, steps: int = 10) -> None:
    """Press at ``start``, move in steps, release at ``end``: a mouse drag as pyqtgraph sees it."""
    QTest.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, start)
    for k in range(1, steps + 1):
        QTest.mouseMove(viewport, start + (end - start) * (k / steps), 10)
    QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, end, 10)


def test_mouse_drag_moves_a_key_as_one_undo_step(qtbot, generated):
    window = generated
    take, editor, ch = _jaw_editor(qtbot, window)
    frame, value = 120, float(np.clip(take.evaluate()[120, ch] + 0.2, 0.1, 0.9))
    editor.add_key(frame, value, editor.view.mapViewToScene(pg.Point(frame, value)))
    qtbot.wait(50)
    steps = len(window.document.history._undo)
    viewport = editor.plot.viewport()
    start = _widget_pos(editor, frame, value)
    end = _widget_pos(editor, frame, value - 0.15)
    _drag(viewport, start, end)
    qtbot.wait(50)
    assert take.evaluate()[frame, ch] == pytest.approx(value - 0.15, abs=0.03)
    assert len(window.document.history._undo) == steps + 1  # the whole drag is one step
    window.act_undo.trigger()
    assert take.evaluate()[frame, ch] == pytest.approx(value, abs=0.02)


def test_mouse_double_click_adds_a_key(qtbot, generated):
    window = generated
    take, editor, ch = _jaw_editor(qtbot, window)
    frame = 200
    value = float(np.clip(take.evaluate()[frame, ch] + 0.25, 0.1, 0.9))
    pos = _widget_pos(editor, frame, value)
    viewport = editor.plot.viewport()
    # What a window system delivers: press, release, then a double-click event, then the second release.
    QTest.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, pos)
    QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, pos, 20)
    QTest.mouseDClick(viewport, Qt.LeftButton, Qt.NoModifier, pos, 20)
    QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, pos, 20)
    qtbot.wait(50)
    keys = take.keys(ch)
    assert len(keys) >= 1 and np.min(np.abs(keys.frames - frame)) <= 2
    assert take.evaluate()[frame, ch] == pytest.approx(value, abs=0.03)


def test_mouse_box_select_then_delete(qtbot, generated):
    window = generated
    take, editor, ch = _jaw_editor(qtbot, window)
    frames = (100, 110, 120)
    for f in frames:
        v = float(np.clip(take.evaluate()[f, ch] + 0.1, 0.1, 0.9))
        editor.add_key(f, v, editor.view.mapViewToScene(pg.Point(f, v)))
    viewport = editor.plot.viewport()
    (_, _), (y0, y1) = editor.view.viewRange()
    margin = 0.03 * (y1 - y0)  # start inside the plot, on empty canvas above the curves
    lo, hi = _widget_pos(editor, 92, y1 - margin), _widget_pos(editor, 128, y0 + margin)
    _drag(viewport, lo, hi)
    qtbot.wait(50)
    keys = take.keys(ch)
    inside = {(ch, i) for i, f in enumerate(keys.frames) if 92 < f < 128}
    assert {(ch, i) for i, f in enumerate(keys.frames) if f in frames} <= inside
    assert editor.selection == inside  # the box caught exactly the keys inside it
    assert editor.delete_selected()
    assert all(not 92 < f < 128 for f in take.keys(ch).frames)
