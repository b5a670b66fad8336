"""Key reduction for uniformly sampled curves with linear interpolation between keys.

``reduce_keys(values, tolerance)`` picks a subset of sample indices, always including the first and the
last, such that linearly interpolating the kept keys reproduces every original sample within
``tolerance``. Kept key values are compared as they will be stored (float32), so the bound holds for the
file's contents, not just for the float64 input.

Greedy algorithm: from the current key, jump to the farthest next key whose straight segment stays
within tolerance of every sample it spans. Segments of up to SHORT_REACH frames are tested for all
anchors at once (vectorised); when the farthest short segment is valid, the search goes on by doubling
the step and then bisecting. Every accepted segment has been checked over all its samples, so the
bound is guaranteed even where bisection misses a farther key (segment validity is not monotone).
"""
from __future__ import annotations

import numpy as np


def _segment_ok(stored: np.ndarray, original: np.ndarray, i: int, j: int, tol: float) -> bool:
    """True when the line from key i to key j reproduces original[i..j] within tol."""
    if j - i < 2:
        return True
    t = np.arange(1, j - i, dtype=np.float64) / (j - i)
    line = stored[i] + (stored[j] - stored[i]) * t
    return bool(np.max(np.abs(line - original[i + 1:j])) <= tol)


# Segments up to this many frames are checked for every anchor at once with array operations; longer
# ones (smooth or constant stretches, few per curve) are searched one anchor at a time.
SHORT_REACH = 12


def _short_reach(stored: np.ndarray, original: np.ndarray, tol: float) -> np.ndarray:
    """reach[i]: the largest d <= SHORT_REACH for which segment i -> i+d is within tolerance (>= 1)."""
    n = len(original)
    reach = np.ones(n, dtype=np.int64)
    for d in range(2, min(SHORT_REACH, n - 1) + 1):
        a, b = stored[:n - d], stored[d:]
        ok = np.ones(n - d, dtype=bool)
        for m in range(1, d):
            ok &= np.abs(a + (b - a) * (m / d) - original[m:n - d + m]) <= tol
        reach[:n - d][ok] = d
    return reach


def reduce_keys(values: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices (int64, ascending) of the samples to keep as linear keys; see the module docstring."""
    original = np.asarray(values, dtype=np.float64)
    if original.ndim != 1:
        raise ValueError("reduce_keys expects a 1-D array")
    n = len(original)
    if n <= 2:
        return np.arange(n, dtype=np.int64)
    if not tolerance >= 0:
        raise ValueError(f"key tolerance must be >= 0, got {tolerance}")
    stored = original.astype(np.float32).astype(np.float64)
    reach = _short_reach(stored, original, tolerance).tolist()
    kept = [0]
    i = 0
    last = n - 1
    while i < last:
        d = reach[i]
        if d < SHORT_REACH or i + d >= last:
            i += d
            kept.append(i)
            continue
        good, bad = i + d, None  # farthest index known valid, nearest known invalid
        step = 2 * d
        while True:
            j = i + step
            if j >= last:
                if _segment_ok(stored, original, i, last, tolerance):
                    good = last
                else:
                    bad = last
                break
            if _segment_ok(stored, original, i, j, tolerance):
                good = j
                step *= 2
            else:
                bad = j
                break
        if bad is not None:
            while bad - good > 1:
                j = (good + bad) // 2
                if _segment_ok(stored, original, i, j, tolerance):
                    good = j
                else:
                    bad = j
        i = good
        kept.append(i)
    return np.asarray(kept, dtype=np.int64)


def max_reduction_error(values: np.ndarray, kept: np.ndarray) -> float:
    """Largest deviation between ``values`` and linear interpolation of the stored (float32) kept keys."""
    original = np.asarray(values, dtype=np.float64)
    stored = original[kept].astype(np.float32).astype(np.float64)
    rebuilt = np.interp(np.arange(len(original), dtype=np.float64), kept.astype(np.float64), stored)
    return float(np.max(np.abs(rebuilt - original))) if len(original) else 0.0
