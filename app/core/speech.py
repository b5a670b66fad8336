"""The speech vocabulary every part of the project shares: the phone set, silence, and the mouth-shape classes.

Phones are ARPAbet symbols without stress digits, upper-case, with "SIL" for silence and non-speech (the phonetic
front ends in app/engines/phonetics map other symbol sets onto these). Mouth shapes are the classes of phones that
look alike on the face: the neural model's phone track, the recogniser's output and its training labels. The
phonetics, the engines, the model runtime (models/) and its training tools all read this one module; it imports
nothing but the timebase, so any of them can.
"""

from __future__ import annotations

import numpy as np

from app.core.timebase import FPS

# The 39 ARPAbet phones of the CMU dictionary (the PocketSphinx en-us model's set) plus silence.
ARPABET_PHONES: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
    "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y",
    "Z", "ZH", "SIL",
)  # fmt: skip
SILENCE = "SIL"
VOWELS: frozenset[str] = frozenset(
    {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
)
BILABIAL_PHONES: frozenset[str] = frozenset({"P", "B", "M"})  # the lips close: the first thing an animator checks

# Mouth-shape classes: phones that look alike share a class (silence and anything unknown is class 0).
VISEME_CLASSES: tuple[tuple[str, ...], ...] = (
    ("SIL",), ("P", "B", "M"), ("F", "V"), ("TH", "DH"), ("T", "D", "N", "L"), ("S", "Z"), ("SH", "ZH", "CH", "JH"),
    ("K", "G", "NG", "HH", "Y"), ("R", "ER"), ("W", "UW", "UH", "OW", "OY"), ("AA", "AE", "AH", "AO", "AW", "AY"),
    ("EH", "EY", "IH", "IY"),
)
NUM_VISEME_CLASSES = len(VISEME_CLASSES)
SILENCE_CLASS = 0
BILABIAL_CLASS = 1
# The phone that stands for each class where a phone is needed (the procedural engine): its most typical member.
CLASS_PHONES: tuple[str, ...] = ("SIL", "B", "F", "TH", "T", "S", "SH", "K", "R", "OW", "AH", "EH")
_VISEME_OF = {p: k for k, group in enumerate(VISEME_CLASSES) for p in group}


def viseme_class(phone: str) -> int:
    """The mouth-shape class of an ARPAbet phone (0, silence, for anything unknown)."""
    return _VISEME_OF.get(str(phone), SILENCE_CLASS)


def viseme_frames(phones: list, num_frames: int) -> np.ndarray:
    """(num_frames,) int8: the class of the phone under each frame's time (frame i is time i / FPS, as for the
    features and the metrics); ``phones`` are (phone, start, end) triples in seconds."""
    out = np.zeros(num_frames, np.int8)
    centres = np.arange(num_frames) / FPS + 1e-9
    for p, start, end in phones:
        k = viseme_class(p)
        if k:
            out[(centres >= float(start)) & (centres < float(end))] = k
    return out
