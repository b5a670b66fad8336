"""Phone timings for real speech in other languages: espeak-ng phonemises the text, PocketSphinx aligns it.

Visemes are largely shared across languages, so a Czech or Spanish recording with its transcript can teach the
mouth as well as an English one. espeak-ng turns the text into IPA phonemes per word (``espeak_TextToPhonemes``
with the language's own voice); each IPA symbol is mapped to the nearest ARPAbet phone of the English acoustic
model (``ipa_to_arpabet``; sounds English lacks fall on their closest neighbour, e.g. [x] -> HH, [y] -> IY) and
every word is added to the aligner's dictionary under a made-up token with that pronunciation. The aligner's own
fit checks then reject clips where the English model could not follow the speech, exactly as for English
transcripts, so only alignments that fit the audio become labels.
"""

from __future__ import annotations

import ctypes
import itertools
import threading

import numpy as np

from app.core.timebase import SAMPLE_RATE

from .tts_espeak import EspeakSynth, ipa_to_arpabet
from .tts_types import TTSError

# Language codes of the real-speech packages -> espeak-ng voice names.
ESPEAK_VOICES = {
    "cs": "cs", "nl": "nl", "es": "es", "fr": "fr", "it": "it", "ru": "ru", "ro": "ro", "bg": "bg", "el": "el",
    "be": "be", "ca": "ca", "da": "da", "lt": "lt", "pt_BR": "pt-br", "ml": "ml", "de": "de", "pl": "pl",
    "sv": "sv", "en": "en-us",
}  # fmt: skip
_TEXT_MODE_UTF8 = 1
_PHONEME_MODE = 0x02 | (ord("_") << 8)  # IPA, phonemes separated by "_"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


class ForeignAligner:
    """Aligns transcripts in any language espeak-ng speaks. One per process (both libraries hold global state)."""

    def __init__(self) -> None:
        from app.engines.phonetics.pocketsphinx_aligner import PocketSphinxAligner

        self._espeak = EspeakSynth.shared()
        lib = self._espeak._lib
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        self._aligner = PocketSphinxAligner()
        self._tokens = ("q" + "".join(t) for n in itertools.count(3) for t in itertools.product(_LETTERS, repeat=n))
        self._lock = threading.Lock()

    def phonemise(self, text: str, language: str) -> list[list[str]]:
        """ARPAbet phones per spoken word of ``text`` (words espeak-ng reads as nothing are left out)."""
        voice = ESPEAK_VOICES.get(language)
        if voice is None:
            raise TTSError(f"no espeak-ng voice for language {language!r}")
        lib = self._espeak._lib
        with EspeakSynth._lock:
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise TTSError(f"espeak-ng has no voice {voice!r}")
            buf = ctypes.create_string_buffer(text.encode("utf-8") + b"\0")
            ptr = ctypes.c_char_p(ctypes.addressof(buf))
            clauses = []
            while ptr.value:
                out = lib.espeak_TextToPhonemes(ctypes.byref(ptr), _TEXT_MODE_UTF8, _PHONEME_MODE)
                if out:
                    clauses.append(out.decode("utf-8", "replace"))
        words = []
        for clause in clauses:
            for word in clause.split():
                phones = [p for sym in word.split("_") if sym for p in ipa_to_arpabet(sym)]
                if phones:
                    words.append(phones)
        return words

    def align(self, samples: np.ndarray, text: str, language: str):
        """Phone segments of ``samples`` (16 kHz) saying ``text``; raises PhoneticsError when the text does not
        fit the audio."""
        from app.engines.phonetics import PhoneticsError

        words = self.phonemise(text, language)
        if not words:
            raise PhoneticsError(f"espeak-ng read no words in {text[:40]!r}")
        with self._lock:
            tokens = []
            for phones in words:
                token = next(self._tokens)
                while self._aligner.knows(token):  # a real dictionary word ("qana"): take the next token
                    token = next(self._tokens)
                self._aligner.add_pronunciation(token, phones)
                tokens.append(token)
            return self._aligner.align(samples, SAMPLE_RATE, " ".join(tokens)).phones


_shared: ForeignAligner | None = None


def align_foreign(samples: np.ndarray, text: str, language: str):
    global _shared
    if _shared is None:
        _shared = ForeignAligner()
    return _shared.align(samples, text, language)
