"""flite voices (Debian `flite`) with phone timings from `-psdur` (phone:end-time pairs, CMU phone set).

Variants: the duration stretch (rate) and the target mean F0 (pitch) through `--setf`. The 8 kHz "kal" is
skipped in favour of its 16 kHz build "kal16"; "awb_time" speaks only clock times.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from app.core.timebase import SAMPLE_RATE

from .tts_types import TTSError, Utterance, make_segments, resample_to_16k

VOICES = ("kal16", "awb", "rms", "slt")
_TIMEOUT_S = 60


def available() -> bool:
    return shutil.which("flite") is not None


def synth(text: str, voice: str = "slt", stretch: float = 1.0, f0_mean: float | None = None) -> Utterance:
    """Speak ``text`` with a flite voice; ``stretch`` > 1 is slower, ``f0_mean`` in Hz (None: the voice's own)."""
    import soundfile as sf

    if not available():
        raise TTSError("flite is not installed (apt-get install flite)")
    if voice not in VOICES:
        raise TTSError(f"unknown flite voice {voice!r}; choose one of {', '.join(VOICES)}")
    with tempfile.TemporaryDirectory(prefix="vasa-flite-") as tmp:
        wav = os.path.join(tmp, "out.wav")
        cmd = ["flite", "-voice", voice, "-psdur", "--setf", f"duration_stretch={stretch:.3f}"]
        if f0_mean is not None:
            cmd += ["--setf", f"int_f0_target_mean={f0_mean:.1f}"]
        # The text goes through a file: flite's -t would read a leading "-" as an option.
        txt = os.path.join(tmp, "in.txt")
        with open(txt, "w", encoding="utf-8") as fh:
            fh.write(text)
        cmd += ["-f", txt, "-o", wav]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise TTSError(f"flite {voice} timed out on {text[:40]!r}") from None
        if proc.returncode != 0 or not os.path.exists(wav):
            raise TTSError(f"flite {voice} failed on {text[:40]!r}: {proc.stderr.strip()[:200]}")
        audio, rate = sf.read(wav, dtype="float32", always_2d=False)
    bounds = parse_psdur(proc.stdout)
    samples = resample_to_16k(audio, rate)
    name = f"flite:{voice}:s{stretch:.2f}:f{0 if f0_mean is None else int(f0_mean)}"
    return Utterance(samples=samples, phones=make_segments(bounds, len(samples) / SAMPLE_RATE), voice=name, text=text)


def parse_psdur(output: str) -> list[tuple[str, float, float]]:
    """(label, start, end) from flite's "phone:end phone:end ..." output (utterances follow each other in time)."""
    bounds: list[tuple[str, float, float]] = []
    t = 0.0
    offset = 0.0
    for token in output.split():
        label, sep, value = token.rpartition(":")
        if not sep:
            continue
        try:
            end = float(value) + offset
        except ValueError:
            continue
        if end < t - 1e-6:  # a new utterance restarts the clock: flite keeps the audio concatenated
            offset = t
            end = float(value) + offset
        bounds.append((label, t, end))
        t = end
    return bounds
