"""Animation quality figures, computed exactly as defined in reference/quality_metrics.md so that the bench,
the ``eval`` command and the tests report numbers that compare. Frames are at 60 fps; frame i is time i/fps.

Per clip: :func:`evaluate` -> :class:`ClipFigures`. Over many clips: :func:`pool` (short clips give noisy
figures, so counts are summed and per-clip figures weighted by their frames before anything is judged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from app.core.rig import NUM_CONTROLS, RigSpec, load_rig
from app.core.speech import BILABIAL_PHONES, SILENCE
from app.core.timebase import FPS

OPEN_VOWEL_PHONES = frozenset({"AA", "AE", "AH", "AO", "AW", "AY"})
MAX_LAG_FRAMES = 15
ENVELOPE_FLOOR_DB = 60.0
ENVELOPE_WINDOW_FRAMES = 2
CLOSURE_PERCENTILE = 20.0
BLINK_THRESHOLD = 0.5
METRIC_REGIONS = ("eyes", "eyebrows", "nose", "mouth", "jaw", "tongue")
# Captured speech (reference/ue5_integration.md section 7): per-region mean SD and jitter.
CAPTURED_REGION_SD = {"eyes": 0.063, "eyebrows": 0.083, "nose": 0.096, "mouth": 0.080, "jaw": 0.035, "tongue": 0.043}
CAPTURED_JITTER = 0.0039
# Targets (quality_metrics.md).
TARGET_CLOSURE = 1.0
TARGET_APERTURE = 2.5
TARGET_LAG = 1  # |lag| <= 1 frame
TARGET_MOUTH_SD = 0.05
TARGET_SD_RATIO = (0.8, 1.5)  # eyes, eyebrows, nose relative to captured
TARGET_JITTER_RATIO = 1.5
TARGET_BLINKS_PER_MIN = (10.0, 25.0)


class _Phone(Protocol):  # anything with .phone, .start, .end (PhoneSegment)
    phone: str
    start: float
    end: float


def _col(rig: RigSpec, name: str) -> int:
    return rig.index(name)


def mouth_opening(curves: np.ndarray, rig: RigSpec | None = None) -> np.ndarray:
    """jaw open + 0.5 x mean(L/R lowerLipDepress) - 0.5 x mean(L/R lipsTogetherU, L/R lipsTogetherD)."""
    rig = rig or load_rig()
    c = np.asarray(curves, dtype=np.float64)
    jaw = c[:, _col(rig, "CTRL_C_jaw-translateY")]
    depress = c[:, [_col(rig, f"CTRL_{s}_mouth_lowerLipDepress-translateY") for s in "LR"]].mean(axis=1)
    together = c[:, [_col(rig, f"CTRL_{s}_mouth_lipsTogether{ud}-translateY") for s in "LR" for ud in "UD"]]
    return jaw + 0.5 * depress - 0.5 * together.mean(axis=1)


def audio_envelope(samples: np.ndarray, sample_rate: int, num_frames: int, fps: float = FPS) -> np.ndarray:
    """Log RMS (dB) of the audio in a 2-frame window centred on each frame, floored 60 dB below the clip's
    sample peak."""
    x = np.asarray(samples, dtype=np.float64)
    width = max(int(round(ENVELOPE_WINDOW_FRAMES / fps * sample_rate)), 1)
    csum = np.concatenate([[0.0], np.cumsum(x * x)])
    centres = np.rint(np.arange(num_frames) / fps * sample_rate).astype(np.int64)
    a = np.clip(centres - width // 2, 0, len(x))
    b = np.clip(centres - width // 2 + width, 0, len(x))
    mean_sq = (csum[b] - csum[a]) / np.maximum(b - a, 1)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    floor = 20.0 * np.log10(max(peak, 1e-10)) - ENVELOPE_FLOOR_DB
    return np.maximum(10.0 * np.log10(np.maximum(mean_sq, 1e-20)), floor)


def segment_frames(segments: Sequence[_Phone], num_frames: int, fps: float = FPS, pad: int = 0) -> np.ndarray:
    """Frame indices whose time i/fps lies inside any of the segments [start, end), widened by ``pad``."""
    mask = np.zeros(num_frames, bool)
    for s in segments:
        a = int(np.ceil(s.start * fps - 1e-9)) - pad
        b = int(np.ceil(s.end * fps - 1e-9)) + pad  # exclusive
        mask[max(a, 0):min(b, num_frames)] = True
    return np.flatnonzero(mask)


def speech_mask(phones: Sequence[_Phone], num_frames: int, fps: float = FPS) -> np.ndarray:
    mask = np.zeros(num_frames, bool)
    mask[segment_frames([p for p in phones if p.phone != SILENCE], num_frames, fps)] = True
    return mask


def bilabial_closure(opening: np.ndarray, phones: Sequence[_Phone], fps: float = FPS) -> tuple[int, int]:
    """(closed, total) p/b/m segments: closed when at some frame inside the segment (+/- 1 frame) the opening
    is at or below the 20th percentile of opening over speech frames."""
    speech = speech_mask(phones, len(opening), fps)
    if not speech.any():
        return 0, 0
    threshold = np.percentile(opening[speech], CLOSURE_PERCENTILE)
    closed = total = 0
    for p in phones:
        if p.phone not in BILABIAL_PHONES:
            continue
        frames = segment_frames([p], len(opening), fps, pad=1)
        if len(frames) == 0:
            continue
        total += 1
        closed += bool(np.min(opening[frames]) <= threshold)
    return closed, total


def open_vowel_aperture(opening: np.ndarray, phones: Sequence[_Phone], fps: float = FPS) -> float | None:
    """(mean opening over open-vowel frames - mean over bilabial frames) / SD of opening over speech frames."""
    n = len(opening)
    speech = speech_mask(phones, n, fps)
    vowels = segment_frames([p for p in phones if p.phone in OPEN_VOWEL_PHONES], n, fps)
    bilabial = segment_frames([p for p in phones if p.phone in BILABIAL_PHONES], n, fps)
    if len(vowels) == 0 or len(bilabial) == 0 or speech.sum() < 2:
        return None
    sd = float(np.std(opening[speech]))
    if sd < 1e-9:
        return 0.0
    return float((opening[vowels].mean() - opening[bilabial].mean()) / sd)


def lag_correlations(envelope: np.ndarray, opening: np.ndarray, max_lag: int = MAX_LAG_FRAMES) -> np.ndarray:
    """Correlation of envelope[t] with opening[t + k] for k = -max_lag..max_lag (NaN where undefined)."""
    n = min(len(envelope), len(opening))
    out = np.full(2 * max_lag + 1, np.nan)
    for j, k in enumerate(range(-max_lag, max_lag + 1)):
        a = envelope[max(0, -k):n - max(0, k)]
        b = opening[max(0, k):n - max(0, -k)]
        if len(a) > 2 and a.std() > 1e-12 and b.std() > 1e-12:
            out[j] = float(np.corrcoef(a, b)[0, 1])
    return out


def lag_frames(envelope: np.ndarray, opening: np.ndarray, max_lag: int = MAX_LAG_FRAMES) -> int | None:
    """The shift maximising the correlation; positive = the mouth is late."""
    c = lag_correlations(envelope, opening, max_lag)
    return None if np.all(np.isnan(c)) else int(np.nanargmax(c)) - max_lag


def region_of(name: str) -> str | None:
    """The metric region of a control name (quality_metrics.md: eyes = `_eye` or `eyelashes`, ...)."""
    if "brow" in name:
        return "eyebrows"
    if "_eye" in name or "eyelashes" in name:
        return "eyes"
    for region in ("nose", "mouth", "jaw", "tongue"):
        if region in name:
            return region
    return None


def region_sd(curves: np.ndarray, rig: RigSpec | None = None) -> dict[str, float]:
    """Standard deviation over time of each control, averaged over the controls of each region."""
    rig = rig or load_rig()
    sd = np.asarray(curves, dtype=np.float64)[:, :NUM_CONTROLS].std(axis=0)
    out = {}
    for region in METRIC_REGIONS:
        cols = [i for i, n in enumerate(rig.control_names) if region_of(n) == region]
        out[region] = float(sd[cols].mean())
    return out


def jitter(curves: np.ndarray) -> float:
    """Mean absolute second difference over frames and the 174 controls."""
    c = np.asarray(curves, dtype=np.float64)[:, :NUM_CONTROLS]
    if len(c) < 3:
        return 0.0
    return float(np.mean(np.abs(np.diff(c, n=2, axis=0))))


def blink_count(curves: np.ndarray, rig: RigSpec | None = None) -> float:
    """Upward crossings of 0.5, averaged over the left and right blink controls."""
    rig = rig or load_rig()
    counts = []
    for side in "LR":
        b = np.asarray(curves)[:, rig.index(f"CTRL_{side}_eye_blink-translateY")]
        counts.append(int(np.sum((b[1:] >= BLINK_THRESHOLD) & (b[:-1] < BLINK_THRESHOLD))))
    return float(np.mean(counts))


@dataclass
class ClipFigures:
    frames: int
    fps: float
    closed: int
    bilabials: int
    aperture: float | None
    open_vowel_frames: int
    correlations: np.ndarray  # lag_correlations
    region_sd: dict[str, float]
    jitter: float
    blinks: float

    @property
    def minutes(self) -> float:
        return self.frames / self.fps / 60.0

    @property
    def lag(self) -> int | None:
        c = self.correlations
        return None if np.all(np.isnan(c)) else int(np.nanargmax(c)) - (len(c) - 1) // 2


def evaluate(curves: np.ndarray, phones: Sequence[_Phone], samples: np.ndarray, sample_rate: int,
             fps: float = FPS, rig: RigSpec | None = None) -> ClipFigures:
    rig = rig or load_rig()
    curves = np.asarray(curves)
    opening = mouth_opening(curves, rig)
    envelope = audio_envelope(samples, sample_rate, len(curves), fps)
    closed, total = bilabial_closure(opening, phones, fps)
    vowels = segment_frames([p for p in phones if p.phone in OPEN_VOWEL_PHONES], len(curves), fps)
    return ClipFigures(frames=len(curves), fps=fps, closed=closed, bilabials=total,
                       aperture=open_vowel_aperture(opening, phones, fps), open_vowel_frames=len(vowels),
                       correlations=lag_correlations(envelope, opening), region_sd=region_sd(curves, rig),
                       jitter=jitter(curves), blinks=blink_count(curves, rig))


@dataclass
class PooledFigures:
    clips: int
    minutes: float
    closure: float | None
    closed: int
    bilabials: int
    aperture: float | None
    lag: int | None
    region_sd: dict[str, float] = field(default_factory=dict)
    jitter: float = 0.0
    blinks_per_min: float | None = None

    def checks(self) -> dict[str, bool]:
        """Each target of quality_metrics.md: met or not (figures that could not be computed fail)."""
        lo, hi = TARGET_SD_RATIO
        out = {
            "bilabial closure": self.closure is not None and self.closure >= TARGET_CLOSURE,
            "open-vowel aperture": self.aperture is not None and self.aperture >= TARGET_APERTURE,
            "lag": self.lag is not None and abs(self.lag) <= TARGET_LAG,
            "mouth SD": self.region_sd.get("mouth", 0.0) >= TARGET_MOUTH_SD,
            "jitter": self.jitter <= TARGET_JITTER_RATIO * CAPTURED_JITTER,
            "blink rate": self.blinks_per_min is not None
            and TARGET_BLINKS_PER_MIN[0] <= self.blinks_per_min <= TARGET_BLINKS_PER_MIN[1],
        }
        for region in ("eyes", "eyebrows", "nose"):
            ratio = self.region_sd.get(region, 0.0) / CAPTURED_REGION_SD[region]
            out[f"{region} SD"] = lo <= ratio <= hi
        return out


def pool(figures: Sequence[ClipFigures]) -> PooledFigures:
    """Counts summed; per-clip figures weighted by frames (aperture by open-vowel frames); the lag is the peak
    of the frame-weighted mean correlation curve."""
    if not figures:
        return PooledFigures(0, 0.0, None, 0, 0, None, None)
    frames = np.array([f.frames for f in figures], dtype=np.float64)
    closed = sum(f.closed for f in figures)
    total = sum(f.bilabials for f in figures)
    ap = [(f.aperture, f.open_vowel_frames) for f in figures if f.aperture is not None and f.open_vowel_frames]
    aperture = float(np.average([a for a, _ in ap], weights=[w for _, w in ap])) if ap else None
    corr = np.array([f.correlations for f in figures])
    valid = ~np.isnan(corr)
    weighted = np.where(valid, corr, 0.0) * frames[:, None]
    norm = (valid * frames[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_corr = np.where(norm > 0, weighted.sum(axis=0) / np.maximum(norm, 1e-12), np.nan)
    lag = None if np.all(np.isnan(mean_corr)) else int(np.nanargmax(mean_corr)) - MAX_LAG_FRAMES
    sd = {r: float(np.average([f.region_sd[r] for f in figures], weights=frames)) for r in METRIC_REGIONS}
    minutes = float(sum(f.minutes for f in figures))
    return PooledFigures(
        clips=len(figures), minutes=minutes, closure=closed / total if total else None, closed=closed,
        bilabials=total, aperture=aperture, lag=lag, region_sd=sd,
        jitter=float(np.average([f.jitter for f in figures], weights=frames)),
        blinks_per_min=sum(f.blinks for f in figures) / minutes if minutes > 0 else None)
