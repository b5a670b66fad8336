"""Files that travel with a dialogue recording, found beside it by name: ``LINE.txt`` says what is said in
``LINE.wav`` and ``LINE.TextGrid`` (or ``.lab``, ``.phn``) gives its phone timings from another aligner, the way
dialogue tools pair a line's audio with its text. Both are checked before they are used: a ``.txt`` that does not
read as prose (an EmoFace curve export, say) and a phone file that does not parse are passed over with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

TRANSCRIPT_SUFFIX = ".txt"
PHONE_SUFFIXES = (".TextGrid", ".textgrid", ".lab", ".phn")
MAX_TRANSCRIPT_CHARS = 20_000
MIN_LETTER_SHARE = 0.6  # of the non-space characters: prose, not columns of numbers


@dataclass
class Sidecars:
    transcript: str | None = None
    transcript_path: Path | None = None
    phones_path: Path | None = None
    skipped: list[str] = field(default_factory=list)  # "NAME: why it was not used"


def transcript_text(path: Path) -> str:
    """The transcript in ``path``, stripped; ValueError says why it is not one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > 4 * MAX_TRANSCRIPT_CHARS:
        raise ValueError(f"is {len(data) // 1024} KB, too long for one line of dialogue")
    try:
        text = data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text") from None
    visible = [c for c in text if not c.isspace()]
    if not visible:
        raise ValueError("is empty")
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise ValueError(f"has {len(text)} characters, too long for one line of dialogue")
    if sum(c.isalpha() for c in visible) < MIN_LETTER_SHARE * len(visible):
        raise ValueError("does not read as a transcript (mostly numbers or symbols)")
    return " ".join(text.split())


def find_sidecars(audio: str | Path) -> Sidecars:
    """The transcript and phone file beside ``audio`` (same name, other extension), those that pass the checks."""
    from app.engines.phonetics.phone_files import read_phone_file
    from app.engines.phonetics.segments import PhoneticsError

    audio = Path(audio)
    out = Sidecars()
    txt = audio.with_suffix(TRANSCRIPT_SUFFIX)
    if txt.is_file():
        try:
            out.transcript, out.transcript_path = transcript_text(txt), txt
        except ValueError as exc:
            out.skipped.append(f"{txt.name}: {exc}")
    for suffix in PHONE_SUFFIXES:
        candidate = audio.with_suffix(suffix)
        if candidate.is_file():
            try:
                read_phone_file(candidate)
            except PhoneticsError as exc:
                out.skipped.append(f"{candidate.name}: {exc}")
                continue
            out.phones_path = candidate
            break
    return out
