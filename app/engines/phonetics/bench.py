"""Speed and accuracy figures for the phonetics layer (a `bench` command; tests/engines/bench_phonetics.py).

bench_phonetics(clip_paths) -> dict. A clip may have a transcript beside it (same name, .txt). With no clips,
~10 s and ~60 s clips are built from the Asterisk prompts (Debian asterisk-core-sounds-en-wav), whose
transcripts come from asterisk-core-sounds-en. Onset error is measured against flite's own phone timings
(Debian flite, `-psdur`) when flite is installed.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from app.core.timebase import SAMPLE_RATE

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
_FLITE_TEXT = (
    "Many people watch the bright yellow boats move slowly across the bay, while children play on the sand "
    "and their parents talk about the weather."
)


def _load(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return samples.mean(axis=1), rate


def asterisk_clip(seconds: float) -> tuple[np.ndarray, str] | None:
    """16 kHz prompts joined with 0.4 s pauses until ``seconds`` of audio, with their transcript."""
    from scipy.signal import resample_poly

    if not ASTERISK_TRANSCRIPTS.exists():
        return None
    transcripts = {}
    with gzip.open(ASTERISK_TRANSCRIPTS, "rt", encoding="utf-8") as handle:
        for line in handle:
            name, sep, text = line.partition(":")
            if sep and not line.startswith(";") and text.strip() and "[" not in text:
                transcripts[name.strip()] = text.strip()
    pieces, words, total = [], [], 0
    gap = np.zeros(int(0.4 * SAMPLE_RATE), np.float32)
    for name in sorted(transcripts):
        path = ASTERISK_SOUNDS / f"{name}.wav"
        if "/" in name or not path.exists() or "..." in transcripts[name]:
            continue
        samples, rate = _load(path)
        audio = resample_poly(samples, SAMPLE_RATE, rate).astype(np.float32)
        pieces += [audio, gap]
        words.append(transcripts[name])
        total += len(audio) + len(gap)
        if total >= seconds * SAMPLE_RATE:
            return np.concatenate(pieces), " ".join(words)
    return None


def flite_onset_error() -> dict | None:
    """Mean/median |onset difference| between forced alignment and flite's phone timings, in ms."""
    if shutil.which("flite") is None:
        return None
    from .pocketsphinx_aligner import PocketSphinxAligner

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "flite.wav"
        out = subprocess.run(
            ["flite", "-voice", "slt", "-t", _FLITE_TEXT, "-psdur", "-o", str(wav)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        samples, rate = _load(wav)
    reference, start = [], 0.0
    for item in out.split():
        label, end = item.rsplit(":", 1)
        if label != "pau":
            reference.append(start)
        start = float(end)
    alignment = PocketSphinxAligner().align(samples, rate, _FLITE_TEXT)
    got = [p.start for p in alignment.speech_phones()]
    if len(got) != len(reference):
        return {"error": f"phone counts differ: {len(got)} aligned vs {len(reference)} from flite"}
    errors = np.abs(np.array(got) - np.array(reference)) * 1000.0
    return {"mean_ms": float(errors.mean()), "median_ms": float(np.median(errors)),
            "within_20ms": float(np.mean(errors <= 20.0)), "phones": len(errors)}  # fmt: skip


def _measure(name: str, audio: np.ndarray, rate: int, transcript: str | None) -> dict:
    from .pocketsphinx_aligner import PocketSphinxAligner, fit_score

    duration = len(audio) / rate
    row: dict = {"clip": name, "duration_s": round(duration, 2)}
    aligner = PocketSphinxAligner()
    t0 = time.perf_counter()
    aligner._align_decoder()
    row["load_align_decoder_s"] = round(time.perf_counter() - t0, 3)
    if transcript:
        t0 = time.perf_counter()
        alignment = aligner.align(audio, rate, transcript)
        elapsed = time.perf_counter() - t0
        row.update(align_s=round(elapsed, 3), align_x_realtime=round(duration / elapsed, 1),
                   words=len(alignment.words), fit=round(fit_score(alignment) or 0.0, 3))  # fmt: skip
    t0 = time.perf_counter()
    aligner._recognition_decoder()
    row["load_recognition_decoder_s"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    recognised = aligner.align(audio, rate)
    elapsed = time.perf_counter() - t0
    row.update(recognise_s=round(elapsed, 3), recognise_x_realtime=round(duration / elapsed, 2),
               recognised_words=len(recognised.words))  # fmt: skip
    return row


def bench_phonetics(clip_paths: list[str] | None = None) -> dict:
    """Figures for each clip (speed of forced alignment and of recognition) and the flite onset error."""
    rows = []
    if clip_paths:
        for path in map(Path, clip_paths):
            audio, rate = _load(path)
            text_path = path.with_suffix(".txt")
            transcript = text_path.read_text(encoding="utf-8") if text_path.exists() else None
            rows.append(_measure(path.name, audio, rate, transcript))
    else:
        for seconds in (10, 60):
            clip = asterisk_clip(seconds)
            if clip is not None:
                rows.append(_measure(f"asterisk-{seconds}s", clip[0], SAMPLE_RATE, clip[1]))
    return {"clips": rows, "flite_onset_error": flite_onset_error()}
