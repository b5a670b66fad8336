"""Make the example dialogue clip that the app opens on first run.

Run from the repository root:  python resources/examples/make_example.py
Needs the Debian package ``flite`` (CMU Flite 2.2, voice "slt"). Writes example_dialogue.wav (16 kHz mono) and
example_dialogue.txt (the transcript, used for forced alignment) beside this script. The line is chosen for its
lip contacts and lip-teeth sounds: /m/ /b/ /p/ (maybe, move, before, bad, promise) and /f/ /v/ (five, move, off).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

VOICE = "slt"
LINE = "Maybe we should move before the weather gets bad. Five more minutes, I promise, and then we are off."
HERE = Path(__file__).resolve().parent
RATE = 16_000
PAD_S = 0.25  # a little silence either side: the face starts and ends at rest


def main() -> int:
    flite = shutil.which("flite")
    if flite is None:
        print("flite is not installed (Debian: apt-get install flite)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "line.wav"
        subprocess.run([flite, "-voice", VOICE, "-t", LINE, "-o", str(raw)], check=True)
        samples, rate = sf.read(raw, dtype="float32")
    if rate != RATE:
        raise SystemExit(f"expected {RATE} Hz from flite voice {VOICE}, got {rate}")
    pad = np.zeros(int(PAD_S * RATE), np.float32)
    samples = np.concatenate([pad, samples, pad])
    samples *= 0.7 / max(float(np.abs(samples).max()), 1e-6)  # peak at about -3 dBFS
    sf.write(HERE / "example_dialogue.wav", samples, RATE, subtype="PCM_16")
    (HERE / "example_dialogue.txt").write_text(LINE + "\n", encoding="utf-8")
    print(f"example_dialogue.wav: {len(samples) / RATE:.2f} s, voice {VOICE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
