"""Phone and word timing types shared by every source of phonetic timings.

Everything downstream (the procedural engine, the neural engine's phonetic track, the editors) reads phones as
ARPAbet symbols without stress digits, upper-case, with "SIL" for silence and non-speech (the set is defined in
app/core/speech.py, shared with the model runtime). Alternative symbol sets found in files from other aligners are
mapped onto this set in one place: :func:`to_arpabet`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.speech import ARPABET_PHONES, SILENCE, VOWELS  # noqa: F401 - VOWELS is read from here too

_PHONE_SET = frozenset(ARPABET_PHONES)


class PhoneticsError(Exception):
    """Base class of the errors this package raises for bad input."""


class TranscriptMismatchError(PhoneticsError):
    """The transcript does not fit the speech in the audio."""


class PhoneFileError(PhoneticsError):
    """An external phone timing file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class PhoneSegment:
    phone: str  # ARPAbet without stress, upper-case; "SIL" for silence
    start: float  # seconds from the start of the clip
    end: float
    confidence: float = 1.0  # 0..1
    word_index: int | None = None  # index into Alignment.words, None for silence

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class WordSegment:
    word: str
    start: float
    end: float
    confidence: float = 1.0


@dataclass(frozen=True)
class Alignment:
    phones: list[PhoneSegment] = field(default_factory=list)
    words: list[WordSegment] = field(default_factory=list)
    source: str = "forced"  # "forced", "recognised" or "file"

    @property
    def end(self) -> float:
        return self.phones[-1].end if self.phones else 0.0

    def speech_phones(self) -> list[PhoneSegment]:
        return [p for p in self.phones if p.phone != SILENCE]


# Alternative symbols seen in phone files, mapped to ARPAbet. Keys are compared after stripping stress digits
# for ARPAbet-like labels; IPA and X-SAMPA keys are matched exactly (case matters in SAMPA: "T" vs "t").
_SILENCE_LABELS = frozenset(
    {"", "sil", "sp", "spn", "pau", "h#", "#", "<sil>", "<s>", "</s>", "sil0", "silence", "_", "noise",
     "[noise]", "+nsn+", "+spn+", "<eps>", "epi", "pcl", "bcl", "dcl", "gcl", "kcl", "tcl", "<unk>"}
)  # fmt: skip
_IPA_TO_ARPABET = {
    # vowels, including the length-marked and r-coloured forms English MFA models output
    "ɑ": "AA", "ɑː": "AA", "a": "AA", "aː": "AA", "ɒ": "AA", "ɒː": "AO", "æ": "AE", "ʌ": "AH", "ə": "AH",
    "ɐ": "AH", "ɔ": "AO", "ɔː": "AO", "aʊ": "AW", "aw": "AW", "aj": "AY", "aɪ": "AY", "ɛ": "EH", "e": "EH",
    "ɝ": "ER", "ɚ": "ER", "ɜ": "ER", "ɜː": "ER", "ɜɹ": "ER", "əɹ": "ER", "ej": "EY", "eɪ": "EY", "eː": "EY",
    "ɪ": "IH", "ɨ": "IH", "i": "IY", "iː": "IY", "ow": "OW", "oʊ": "OW", "əʊ": "OW", "o": "OW", "oː": "OW",
    "ɔj": "OY", "ɔɪ": "OY", "ʊ": "UH", "u": "UW", "uː": "UW", "ʉ": "UW", "ʉː": "UW", "ɪə": "IH", "eə": "EH",
    "ʊə": "UH", "ɛː": "EH",
    # consonants
    "b": "B", "tʃ": "CH", "t͡ʃ": "CH", "ʧ": "CH", "d": "D", "ð": "DH", "f": "F", "ɡ": "G", "g": "G", "h": "HH",
    "dʒ": "JH", "d͡ʒ": "JH", "ʤ": "JH", "k": "K", "kʰ": "K", "c": "K", "cʰ": "K", "l": "L", "ɫ": "L", "ʎ": "L",
    "m": "M", "m̩": "M", "n": "N", "n̩": "N", "ɲ": "N", "ŋ": "NG", "p": "P", "pʰ": "P", "ɹ": "R", "r": "R",
    "ɾ": "D", "ɾ̃": "N", "s": "S", "ʃ": "SH", "t": "T", "tʰ": "T", "ʔ": "T", "tʲ": "T", "θ": "TH", "v": "V",
    "w": "W", "ʍ": "W", "j": "Y", "z": "Z", "ʒ": "ZH", "l̩": "L", "ɫ̩": "L", "fʲ": "F", "vʲ": "V", "bʲ": "B",
    "pʲ": "P", "mʲ": "M", "dʲ": "D", "ç": "HH", "ɟ": "G", "ɡʲ": "G",
}  # fmt: skip
_SAMPA_TO_ARPABET = {
    # X-SAMPA / SAMPA for English. SAMPA's D, T, S, Z, N, V (dh, th, sh, zh, ng, ah) collide with ARPAbet
    # symbols; upper-case ARPAbet wins, so only the unambiguous SAMPA symbols are listed.
    "A": "AA", "A:": "AA", "{": "AE", "V": "AH", "@": "AH", "O": "AO", "O:": "AO", "aU": "AW", "aI": "AY",
    "E": "EH", "3": "ER", "3:": "ER", "@`": "ER", "3`": "ER", "eI": "EY", "I": "IH", "i:": "IY", "@U": "OW",
    "oU": "OW", "OI": "OY", "U": "UH", "u:": "UW", "tS": "CH", "dZ": "JH", "r\\": "R", "4": "D", "?": "T",
    "I@": "IH", "e@": "EH", "U@": "UH", "Q": "AA",
}  # fmt: skip
# Other spellings of ARPAbet-like sets (TIMIT and friends), after upper-casing and stress stripping.
_ARPABET_VARIANTS = {
    "AX": "AH", "AXR": "ER", "AXH": "AH", "IX": "IH", "UX": "UW", "EL": "L", "EM": "M", "EN": "N",
    "ENG": "NG",     "NX": "N", "DX": "D", "Q": "T", "HV": "HH", "H": "HH", "TS": "S", "WH": "W",
}  # fmt: skip


def to_arpabet(label: str) -> str | None:
    """Map a phone label from another convention to ARPAbet; "SIL" for silence, None if unknown."""
    raw = label.strip()
    low = raw.lower()
    if low in _SILENCE_LABELS:
        return SILENCE
    if raw in _PHONE_SET:
        return raw
    if raw in _IPA_TO_ARPABET:
        return _IPA_TO_ARPABET[raw]
    if raw in _SAMPA_TO_ARPABET:
        return _SAMPA_TO_ARPABET[raw]
    # Stress marks: ARPAbet digits, IPA primary/secondary stress and length on otherwise known symbols.
    stripped = raw.rstrip("012").replace("ˈ", "").replace("ˌ", "")
    if stripped != raw and stripped:
        mapped = to_arpabet(stripped)
        if mapped is not None:
            return mapped
    upper = stripped.upper()
    if upper in _PHONE_SET:
        return upper
    if upper in _ARPABET_VARIANTS:
        return _ARPABET_VARIANTS[upper]
    if raw.endswith("ː") and len(raw) > 1:
        return to_arpabet(raw[:-1])
    return None
