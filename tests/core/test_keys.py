import numpy as np
import pytest

from app.core import keys as K
from app.core.keys import Interp, Keys


def test_empty_and_single_key():
    assert np.all(K.evaluate(Keys.empty(), 5) == 0)
    assert np.all(K.evaluate(Keys.from_lists([3], [0.4]), 6) == pytest.approx(0.4))


def test_linear_step_smooth_modes():
    lin = K.evaluate(Keys.from_lists([0, 10], [0.0, 1.0], [Interp.LINEAR] * 2), 12)
    assert lin[5] == pytest.approx(0.5) and lin[10] == pytest.approx(1.0) and lin[11] == pytest.approx(1.0)
    step = K.evaluate(Keys.from_lists([0, 10], [0.0, 1.0], [Interp.STEP] * 2), 12)
    assert np.all(step[:10] == 0) and np.all(step[10:] == 1)
    smooth = K.evaluate(Keys.from_lists([0, 10, 20], [0.0, 1.0, 0.0]), 21)
    assert smooth[10] == pytest.approx(1.0)
    assert smooth.max() <= 1.0 + 1e-6  # monotone cubic never overshoots
    assert smooth[2] < lin[2]  # eases in


def test_hold_before_and_after():
    e = K.evaluate(Keys.from_lists([5, 8], [0.2, 0.6], [Interp.LINEAR] * 2), 12)
    assert np.all(e[:5] == pytest.approx(0.2)) and np.all(e[8:] == pytest.approx(0.6))


def test_duplicate_frames_last_wins_and_sorted():
    k = Keys.from_lists([5, 1, 5], [0.1, 0.2, 0.9])
    assert list(k.frames) == [1, 5] and k.values[1] == pytest.approx(0.9)


def test_invalid_keys():
    with pytest.raises(ValueError):
        Keys.from_lists([0, np.nan], [0, 1])
    with pytest.raises(ValueError):
        Keys.from_lists([0], [0], [7])
    with pytest.raises(ValueError):
        Keys.from_json([[1, 2]])


def test_pure_edits_do_not_mutate():
    k = Keys.from_lists([0, 10, 20], [0.0, 0.5, 0.0])
    moved = K.move_keys(k, [1], d_frames=2, d_value=0.1)
    assert list(k.frames) == [0, 10, 20] and k.values[1] == pytest.approx(0.5)
    assert list(moved.frames) == [0, 12, 20] and moved.values[1] == pytest.approx(0.6)
    assert len(K.delete_keys(k, [0, 2])) == 1
    sm = K.smooth_keys(k, [1], strength=1.0)
    assert sm.values[1] == pytest.approx(0.25)
    assert list(K.keys_in_range(k, 5, 20)) == [1, 2]
    assert K.set_modes(k, [0], Interp.STEP).modes[0] == Interp.STEP


def test_moved_keys_win_where_they_land_and_stay_in_the_take():
    k = Keys.from_lists([0, 10, 20], [0.0, 0.5, 0.2])
    right = K.move_keys(k, [1], d_frames=10)  # onto the key at 20
    assert list(right.frames) == [0, 20] and right.values[1] == pytest.approx(0.5)
    left = K.move_keys(k, [2], d_frames=-10)  # onto the key at 10
    assert list(left.frames) == [0, 10] and left.values[1] == pytest.approx(0.2)
    clipped = K.move_keys(k, [2], d_frames=50, num_frames=30)
    assert list(clipped.frames) == [0, 10, 29]
    assert list(K.indices_at(clipped, [29, 10])) == [1, 2]


def test_anchors_make_a_local_bump():
    k = K.add_key_with_anchors(Keys.empty(), 50, 0.3, anchor_frames=10)
    e = K.evaluate(k, 100)
    assert e[50] == pytest.approx(0.3) and e[30] == 0 and e[70] == 0


def test_json_round_trip_and_retime():
    k = Keys.from_lists([0, 7.5, 30], [0.1, -0.2, 0.3], [0, 1, 2])
    assert Keys.from_json(k.to_json()) == k
    r = K.retime(k, 60, 30)
    assert list(r.frames) == [0, 3.75, 15]
