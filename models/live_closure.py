"""The lip-closure detector of the live engine, fitted to what the live engine sees.

Offline, the closure head (models/closure.py) reads encoder features computed with the whole recording around each
frame. Live, the newest frames' features are computed with only a few frames of real audio after them and a
mirrored stand-in beyond that, so the offline head misses closures there (pooled closure 0.78 live against 0.85
offline on the held-out sets). This module runs the live engine itself over real training speech (the clean audio
and a telephone-band copy), collects the features each hop's closing pass reads, labels them with the p/b/m frames
of the transcript's forced alignment, and fits a logistic head on them with the threshold at the best F1 on
speakers kept out of the fit. The held-out evaluation speakers (models.data.real_speech.VAL_REAL_SPEAKERS) are never
used.

    python -m models.live_closure [--clips N] [--out models/weights/live_closure.json]

The result is a small JSON file (a weight per encoder channel, a bias, a threshold, the closed pose, and how it was
made) that the live engine loads beside the model; the model checkpoint is not changed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

DEFAULT_PATH = Path(__file__).parent / "weights" / "live_closure.json"


def training_clips(limit: int, seed: int = 0):
    """(speaker, samples, phones) of real speech with a transcript, held-out evaluation speakers excluded."""
    from app.engines.phonetics import PhoneticsError

    from .data.real_speech import VAL_REAL_SPEAKERS, align_clip, find_clips, load_clip

    clips = [c for c in find_clips() if c.transcript and c.speaker not in VAL_REAL_SPEAKERS]
    rng = np.random.default_rng(seed)
    out = []
    for k in rng.permutation(len(clips)):
        clip = clips[int(k)]
        samples = load_clip(clip)
        if samples is None or len(samples) < 8000:
            continue
        try:
            phones = align_clip(samples, clip.transcript, clip.language)
        except PhoneticsError:
            continue
        out.append((clip.speaker, samples, phones))
        if len(out) >= limit:
            break
    return out


def collect(engine, samples: np.ndarray, phones) -> tuple[np.ndarray, np.ndarray]:
    """Features the live closing pass reads over one clip (every hop's, so a frame appears once per hop that
    reads it) and their p/b/m labels."""
    from app.core.timebase import frames_for_duration

    from .corpus_tensors import bilabial_frames

    engine.reset()
    engine.closure_probe = []
    try:
        for i in range(0, len(samples), 160):
            engine.push(samples[i:i + 160])
        engine.finish()
        probe = engine.closure_probe
    finally:
        engine.closure_probe = None
    flags = bilabial_frames(_tuples(phones), frames_for_duration(len(samples) / 16000))
    feats, labels = [], []
    for first, f in probe:
        idx = np.arange(first, first + len(f))
        ok = idx < len(flags)
        feats.append(f[ok])
        labels.append(flags[idx[ok]])
    return np.concatenate(feats), np.concatenate(labels)


def closed_pose_frames(samples: np.ndarray, phones) -> np.ndarray:
    """The lip-closing controls of the offline neural engine, given the transcript's phones (closure 0.99 on
    held-out speakers), on the clip's p/b/m frames: (frames, len(CLOSING_CONTROLS))."""
    import tempfile

    from app.core.rig import load_rig
    from app.engines.generate import GenerateSettings, run_engine
    from app.engines.phonetics import Alignment, write_phone_file
    from app.io.audio import AudioClip

    from .closure import CLOSING_CONTROLS
    from .corpus_tensors import bilabial_frames

    rig = load_rig()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "phones.tsv"
        write_phone_file(Alignment(phones=list(phones), source="forced"), path)
        curves, _ = run_engine(AudioClip(samples, 16000, None, 16000, 1, ""),
                               GenerateSettings(engine="neural", phones_file=str(path)))
    flags = bilabial_frames(_tuples(phones), len(curves))
    return curves[flags][:, [rig.index(n) for n in CLOSING_CONTROLS]]


def _tuples(phones) -> list:
    return [(p.phone, p.start, p.end) if hasattr(p, "phone") else tuple(p) for p in phones]


def fit(x: np.ndarray, y: np.ndarray, iters: int = 600) -> tuple[np.ndarray, float]:
    xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y.astype(np.float32))
    head = torch.nn.Linear(xt.shape[1], 1)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    pos = float(yt.mean())
    weight = torch.tensor((1.0 - pos) / max(pos, 1e-6))
    for _ in range(iters):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(xt)[:, 0], yt, pos_weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head.weight[0].detach().numpy().astype(np.float64), float(head.bias.detach()[0])


def best_threshold(prob: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    best, threshold = -1.0, 0.5
    for t in np.linspace(0.05, 0.95, 19):
        hit = prob > t
        tp = float((hit & y).sum())
        f1 = 2 * tp / max(float(hit.sum()) + float(y.sum()), 1.0)
        if f1 > best:
            best, threshold = f1, float(t)
    return threshold, best


def main(argv: list[str]) -> int:
    from app.engines.streaming import StreamingEngine
    from models.train_visemes import telephone

    p = argparse.ArgumentParser(prog="python -m models.live_closure", description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=240, help="real training clips (each also as telephone speech)")
    p.add_argument("--out", default=str(DEFAULT_PATH))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    t0 = time.monotonic()
    engine = StreamingEngine(seed=args.seed, live_closure=False)
    clips = training_clips(args.clips, args.seed)
    speakers = sorted({s for s, _, _ in clips})
    # Speakers (not clips) apart: every fourth speaker chooses the threshold.
    check = set(speakers[3::4]) if len(speakers) >= 4 else set()
    parts: dict[bool, list] = {False: [], True: []}
    audio_s = 0.0
    poses = []
    for speaker, samples, phones in clips:
        poses.append(closed_pose_frames(samples, phones))
        for heard in (samples, telephone(torch.from_numpy(samples)[None])[0].numpy().astype(np.float32)):
            parts[speaker in check].append(collect(engine, heard, phones))
            audio_s += len(heard) / 16000
    x = np.concatenate([f for f, _ in parts[False]])
    y = np.concatenate([lab for _, lab in parts[False]])
    w, b = fit(x, y)
    held = parts[True] or parts[False]
    xh = np.concatenate([f for f, _ in held])
    yh = np.concatenate([lab for _, lab in held])
    prob = 1.0 / (1.0 + np.exp(-(xh @ w + b)))
    threshold, f1 = best_threshold(prob, yh)
    pose = np.median(np.concatenate(poses), axis=0)
    result = {
        "weight": [round(float(v), 6) for v in w], "bias": round(b, 6), "threshold": threshold,
        "pose": [round(float(v), 6) for v in pose],
        "made": {"clips": len(clips), "speakers": len(speakers), "threshold_speakers": sorted(check),
                 "audio_minutes": round(audio_s / 60, 1), "frames": int(len(y)),
                 "hop": engine.hop, "lookahead": engine.lookahead,
                 "f1_threshold_speakers": round(f1, 3),
                 "seconds": round(time.monotonic() - t0)},
    }
    out = Path(args.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    tmp.replace(out)
    print(f"{len(clips)} clips of {len(speakers)} speakers ({audio_s / 60:.1f} min with the telephone copies), "
          f"{len(y)} frames; F1 on speakers kept out of the fit: {f1:.3f} at {threshold:.2f} "
          f"wrote {out} in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
