"""Phonetic front end from audio alone: the trained mouth-shape recogniser (models/visemes.py) per 60 fps frame.

    rec = recognise(clip.samples, second=model)   # MouthShapes (model: the neural engine's, or None)
    rec.track                                     # (frames,) int8 class, -1 where the recogniser is unsure
    rec.alignment.phones                          # PhoneSegments ("recognised") for the procedural engine

Two readers give each frame's class probabilities: the recogniser, and a small head on the neural engine's audio
encoder (models/visemes.ShapeHead, kept in the engine's checkpoint). They were trained apart and err apart, and their
weighted mean (HEAD_WEIGHT) recognises p/b/m and open vowels better on unseen voices than either
(models/RECOGNISER_CARD.md). Without the engine's checkpoint, or with a checkpoint that has no head, the recogniser
reads alone.

Each frame gets the most probable mouth-shape class and its probability. Frames below the confidence
threshold are *unsure*: the neural engine gets "unknown" there (it follows the audio alone, as without any phone
track), and the procedural engine gets a neutral open vowel shaped by loudness, or silence, never a committed
consonant. A p/b/m closure has a threshold of its own (a frame is a closure when p/b/m reaches it, whatever else is
more likely): closures are short and a missed one shows more than a brief extra one. The take records how much of
the speech was unsure and where (:meth:`MouthShapes.summary`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import convolve1d

from app.core.speech import BILABIAL_CLASS, CLASS_PHONES
from app.core.timebase import FPS, SAMPLE_RATE, frames_for_duration

from .segments import Alignment, PhoneSegment, PhoneticsError

# The phone the procedural engine is given for each mouth-shape class (app.core.speech.VISEME_CLASSES) is the
# class's CLASS_PHONES entry, its most typical member.
UNSURE_PHONE = "AH"  # an unsure speech frame: a mid vowel, its opening driven by the loudness
DEFAULT_THRESHOLD = 0.5
# Both thresholds and the readers' weights are chosen on the recogniser's validation voices (val_voice, clean and
# through a telephone line; none is in its training or in the bench's held-out sets): `python -m
# models.sweep_closure CORPUS... --clips 100 [--head-weight W]`, 200 clips, 534 p/b/m. Procedural engine, closure /
# aperture pooled, at p/b/m thresholds 0.2 and 0.15:
#   recogniser alone                 0.846 / 2.11   0.880 / 2.04
#   head weight 0.5 (plain mean)     0.858 / 2.07   0.893 / 2.01
#   head weight 0.35                 0.860 / 2.14   0.901 / 2.06
#   head weight 0.2                  0.865 / 2.14   0.890 / 2.06
# The encoder head reads clean speech better and telephone speech worse than the recogniser; at 0.35 it gains on
# both channels. p/b/m needs less than the confidence threshold (a frame is a closure when p/b/m reaches it, whatever
# else is more likely): a missed closure shows more than a brief extra one. Below 0.15 the extra closures on vowels
# cost more aperture than the closures gain (recogniser alone: 0.77 / 2.28 at 0.5, 0.88 / 2.32 at 0.3).
HEAD_WEIGHT = 0.35
CLOSURE_THRESHOLD = 0.15
BILABIAL = BILABIAL_CLASS
RECOGNISER, SHAPE_HEAD = "recogniser", "encoder head"  # the two readers, as a take records them
MAX_SPANS = 200  # unsure spans kept in a take's metadata
# Speech gate (speech_frames): a frame is silence whatever the recogniser says when its 300-3400 Hz energy is below an
# absolute floor or far below the clip's loudest frame (hum, rumble, room tone), when that band is as flat as white
# noise (hiss, static), or when it is in too short a run of speech frames (clicks).
SPEECH_BAND = (300.0, 3400.0)
GATE_FLOOR_DB = -55.0
GATE_RANGE_DB = 45.0
GATE_MAX_FLATNESS = 0.85
MIN_SPEECH_FRAMES = 4
_GATE_WINDOW = 512
_FLATNESS_FRAMES = 9
_GATE_CHUNK = 4096  # frames per FFT block, so long files stay within a few MB


class RecogniserError(PhoneticsError):
    """The mouth-shape recogniser cannot run (missing or mismatched weights)."""


@dataclass(frozen=True)
class MouthShapes:
    probs: np.ndarray  # (frames, classes) float32
    threshold: float
    seconds: float  # time the recogniser took
    closure_threshold: float = CLOSURE_THRESHOLD
    readers: tuple[str, ...] = (RECOGNISER,)  # which readers' probabilities were averaged

    @property
    def best(self) -> np.ndarray:
        return self.probs.argmax(axis=1).astype(np.int8)

    @property
    def confidence(self) -> np.ndarray:
        return self.probs.max(axis=1).astype(np.float32)

    @property
    def track(self) -> np.ndarray:
        """(frames,) int8 class per frame, -1 where unsure (the neural engine's phone track)."""
        return decide(self.probs, self.threshold, self.closure_threshold)

    @property
    def unsure(self) -> np.ndarray:
        """(frames,) bool: no class was decided (see :func:`decide`)."""
        return self.track < 0

    @property
    def speech(self) -> np.ndarray:
        """(frames,) bool: silence is not the best class."""
        return self.best != 0

    @property
    def alignment(self) -> Alignment:
        return Alignment(phones=frames_to_segments(self.probs, self.threshold, self.closure_threshold), words=[],
                         source="recognised")

    def unsure_spans(self) -> list[tuple[float, float]]:
        """[(start, end)] seconds of runs of unsure frames, at most MAX_SPANS of the longest."""
        runs = _runs(self.unsure.astype(np.int8))
        spans = [(a / FPS, b / FPS) for a, b, v in runs if v]
        spans.sort(key=lambda s: s[1] - s[0], reverse=True)
        return sorted(spans[:MAX_SPANS])

    def summary(self) -> dict:
        """What a take records about the front end: how sure it was, and where it was not."""
        n = len(self.probs)
        speech = self.speech | self.unsure
        unsure_speech = float((self.unsure & speech).sum() / max(int(speech.sum()), 1))
        return {"phones_source": "recognised", "recogniser_threshold": self.threshold,
                "closure_threshold": self.closure_threshold,
                "recognised_speech_s": round(float(speech.sum()) / FPS, 2),
                "unsure_fraction": round(unsure_speech, 3),
                "unsure_spans": [[round(a, 3), round(b, 3)] for a, b in self.unsure_spans()],
                "recognise_seconds": round(self.seconds, 3), "frames": n, "readers": list(self.readers)}


def _runs(values: np.ndarray) -> list[tuple[int, int, int]]:
    """[(start, stop, value)] for each run of equal values."""
    if len(values) == 0:
        return []
    edges = np.flatnonzero(np.diff(values)) + 1
    starts = np.r_[0, edges]
    stops = np.r_[edges, len(values)]
    return [(int(a), int(b), int(values[a])) for a, b in zip(starts, stops, strict=True)]


def decide(probs: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
           closure_threshold: float = CLOSURE_THRESHOLD) -> np.ndarray:
    """(frames,) int8: the class decided for each frame, -1 where none is. A frame is p/b/m when that class's
    probability reaches ``closure_threshold``; otherwise its most probable class when that reaches
    ``threshold``."""
    probs = np.asarray(probs, dtype=np.float32)
    out = np.where(probs.max(axis=1) >= threshold, probs.argmax(axis=1), -1)
    if probs.shape[1] > BILABIAL:
        out = np.where(probs[:, BILABIAL] >= closure_threshold, BILABIAL, out)
    return out.astype(np.int8)


def frame_phones(probs: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
                 closure_threshold: float = CLOSURE_THRESHOLD) -> np.ndarray:
    """(frames,) index into CLASS_PHONES (len(CLASS_PHONES) for UNSURE_PHONE) for the procedural engine.
    Undecided frames (:func:`decide`) become silence when silence is at least as likely as any one speech class,
    else the unsure vowel. Single frames of a class between two equal neighbours are absorbed (a flicker), except
    p/b/m, whose closures are short."""
    probs = np.asarray(probs, dtype=np.float32)
    decided = decide(probs, threshold, closure_threshold).astype(np.int64)
    unsure_code = len(CLASS_PHONES)
    speech_best = probs[:, 1:].max(axis=1) if probs.shape[1] > 1 else np.zeros(len(probs))
    out = np.where(decided >= 0, decided, np.where(probs[:, 0] >= speech_best, 0, unsure_code))
    if len(out) >= 3:
        flicker = (out[1:-1] != out[:-2]) & (out[:-2] == out[2:]) & (out[1:-1] != BILABIAL)
        mid = out[1:-1].copy()
        mid[flicker] = out[:-2][flicker]
        out[1:-1] = mid
    return out.astype(np.int64)


def frames_to_segments(probs: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
                       closure_threshold: float = CLOSURE_THRESHOLD) -> list[PhoneSegment]:
    """Phone segments covering the clip: one per run of frames with the same phone; frame i (time i/FPS) owns
    [(i - 0.5)/FPS, (i + 0.5)/FPS). Confidence is the run's mean best-class probability."""
    probs = np.asarray(probs, dtype=np.float32)
    codes = frame_phones(probs, threshold, closure_threshold)
    conf = probs.max(axis=1) if len(probs) else np.zeros(0)
    names = CLASS_PHONES + (UNSURE_PHONE,)
    segments = []
    for a, b, code in _runs(codes):
        start = max(0.0, (a - 0.5) / FPS)
        end = (b - 0.5) / FPS
        segments.append(PhoneSegment(names[code], start, end, confidence=float(conf[a:b].mean())))
    return segments


def recognise(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, threshold: float = DEFAULT_THRESHOLD,
              weights=None, num_frames: int | None = None,
              closure_threshold: float = CLOSURE_THRESHOLD, *, second=None, features=None) -> MouthShapes:
    """Read the mouth shapes of mono 16 kHz audio (any length; processed in bounded chunks).

    ``second``: the neural engine's model (models.pipeline.NeuralModel), whose encoder head is averaged in (weight
    HEAD_WEIGHT) when it has one; None, or a model without a head: the recogniser reads alone. ``features``: that
    encoder's features of this audio ((frames, channels) tensor), when the caller has computed them already (the
    neural engine does), so they are not computed twice."""
    if sample_rate != SAMPLE_RATE:
        raise PhoneticsError(f"the recogniser needs {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
    for name, value in (("confidence", threshold), ("closure", closure_threshold)):
        if not 0.0 <= value <= 1.0:
            raise PhoneticsError(f"the recogniser's {name} threshold must be within 0..1, got {value}")
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise PhoneticsError(f"audio must be mono, got shape {x.shape}")
    n = frames_for_duration(len(x) / SAMPLE_RATE, FPS) if num_frames is None else int(num_frames)
    from models.checkpoint import CheckpointError
    from models.visemes import load_cached

    t0 = time.perf_counter()
    try:
        model = load_cached(weights, _device())
    except CheckpointError as exc:
        raise RecogniserError(f"the mouth-shape recogniser cannot be loaded: {exc}") from exc
    probs = model.probabilities(x, n)
    readers = (RECOGNISER,)
    if second is not None and second.shapes is not None and n > 0:
        if features is None or tuple(features.shape) != (n, second.encoder.config.channels):
            features = second.encode(np.nan_to_num(x), n)
        probs = (1.0 - HEAD_WEIGHT) * probs + HEAD_WEIGHT * second.shape_probabilities(features)
        readers += (SHAPE_HEAD,)
    quiet = ~speech_frames(x, n)
    if quiet.any():
        probs = probs.copy()
        probs[quiet] = 0.0
        probs[quiet, 0] = 1.0
    return MouthShapes(probs.astype(np.float32), float(threshold), time.perf_counter() - t0,
                       float(closure_threshold), readers)


def _band_features(samples: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(level dB, flatness) of the speech band per 60 fps frame, from 32 ms Hann windows.

    The level is in dB full scale (Parseval, one-sided: a full-scale sine in the band reads about -3 dB). The
    flatness (geometric over arithmetic mean of the band's power spectrum, averaged over 150 ms) is near 0.95 for
    white noise and below 0.3 for nearly all speech, even through a telephone line at 10 dB SNR.
    """
    x = np.asarray(samples, dtype=np.float32)
    half = _GATE_WINDOW // 2
    # Mirror the clip at its ends: zero padding would make a step that reads as a broadband onset.
    padded = np.pad(x, half, mode="reflect" if len(x) > half else "constant")
    window = np.hanning(_GATE_WINDOW).astype(np.float32)
    freqs = np.fft.rfftfreq(_GATE_WINDOW, 1.0 / SAMPLE_RATE)
    band = (freqs >= SPEECH_BAND[0]) & (freqs <= SPEECH_BAND[1])
    norm = _GATE_WINDOW * float((window ** 2).sum()) / 2.0
    centres = np.minimum((np.arange(num_frames) * SAMPLE_RATE / FPS).astype(np.int64), max(len(x) - 1, 0))
    offsets = np.arange(_GATE_WINDOW)
    level = np.empty(num_frames, dtype=np.float32)
    flatness = np.empty(num_frames, dtype=np.float32)
    m = _FLATNESS_FRAMES // 2
    kernel = np.ones(_FLATNESS_FRAMES, dtype=np.float64) / _FLATNESS_FRAMES
    for a in range(0, num_frames, _GATE_CHUNK):
        b = min(a + _GATE_CHUNK, num_frames)
        lo, hi = max(a - m, 0), min(b + m, num_frames)  # a margin so the smoothing runs across chunk borders
        c = centres[lo:hi]
        power = np.abs(np.fft.rfft(padded[c[:, None] + offsets] * window, axis=1)[:, band]) ** 2 / norm
        level[a:b] = 10.0 * np.log10(power[a - lo:b - lo].sum(axis=1) + 1e-12)
        smooth = convolve1d(power.astype(np.float64), kernel, axis=0, mode="constant")[a - lo:b - lo] + 1e-12
        flatness[a:b] = np.exp(np.log(smooth).mean(axis=1)) / smooth.mean(axis=1)
    return level, flatness


def speech_frames(samples: np.ndarray, num_frames: int) -> np.ndarray:
    """(num_frames,) bool: frames that may hold speech.

    A frame is no speech when its speech-band level is under GATE_FLOOR_DB or GATE_RANGE_DB below the clip's loudest
    frame, when its band spectrum is as flat as white noise (hiss, static, clipped noise), or when it lies in a run of
    such speech frames shorter than MIN_SPEECH_FRAMES (clicks, single pops).
    """
    if num_frames <= 0:
        return np.zeros(0, dtype=bool)
    level, flatness = _band_features(samples, num_frames)
    keep = (level >= max(GATE_FLOOR_DB, float(level.max()) - GATE_RANGE_DB)) & (flatness < GATE_MAX_FLATNESS)
    for start, stop, value in _runs(keep.astype(np.int8)):
        if value and stop - start < MIN_SPEECH_FRAMES:
            keep[start:stop] = False
    return keep


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
