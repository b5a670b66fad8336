"""Augmentation keeps audio and targets in step and does what each step says."""

from __future__ import annotations

import numpy as np
from scipy import signal

from models.data import augment as A


def _tone_bursts(seconds=2.0):
    t = np.arange(int(seconds * 16000)) / 16000
    env = (np.sin(2 * np.pi * 2 * t) > 0).astype(np.float32)
    return (0.5 * env * np.sin(2 * np.pi * 440 * t)).astype(np.float32), env


def test_speed_change_keeps_targets_in_step():
    x, env = _tone_bursts()
    frames = int(2.0 * 60) + 1
    targets = {"curves": np.repeat(env[:: 16000 // 60][:frames, None], 3, axis=1).astype(np.float32),
               "emotion": np.zeros(frames, np.int8)}
    for factor in (0.92, 1.08):
        y, t = A.change_speed(x, targets, factor)
        assert len(t["curves"]) == int(np.floor(len(y) / 16000 * 60 + 1e-9)) + 1
        assert t["emotion"].dtype == np.int8 and len(t["emotion"]) == len(t["curves"])
        # The loud frames of the new audio are the frames the targets mark as "on".
        rms = np.array([np.sqrt(np.mean(y[int(i * 16000 / 60) : int((i + 1) * 16000 / 60)] ** 2))
                        for i in range(len(t["curves"]) - 1)])
        on = t["curves"][:-1, 0] > 0.5
        assert rms[on].mean() > 5 * rms[~on].mean()


def test_band_limit_removes_high_frequencies():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(32000).astype(np.float32)
    for tel in (True, False):
        y = A.band_limit(x, tel)
        f, p = signal.welch(y, 16000, nperseg=1024)
        assert p[f > 4500].mean() < 1e-3 * p[(f > 500) & (f < 3000)].mean()


def test_noise_at_requested_snr_and_pitch_keeps_length():
    rng = np.random.default_rng(1)
    x, _ = _tone_bursts()
    y = A.add_noise(x, rng, 10.0)
    snr = 10 * np.log10(np.mean(x**2) / np.mean((y - x) ** 2))
    assert abs(snr - 10.0) < 0.5
    shifted = A.pitch_shift(x, 2.0)
    assert len(shifted) == len(x)
    f, p = signal.welch(shifted, 16000, nperseg=4096)
    assert abs(f[np.argmax(p)] - 440 * 2 ** (2 / 12)) < 12


def test_augment_is_deterministic_and_describes_itself():
    x, env = _tone_bursts()
    targets = {"curves": np.zeros((121, 180), np.float32)}
    a = A.augment(x, targets, np.random.default_rng(7))
    b = A.augment(x, targets, np.random.default_rng(7))
    assert np.array_equal(a[0], b[0]) and a[2] == b[2]
    assert np.all(np.isfinite(a[0]))
    assert abs(len(a[0]) / 16000 * 60 - len(a[1]["curves"])) <= 1.5
