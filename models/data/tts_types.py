"""What every synthetic voice returns: audio at 16 kHz and the exact phone timings the synthesiser used."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.speech import SILENCE
from app.core.timebase import SAMPLE_RATE
from app.engines.phonetics.segments import PhoneSegment, to_arpabet


class TTSError(Exception):
    """A synthesiser is missing or failed on one sentence; the message names the voice."""


@dataclass(frozen=True)
class Utterance:
    samples: np.ndarray  # float32 mono at SAMPLE_RATE
    phones: tuple[PhoneSegment, ...]  # ARPAbet, covering 0..duration without gaps
    voice: str  # voice variant id, e.g. "espeak:en-us+f3:p60:r170"
    text: str

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def resample_to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Polyphase resampling to SAMPLE_RATE (exact ratio, so the timing of every phone is kept)."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    samples = np.asarray(samples, dtype=np.float32)
    if rate == SAMPLE_RATE:
        return samples
    ratio = Fraction(SAMPLE_RATE, int(rate)).limit_denominator(1000)
    return resample_poly(samples, ratio.numerator, ratio.denominator).astype(np.float32)


def make_segments(labels_and_bounds: list[tuple[str, float, float]], duration: float) -> tuple[PhoneSegment, ...]:
    """Normalise synthesiser labels to ARPAbet and tile 0..duration: unknown labels become silence, gaps are
    filled with silence, neighbouring silences merge, and zero-length phones are dropped."""
    out: list[list] = []
    t = 0.0
    for label, start, end in labels_and_bounds:
        phone = to_arpabet(label) or SILENCE
        start = min(max(start, t), duration)
        end = min(max(end, start), duration)
        if start > t + 1e-6:
            out.append([SILENCE, t, start])
        if end - start <= 1e-6:
            continue
        if out and out[-1][0] == SILENCE and phone == SILENCE:
            out[-1][2] = end
        else:
            out.append([phone, start, end])
        t = end
    if duration > t + 1e-6:
        if out and out[-1][0] == SILENCE:
            out[-1][2] = duration
        else:
            out.append([SILENCE, t, duration])
    return tuple(PhoneSegment(p, float(s), float(e)) for p, s, e in out)
