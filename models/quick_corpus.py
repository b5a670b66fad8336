"""A small corpus in the shared shard format, built from flite voices and a few real recordings, with the
procedural engine as the teacher. It exists so the neural engine can be developed, trained and measured before the
full corpus (models/data) is built; the format is the same, so every consumer reads either.

Layout: DIR/manifest.json + DIR/shard_000.npz ... Each shard holds concatenated samples:
  audio float32 16 kHz, audio_offsets int64 (n+1), curves float32 (frames,180) at 60 fps, frame_offsets int64 (n+1),
  emotion int8 (frames,), intensity float32 (frames,), gaze float32 (frames,2) deg, head_distance float32 (frames,).
The manifest lists samples with shard, index, split (train / val_voice / val_real), real, labelled, voice, text and
the phone timings (for lip-sync measurements).

Splits: whole voices are held out (val_voice), and real speech (PocketSphinx test recordings, aligned with their
transcripts) is never trained on (val_real).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.atomic import atomic_write, atomic_write_text
from app.core.take import EMOTIONS, EmotionKey
from app.core.timebase import FPS, SAMPLE_RATE, frames_for_duration

FLITE_VOICES = ("slt", "rms", "kal16", "awb", "kal")
HELD_OUT_VOICE = "awb"
REAL_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")

_SUBJECTS = ("the baker", "my brother", "Pam", "a big bear", "the members", "Bob", "the mayor", "my boss",
             "the painter", "Maria", "the pilot", "a famous poet", "the farmer", "his mother", "the vet",
             "Tom and Beth", "the old man", "every player", "the thief", "our neighbour", "a small boy")
_VERBS = ("moved", "bought", "painted", "found", "broke", "brought", "visited", "photographed", "measured", "fixed",
          "played with", "threw", "believed", "remembered", "opened", "built", "watched", "sold", "borrowed")
_OBJECTS = ("the blue box", "a map of Boston", "seven apples", "the purple umbrella", "the bottom shelf",
            "both bottles", "a thick book", "the maple tree", "five pumpkins", "the big window", "my phone",
            "the broken mirror", "a bowl of soup", "the smooth pebble", "the movie theatre", "a vivid photo")
_TAILS = ("", " yesterday", " before lunch", " on Monday", " by mistake", " in the morning", " at the beach",
          " with a smile", " very quickly", " without thinking", " every evening", " in Paris", " at midnight")
_OPENERS = ("", "", "Well, ", "Oh my, ", "Believe me, ", "Honestly, ", "By the way, ", "Maybe ", "Remember, ")
_QUESTIONS = ("Why did {s} say that?", "Would you believe {s} moved {o}?", "Who bought {o}?",
              "Did {s} {v} {o}{t}?", "What happened to {o}?", "Is it possible that {s} forgot?")


def sentences(n: int, seed: int) -> list[str]:
    """``n`` varied English sentences from templates, rich in bilabials and labiodentals."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s, v, o, t = (str(rng.choice(x)) for x in (_SUBJECTS, _VERBS, _OBJECTS, _TAILS))
        r = rng.random()
        if r < 0.2:
            q = str(rng.choice(_QUESTIONS))
            out.append(q.format(s=s, v=v.split()[0] if " " in v else v, o=o, t=t))
        elif r < 0.3:
            out.append(f"{s.capitalize()} {v} {o}, and then {str(rng.choice(_SUBJECTS))} "
                       f"{str(rng.choice(_VERBS))} {str(rng.choice(_OBJECTS))}{t}.")
        else:
            end = "!" if rng.random() < 0.15 else "."
            opener = str(rng.choice(_OPENERS))
            subj = s if opener else s[0].upper() + s[1:]
            out.append(f"{opener}{subj} {v} {o}{t}{end}")
    return out


@dataclass
class Utterance:
    audio: np.ndarray
    phones: list  # PhoneSegment
    voice: str
    text: str
    real: bool


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return x.astype(np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, SAMPLE_RATE)
    return resample_poly(x, SAMPLE_RATE // g, rate // g).astype(np.float32)


def flite_utterance(text: str, voice: str, stretch: float, f0: float | None, tmp: Path) -> Utterance:
    """Synthesise ``text``; phones come from flite's own timings (-psdur), never from recognition."""
    import soundfile as sf

    from app.engines.phonetics import PhoneSegment, to_arpabet

    wav = tmp / "u.wav"
    cmd = ["flite", "-voice", voice, "-psdur", "--setf", f"duration_stretch={stretch:.3f}"]
    if f0 is not None:
        cmd += ["--setf", f"int_f0_target_mean={f0:.1f}"]
    res = subprocess.run(cmd + ["-t", text, "-o", str(wav)], capture_output=True, text=True, check=True)
    audio, rate = sf.read(wav, dtype="float32")
    audio = _resample(audio, rate)
    phones, start = [], 0.0
    for item in res.stdout.split():
        label, _, end = item.rpartition(":")
        end = float(end)
        ph = to_arpabet(label) or "SIL"
        if end > start:
            phones.append(PhoneSegment(ph, start, end))
        start = end
    return Utterance(audio, phones, voice, text, real=False)


def real_utterances() -> list[Utterance]:
    """Real read speech shipped with PocketSphinx, aligned with its transcripts (held out: val_real)."""
    import soundfile as sf

    from app.engines.phonetics import align_audio

    out = []
    if not REAL_DIR.is_dir():
        return out
    lines = (REAL_DIR / "transcription").read_text().splitlines()
    for line in lines:
        text, _, fid = line.rpartition("(")
        text = text.replace("<s>", "").replace("</s>", "").strip()
        audio, rate = sf.read(REAL_DIR / f"{fid.strip(') ')}.wav", dtype="float32")
        audio = _resample(audio if audio.ndim == 1 else audio.mean(axis=1), rate)
        try:
            al = align_audio(audio, SAMPLE_RATE, transcript=text)
        except Exception as exc:  # alignment failures are reported and the clip skipped, not forced
            print(f"skipped {fid}: {exc}")
            continue
        out.append(Utterance(audio, list(al.phones), "librivox", text, real=True))
    return out


def _conditions(rng: np.random.Generator, n: int) -> tuple[tuple[EmotionKey, ...], tuple[float, float], float]:
    dur = n / FPS
    e1 = str(rng.choice(EMOTIONS))
    keys = [EmotionKey(0.0, e1, float(rng.uniform(0.2, 1.0)) if e1 != "neutral" else 0.0)]
    if rng.random() < 0.3:
        keys.append(EmotionKey(float(rng.uniform(0.3, 0.8) * dur), str(rng.choice(EMOTIONS)),
                               float(rng.uniform(0.2, 1.0))))
    gaze = (float(rng.normal(0, 8)), float(rng.normal(0, 5)))
    return tuple(keys), gaze, float(rng.uniform(35, 150))


def render(utt: Utterance, rng: np.random.Generator) -> dict:
    """Teacher curves and per-frame conditions for one utterance."""
    from app.core.settings import PerformanceControls
    from app.engines.procedural import emotion as E
    from app.engines.procedural.engine import synthesize

    n = frames_for_duration(len(utt.audio) / SAMPLE_RATE)
    keys, gaze, dist = _conditions(rng, n)
    controls = PerformanceControls(emotion_keys=keys, gaze=gaze, head_distance=dist,
                                   eye_contact=float(rng.uniform(0.5, 1.0)), seed=int(rng.integers(1 << 31)))
    curves = synthesize(utt.phones, utt.audio, SAMPLE_RATE, controls, num_frames=n)
    w = E.weights(keys, n, FPS)
    emotion = np.argmax(w, axis=1).astype(np.int8)
    intensity = w.max(axis=1).astype(np.float32)
    return {"curves": curves.astype(np.float32), "emotion": emotion, "intensity": intensity,
            "gaze": np.tile(np.float32(gaze), (n, 1)), "head_distance": np.full(n, dist, np.float32)}


def _write_shard(path: Path, items: list[tuple[Utterance, dict]]) -> None:
    arrays: dict[str, np.ndarray] = {
        "audio": np.concatenate([u.audio for u, _ in items]).astype(np.float32),
        "audio_offsets": np.cumsum([0] + [len(u.audio) for u, _ in items]).astype(np.int64),
        "frame_offsets": np.cumsum([0] + [len(r["curves"]) for _, r in items]).astype(np.int64),
    }
    for key in ("curves", "emotion", "intensity", "gaze", "head_distance"):
        arrays[key] = np.concatenate([r[key] for _, r in items])
    with atomic_write(path) as f:
        np.savez(f, **arrays)


def build(out: str | os.PathLike, num_sentences: int = 400, seed: int = 0, shard_size: int = 200,
          progress=None) -> Path:
    """Build the quick corpus into ``out``; returns the manifest path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    texts = sentences(num_sentences, seed)
    samples, pending, shard_idx = [], [], 0

    def flush() -> None:
        nonlocal pending, shard_idx
        if pending:
            _write_shard(out / f"shard_{shard_idx:03d}.npz", pending)
            shard_idx += 1
            pending = []

    def add(utt: Utterance, split: str) -> None:
        pending.append((utt, render(utt, rng)))
        samples.append({"shard": f"shard_{shard_idx:03d}.npz", "index": len(pending) - 1, "split": split,
                        "real": utt.real, "labelled": True, "voice": utt.voice, "text": utt.text,
                        "source": "pocketsphinx-testdata" if utt.real else "flite",
                        "licence": "BSD-2-Clause" if utt.real else "flite (BSD-like)",
                        "phones": [[p.phone, round(p.start, 4), round(p.end, 4)] for p in utt.phones]})
        if len(pending) >= shard_size:
            flush()

    with tempfile.TemporaryDirectory() as td:
        for i, text in enumerate(texts):
            voice = FLITE_VOICES[i % len(FLITE_VOICES)]
            stretch = float(rng.uniform(0.8, 1.3))
            f0 = float(rng.uniform(90, 220)) if rng.random() < 0.6 else None
            add(flite_utterance(text, voice, stretch, f0, Path(td)),
                "val_voice" if voice == HELD_OUT_VOICE else "train")
            if progress is not None:
                progress(i + 1, num_sentences)
    for utt in real_utterances():
        add(utt, "val_real")
    flush()
    manifest = {"format": "vasa-rig-corpus", "version": 1, "fps": FPS, "sample_rate": SAMPLE_RATE,
                "emotions": list(EMOTIONS), "samples": samples}
    path = out / "manifest.json"
    atomic_write_text(path, json.dumps(manifest))
    return path


def main(argv: list[str] | None = None) -> int:
    import argparse
    import time

    ap = argparse.ArgumentParser(prog="python -m models.quick_corpus", description=__doc__.splitlines()[0])
    ap.add_argument("out", help="folder to write the corpus into")
    ap.add_argument("count", nargs="?", type=int, default=400, help="synthetic utterances (default 400)")
    args = ap.parse_args(argv)
    t0 = time.time()
    build(args.out, args.count,
          progress=lambda i, n: print(f"{i}/{n} {time.time() - t0:.0f}s", flush=True) if i % 50 == 0 else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
