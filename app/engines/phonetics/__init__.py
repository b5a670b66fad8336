"""Phone and word timings for speech: PocketSphinx alignment/recognition and external phone files.

    from app.engines.phonetics import align_audio, read_phone_file
    alignment = align_audio(clip.samples, clip.sample_rate, transcript="Hello there.")
    for phone in alignment.phones: ...  # PhoneSegment("HH", start=0.31, end=0.37, confidence, word_index)

The PocketSphinx module is imported lazily by align_audio, so importing this package stays cheap.
"""

from app.core.timebase import SAMPLE_RATE

from .phone_files import format_json, format_tsv, read_phone_file, write_phone_file
from .segments import (
    ARPABET_PHONES,
    SILENCE,
    VOWELS,
    Alignment,
    PhoneFileError,
    PhoneSegment,
    PhoneticsError,
    TranscriptMismatchError,
    WordSegment,
    to_arpabet,
)
from .text import normalise_transcript


def align_audio(samples, sample_rate=SAMPLE_RATE, transcript=None, progress=None, cancel=None) -> Alignment:
    """Phone/word timings for mono float32 audio (see pocketsphinx_aligner.align_audio)."""
    from .pocketsphinx_aligner import align_audio as _align_audio

    return _align_audio(samples, sample_rate, transcript, progress, cancel)


__all__ = [
    "ARPABET_PHONES", "SILENCE", "VOWELS", "Alignment", "PhoneFileError", "PhoneSegment",
    "PhoneticsError", "TranscriptMismatchError", "WordSegment", "align_audio", "format_json", "format_tsv",
    "normalise_transcript", "read_phone_file", "to_arpabet", "write_phone_file",
]  # fmt: skip
