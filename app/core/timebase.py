"""Time constants and conversions: the one place for sample rate and frame rate."""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16_000
"""Audio rate every engine consumes (mono float32)."""

FPS = 60.0
"""Internal animation frame rate (the rate of captured MetaHuman data)."""

EXPORT_FPS_CHOICES = (24.0, 25.0, 30.0, 50.0, 60.0)


def frames_for_duration(seconds: float, fps: float = FPS) -> int:
    """Number of frames needed to cover ``seconds`` (frame i shows time i/fps; the last frame is included)."""
    if seconds < 0:
        raise ValueError("duration must be non-negative")
    return int(np.floor(seconds * fps + 1e-9)) + 1


def frame_times(num_frames: int, fps: float = FPS) -> np.ndarray:
    return np.arange(num_frames, dtype=np.float64) / fps


def timecode(seconds: float, fps: float) -> str:
    """HH:MM:SS:FF.fff as in Live Link Face take files (FF = frame within the second, fraction kept)."""
    whole = int(np.floor(seconds))
    frac_frames = (seconds - whole) * fps
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    ff = int(np.floor(frac_frames))
    return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}.{int(round((frac_frames - ff) * 1000)) % 1000:03d}"


def resample_curves(curves: np.ndarray, src_fps: float, dst_fps: float, *, duration: float | None = None,
                    keep_extremes: bool = True) -> np.ndarray:
    """Resample (frames, channels) curves from ``src_fps`` to ``dst_fps``.

    Frame j of the result samples the source at time j/dst_fps by linear interpolation, so a key at time t in the
    source stays at time t. With ``keep_extremes`` (the default when lowering the rate) each output frame whose
    neighbourhood holds a local extreme of the source that linear sampling would miss (a 1-2 frame lip closure
    falling between two 24 fps frames) takes that extreme instead, so short contacts survive the export.
    """
    curves = np.asarray(curves, dtype=np.float32)
    if curves.ndim == 1:
        return resample_curves(curves[:, None], src_fps, dst_fps, duration=duration,
                               keep_extremes=keep_extremes)[:, 0]
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError("frame rates must be positive")
    n_src = curves.shape[0]
    if n_src == 0:
        return curves.copy()
    if duration is None:
        duration = (n_src - 1) / src_fps
    n_dst = frames_for_duration(duration, dst_fps)
    t_dst = np.arange(n_dst, dtype=np.float64) / dst_fps
    pos = np.clip(t_dst * src_fps, 0.0, n_src - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, n_src - 1)
    w = (pos - i0)[:, None].astype(np.float32)
    out = curves[i0] * (1.0 - w) + curves[i1] * w
    if keep_extremes and dst_fps < src_fps and n_dst > 1:
        out = _restore_extremes(curves, out, src_fps, dst_fps)
    return out.astype(np.float32)


def _restore_extremes(src: np.ndarray, out: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Move strict local extremes of ``src`` that fall between output frames onto the nearest output frame."""
    out = out.copy()
    n_dst = out.shape[0]
    interior = src[1:-1]
    is_max = (interior > src[:-2]) & (interior >= src[2:])
    is_min = (interior < src[:-2]) & (interior <= src[2:])
    frames, channels = np.nonzero(is_max | is_min)
    frames = frames + 1
    target = np.clip(np.rint(frames / src_fps * dst_fps).astype(np.int64), 0, n_dst - 1)
    value = src[frames, channels]
    maxima = is_max[frames - 1, channels]
    np.maximum.at(out, (target[maxima], channels[maxima]), value[maxima])
    np.minimum.at(out, (target[~maxima], channels[~maxima]), value[~maxima])
    return out
