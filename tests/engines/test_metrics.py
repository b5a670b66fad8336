"""Quality figures (quality_metrics.md) on constructed cases where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.rig import load_rig
from app.engines import metrics as M
from app.engines.phonetics.segments import PhoneSegment

RIG = load_rig()
FPS = 60.0
SR = 16000


def col(name: str) -> int:
    return RIG.index(name)


def rest(n: int) -> np.ndarray:
    return RIG.rest_curves(n).astype(np.float32)


def test_mouth_opening_formula():
    c = rest(3)
    c[:, col("CTRL_C_jaw-translateY")] = [0.0, 0.3, 0.0]
    c[1, col("CTRL_L_mouth_lowerLipDepress-translateY")] = 0.4
    c[1, col("CTRL_R_mouth_lowerLipDepress-translateY")] = 0.2
    for side in "LR":
        for ud in "UD":
            c[2, col(f"CTRL_{side}_mouth_lipsTogether{ud}-translateY")] = 0.8
    np.testing.assert_allclose(M.mouth_opening(c), [0.0, 0.3 + 0.5 * 0.3, -0.4], atol=1e-6)


def _syllable_audio(n_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Audio whose loudness follows a random syllable-rate pattern, and that pattern per frame (0..1)."""
    from scipy.ndimage import gaussian_filter1d

    pattern = np.clip(gaussian_filter1d(rng.standard_normal(n_frames), 4.0) * 3 + 0.5, 0, 1)
    per_sample = np.interp(np.arange(int(n_frames / FPS * SR)) / SR, np.arange(n_frames) / FPS, pattern)
    audio = (0.3 * per_sample * np.sin(2 * np.pi * 180 * np.arange(len(per_sample)) / SR)).astype(np.float32)
    return audio, pattern


@pytest.mark.parametrize("shift", [0, 4, -3, 8])
def test_lag_finds_a_known_shift(shift):
    rng = np.random.default_rng(2)
    n = 600
    audio, pattern = _syllable_audio(n, rng)
    env = M.audio_envelope(audio, SR, n)
    opening = np.roll(pattern, shift)  # positive shift: the mouth follows the sound -> late
    assert M.lag_frames(env, opening) == shift


def test_envelope_floor_and_units():
    x = np.zeros(SR, np.float32)
    x[SR // 2:] = 0.5
    env = M.audio_envelope(x, SR, 61)
    peak_db = 20 * np.log10(0.5)
    assert env[:25].max() == pytest.approx(peak_db - 60.0)
    assert env[40:55] == pytest.approx(np.full(15, peak_db), abs=0.01)


def _utterance():
    phones, t = [PhoneSegment("SIL", 0.0, 0.2)], 0.2
    for _ in range(8):
        for ph, d in (("AA", 0.15), ("M", 0.08), ("AE", 0.14), ("T", 0.1), ("IY", 0.12), ("AE", 0.14), ("P", 0.08)):
            phones.append(PhoneSegment(ph, t, t + d))
            t += d
    phones.append(PhoneSegment("AA", t, t + 0.15))
    t += 0.15
    phones.append(PhoneSegment("SIL", t, t + 0.2))
    return phones, int(np.ceil((t + 0.2) * FPS))


def _opening_curves(phones, n, levels):
    """Curves whose jaw follows per-phone levels (a step function), nothing else moving."""
    c = rest(n)
    for p in phones:
        frames = M.segment_frames([p], n)
        c[frames, col("CTRL_C_jaw-translateY")] = levels.get(p.phone, 0.0)
    return c


def test_bilabial_closure_and_aperture_discriminate():
    phones, n = _utterance()
    good = _opening_curves(phones, n, {"M": 0.0, "P": 0.0, "AA": 0.45, "AE": 0.4, "T": 0.1, "IY": 0.12})
    # Lips apart on the bilabials, with open vowels either side: no frame near them is among the lowest.
    open_lips = _opening_curves(phones, n, {"M": 0.5, "P": 0.5, "AA": 0.45, "AE": 0.4, "T": 0.1, "IY": 0.12})
    closed, total = M.bilabial_closure(M.mouth_opening(good), phones)
    assert (closed, total) == (16, 16)
    closed, total = M.bilabial_closure(M.mouth_opening(open_lips), phones)
    assert total == 16 and closed == 0
    assert M.open_vowel_aperture(M.mouth_opening(good), phones) > 2.0
    assert M.open_vowel_aperture(M.mouth_opening(open_lips), phones) < 1.0


def test_closure_counts_frames_just_around_a_short_segment():
    phones = [PhoneSegment("SIL", 0, 0.2), PhoneSegment("AA", 0.2, 0.5), PhoneSegment("B", 0.5, 0.51),
              PhoneSegment("AA", 0.51, 0.8), PhoneSegment("SIL", 0.8, 1.0)]
    c = _opening_curves(phones, 61, {"AA": 0.4})
    c[M.segment_frames([phones[2]], 61, pad=1)[-1], col("CTRL_C_jaw-translateY")] = 0.0
    assert M.bilabial_closure(M.mouth_opening(c), phones) == (1, 1)


def test_region_sd_flat_versus_lively_upper_face():
    n = 600
    t = np.arange(n) / FPS
    flat = rest(n)
    lively = rest(n)
    for name in RIG.control_names:
        if M.region_of(name) in ("eyes", "eyebrows"):
            lively[:, col(name)] = 0.1 * np.sin(2 * np.pi * 0.7 * t + len(name))
    sd_flat, sd_lively = M.region_sd(flat), M.region_sd(lively)
    assert sd_flat["eyes"] == 0.0 and sd_flat["eyebrows"] == 0.0
    assert sd_lively["eyes"] == pytest.approx(0.1 / np.sqrt(2), rel=0.05)
    assert sd_lively["mouth"] == 0.0


def test_region_membership_follows_the_definition():
    assert M.region_of("CTRL_L_eye_cheekRaise-translateY") == "eyes"
    assert M.region_of("CTRL_R_eyelashes_tweakerIn-translateY") == "eyes"
    assert M.region_of("CTRL_L_brow_down-translateY") == "eyebrows"
    assert M.region_of("CTRL_R_nose_wrinkleUpper-translateY") == "nose"
    assert M.region_of("CTRL_L_mouth_suckBlow-translateY") == "mouth"
    assert M.region_of("CTRL_L_jaw_ChinRaiseD-translateY") == "jaw"
    assert M.region_of("CTRL_C_tongue_tip-translateY") == "tongue"
    assert M.region_of("CTRL_neck_throatUpDown-translateY") is None


def test_jitter_smooth_versus_noisy():
    n = 300
    t = np.arange(n) / FPS
    smooth, noisy = rest(n), rest(n)
    smooth[:, :174] += (0.2 * np.sin(2 * np.pi * 1.0 * t))[:, None]
    noisy[:, :174] += np.random.default_rng(0).normal(0, 0.02, (n, 174))
    assert M.jitter(smooth) < M.CAPTURED_JITTER < M.jitter(noisy)


def test_blink_count():
    c = rest(600)
    for start in (50, 200, 400):
        for side in "LR":
            c[start:start + 13, col(f"CTRL_{side}_eye_blink-translateY")] = np.hanning(13)
    c[300:305, col("CTRL_L_eye_blink-translateY")] = 0.4  # a half-close is not a blink
    assert M.blink_count(c) == 3


def test_pool_sums_counts_and_checks_targets():
    phones, n = _utterance()
    curves = _opening_curves(phones, n, {"AA": 0.45, "AE": 0.4, "T": 0.1, "IY": 0.12})
    audio = np.zeros(int(n / FPS * SR), np.float32) + 1e-3
    figs = [M.evaluate(curves, phones, audio, SR) for _ in range(3)]
    pooled = M.pool(figs)
    assert pooled.bilabials == 48 and pooled.closed == 48
    checks = pooled.checks()
    assert checks["bilabial closure"]
    assert not checks["eyes SD"] and not checks["blink rate"]  # a still upper face fails
