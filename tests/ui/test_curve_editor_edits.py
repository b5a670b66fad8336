"""The curve editor hands its edits to app.core.key_edits: what an animator sees at the take's ends and on locks."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _jaw(window):
    take = window.document.take
    editor = window.editor_for_region("jaw")
    ch = take.rig.index("CTRL_C_jaw-translateY")
    editor.set_active_channel(ch)
    return take, editor, ch


def test_dragging_keys_past_the_first_frame_keeps_their_spacing(qtbot, generated):
    take, editor, ch = _jaw(generated)
    editor.add_key(20, 0.5)  # with anchors at 8 and 32
    editor.select({(ch, i) for i in range(len(take.keys(ch)))})
    steps = len(generated.document.history._undo)
    editor.begin_move()
    for df in (-5, -20, -40):
        editor.update_move(df, 0.0)
    editor.end_move()
    assert list(take.keys(ch).frames) == [0, 12, 24]  # stopped at frame 0, none piled up there
    assert len(editor.selection) == 3
    assert len(generated.document.history._undo) == steps + 1
    generated.act_undo.trigger()
    assert list(take.keys(ch).frames) == [8, 20, 32]


def test_pasted_keys_are_selected_and_clamped(qtbot, generated):
    take, editor, ch = _jaw(generated)
    editor.add_key(50, 0.9)
    editor.select({(ch, 1)})
    clip = editor.copy_selected()
    assert clip == {ch: [(0.0, pytest.approx(float(take.keys(ch).values[1])), 1)]}
    clip[ch] = [(0.0, 5.0, 1)]  # an offset far past the control's maximum
    assert editor.paste(clip, 100)
    i = int(np.nonzero(take.keys(ch).frames == 100)[0][0])
    assert editor.selection == {(ch, i)}
    assert take.evaluate()[100, ch] == pytest.approx(float(take.rig.maxs[ch]))


def test_locking_a_locked_range_is_refused(qtbot, generated):
    take, editor, _ch = _jaw(generated)
    assert editor.lock_range(100, 160)
    steps = len(generated.document.history._undo)
    assert not editor.lock_range(110, 150)
    assert len(generated.document.history._undo) == steps
    assert editor.lock_range(161, 170)  # touching: one lock 100..170
    assert [(lk.start, lk.end) for lk in take.locks] == [(100, 171)]
    assert editor.lock_range(120, 129, lock=False)
    assert [(lk.start, lk.end) for lk in take.locks] == [(100, 120), (130, 171)]
