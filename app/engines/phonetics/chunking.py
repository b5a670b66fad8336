"""Energy-based speech/pause detection and splitting of long audio at pauses.

The decoder's alignment search keeps a backpointer table that grows with frames x states of the sentence, i.e.
quadratically with the length of a transcript-bearing clip; recognition is slower than real time per chunk but
linear. Cutting at pauses into chunks of at most ~25 s keeps both bounded without cutting through a word.
"""

from __future__ import annotations

import numpy as np

FRAME_RATE = 100  # analysis frames per second: the decoder's frame rate, so masks line up with its frames
_MIN_PAUSE_S = 0.15  # shorter dips are stop closures or between-word gaps inside a phrase
_FLOOR_PERCENTILE = 10.0
_SPEECH_ABOVE_FLOOR_DB = 12.0
_SPEECH_BELOW_PEAK_DB = 40.0


def frame_energy_db(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Log energy of consecutive 10 ms frames (dB re full scale); the last partial frame is dropped."""
    hop = sample_rate // FRAME_RATE
    n = len(samples) // hop
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    frames = samples[: n * hop].astype(np.float64).reshape(n, hop)
    power = np.mean(frames * frames, axis=1)
    return 10.0 * np.log10(power + 1e-10)


def speech_mask(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Boolean per 10 ms frame: True where the energy stands clearly above the clip's noise floor."""
    energy = frame_energy_db(samples, sample_rate)
    if energy.size == 0:
        return np.zeros(0, dtype=bool)
    floor = np.percentile(energy, _FLOOR_PERCENTILE)
    peak = np.percentile(energy, 99.5)
    threshold = max(floor + _SPEECH_ABOVE_FLOOR_DB, peak - _SPEECH_BELOW_PEAK_DB)
    mask = energy > threshold
    # Bridge gaps shorter than a pause (stop closures) so that pauses are real pauses.
    min_gap = int(_MIN_PAUSE_S * FRAME_RATE)
    idx = np.flatnonzero(mask)
    if idx.size:
        gaps = np.flatnonzero(np.diff(idx) > 1)
        for g in gaps:
            a, b = idx[g], idx[g + 1]
            if b - a - 1 < min_gap:
                mask[a:b] = True
    return mask


def pauses(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of non-speech frames [start, end) at least the minimum pause long (including leading/trailing)."""
    out = []
    min_len = int(_MIN_PAUSE_S * FRAME_RATE)
    padded = np.concatenate([[True], mask, [True]])
    change = np.flatnonzero(np.diff(padded.astype(np.int8)))
    for start, end in zip(change[::2], change[1::2], strict=True):
        if end - start >= min_len:
            out.append((int(start), int(end)))
    return out


def split_at_pauses(
    samples: np.ndarray, sample_rate: int, max_chunk_s: float = 25.0
) -> list[tuple[int, int]]:
    """Contiguous sample ranges covering the clip, each at most ``max_chunk_s`` long, cut in pauses.

    Cuts go in the middle of the longest pause in the second half of the allowed window (a long pause is a
    phrase break; the second half keeps chunks long). Speech without any pause that long is cut at the
    quietest frame of that half.
    """
    total = len(samples)
    hop = sample_rate // FRAME_RATE
    max_frames = max(int(max_chunk_s * FRAME_RATE), 2 * FRAME_RATE)
    n_frames = total // hop
    if n_frames <= max_frames:
        return [(0, total)]
    mask = speech_mask(samples, sample_rate)
    energy = frame_energy_db(samples, sample_rate)
    silent = pauses(mask)
    cuts: list[int] = []
    start = 0
    while n_frames - start > max_frames:
        lo, hi = start + max_frames // 2, start + max_frames
        best = None
        for p0, p1 in silent:
            a, b = max(p0, lo), min(p1, hi)
            if b - a >= 1 and (best is None or b - a > best[1] - best[0]):
                best = (a, b)
        cut = (best[0] + best[1]) // 2 if best else lo + int(np.argmin(energy[lo:hi]))
        cuts.append(cut)
        start = cut
    bounds = [0] + [c * hop for c in cuts] + [total]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
