"""The curve editor's edits as pure functions: add, move, scale/offset, smooth, clamp, copy/paste, lock ranges.

Keys are offsets added to the engine's base curve (see keys.py), but an animator edits what the curve shows: base +
offset, inside the control's range. Each function here takes keys (and the ``Curve`` they sit on) and returns new
keys, so the editor widget only turns gestures into calls and the undo history keeps old and new values.
A selection is ``{channel: (keys, indices)}``: the channel's keys and the indices of the selected ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from app.core import keys as K
from app.core.keys import Interp, Keys
from app.core.take import Lock, Take

ANCHOR_FRAMES = 12  # a first key on a channel shapes a bump this wide instead of offsetting the whole take

Selection = Mapping[int, tuple[Keys, Sequence[int]]]
Clipboard = dict[int, list[tuple[float, float, int]]]  # channel -> (frame after the first copied key, offset, mode)


@dataclass(frozen=True)
class Curve:
    """What an edit of one channel needs besides its keys: the engine curve under them and the control's range."""

    base: np.ndarray  # (frames,) engine values of the channel
    lo: float
    hi: float

    @staticmethod
    def of(take: Take, channel: int) -> Curve:
        """The curve of ``channel`` in a Take."""
        return Curve(take.base[:, channel], float(take.rig.mins[channel]), float(take.rig.maxs[channel]))

    @property
    def num_frames(self) -> int:
        return len(self.base)

    def base_at(self, frames) -> np.ndarray:
        """Engine values at (possibly fractional) frames, held at the ends."""
        n = self.num_frames
        return np.interp(np.clip(np.asarray(frames, np.float64), 0, n - 1), np.arange(n), self.base)

    def shown(self, keys: Keys) -> np.ndarray:
        """What the curve shows at each key: base + offset, inside the control's range."""
        return np.clip(self.base_at(keys.frames) + keys.values, self.lo, self.hi)


def clamp_keys(keys: Keys, curve: Curve) -> Keys:
    """Keys on frames 0..num_frames-1 whose offsets keep base + offset inside the control's range at each key.

    A key outside the take is pulled onto its first or last frame; where it lands on a key already there, the key
    that was inside wins (an add-key anchor never replaces the key it was made for)."""
    if not len(keys):
        return keys
    n = curve.num_frames
    frames = np.clip(keys.frames, 0, n - 1)
    inside = frames == keys.frames
    order = np.concatenate([np.nonzero(~inside)[0], np.nonzero(inside)[0]])  # from_lists keeps the last on a frame
    out = Keys.from_lists(frames[order], keys.values[order], keys.modes[order])
    base = curve.base_at(out.frames)
    values = np.clip(out.values, curve.lo - base, curve.hi - base).astype(np.float32)
    return Keys(out.frames, values, out.modes)


def add_key(keys: Keys, curve: Curve, frame: float, value: float, anchor_frames: float = ANCHOR_FRAMES,
            mode: Interp = Interp.SMOOTH) -> tuple[Keys, int]:
    """Put a key showing ``value`` on the nearest whole frame (replacing a key there); on an empty channel, with
    zero-offset anchors ``anchor_frames`` either side. Returns the keys and the new key's index."""
    f = float(np.clip(round(frame), 0, curve.num_frames - 1))
    offset = float(value) - float(curve.base_at(f))
    new = clamp_keys(K.add_key_with_anchors(keys, f, offset, anchor_frames, mode), curve)
    return new, int(K.indices_at(new, [f])[0])


def shift_limit(selection: Selection, d_frames: float, num_frames: int) -> float:
    """``d_frames`` cut so that no selected key leaves frames 0..num_frames-1: the selection stops at the take's
    ends as a whole, keeping the spacing of its keys (keys already outside may only move back in)."""
    frames = [keys.frames[np.asarray(list(idx), np.int64)] for keys, idx in selection.values() if len(idx)]
    if not frames:
        return float(d_frames)
    all_frames = np.concatenate(frames)
    lo, hi = -float(all_frames.min()), float(num_frames - 1 - all_frames.max())
    return float(np.clip(d_frames, min(lo, 0.0), max(hi, 0.0)))


def move_selection(selection: Selection, curves: Mapping[int, Curve], d_frames: float,
                   d_value: float) -> dict[int, tuple[Keys, np.ndarray]]:
    """Move the selected keys by ``d_frames`` (limited by ``shift_limit``) and their offsets by ``d_value``
    (each clamped to its control's range). Moved keys replace the keys they land on.
    Returns ``{channel: (keys, indices of the moved keys)}``."""
    if not selection:
        return {}
    num_frames = min(curves[ch].num_frames for ch in selection)
    df = shift_limit(selection, d_frames, num_frames)
    out = {}
    for ch, (keys, idx) in selection.items():
        idx = np.asarray(list(idx), np.int64)
        landed = np.clip(keys.frames[idx] + df, 0, num_frames - 1)
        new = clamp_keys(K.move_keys(keys, idx, df, d_value, num_frames), curves[ch])
        out[ch] = (new, K.indices_at(new, landed))
    return out


def scale_offset_selection(selection: Selection, curves: Mapping[int, Curve], factor: float,
                           offset: float) -> dict[int, Keys]:
    """Scale the values the selected keys show about their common mean by ``factor``, then add ``offset``; the
    results are clamped to each control's range. Returns the new keys of every channel in the selection."""
    shown = {ch: curves[ch].shown(keys)[np.asarray(list(idx), np.int64)] for ch, (keys, idx) in selection.items()}
    values = np.concatenate(list(shown.values())) if shown else np.zeros(0)
    if not len(values):
        return {ch: keys for ch, (keys, _idx) in selection.items()}
    pivot = float(values.mean())
    out = {}
    for ch, (keys, idx) in selection.items():
        idx = np.asarray(list(idx), np.int64)
        target = (shown[ch] - pivot) * factor + pivot + offset
        v = keys.values.copy()
        v[idx] = target - curves[ch].base_at(keys.frames[idx])
        out[ch] = clamp_keys(Keys(keys.frames.copy(), v, keys.modes.copy()), curves[ch])
    return out


def smooth(keys: Keys, indices, curve: Curve, strength: float = 0.5) -> Keys:
    """``keys.smooth_keys`` kept inside the control's range."""
    return clamp_keys(K.smooth_keys(keys, indices, strength), curve)


# --- clipboard -----------------------------------------------------------------------------------------------------

def copy_keys(selection: Selection) -> Clipboard:
    """The selected keys as clipboard rows, frames counted from the earliest selected key of any channel."""
    picked = {ch: np.asarray(list(idx), np.int64) for ch, (_keys, idx) in selection.items() if len(idx)}
    if not picked:
        return {}
    f0 = min(float(selection[ch][0].frames[idx].min()) for ch, idx in picked.items())
    return {ch: [(float(selection[ch][0].frames[i] - f0), float(selection[ch][0].values[i]),
                  int(selection[ch][0].modes[i])) for i in sorted(idx)] for ch, idx in picked.items()}


def paste_keys(keys: Keys, rows: Iterable[tuple[float, float, int]], at_frame: float,
               curve: Curve) -> tuple[Keys, np.ndarray]:
    """Paste clipboard rows of one channel with their first frame at ``at_frame``: the offsets are kept (the same
    adjustment on the curve there), pasted keys replace keys on the same frames, keys past the take's ends are
    left out, and values are clamped to the control's range. Returns the keys and the pasted keys' indices."""
    rows = [(float(rel) + at_frame, float(v), int(m)) for rel, v, m in rows]
    rows = [r for r in rows if 0 <= r[0] <= curve.num_frames - 1]
    if not rows:
        return keys, np.zeros(0, np.int64)
    pasted = Keys.from_lists([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    new = clamp_keys(Keys.from_lists(np.concatenate([keys.frames, pasted.frames]),
                                     np.concatenate([keys.values, pasted.values]),
                                     np.concatenate([keys.modes, pasted.modes])), curve)
    return new, K.indices_at(new, pasted.frames)


# --- locked ranges -------------------------------------------------------------------------------------------------

def _same_channels(lock: Lock, channels: tuple[int, ...] | None) -> bool:
    if lock.channels is None or channels is None:
        return lock.channels is None and channels is None
    return set(lock.channels) == set(channels)


def lock_range(locks: Sequence[Lock], start: int, end: int, channels: tuple[int, ...] | None) -> list[Lock]:
    """``locks`` with frames start..end (inclusive) of ``channels`` locked. Locks of the same channels that overlap
    or touch the range merge with it into one; a range already locked gives ``locks`` unchanged."""
    s, e = int(start), int(end) + 1
    if any(_same_channels(lk, channels) and lk.start <= s and lk.end >= e for lk in locks):
        return list(locks)
    kept = []
    for lk in locks:
        if _same_channels(lk, channels) and lk.start <= e and lk.end >= s:
            s, e = min(s, lk.start), max(e, lk.end)
        else:
            kept.append(lk)
    return [*kept, Lock(s, e, channels)]


def unlock_range(locks: Sequence[Lock], start: int, end: int, channels: tuple[int, ...] | None) -> list[Lock]:
    """``locks`` with frames start..end (inclusive) of ``channels`` unlocked: each lock of the same channels that
    overlaps the range is cut, keeping its parts outside it. Locks of other channels are left as they are."""
    kept = []
    for lk in locks:
        if _same_channels(lk, channels) and lk.start <= end and lk.end > start:
            if lk.start < start:
                kept.append(Lock(lk.start, int(start), lk.channels))
            if lk.end > end + 1:
                kept.append(Lock(int(end) + 1, lk.end, lk.channels))
        else:
            kept.append(lk)
    return kept
