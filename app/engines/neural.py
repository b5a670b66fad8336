"""Neural engine runner: an audio clip + the director's settings -> base curves (frames, 180) at 60 fps.

Loads the shipped checkpoint (models/weights/neural.pt) once per device, runs on CUDA when present, else CPU, and
is deterministic for a given seed on a given device. Locked frames/channels from the Take are kept exactly and the
rest is regenerated around them. torch is imported lazily so the app starts without it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.core.paths import models_dir
from app.core.timebase import FPS, SAMPLE_RATE, frames_for_duration

DEFAULT_CHECKPOINT = models_dir() / "weights" / "neural.pt"  # inside the bundle in a desktop build
ARTICULATED_REGIONS = ("mouth", "jaw", "tongue")

_cache: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


class NeuralEngineError(Exception):
    """The neural engine cannot run: no checkpoint, a bad checkpoint, or bad input."""


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(checkpoint: str | Path | None = None, device: str | None = None):
    """The NeuralModel for ``checkpoint`` on ``device`` (cached)."""
    from models.checkpoint import CheckpointError
    from models.pipeline import NeuralModel

    path = str(checkpoint or DEFAULT_CHECKPOINT)
    dev = device or _device()
    with _lock:
        if (path, dev) not in _cache:
            try:
                _cache[(path, dev)] = NeuralModel.load(path, dev)[0]
            except CheckpointError as exc:
                raise NeuralEngineError(str(exc)) from exc
        return _cache[(path, dev)]


def encode(clip, checkpoint: str | Path | None = None, device: str | None = None):
    """(frames, channels) torch tensor: the checkpoint's audio-encoder features of ``clip`` (16 kHz mono), one per
    60 fps frame, as :func:`generate_neural` computes them."""
    samples = np.asarray(clip.samples, dtype=np.float32)
    if samples.ndim != 1 or len(samples) == 0:
        raise NeuralEngineError("audio must be a non-empty mono signal")
    return load_model(checkpoint, device).encode(samples, frames_for_duration(len(samples) / SAMPLE_RATE))


def rig_channels():
    """Where the app's rig keeps the channels the model runtime treats on their own (the blinks, the lip-closing
    controls): the runtime does not read the rig, it is told (models/rig_channels.py)."""
    from app.core.rig import load_rig
    from models.rig_channels import RigChannels

    return RigChannels.from_names(load_rig().channel_names)


def uses_phones(checkpoint: str | Path | None = None, device: str | None = None) -> bool:
    """Whether the checkpoint's model takes a phone track (from a transcript aligned to the audio)."""
    return bool(load_model(checkpoint, device).uses_phones)


def conditions(settings, num_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame (emotion weights (frames, 8), gaze (frames, 2) deg, head distance (frames,) cm) from the
    settings, with emotion keys interpolated as the procedural engine does."""
    from app.engines.procedural import emotion as E

    keys = tuple(getattr(settings, "emotion_keys", ()) or ())
    w = E.weights(keys, num_frames, FPS) if keys else np.zeros((num_frames, 8))
    gaze = np.tile(np.asarray(getattr(settings, "gaze", (0.0, 0.0)), np.float32), (num_frames, 1))
    dist = np.full(num_frames, float(getattr(settings, "head_distance", 60.0)), np.float32)
    return w.astype(np.float32), gaze, dist


def generate_neural(clip, settings, progress: Callable[[float], None] | None = None,
                    cancel: Callable[[], bool] | None = None,
                    locked: tuple[np.ndarray, np.ndarray] | None = None, steps: int | None = None,
                    guidance: float | None = None, phones=None,
                                    *, track: np.ndarray | None = None, phone_guidance: float | None = None,
                    checkpoint: str | Path | None = None, device: str | None = None,
                    features=None) -> np.ndarray:
    """(frames, 180) float32 base curves for ``clip`` (AudioClip: 16 kHz mono float32 ``samples``).

    ``settings``: PerformanceControls (seed, emotion_keys, gaze, head_distance, articulation; eye_contact is not a
    condition of the trained model). ``locked``: (mask (frames,180) bool, values (frames,180)) kept exactly.
    ``phones``: PhoneSegments aligned to the clip (from a transcript), for a model that takes a phone track
    (:func:`uses_phones`); ignored by one that does not. ``track``: instead of ``phones``, the mouth-shape class per
    frame ((frames,) int, -1 = unknown), as the recogniser gives it from the audio alone; ``phone_guidance``
    overrides the checkpoint's guidance along the track. ``features``: the clip's encoder features (:func:`encode`),
    when they are computed already. ``progress`` gets 0..1; ``cancel`` returning True raises
    app.core.cancel.Cancelled."""
    from models.pipeline import DEFAULT_GUIDANCE, DEFAULT_STEPS, Locked

    samples = np.asarray(clip.samples, dtype=np.float32)
    if getattr(clip, "sample_rate", SAMPLE_RATE) != SAMPLE_RATE:
        raise NeuralEngineError(f"audio must be {SAMPLE_RATE} Hz, got {clip.sample_rate} Hz")
    if samples.ndim != 1 or len(samples) == 0:
        raise NeuralEngineError("audio must be a non-empty mono signal")
    n = frames_for_duration(len(samples) / SAMPLE_RATE)
    lock = None
    if locked is not None:
        mask, values = (np.asarray(a) for a in locked)
        if mask.shape != (n, 180) or values.shape != (n, 180):
            raise NeuralEngineError(f"locked mask and values must be ({n}, 180) for this clip, "
                                    f"got {mask.shape} and {values.shape}")
        lock = Locked(mask.astype(bool), values.astype(np.float32))
    model = load_model(checkpoint, device)
    w, gaze, dist = conditions(settings, n)
    cb = (lambda info: progress(info["fraction"])) if progress is not None else None
    if not model.uses_phones:
        track = None
    elif track is not None:
        track = np.asarray(track)
        if track.shape != (n,):
            raise NeuralEngineError(f"the mouth-shape track must have one class per frame ({n},), got {track.shape}")
    elif phones is not None:
        from app.core.speech import viseme_frames

        track = viseme_frames([(p.phone, p.start, p.end) for p in phones], n)
    curves = model.generate(samples, n, w, gaze, dist, seed=int(getattr(settings, "seed", 0)),
                            steps=steps or DEFAULT_STEPS, locked=lock, callback=cb, cancel=cancel,
                            guidance=DEFAULT_GUIDANCE if guidance is None else float(guidance), phones=track,
                            phone_guidance=phone_guidance, channels=rig_channels(), features=features)
    articulation = float(getattr(settings, "articulation", 1.0))
    if articulation != 1.0:
        curves = _scale_articulation(curves, articulation)
        if lock is not None:
            curves = np.where(lock.mask, lock.values, curves)
    return curves.astype(np.float32)


def _scale_articulation(curves: np.ndarray, gain: float) -> np.ndarray:
    from app.core.rig import load_rig

    rig = load_rig()
    cols = [i for i, name in enumerate(rig.channel_names) if rig.region(name) in ARTICULATED_REGIONS]
    out = curves.copy()
    rest = rig.rest[cols]
    out[:, cols] = rest + gain * (curves[:, cols] - rest)
    return rig.clamp(out)
