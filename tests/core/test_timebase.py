import numpy as np
import pytest

from app.core.timebase import frames_for_duration, resample_curves, timecode


def test_frames_for_duration():
    assert frames_for_duration(0) == 1
    assert frames_for_duration(1.0, 60) == 61
    assert frames_for_duration(1.0, 24) == 25


@pytest.mark.parametrize("dst", [24.0, 25.0, 30.0, 50.0, 60.0, 29.97, 120.0])
def test_resampling_keeps_timing_of_a_ramp(dst):
    src = np.linspace(0, 2, 121, dtype=np.float32)[:, None]  # value == time in seconds
    out = resample_curves(src, 60.0, dst)
    t = np.arange(len(out)) / dst
    assert len(out) == int(np.floor(2.0 * dst + 1e-9)) + 1
    assert np.allclose(out[:, 0], t, atol=1e-5)


def test_resampling_keeps_short_extremes():
    src = np.ones((61, 1), np.float32)
    src[21, 0] = 0.0  # a one-frame lip closure at t = 0.35 s, between 24 fps frames 8 (0.333) and 9 (0.375)
    naive = resample_curves(src, 60.0, 24.0, keep_extremes=False)
    kept = resample_curves(src, 60.0, 24.0)
    assert naive.min() > 0.4
    assert kept.min() == 0.0
    assert int(np.argmin(kept[:, 0])) in (8, 9)


def test_timecode():
    assert timecode(3661.5, 60) == "01:01:01:30.000"
