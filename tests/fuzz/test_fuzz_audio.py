"""Audio files for ``info`` and ``generate``: damaged, hostile and extreme WAVs never give a traceback or hang."""

from __future__ import annotations

import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf


def wav_bytes(samples: np.ndarray, rate: int, *, fmt_tag: int = 1, bits: int = 16, channels: int | None = None,
              data_size: int | None = None, riff_size: int | None = None, block_align: int | None = None) -> bytes:
    """A WAV file written field by field, so any header field can be made to lie."""
    x = np.asarray(samples)
    if x.ndim == 1:
        x = x[:, None]
    ch = x.shape[1] if channels is None else channels
    if fmt_tag == 3:
        payload = x.astype("<f4" if bits == 32 else "<f8").tobytes()
    elif bits == 8:
        payload = (np.clip(x, -1, 1) * 127 + 128).astype(np.uint8).tobytes()
    else:
        payload = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    align = ch * bits // 8 if block_align is None else block_align
    fmt = struct.pack("<HHIIHH", fmt_tag, ch & 0xFFFF, rate & 0xFFFFFFFF, (rate * align) & 0xFFFFFFFF, align & 0xFFFF,
                      bits)
    data_len = len(payload) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_len) + payload
    size = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", size & 0xFFFFFFFF) + body


def speech_like(n: int, rng: np.random.Generator, channels: int = 1) -> np.ndarray:
    t = np.arange(n) / 16000.0
    x = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x = x[:, None] + 0.01 * rng.standard_normal((n, channels))
    return x.astype(np.float32)


def structured_cases(rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """The named hostile files of the issue, each built from scratch."""
    x = speech_like(4800, rng)
    good = wav_bytes(x, 16000)
    cases = [("empty", b""), ("riff-only", b"RIFF"), ("header-only", good[:44]), ("truncated-in-fmt", good[:30]),
             ("truncated-in-data", good[:1001]), ("odd-length", good[:-1])]
    cases += [(f"random-{i}", rng.integers(0, 256, int(n), dtype=np.uint8).tobytes())
              for i, n in enumerate((1, 12, 44, 300, 5000))]
    cases += [("riff-random", b"RIFF" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())]
    nan = x.copy()
    nan[100] = np.nan
    inf = x.copy()
    inf[200] = np.inf
    cases += [("nan-float32", wav_bytes(nan, 16000, fmt_tag=3, bits=32)),
              ("inf-float32", wav_bytes(inf, 16000, fmt_tag=3, bits=32)),
              ("nan-float64", wav_bytes(nan, 16000, fmt_tag=3, bits=64)),
              ("all-nan", wav_bytes(np.full(1000, np.nan, np.float32), 16000, fmt_tag=3, bits=32)),
              ("huge-floats", wav_bytes(np.full(1000, 3e38, np.float32), 16000, fmt_tag=3, bits=32)),
              ("one-sample", wav_bytes(np.array([0.5], np.float32), 16000)),
              ("one-sample-silent", wav_bytes(np.zeros(1, np.float32), 16000)),
              ("silent", wav_bytes(np.zeros(8000, np.float32), 16000)),
              ("8-bit", wav_bytes(x, 8000, bits=8)),
              ("64-channels", wav_bytes(speech_like(1600, rng, 64), 16000)),
              ("65-channels", wav_bytes(speech_like(400, rng, 65), 16000)),
              ("channels-0", wav_bytes(x, 16000, channels=0)),
              ("channels-65535", wav_bytes(x, 16000, channels=65535)),
              ("block-align-0", wav_bytes(x, 16000, block_align=0)),
              ("bits-0", wav_bytes(x, 16000)[:34] + struct.pack("<H", 0) + wav_bytes(x, 16000)[36:]),
              ("fmt-tag-unknown", wav_bytes(x, 16000, fmt_tag=0x1234))]
    for rate in (0, 1, 3999, 4000, 384000, 384001, 2**31 - 1, 2**32 - 1):
        cases.append((f"rate-{rate}", wav_bytes(x, rate)))
    # Headers that claim far more audio than the file holds (2 hours, 4 GiB) or less than it does.
    for label, size in (("2-hours", 16000 * 2 * 7200), ("4-GiB", 0xFFFFFFFF), ("zero", 0), ("short", 10)):
        cases.append((f"data-size-{label}", wav_bytes(x, 16000, data_size=size)))
        cases.append((f"riff-size-{label}", wav_bytes(x, 16000, riff_size=size)))
    return cases


def mutated_cases(rng: np.random.Generator, mutate, count: int) -> list[tuple[str, bytes]]:
    bases = [wav_bytes(speech_like(3200, rng), 16000), wav_bytes(speech_like(1600, rng, 2), 22050),
             wav_bytes(speech_like(1600, rng), 16000, fmt_tag=3, bits=32), wav_bytes(speech_like(2000, rng), 8000,
                                                                                     bits=8)]
    flac = _encoded(speech_like(3200, rng), "FLAC")
    ogg = _encoded(speech_like(3200, rng), "OGG")
    bases += [flac, ogg]
    out = []
    for i in range(count):
        data = bases[i % len(bases)]
        for _ in range(int(rng.integers(1, 4))):
            data = mutate(data, rng)
        out.append((f"mutant-{i}", data))
    return out


def _encoded(x: np.ndarray, fmt: str) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, x, 16000, format=fmt)
    return buf.getvalue()


def _run_audio_cases(cases, tmp_path, cli, generate_every: int) -> None:
    for i, (label, data) in enumerate(cases):
        path = tmp_path / f"{label}.wav"
        path.write_bytes(data)
        cli.run(["info", path], names=path, label=label)
        if i % generate_every == 0:
            cli.run(["generate", path, "-o", tmp_path / "out.json", "--quiet"], names=path, label=label)


def test_hostile_audio_files(tmp_path, cli, rng):
    _run_audio_cases(structured_cases(rng), tmp_path, cli, generate_every=1)


def test_mutated_audio_files(tmp_path, cli, rng, mutate):
    _run_audio_cases(mutated_cases(rng, mutate, 120), tmp_path, cli, generate_every=4)


@pytest.mark.slow
def test_mutated_audio_files_long(tmp_path, cli, rng, mutate):
    _run_audio_cases(mutated_cases(rng, mutate, 600), tmp_path, cli, generate_every=3)


MEMORY_PROBE = r"""
import resource, sys
from app.__main__ import main
import numpy, scipy.signal, soundfile  # imported up front: their size is not the file's doing
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rc = main(["info", sys.argv[1]])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(rc, (after - before) // 1024)
"""
TWO_HOUR_BUDGET_MIB = 32


def test_two_hour_recording_is_refused_within_the_memory_budget(tmp_path):
    """A real (sparse) 2-hour WAV is refused by its length before any sample is read: peak RSS growth stays under
    TWO_HOUR_BUDGET_MIB while the file holds 220 MiB of samples."""
    path = tmp_path / "two-hours.wav"
    frames = 16000 * 7200
    header = wav_bytes(np.zeros(0, np.float32), 16000, data_size=frames * 2, riff_size=36 + frames * 2)
    with open(path, "wb") as fh:
        fh.write(header)
        fh.truncate(len(header) + frames * 2)
    done = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(path)], capture_output=True, text=True,
                          timeout=60)
    rc, growth_mib = (int(v) for v in done.stdout.split())
    assert rc == 2
    assert "2.0 h long; the limit is 30.0 min" in done.stderr
    assert growth_mib < TWO_HOUR_BUDGET_MIB, f"opening a 2-hour file took {growth_mib} MiB"
