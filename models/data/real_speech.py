"""Real human speech from Debian packages (see /usr/share/doc/PKG/copyright and SOURCES.md).

:func:`find_clips` lists clips with speaker, language, transcript (where the package gives one) and licence.
Clips with transcripts are aligned by :func:`align_clip`: English ones with PocketSphinx, other languages
through espeak-ng's phonemes of the text (see foreign.py); a clip that fails is reported and kept only as
unlabelled audio (never forced). Speakers are named by person where the package says
who spoke (Asterisk's Allison recorded both the English and Spanish prompts), so holding out a speaker holds out
every clip of that voice.
"""

from __future__ import annotations

import glob
import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.timebase import SAMPLE_RATE

ASTERISK_DIR = "/usr/share/asterisk/sounds"
ASTERISK_DOC = "/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"
FILLETS_DIR = "/usr/share/games/fillets-ng"
TUXPAINT_DIR = "/usr/share/tuxpaint/stamps"
POCKETSPHINX_DIR = "/usr/share/pocketsphinx/test/data/librivox"
CODEC2_DIR = "/usr/share/codec2"

LICENCES = {
    "asterisk": "CC-BY-SA-3.0 (Asterisk core sounds, Digium / Allison Smith et al.)",
    "fillets": "GPL-2 (Fish Fillets NG data)",
    "tuxpaint": "GPL-2 (Tux Paint stamps)",
    "pocketsphinx": "BSD-2-Clause (PocketSphinx test data; LibriVox recording in the public domain)",
    "codec2": "LGPL-2.1 (codec2 examples)",
}
PACKAGES = {
    "asterisk": "asterisk-core-sounds-{en,es,fr,it,ru}-wav asterisk-core-sounds-{en,es,fr,it,ru}",
    "fillets": "fillets-ng-data fillets-ng-data-cs fillets-ng-data-nl",
    "tuxpaint": "tuxpaint-stamps-default",
    "pocketsphinx": "pocketsphinx-testdata",
    "codec2": "codec2-examples",
}
REAL_SOURCES = tuple(LICENCES)
# Whole speakers held out for val_real: a labelled English voice not in training (the LibriVox reader and the
# Tux Paint English narrators) and unlabelled voices of other languages.
VAL_REAL_SPEAKERS = frozenset({"pocketsphinx:librivox", "tuxpaint:en", "asterisk:Carlo", "fillets:nl:font_big"})
MIN_SECONDS = 0.3
MAX_SECONDS = 30.0


@dataclass(frozen=True)
class RealClip:
    path: str
    source: str
    speaker: str
    language: str
    transcript: str | None  # text to align, in the clip's language; None if there is none
    licence: str
    raw_rate: int | None = None  # headerless s16le files (codec2 .raw)

    @property
    def split(self) -> str:
        return "val_real" if self.speaker in VAL_REAL_SPEAKERS else "train"


def _usable_transcript(text: str) -> str | None:
    """None for descriptions of sounds ("[beep]") and empty text; otherwise the text with ellipses trimmed."""
    text = text.strip()
    if not text or text.startswith("[") or not any(ch.isalpha() for ch in text):
        return None
    text = re.sub(r"\[[^\]]*\]", " ", text)
    return re.sub(r"\s+", " ", text).strip() or None


def _asterisk() -> list[RealClip]:
    clips: list[RealClip] = []
    for folder in sorted(glob.glob(os.path.join(ASTERISK_DIR, "*_*_*_*"))):
        name = os.path.basename(folder)
        lang, _country, _sex, person = name.split("_", 3)
        texts: dict[str, str] = {}
        doc = ASTERISK_DOC.format(lang=lang)
        if os.path.exists(doc):
            with gzip.open(doc, "rt", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    key, sep, value = line.partition(":")
                    if sep and not line.startswith(";"):
                        texts[key.strip()] = value.strip()
        for path in sorted(glob.glob(os.path.join(folder, "**", "*.wav"), recursive=True)):
            rel = os.path.relpath(path, folder)[:-4]
            transcript = _usable_transcript(texts.get(rel, ""))
            clips.append(RealClip(path, "asterisk", f"asterisk:{person}", lang, transcript, LICENCES["asterisk"]))
    return clips


_LUA_STRING = r'"((?:[^"\\]|\\.)*)"'
_FILLETS_LINE = re.compile(rf"dialogId\({_LUA_STRING},\s*{_LUA_STRING},\s*{_LUA_STRING}\)"
                           rf"(?:\s*dialogStr\({_LUA_STRING}\))?")


def _fillets_dialogs(lang: str) -> dict[str, tuple[str, str]]:
    """Dialogue id -> (speaker font, text in ``lang``) from the game's level scripts."""
    out: dict[str, tuple[str, str]] = {}
    for path in glob.glob(os.path.join(FILLETS_DIR, "script", "*", f"dialogs_{lang}.lua")):
        with open(path, encoding="utf-8", errors="replace") as fh:
            for m in _FILLETS_LINE.finditer(fh.read()):
                text = m.group(4) if m.group(4) is not None else m.group(3)
                out[m.group(1)] = (m.group(2) or "font_none", text.replace('\\"', '"'))
    return out


def _fillets() -> list[RealClip]:
    fonts = {k: font for k, (font, _t) in _fillets_dialogs("en").items()}
    texts = {lang: _fillets_dialogs(lang) for lang in ("en", "cs", "nl")}
    clips = []
    for path in sorted(glob.glob(os.path.join(FILLETS_DIR, "sound", "*", "*", "*.ogg"))):
        lang = Path(path).parent.name
        if lang not in texts:
            continue
        stem = Path(path).stem
        speaker = fonts.get(stem, "font_none")
        # The English set is mostly grunts and clicks (their alignments fail and they stay unlabelled); the
        # Czech and Dutch dubs are full sentences in the level scripts' own language.
        transcript = _usable_transcript(texts[lang][stem][1]) if stem in texts[lang] else None
        clips.append(RealClip(path, "fillets", f"fillets:{lang}:{speaker}", lang, transcript,
                              LICENCES["fillets"]))
    return clips


def _tuxpaint() -> list[RealClip]:
    clips = []
    pattern = re.compile(r"^(?P<stem>.+)_desc(?:_(?P<lang>[a-zA-Z_]+?))?\.(?:ogg|wav)(?:\.ogg)?$")
    for path in sorted(glob.glob(os.path.join(TUXPAINT_DIR, "**", "*_desc*"), recursive=True)):
        m = pattern.match(os.path.basename(path))
        if not m:
            continue
        lang = m.group("lang") or "en"
        transcript = None
        txt = os.path.join(os.path.dirname(path), m.group("stem") + ".txt")
        if os.path.exists(txt):
            with open(txt, encoding="utf-8", errors="replace") as fh:
                lines = fh.read().splitlines()
            if lang == "en":
                transcript = _usable_transcript(lines[0]) if lines else None
            else:  # "es.utf8=Una moneda ..."
                prefix = f"{lang}.utf8="
                found = [line[len(prefix):] for line in lines if line.startswith(prefix)]
                transcript = _usable_transcript(found[0]) if found else None
        # Narrators are not named; one speaker id per language is the finest grouping that is safe to hold out.
        clips.append(RealClip(path, "tuxpaint", f"tuxpaint:{lang}", lang, transcript, LICENCES["tuxpaint"]))
    return clips


def _pocketsphinx() -> list[RealClip]:
    clips = []
    trans = os.path.join(POCKETSPHINX_DIR, "transcription")
    if not os.path.exists(trans):
        return clips
    with open(trans, encoding="utf-8") as fh:
        for line in fh:
            m = re.match(r"<s>\s*(.*?)\s*</s>\s*\((\S+)\)", line.strip())
            if m:
                path = os.path.join(POCKETSPHINX_DIR, m.group(2) + ".wav")
                if os.path.exists(path):
                    clips.append(RealClip(path, "pocketsphinx", "pocketsphinx:librivox", "en", m.group(1),
                                          LICENCES["pocketsphinx"]))
    return clips


def _codec2() -> list[RealClip]:
    clips = []
    skip = re.compile(r"(f2400|m2400|^sine|^test_|700d)")
    for path in sorted(glob.glob(os.path.join(CODEC2_DIR, "wav", "*.wav")) +
                       glob.glob(os.path.join(CODEC2_DIR, "raw", "*.raw"))):
        stem = Path(path).stem
        if skip.search(stem):
            continue
        raw = 8000 if path.endswith(".raw") else None
        clips.append(RealClip(path, "codec2", f"codec2:{stem.split('_')[0]}", "en", None, LICENCES["codec2"], raw))
    return clips


_FINDERS = {"asterisk": _asterisk, "fillets": _fillets, "tuxpaint": _tuxpaint, "pocketsphinx": _pocketsphinx,
            "codec2": _codec2}


def find_clips(sources: tuple[str, ...] = REAL_SOURCES) -> list[RealClip]:
    """Every clip of the installed packages among ``sources``, in a stable order."""
    out: list[RealClip] = []
    for name in sources:
        out.extend(_FINDERS[name]())
    return out


def load_clip(clip: RealClip) -> np.ndarray | None:
    """16 kHz mono float32, or None when the clip is unreadable, silent, too short or too long."""
    from app.io.audio import AudioError, load_audio

    if clip.raw_rate:
        from .tts_types import resample_to_16k

        pcm = np.fromfile(clip.path, dtype="<i2").astype(np.float32) / 32768.0
        samples = resample_to_16k(pcm, clip.raw_rate)
    else:
        try:
            samples = load_audio(clip.path, max_seconds=None).samples
        except AudioError:
            return None
    duration = len(samples) / SAMPLE_RATE
    if duration < MIN_SECONDS or float(np.max(np.abs(samples), initial=0.0)) < 1e-3:
        return None
    if duration > MAX_SECONDS:
        samples = samples[: int(MAX_SECONDS * SAMPLE_RATE)]
    return samples.astype(np.float32)


def align_clip(samples: np.ndarray, transcript: str, language: str = "en"):
    """Forced alignment -> phones, or raises PhoneticsError (caller reports and skips). English text goes to
    PocketSphinx directly; other languages through espeak-ng's phonemes (foreign.py)."""
    if language != "en":
        from .foreign import align_foreign

        return align_foreign(samples, transcript, language)
    from app.engines.phonetics import align_audio

    return align_audio(samples, SAMPLE_RATE, transcript).phones
