"""espeak-ng through the library in the `espeakng-loader` wheel, with phone timings from its phoneme events.

The C API is driven with ctypes in synchronous mode: the synth callback receives audio blocks and events; with
espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_PHONEME_IPA each phoneme event carries its IPA symbol and the
audio position (ms) at which the phoneme starts. A phone ends where the next event starts. The library holds
global state, so one process uses one synthesiser (guarded by a lock).
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from app.core.timebase import SAMPLE_RATE
from app.engines.phonetics.segments import to_arpabet

from .tts_types import TTSError, Utterance, make_segments, resample_to_16k

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_END = 5
_EVENT_MSG_TERMINATED = 6
_EVENT_PHONEME = 7
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3
_PARAM_RANGE = 4

# English voices and variants shipped in espeak-ng-data; accents differ in vowels and rhoticity, variants in
# formants, pitch and voice quality, which is the variety a recogniser of real voices needs.
ACCENTS = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2",
            "klatt4", "Andy", "Denis", "Gene", "Henrique", "Jacky", "Lee", "Mario", "Michael", "Mr_serious",
            "Storm", "Tweaky", "anika", "belinda", "edward", "iven", "john", "kaukovalta", "linda", "max",
            "norbert", "quincy", "robert", "steph", "travis", "victor", "zac", "Alicia", "ava", "shelby")  # fmt: skip


# espeak-ng IPA symbols that the shared IPA table does not know (reduced vowels, accents' extras, other languages).
_ESPEAK_IPA = {"ᵻ": "IH", "ɐ": "AH", "ɜ": "ER", "x": "HH", "ɬ": "L", "ɣ": "G", "ʲ": "", "ɑ̃": "AA", "ɔ̃": "AO",
               "õ": "OW", "ɛ̃": "EH", "ʏ": "UH", "y": "IY", "ø": "ER", "œ": "ER", "ɵ": "OW", "ɤ": "AH",
               # other languages' sounds (real speech aligned through espeak-ng, see foreign.py): nearest
               # English phone by place of articulation, which is what the mouth shows
               "ʁ": "R", "ʋ": "V", "ɭ": "L", "β": "B", "ʈ͡ʂ": "CH", "ʂ": "SH", "ʐ": "ZH", "ɕ": "SH", "ʑ": "ZH",
               "ε": "EH", "ɱ": "M", "ʝ": "Y"}
_IGNORED_MARKS = "ˈˌ̩̃-_'"


def ipa_to_arpabet(symbol: str) -> list[str]:
    """ARPAbet phones for one espeak-ng phoneme symbol; r-coloured and compound symbols ("ɛɹ", "aɪə") give
    several phones. Unknown pieces are dropped, so the result may be empty (treated as silence)."""
    s = "".join(ch for ch in symbol if ch not in _IGNORED_MARKS)
    whole = to_arpabet(s) if s else None
    if whole is not None:
        return [whole]
    out: list[str] = []
    i = 0
    while i < len(s):
        for size in (3, 2, 1):
            piece = s[i : i + size]
            if len(piece) < size:
                continue
            mapped = _ESPEAK_IPA.get(piece)
            if mapped is None and piece != "ː":
                mapped = to_arpabet(piece) if piece.strip() else None
            if mapped is not None or size == 1:
                if mapped and mapped != "SIL":
                    out.append(mapped)
                i += size
                break
    return out


class _Event(ctypes.Structure):
    class _Id(ctypes.Union):
        _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]

    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
        ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", _Id),
    ]  # fmt: skip


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class EspeakSynth:
    """One espeak-ng instance. ``synth(text, voice, pitch, rate)`` -> Utterance."""

    _lock = threading.Lock()
    _shared: EspeakSynth | None = None

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError:
            raise TTSError("espeak-ng is not available: pip install espeakng-loader") from None
        self._lib = ctypes.CDLL(str(espeakng_loader.get_library_path()))
        lib = self._lib
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        data = str(espeakng_loader.get_data_path()).encode()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 200,
                                     data, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT)
        if rate <= 0:
            raise TTSError(f"espeak-ng failed to start (data folder {data.decode()})")
        self.sample_rate = int(rate)
        self._blocks: list[np.ndarray] = []
        self._events: list[tuple[int, str, int]] = []  # (type, symbol, audio ms)
        self._callback = _CALLBACK(self._on_synth)  # kept referenced: the library holds a raw pointer
        lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def shared(cls) -> EspeakSynth:
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def _on_synth(self, wav, count, events) -> int:
        if count > 0 and wav:
            self._blocks.append(np.ctypeslib.as_array(wav, shape=(count,)).astype(np.float32) / 32768.0)
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                self._events.append((ev.type, ev.id.string.decode("utf-8", "replace"), ev.audio_position))
            elif ev.type in (_EVENT_WORD, _EVENT_END, _EVENT_MSG_TERMINATED):
                self._events.append((ev.type, "", ev.audio_position))
            i += 1
        return 0

    def synth(self, text: str, voice: str = "en-us", pitch: int = 50, rate: int = 175,
              pitch_range: int = 50) -> Utterance:
        """``voice`` is an espeak-ng voice name with an optional "+variant"; pitch and range 0..100; rate in
        words per minute (80..450)."""
        with self._lock:
            lib = self._lib
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise TTSError(f"espeak-ng has no voice {voice!r}")
            lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
            lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
            lib.espeak_SetParameter(_PARAM_RANGE, int(pitch_range), 0)
            self._blocks, self._events = [], []
            data = text.encode("utf-8") + b"\0"
            err = lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            if err != 0:
                raise TTSError(f"espeak-ng failed on {text[:40]!r} (error {err})")
            audio = np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.float32)
            events = list(self._events)
        duration_native = len(audio) / self.sample_rate
        starts = [(sym, ms / 1000.0) for kind, sym, ms in events if kind == _EVENT_PHONEME]
        bounds = []
        for k, (sym, start) in enumerate(starts):
            end = starts[k + 1][1] if k + 1 < len(starts) else duration_native
            pieces = ipa_to_arpabet(sym) or ["SIL"]
            # A compound symbol's duration is shared evenly between its phones (espeak-ng gives no finer split).
            step = (end - start) / len(pieces)
            bounds.extend((p, start + j * step, start + (j + 1) * step) for j, p in enumerate(pieces))
        samples = resample_to_16k(audio, self.sample_rate)
        phones = make_segments(bounds, len(samples) / SAMPLE_RATE)
        name = f"espeak:{voice}:p{pitch}:r{rate}"
        return Utterance(samples=samples, phones=phones, voice=name, text=text)


def voice_variants() -> list[str]:
    """Every accent x variant name (``en-us+f3``) plus the plain accents."""
    return [*ACCENTS, *(f"{a}+{v}" for a in ACCENTS for v in VARIANTS)]
