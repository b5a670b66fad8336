"""Phonetics figures: python tests/engines/bench_phonetics.py [CLIP.wav ...] (transcript in CLIP.txt)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.engines.phonetics.bench import bench_phonetics  # noqa: E402

if __name__ == "__main__":
    print(json.dumps(bench_phonetics(sys.argv[1:] or None), indent=1))
