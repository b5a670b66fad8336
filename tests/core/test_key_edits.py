"""The curve editor's edits without widgets: clamp, add, move, scale/offset, smooth, clipboard, lock ranges."""

import numpy as np
import pytest

from app.core import key_edits as KE
from app.core.keys import Interp, Keys
from app.core.take import Lock


def _curve(n: int = 100, base: float = 0.2, lo: float = 0.0, hi: float = 1.0) -> KE.Curve:
    return KE.Curve(np.full(n, base, np.float32), lo, hi)


def _ramp(n: int = 100) -> KE.Curve:
    """Base rising 0.0 -> 0.99 (0.01 a frame) on a 0..1 control."""
    return KE.Curve(np.arange(n, dtype=np.float32) / 100, 0.0, 1.0)


# --- clamp -----------------------------------------------------------------------------------------------------

def test_clamp_keeps_base_plus_offset_inside_the_range():
    curve = _ramp()
    k = KE.clamp_keys(Keys.from_lists([10, 50, 90], [2.0, -3.0, 0.05]), curve)
    np.testing.assert_allclose(curve.shown(k), [1.0, 0.0, 0.95], atol=1e-6)
    np.testing.assert_allclose(k.values, [0.9, -0.5, 0.05], atol=1e-6)


def test_clamp_pulls_keys_into_the_take_and_the_inside_key_wins():
    k = KE.clamp_keys(Keys.from_lists([-12, 0, 5, 130], [0.0, 0.4, 0.1, 0.3]), _curve())
    assert list(k.frames) == [0, 5, 99]
    assert k.values[0] == pytest.approx(0.4)  # the key at 0, not the one pulled in from -12
    assert k.values[2] == pytest.approx(0.3)


# --- add -------------------------------------------------------------------------------------------------------

def test_add_key_shows_the_value_asked_for_with_anchors():
    curve = _ramp()
    k, i = KE.add_key(Keys.empty(), curve, 40.4, 0.7)
    assert k.frames[i] == 40 and curve.shown(k)[i] == pytest.approx(0.7)
    assert list(k.frames) == [28, 40, 52] and k.values[0] == 0 and k.values[2] == 0
    k2, j = KE.add_key(k, curve, 60, 0.1)
    assert len(k2) == 4 and k2.frames[j] == 60  # no new anchors once the channel has keys


def test_add_key_at_the_first_frame_is_not_replaced_by_its_anchor():
    k, i = KE.add_key(Keys.empty(), _curve(), 0, 0.9)
    assert list(k.frames) == [0, 12]
    assert i == 0 and k.values[0] == pytest.approx(0.7)


def test_add_key_clamps_to_the_range_and_the_take():
    curve = _curve()
    k, i = KE.add_key(Keys.empty(), curve, 500, 5.0, anchor_frames=0)
    assert k.frames[i] == 99 and curve.shown(k)[i] == pytest.approx(1.0)


# --- move ------------------------------------------------------------------------------------------------------

def test_move_returns_the_moved_keys_and_the_moved_key_wins():
    curve = _curve()
    k = Keys.from_lists([10, 20, 30], [0.1, 0.2, 0.3])
    (new, idx), = KE.move_selection({5: (k, [0])}, {5: curve}, 10, 0.05).values()
    assert list(new.frames) == [20, 30]
    assert list(idx) == [0] and new.values[0] == pytest.approx(0.15)  # the key from 10, not the one at 20


def test_move_stops_the_whole_selection_at_the_take_ends():
    curve = _curve()
    a = Keys.from_lists([3, 8, 50], [0.1, 0.2, 0.3])
    b = Keys.from_lists([20], [0.0])
    moved = KE.move_selection({1: (a, [0, 1]), 2: (b, [0])}, {1: curve, 2: curve}, -10, 0.0)
    assert list(moved[1][0].frames) == [0, 5, 50]  # spacing kept: stopped after 3 frames, not piled on frame 0
    assert list(moved[2][0].frames) == [17]
    assert KE.shift_limit({1: (a, [2])}, 80, 100) == 49


def test_move_clamps_values_to_the_range():
    curve = _curve(base=0.5)
    (new, idx), = KE.move_selection({0: (Keys.from_lists([10], [0.3]), [0])}, {0: curve}, 0, 1.0).values()
    assert curve.shown(new)[idx[0]] == pytest.approx(1.0)


def test_move_from_the_original_keys_restores_a_key_passed_over():
    curve = _curve()
    k = Keys.from_lists([10, 20], [0.1, 0.2])
    over, = KE.move_selection({0: (k, [0])}, {0: curve}, 10, 0).values()
    back, = KE.move_selection({0: (k, [0])}, {0: curve}, 15, 0).values()
    assert len(over[0]) == 1 and list(back[0].frames) == [20, 25]


# --- scale / offset ----------------------------------------------------------------------------------------------

def test_scale_offset_works_on_the_values_the_curve_shows():
    curve = _ramp()
    k = Keys.from_lists([10, 30], [0.2, 0.4])  # shows 0.3 and 0.7: mean 0.5
    new = KE.scale_offset_selection({0: (k, [0, 1])}, {0: curve}, 0.5, 0.1)[0]
    np.testing.assert_allclose(curve.shown(new), [0.5, 0.7], atol=1e-6)


def test_scale_pivot_is_shared_by_every_channel_and_results_are_clamped():
    flat, ramp = _curve(base=0.0), _ramp()
    a = Keys.from_lists([50], [0.2])  # shows 0.2
    b = Keys.from_lists([50], [0.3])  # shows 0.8; common mean 0.5
    out = KE.scale_offset_selection({1: (a, [0]), 2: (b, [0])}, {1: flat, 2: ramp}, 3.0, 0.0)
    assert flat.shown(out[1])[0] == pytest.approx(0.0)  # 0.5 - 0.9 clamped to the minimum
    assert ramp.shown(out[2])[0] == pytest.approx(1.0)  # 0.5 + 0.9 clamped to the maximum
    same = KE.scale_offset_selection({1: (a, [0]), 2: (b, [0])}, {1: flat, 2: ramp}, 1.0, 0.0)
    assert same[1] == a and same[2] == b


def test_scale_leaves_unselected_keys():
    k = Keys.from_lists([10, 20], [0.1, 0.2])
    new = KE.scale_offset_selection({0: (k, [1])}, {0: _curve()}, 2.0, 0.1)[0]
    assert new.values[0] == pytest.approx(0.1) and new.values[1] == pytest.approx(0.3)


def test_smooth_is_clamped():
    curve = _curve(base=0.9)
    k = Keys.from_lists([0, 10, 20], [0.1, -0.5, 0.1])
    assert curve.shown(KE.smooth(k, [0, 2], curve, 1.0)).max() <= 1.0 + 1e-6
    assert KE.smooth(k, [1], curve, 1.0).values[1] == pytest.approx(-0.2)


# --- clipboard -----------------------------------------------------------------------------------------------------

def test_copy_counts_frames_from_the_first_selected_key_of_any_channel():
    a = Keys.from_lists([10, 20, 40], [0.1, 0.2, 0.4], [0, 1, 2])
    b = Keys.from_lists([15], [0.5])
    clip = KE.copy_keys({1: (a, [2, 1]), 2: (b, [0])})
    assert clip == {1: [(5.0, pytest.approx(0.2), 1), (25.0, pytest.approx(0.4), 2)], 2: [(0.0, 0.5, 1)]}
    assert KE.copy_keys({1: (a, [])}) == {}


def test_paste_keeps_offsets_replaces_keys_and_skips_frames_past_the_end():
    curve = _curve()
    old = Keys.from_lists([50, 60], [0.0, 0.1])
    new, idx = KE.paste_keys(old, [(0.0, 0.3, int(Interp.STEP)), (10.0, 0.4, 1), (60.0, 0.2, 1)], 50, curve)
    assert list(new.frames) == [50, 60]  # the key at 110 is past the last frame
    assert list(new.values) == pytest.approx([0.3, 0.4]) and new.modes[0] == Interp.STEP
    assert list(idx) == [0, 1]
    clamped, _ = KE.paste_keys(Keys.empty(), [(0.0, 5.0, 1)], 10, curve)
    assert curve.shown(clamped)[0] == pytest.approx(1.0)
    same, none = KE.paste_keys(old, [(0.0, 0.3, 1)], 200, curve)
    assert same == old and len(none) == 0


# --- lock ranges ---------------------------------------------------------------------------------------------------

def test_lock_range_merges_and_refuses_a_locked_range():
    mouth, jaw = (1, 2), (3,)
    locks = KE.lock_range([], 10, 19, mouth)
    assert locks == [Lock(10, 20, mouth)]
    assert KE.lock_range(locks, 12, 15, mouth) == locks  # already locked: nothing changes
    merged = KE.lock_range(locks + [Lock(0, 5, jaw)], 20, 29, (2, 1))
    assert merged == [Lock(0, 5, jaw), Lock(10, 30, (2, 1))]  # touching ranges of the same channels merge
    assert KE.lock_range(locks, 40, 45, mouth) == [Lock(10, 20, mouth), Lock(40, 46, mouth)]


def test_unlock_range_cuts_locks_of_the_same_channels_only():
    mouth, jaw = (1, 2), (3,)
    locks = [Lock(10, 30, mouth), Lock(10, 30, jaw), Lock(50, 60, None)]
    cut = KE.unlock_range(locks, 15, 19, mouth)
    assert cut == [Lock(10, 15, mouth), Lock(20, 30, mouth), Lock(10, 30, jaw), Lock(50, 60, None)]
    assert KE.unlock_range(locks, 0, 40, mouth) == locks[1:]
    assert KE.unlock_range(locks, 35, 40, mouth) == locks
