"""Small signal helpers shared by the motion layers: smooth noise, bumps, syllable prominence and pauses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from app.engines.phonetics.segments import SILENCE, VOWELS, PhoneSegment

from .prosody import Prosody

PHRASE_BREAK_S = 0.18  # a silence at least this long inside speech is a phrase break


def smooth_noise(rng: np.random.Generator, n: int, sigma_frames: float) -> np.ndarray:
    """Gaussian-filtered white noise with unit standard deviation in expectation (slow drift when sigma is
    large). Scaled by the filter's theoretical gain, not the sample's SD, so a short clip keeps its offset
    small instead of being stretched to a full-size excursion."""
    if n == 0:
        return np.zeros(0)
    sigma_frames = max(float(sigma_frames), 0.5)
    pad = int(4 * sigma_frames) + 1
    x = gaussian_filter1d(rng.standard_normal(n + 2 * pad), sigma_frames, mode="constant")[pad:pad + n]
    return x * np.sqrt(2.0 * sigma_frames * np.sqrt(np.pi))


def add_bump(curve: np.ndarray, centre: float, rise: float, fall: float, amplitude: float, fps: float) -> None:
    """Add a smooth raised-cosine bump peaking at ``centre`` (s), rising over ``rise`` s, falling over ``fall``."""
    n = len(curve)
    a = max(int(np.floor((centre - rise) * fps)), 0)
    b = min(int(np.ceil((centre + fall) * fps)) + 1, n)
    if b <= a:
        return
    t = np.arange(a, b) / fps - centre
    shape = np.where(t < 0, 0.5 + 0.5 * np.cos(np.pi * np.clip(-t / rise, 0, 1)),
                     0.5 + 0.5 * np.cos(np.pi * np.clip(t / fall, 0, 1)))
    curve[a:b] += amplitude * shape


@dataclass(frozen=True)
class Syllable:
    start: float
    end: float
    peak: float  # time of the loudest frame of the vowel
    prominence: float  # 0..1 (loudness, length and pitch relative to the clip)
    pitch_accent: bool  # a pitch excursion above the speaker's range marks this syllable
    stressed: bool


def _z(x: np.ndarray) -> np.ndarray:
    sd = x.std()
    return (x - x.mean()) / sd if sd > 1e-9 else np.zeros_like(x)


def syllables(phones: Sequence[PhoneSegment], prosody: Prosody, fps: float) -> list[Syllable]:
    """One syllable per vowel, with an acoustic prominence (we have no lexical stress from the aligner):
    louder, longer and higher-pitched vowels than the speaker's average are stressed."""
    vowels = [p for p in phones if p.phone in VOWELS and p.end > p.start]
    if not vowels:
        return []
    n = prosody.num_frames
    level, pitch, peak, dur = [], [], [], []
    for v in vowels:
        a = min(max(int(np.floor(v.start * fps)), 0), n - 1)
        b = min(max(int(np.ceil(v.end * fps)), a + 1), n)
        seg = prosody.level_db[a:b]
        level.append(float(seg.mean()))
        peak.append((a + int(np.argmax(seg))) / fps)
        voiced = prosody.voiced[a:b]
        pitch.append(float(prosody.pitch_st[a:b][voiced].max()) if voiced.any() else np.nan)
        dur.append(np.log(max(v.end - v.start, 0.02)))
    pitch_arr = np.array(pitch)
    has_pitch = np.isfinite(pitch_arr)
    zp = np.zeros(len(vowels))
    if has_pitch.sum() >= 2:
        zp[has_pitch] = _z(pitch_arr[has_pitch])
    score = 0.45 * _z(np.array(level)) + 0.3 * _z(np.array(dur)) + 0.35 * zp
    prominence = 1.0 / (1.0 + np.exp(-2.0 * score))
    out = []
    peaks = np.array(peak)
    order = np.argsort(peaks, kind="stable")
    sorted_peaks = peaks[order]
    for i, v in enumerate(vowels):
        # Stressed: prominent and the most prominent among syllables within ~0.25 s either side.
        lo, hi = np.searchsorted(sorted_peaks, [peak[i] - 0.25, peak[i] + 0.25], side="right")
        near = order[lo:hi]
        local_max = bool(np.all(prominence[i] >= prominence[near]))
        stressed = bool(prominence[i] > 0.5 and local_max)
        accent = bool(stressed and zp[i] > 0.3)
        out.append(Syllable(v.start, v.end, peak[i], float(prominence[i]), accent, stressed))
    return out


def phrase_breaks(phones: Sequence[PhoneSegment]) -> list[tuple[float, float]]:
    """(start, end) of silences long enough to be phrase breaks, including the lead-in and tail."""
    return [(p.start, p.end) for p in phones if p.phone == SILENCE and p.end - p.start >= PHRASE_BREAK_S]
