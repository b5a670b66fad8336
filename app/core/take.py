"""The Take: one performance as a document.

base curves (from an engine) + user edits (additive keys per channel) + locks = the evaluated curves that every
consumer (preview, exporters, Live Link) reads. The Take knows nothing of Qt; views subscribe through
``add_listener``. Changes that users make go through app.core.history commands so they can be undone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from app.core import keys as K
from app.core.rig import RigSpec, load_rig
from app.core.settings import EMOTIONS, EmotionKey, GenerationSettings, Provenance
from app.core.timebase import FPS

__all__ = ["EMOTIONS", "AudioRef", "EmotionKey", "GenerationMeta", "Lock", "Take", "blend_locked"]

LOCK_BLEND_FRAMES = 4
"""Frames either side of a lock over which regenerated base curves crossfade into the held values."""


@dataclass(frozen=True)
class AudioRef:
    """The take's audio, referenced by path and identified by content hash."""

    path: str
    sha256: str
    duration: float
    sample_rate: int


@dataclass(frozen=True)
class GenerationMeta:
    """How the base curves were made: the settings (enough to regenerate them) and what the engine did.
    ``settings.engine`` is "none" for a rest take and "import" for curves read from a file."""

    settings: GenerationSettings = field(default_factory=lambda: GenerationSettings(engine="none"))
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def engine(self) -> str:
        return self.settings.engine

    def engine_label(self) -> str:
        """The engine with what changed its result (sampler steps and guidance, the phones it followed, or the
        mouth shapes recognised from the audio alone and how sure the recogniser was): "neural, 2 steps,
        guidance 1.5"."""
        p = self.provenance
        parts = [self.engine]
        if p.steps is not None:
            parts.append(f"{p.steps} step{'s' if p.steps != 1 else ''}")
        if p.guidance is not None:
            parts.append(f"guidance {p.guidance:g}")
        if p.phones_source == "recognised" and p.unsure_fraction is not None:
            parts.append(f"mouth shapes from audio ({p.unsure_fraction:.0%} unsure)")
        elif p.phones_source == "forced" and p.phones:
            parts.append("transcript phones")
        elif p.phones_source == "file" and p.phones:
            parts.append("phone file")
        return ", ".join(parts)


@dataclass(frozen=True)
class Lock:
    """Frames [start, end) of the given channels (None = every channel) keep their values on regeneration."""

    start: int
    end: int
    channels: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start or self.start < 0:
            raise ValueError(f"lock range must satisfy 0 <= start < end, got {self.start}..{self.end}")


class Take:
    def __init__(self, base: np.ndarray, *, fps: float = FPS, name: str = "take", rig: RigSpec | None = None,
                 audio: AudioRef | None = None, meta: GenerationMeta | None = None,
                 edits: dict[int, K.Keys] | None = None, locks: Iterable[Lock] = ()):
        self.rig = rig or load_rig()
        base = np.asarray(base, dtype=np.float32)
        if base.ndim != 2 or base.shape[1] != self.rig.num_channels:
            raise ValueError(f"base curves must have shape (frames, {self.rig.num_channels}), got {base.shape}")
        if not np.all(np.isfinite(base)):
            raise ValueError("base curves contain NaN or infinite values")
        if fps <= 0:
            raise ValueError("frame rate must be positive")
        self._base = base.copy()
        self._base.setflags(write=False)
        self.fps = float(fps)
        self.name = name
        self.audio = audio
        self.meta = meta or GenerationMeta()
        self._edits: dict[int, K.Keys] = {}
        for ch, k in (edits or {}).items():
            self._check_channel(ch)
            if len(k):
                self._edits[int(ch)] = k
        self._locks: list[Lock] = []
        for lock in locks:
            self._check_lock(lock)
            self._locks.append(lock)
        self._cache: np.ndarray | None = None
        self._listeners: list[Callable[[Take], None]] = []
        self.revision = 0

    @classmethod
    def rest(cls, num_frames: int, **kwargs) -> Take:
        rig = kwargs.get("rig") or load_rig()
        return cls(rig.rest_curves(num_frames), **kwargs)

    # --- reading --------------------------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return self._base.shape[0]

    @property
    def duration(self) -> float:
        return max(self.num_frames - 1, 0) / self.fps

    @property
    def base(self) -> np.ndarray:
        return self._base

    @property
    def edits(self) -> dict[int, K.Keys]:
        return dict(self._edits)

    @property
    def locks(self) -> list[Lock]:
        return list(self._locks)

    def keys(self, channel: int) -> K.Keys:
        return self._edits.get(channel, K.Keys.empty())

    def evaluate(self) -> np.ndarray:
        """(frames, channels) float32: base + edit offsets, clamped to each control's range. Read-only, cached."""
        if self._cache is None:
            out = self._base.copy()
            for ch, k in self._edits.items():
                out[:, ch] += K.evaluate(k, self.num_frames)
            out = self.rig.clamp(out)
            out.setflags(write=False)
            self._cache = out
        return self._cache

    def locked_mask(self) -> np.ndarray:
        """(frames, channels) bool: True where a lock holds the value."""
        mask = np.zeros(self._base.shape, bool)
        for lock in self._locks:
            cols = slice(None) if lock.channels is None else list(lock.channels)
            mask[lock.start:min(lock.end, self.num_frames), cols] = True
        return mask

    # --- changing (used by history commands; views call commands, not these) ---------------------------------
    def set_keys(self, channel: int, keys: K.Keys) -> None:
        self._check_channel(channel)
        if len(keys):
            self._edits[channel] = keys
        else:
            self._edits.pop(channel, None)
        self._changed()

    def set_locks(self, locks: Iterable[Lock]) -> None:
        locks = list(locks)
        for lock in locks:
            self._check_lock(lock)
        self._locks = locks
        self._changed()

    def set_base(self, base: np.ndarray, *, respect_locks: bool = True) -> None:
        """Replace the engine curves. Locked frames keep their old base values (so their evaluated values stay
        the same), with a short crossfade either side so the new motion joins without a pop."""
        base = np.asarray(base, dtype=np.float32)
        if base.ndim != 2 or base.shape[1] != self.rig.num_channels:
            raise ValueError(f"base curves must have shape (frames, {self.rig.num_channels}), got {base.shape}")
        if not np.all(np.isfinite(base)):
            raise ValueError("base curves contain NaN or infinite values")
        if respect_locks and self._locks:
            base = blend_locked(self._base, base, self._locks)
        self._base = base.copy()
        self._base.setflags(write=False)
        self._changed()

    def set_meta(self, meta: GenerationMeta) -> None:
        self.meta = meta
        self._changed()

    def with_meta(self, **changes) -> GenerationMeta:
        return replace(self.meta, **changes)

    def add_listener(self, callback: Callable[[Take], None]) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[Take], None]) -> None:
        self._listeners.remove(callback)

    def _changed(self) -> None:
        self._cache = None
        self.revision += 1
        for cb in list(self._listeners):
            cb(self)

    def _check_channel(self, channel: int) -> None:
        if not 0 <= channel < self.rig.num_channels:
            raise IndexError(f"channel {channel} out of range 0..{self.rig.num_channels - 1}")

    def _check_lock(self, lock: Lock) -> None:
        if lock.channels is not None:
            for ch in lock.channels:
                self._check_channel(ch)


def blend_locked(old: np.ndarray, new: np.ndarray, locks: Iterable[Lock],
                 blend: int = LOCK_BLEND_FRAMES) -> np.ndarray:
    """``new`` with the locked ranges taken from ``old``; the frames just outside a lock ease from the held value
    into the new curve. Where the two differ in length, frames beyond ``old`` cannot be held."""
    out = np.array(new, dtype=np.float32, copy=True)
    n = min(len(old), len(new))
    for lock in locks:
        cols = slice(None) if lock.channels is None else list(lock.channels)
        s, e = lock.start, min(lock.end, n)
        if s >= e:
            continue
        out[s:e, cols] = old[s:e, cols]
        for i in range(1, blend + 1):
            w = 1.0 - i / (blend + 1)  # weight of the held value
            if s - i >= 0:
                out[s - i, cols] = w * old[s - i, cols] + (1 - w) * new[s - i, cols]
            if e - 1 + i < len(out) and e - 1 + i < n:
                out[e - 1 + i, cols] = w * old[e - 1 + i, cols] + (1 - w) * new[e - 1 + i, cols]
    # A later lock's blend zone must not overwrite an earlier lock's held frames.
    for lock in locks:
        cols = slice(None) if lock.channels is None else list(lock.channels)
        s, e = lock.start, min(lock.end, n)
        if s < e:
            out[s:e, cols] = old[s:e, cols]
    return out
