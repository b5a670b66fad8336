"""Edit keys on one channel: interpolation and pure edit functions.

User edits live on an additive layer: each channel's keys give an offset added to the engine's base curve. Between
two keys the offset follows the left key's interpolation mode; before the first and after the last key it holds the
end value (as DCC f-curves extrapolate). Edit functions take keys and return new keys; nothing is changed in place,
so the undo history can keep old and new values.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Interp(IntEnum):
    LINEAR = 0
    SMOOTH = 1  # monotone cubic (no overshoot between keys)
    STEP = 2


@dataclass(frozen=True)
class Keys:
    """Sorted keys of one channel: frame positions (may be fractional), offset values, interpolation modes."""

    frames: np.ndarray
    values: np.ndarray
    modes: np.ndarray

    @staticmethod
    def empty() -> Keys:
        return Keys(np.zeros(0, np.float64), np.zeros(0, np.float32), np.zeros(0, np.int8))

    @staticmethod
    def from_lists(frames, values, modes=None) -> Keys:
        f = np.asarray(frames, dtype=np.float64).reshape(-1)
        v = np.asarray(values, dtype=np.float32).reshape(-1)
        m = (np.full(f.shape, Interp.SMOOTH, np.int8) if modes is None
             else np.asarray(modes, dtype=np.int8).reshape(-1))
        if not (f.shape == v.shape == m.shape):
            raise ValueError("frames, values and modes must have the same length")
        if not np.all(np.isfinite(f)) or not np.all(np.isfinite(v)):
            raise ValueError("key frames and values must be finite")
        if np.any((m < 0) | (m > 2)):
            raise ValueError("unknown interpolation mode")
        order = np.argsort(f, kind="stable")
        f, v, m = f[order], v[order], m[order]
        # One key per frame position: the last one given wins.
        keep = np.ones(len(f), bool)
        if len(f) > 1:
            keep[:-1] = f[1:] != f[:-1]
        return Keys(f[keep], v[keep], m[keep])

    def __len__(self) -> int:
        return len(self.frames)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Keys) and np.array_equal(self.frames, other.frames)
                and np.array_equal(self.values, other.values) and np.array_equal(self.modes, other.modes))

    def __hash__(self) -> int:  # frozen dataclass with arrays: hash by content
        return hash((self.frames.tobytes(), self.values.tobytes(), self.modes.tobytes()))

    def to_json(self) -> list[list[float]]:
        return [[float(f), float(v), int(m)] for f, v, m in zip(self.frames, self.values, self.modes, strict=True)]

    @staticmethod
    def from_json(rows) -> Keys:
        rows = list(rows)
        if not rows:
            return Keys.empty()
        if any(not isinstance(r, list | tuple) or len(r) != 3 for r in rows):
            raise ValueError("each key must be [frame, value, mode]")
        return Keys.from_lists([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def evaluate(keys: Keys, num_frames: int) -> np.ndarray:
    """The offset curve of ``keys`` sampled at frames 0..num_frames-1 (zeros when there are no keys)."""
    out = np.zeros(num_frames, dtype=np.float32)
    n = len(keys)
    if n == 0 or num_frames == 0:
        return out
    f, v = keys.frames, keys.values.astype(np.float64)
    t = np.arange(num_frames, dtype=np.float64)
    if n == 1:
        out[:] = v[0]
        return out
    seg = np.clip(np.searchsorted(f, t, side="right") - 1, 0, n - 2)
    f0, f1 = f[seg], f[seg + 1]
    u = np.clip((t - f0) / (f1 - f0), 0.0, 1.0)
    mode = keys.modes[seg]
    lin = v[seg] + (v[seg + 1] - v[seg]) * u
    res = lin.copy()
    step = mode == Interp.STEP
    res[step] = np.where(u[step] >= 1.0, v[seg + 1][step], v[seg][step])
    smooth = mode == Interp.SMOOTH
    if np.any(smooth):
        m = _monotone_tangents(f, v)
        h = f1 - f0
        u2, u3 = u * u, u * u * u
        herm = ((2 * u3 - 3 * u2 + 1) * v[seg] + (u3 - 2 * u2 + u) * h * m[seg]
                + (-2 * u3 + 3 * u2) * v[seg + 1] + (u3 - u2) * h * m[seg + 1])
        res[smooth] = herm[smooth]
    res[t < f[0]] = v[0]
    res[t > f[-1]] = v[-1]
    out[:] = res
    return out


def _monotone_tangents(f: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Fritsch-Carlson tangents: the cubic never overshoots the keys, which animators expect of 'smooth'."""
    d = np.diff(v) / np.diff(f)
    m = np.zeros_like(v)
    m[0], m[-1] = d[0], d[-1]
    inner = d[:-1] * d[1:] > 0
    h0, h1 = np.diff(f)[:-1], np.diff(f)[1:]
    w1, w2 = 2 * h1 + h0, h1 + 2 * h0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / d[:-1] + w2 / d[1:])
    m[1:-1] = np.where(inner, harmonic, 0.0)
    m[0] = 0.0 if d[0] == 0 or (len(d) > 1 and d[0] * d[1] <= 0) else d[0]
    m[-1] = 0.0 if d[-1] == 0 or (len(d) > 1 and d[-1] * d[-2] <= 0) else d[-1]
    return m


# --- pure edit functions -----------------------------------------------------------------------------------------

def set_key(keys: Keys, frame: float, value: float, mode: Interp = Interp.SMOOTH) -> Keys:
    """Add a key, or replace the key at the same frame."""
    return Keys.from_lists(np.append(keys.frames, frame), np.append(keys.values, value),
                           np.append(keys.modes, int(mode)))


def add_key_with_anchors(keys: Keys, frame: float, value: float, anchor_frames: float,
                         mode: Interp = Interp.SMOOTH) -> Keys:
    """Add a key; on an empty channel also add zero-offset keys ``anchor_frames`` either side, so a single
    adjustment shapes a local bump instead of offsetting the whole take."""
    if len(keys) == 0 and anchor_frames > 0:
        keys = Keys.from_lists([frame - anchor_frames, frame + anchor_frames], [0.0, 0.0], [mode, mode])
    return set_key(keys, frame, value, mode)


def delete_keys(keys: Keys, indices) -> Keys:
    mask = np.ones(len(keys), bool)
    mask[np.asarray(list(indices), dtype=np.int64)] = False
    return Keys(keys.frames[mask], keys.values[mask], keys.modes[mask])


def move_keys(keys: Keys, indices, d_frames: float = 0.0, d_value: float = 0.0,
              num_frames: int | None = None) -> Keys:
    """Shift the selected keys' frames and offsets. A moved key replaces an unmoved key it lands on; with
    ``num_frames`` the moved keys stay on frames 0..num_frames-1."""
    idx = np.unique(np.asarray(list(indices), dtype=np.int64))
    keep = np.setdiff1d(np.arange(len(keys)), idx)
    moved = keys.frames[idx] + d_frames
    if num_frames is not None:
        moved = np.clip(moved, 0, num_frames - 1)
    # The moved keys come last, so from_lists keeps them where two keys share a frame.
    return Keys.from_lists(np.concatenate([keys.frames[keep], moved]),
                           np.concatenate([keys.values[keep], keys.values[idx] + np.float32(d_value)]),
                           np.concatenate([keys.modes[keep], keys.modes[idx]]))


def set_modes(keys: Keys, indices, mode: Interp) -> Keys:
    m = keys.modes.copy()
    m[np.asarray(list(indices), dtype=np.int64)] = int(mode)
    return Keys(keys.frames.copy(), keys.values.copy(), m)


def smooth_keys(keys: Keys, indices, strength: float = 0.5) -> Keys:
    """Pull each selected key towards the mean of its neighbours (a 1-2-1 filter blended by ``strength``)."""
    v = keys.values.astype(np.float64)
    out = v.copy()
    for i in np.asarray(list(indices), dtype=np.int64):
        lo, hi = max(i - 1, 0), min(i + 1, len(v) - 1)
        target = (v[lo] + 2 * v[i] + v[hi]) / 4.0
        out[i] = v[i] + strength * (target - v[i])
    return Keys(keys.frames.copy(), out.astype(np.float32), keys.modes.copy())


def indices_at(keys: Keys, frames) -> np.ndarray:
    """Indices of the keys that sit on any of ``frames``."""
    return np.nonzero(np.isin(keys.frames, np.asarray(frames, dtype=np.float64)))[0]


def keys_in_range(keys: Keys, start: float, end: float) -> np.ndarray:
    """Indices of keys with start <= frame <= end."""
    return np.nonzero((keys.frames >= start) & (keys.frames <= end))[0]


def retime(keys: Keys, src_fps: float, dst_fps: float) -> Keys:
    """The same keys on another frame grid (key times in seconds are kept)."""
    return Keys(keys.frames * (dst_fps / src_fps), keys.values.copy(), keys.modes.copy())
