"""Prosody per animation frame: loudness from the RMS level, pitch from a YIN tracker (de Cheveigne & Kawahara
2002: cumulative-mean-normalised difference function with an absolute threshold), both at the animation rate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.timebase import FPS

PITCH_MIN_HZ = 65.0
PITCH_MAX_HZ = 420.0
YIN_THRESHOLD = 0.2
_WINDOW_S = 0.032  # analysis window; covers two periods of the lowest pitch searched
_VOICING_MAX_CMNDF = 0.35  # above this even the best period is noise, not voicing
_LEVEL_FLOOR_DB = 60.0  # levels are floored this far below the loudest frame
_YIN_BLOCK_FRAMES = 2048


@dataclass(frozen=True)
class Prosody:
    level_db: np.ndarray  # (frames,) RMS level, dB re full scale, floored
    loudness: np.ndarray  # (frames,) 0..1: level between the clip's quiet floor (0) and its loud speech (1)
    f0: np.ndarray  # (frames,) Hz, 0 where unvoiced
    voiced: np.ndarray  # (frames,) bool
    pitch_st: np.ndarray  # (frames,) semitones relative to the clip's median voiced pitch, 0 where unvoiced

    @property
    def num_frames(self) -> int:
        return len(self.level_db)


def _frames(samples: np.ndarray, sample_rate: int, num_frames: int, fps: float, width: int,
            first: int = 0) -> np.ndarray:
    """(num_frames, width) windows centred on the times of frames first.. (zeros beyond the signal)."""
    x = np.asarray(samples, dtype=np.float32)
    centres = np.rint(np.arange(first, first + num_frames) / fps * sample_rate).astype(np.int64)
    idx = centres[:, None] - width // 2 + np.arange(width)[None, :]
    inside = (idx >= 0) & (idx < len(x))
    return np.where(inside, x[np.clip(idx, 0, max(len(x) - 1, 0))], np.float32(0.0))


def frame_level_db(samples: np.ndarray, sample_rate: int, num_frames: int, fps: float = FPS,
                   window_s: float = 2.0 / FPS) -> np.ndarray:
    """RMS level around each frame in dB, floored 60 dB below the loudest frame."""
    width = max(int(round(window_s * sample_rate)), 2)
    x = np.asarray(samples, dtype=np.float64)
    csum = np.concatenate([[0.0], np.cumsum(x * x)])  # running energy: no (frames x window) matrix
    centres = np.rint(np.arange(num_frames) / fps * sample_rate).astype(np.int64)
    a = np.clip(centres - width // 2, 0, len(x))
    b = np.clip(centres - width // 2 + width, 0, len(x))
    rms = np.sqrt(np.maximum(csum[b] - csum[a], 0.0) / width)
    db = 20.0 * np.log10(np.maximum(rms, 1e-10))
    return np.maximum(db, db.max() - _LEVEL_FLOOR_DB)


def yin_pitch(samples: np.ndarray, sample_rate: int, num_frames: int, fps: float = FPS,
              fmin: float = PITCH_MIN_HZ, fmax: float = PITCH_MAX_HZ) -> tuple[np.ndarray, np.ndarray]:
    """(f0 Hz with 0 where unvoiced, cmndf minimum per frame) for every animation frame. Long clips are
    analysed in blocks of frames so memory stays bounded (a block holds frames x window samples)."""
    f0 = np.zeros(num_frames)
    dip = np.ones(num_frames)
    for a in range(0, num_frames, _YIN_BLOCK_FRAMES):
        b = min(a + _YIN_BLOCK_FRAMES, num_frames)
        f0[a:b], dip[a:b] = _yin_block(samples, sample_rate, a, b, fps, fmin, fmax)
    return f0, dip


def _yin_block(samples, sample_rate, first, last, fps, fmin, fmax):
    num_frames = last - first
    width = int(round(_WINDOW_S * sample_rate))
    max_lag = int(np.ceil(sample_rate / fmin))
    min_lag = max(int(np.floor(sample_rate / fmax)), 2)
    frames = _frames(samples, sample_rate, num_frames, fps, width + max_lag, first).astype(np.float64)
    # Circular correlation wraps the negative lags to the end of the buffer; they stay clear of 0..max_lag
    # as long as n_fft >= width + max_lag.
    n_fft = 1 << int(np.ceil(np.log2(width + max_lag)))
    # Difference function d(tau) = E(x[0:W]) + E(x[tau:tau+W]) - 2 r(tau), with r from FFT cross-correlation.
    spec_full = np.fft.rfft(frames, n_fft)
    spec_head = np.fft.rfft(frames[:, :width], n_fft)
    r = np.fft.irfft(spec_full * np.conj(spec_head), n_fft)[:, : max_lag + 1]
    sq = np.cumsum(np.concatenate([np.zeros((num_frames, 1)), frames ** 2], axis=1), axis=1)
    e0 = sq[:, width]
    lags = np.arange(max_lag + 1)
    e_tau = sq[:, lags + width] - sq[:, lags]
    d = np.maximum(e0[:, None] + e_tau - 2.0 * r, 0.0)
    # Cumulative mean normalised difference.
    cum = np.cumsum(d[:, 1:], axis=1)
    cmndf = np.ones_like(d)
    with np.errstate(divide="ignore", invalid="ignore"):
        cmndf[:, 1:] = np.where(cum > 0, d[:, 1:] * lags[1:] / cum, 1.0)
    search = cmndf[:, min_lag:]
    below = search < YIN_THRESHOLD
    # First dip under the threshold, then walk to its local minimum; otherwise the global minimum.
    first = np.where(below.any(axis=1), below.argmax(axis=1), search.argmin(axis=1))
    best = first.copy()
    for _ in range(search.shape[1]):
        nxt = np.minimum(best + 1, search.shape[1] - 1)
        move = search[np.arange(num_frames), nxt] < search[np.arange(num_frames), best]
        if not move.any():
            break
        best = np.where(move, nxt, best)
    tau = best + min_lag
    rows = np.arange(num_frames)
    # Parabolic interpolation of the minimum for sub-sample period.
    left = cmndf[rows, np.maximum(tau - 1, 1)]
    mid = cmndf[rows, tau]
    right = cmndf[rows, np.minimum(tau + 1, max_lag)]
    denom = left - 2 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (left - right) / denom, 0.0)
    period = tau + np.clip(shift, -1, 1)
    f0 = sample_rate / period
    voiced = (mid < _VOICING_MAX_CMNDF) & (e0 > 1e-7 * width)
    return np.where(voiced, f0, 0.0), mid


def analyse(samples: np.ndarray, sample_rate: int, num_frames: int, fps: float = FPS) -> Prosody:
    level = frame_level_db(samples, sample_rate, num_frames, fps)
    floor, loud = np.percentile(level, 10), np.percentile(level, 97)
    loudness = np.clip((level - floor) / max(loud - floor, 1.0), 0.0, 1.0)
    f0, _ = yin_pitch(samples, sample_rate, num_frames, fps)
    voiced = (f0 > 0) & (loudness > 0.25)
    f0 = _remove_octave_jumps(np.where(voiced, f0, 0.0))
    voiced = f0 > 0
    pitch_st = np.zeros(num_frames)
    if voiced.any():
        ref = np.median(f0[voiced])
        pitch_st[voiced] = 12.0 * np.log2(f0[voiced] / ref)
    return Prosody(level.astype(np.float32), loudness.astype(np.float32), f0.astype(np.float32), voiced,
                   pitch_st.astype(np.float32))


def _remove_octave_jumps(f0: np.ndarray) -> np.ndarray:
    """Fold isolated octave errors back towards a running median of the voiced pitch (YIN's usual failure)."""
    voiced = np.flatnonzero(f0 > 0)
    if len(voiced) < 5:
        return f0
    from scipy.ndimage import median_filter

    track = f0[voiced]
    ref = median_filter(track, size=15, mode="nearest")
    ratio = track / ref
    track = np.where(ratio > 1.7, track / 2, np.where(ratio < 0.6, track * 2, track))
    out = f0.copy()
    out[voiced] = median_filter(track, size=3, mode="nearest")
    return out
