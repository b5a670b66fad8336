import numpy as np
import pytest

from app.core.history import History, SetKeys
from app.core.keys import Keys
from app.core.rig import load_rig
from app.core.settings import GenerationSettings
from app.core.take import GenerationMeta, Lock, Take

rig = load_rig()
JAW = rig.index("CTRL_C_jaw-translateY")


def _take():
    return Take(rig.rest_curves(100))


def test_undo_redo_keys():
    t = _take()
    h = History(t)
    h.set_keys(JAW, Keys.from_lists([10], [0.5]))
    assert t.evaluate()[10, JAW] == pytest.approx(0.5)
    assert h.undo() and t.evaluate()[10, JAW] == 0
    assert h.redo() and t.evaluate()[10, JAW] == pytest.approx(0.5)
    assert not h.redo()


def test_one_drag_is_one_undo_step():
    """What the curve editor does: preview on the take while dragging, then push the whole move as one group."""
    t = _take()
    h = History(t)
    orig = t.keys(JAW)
    for v in np.linspace(0.1, 0.6, 20):
        t.set_keys(JAW, Keys.from_lists([10], [v]))
    with h.group("Move keys"):
        h.push(SetKeys(JAW, orig, t.keys(JAW), label="Move keys"))
    h.set_keys(JAW, Keys.from_lists([10], [0.9]))
    assert h.undo() and t.evaluate()[10, JAW] == pytest.approx(0.6)
    assert h.undo_label == "Move keys"
    assert h.undo() and t.evaluate()[10, JAW] == 0
    assert not h.can_undo


def test_group_is_one_step_and_rolls_back_on_error():
    t = _take()
    h = History(t)
    with h.group("Paste"):
        h.set_keys(JAW, Keys.from_lists([0], [0.2]))
        h.set_keys(JAW + 1, Keys.from_lists([0], [0.3]))
    assert h.undo_label == "Paste"
    h.undo()
    assert not t.edits
    with pytest.raises(RuntimeError):
        with h.group("Broken"):
            h.set_keys(JAW, Keys.from_lists([0], [0.2]))
            raise RuntimeError("boom")
    assert not t.edits and h.can_redo  # nothing was recorded: the undone paste can still be redone


def test_new_command_clears_redo_and_clean_state():
    t = _take()
    h = History(t)
    assert h.is_clean
    h.set_keys(JAW, Keys.from_lists([0], [0.2]))
    assert not h.is_clean
    h.mark_clean()
    assert h.is_clean
    h.undo()
    assert not h.is_clean
    h.set_locks([Lock(0, 10)])
    assert not h.can_redo and not h.is_clean


def test_regenerate_undo_restores_base_and_meta():
    t = _take()
    h = History(t)
    t.set_locks([Lock(0, 10, (JAW,))])
    new = rig.rest_curves(100)
    new[:, JAW] = 0.7
    h.regenerate(new, GenerationMeta(settings=GenerationSettings.of(seed=4)))
    assert t.meta.settings.performance.seed == 4
    assert t.evaluate()[50, JAW] == pytest.approx(0.7) and t.evaluate()[5, JAW] == 0
    h.undo()
    assert t.meta.engine == "none" and t.evaluate()[50, JAW] == 0


def test_history_limit():
    t = _take()
    h = History(t, limit=3)
    for i in range(6):
        h.set_keys(JAW, Keys.from_lists([0], [0.1 * i]))
    assert sum(1 for _ in iter(h.undo, False)) == 3
