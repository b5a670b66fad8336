"""Choose the mouth-shape recogniser's thresholds on its own validation speakers.

    python -m models.sweep_closure CORPUS [CORPUS...] [--clips 40] [--confidence 0.5] [--closure 0.1 0.2 0.3 0.5]
                                   [--head-weight W]

Each engine animates the validation clips of the corpora (``val_voice`` by default: voices kept out of the
recogniser's training and out of the held-out sets of ``vasa-rig bench quality``; ``val_real`` holds the bench's
speakers), clean and through the validation telephone channel, from the audio alone, at every pair of confidence
and p/b/m thresholds. It prints closure and aperture (app/engines/metrics.py) per set and pooled, with mouth SD and
jitter, so the trade between missed and extra closures can be read off one table.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import torch

from app.core.timebase import SAMPLE_RATE


def validation_clips(corpora, per_split: int, seed: int = 0, splits=("val_voice",)) -> dict[str, list]:
    """{split: [(audio, phones)]}: up to ``per_split`` random clips of at least 1 s from each validation split."""
    from app.engines.phonetics.segments import PhoneSegment
    from models.train_visemes import Sampler

    out = {}
    for split in splits:
        try:
            clips = [c for c in Sampler(corpora, (split,)).clips() if len(c[0]) >= SAMPLE_RATE]
        except Exception as exc:  # noqa: BLE001 - a corpus without this split is reported and skipped
            print(f"{split}: {exc}")
            continue
        pick = np.random.default_rng(seed).permutation(len(clips))[:per_split]
        out[split] = [(clips[i][0], [PhoneSegment(str(p), float(a), float(b)) for p, a, b in clips[i][2]])
                      for i in pick]
    return out


def sweep(sets: dict[str, list], engines: list[str], pairs: list[tuple[float, float]], seed: int = 0) -> dict:
    """{(engine, confidence, closure, split, channel): [ClipFigures]}."""
    from app.core.settings import EngineOptions, GenerationSettings, PerformanceControls
    from app.engines import metrics as M
    from app.engines.generate import run_engine
    from app.io.audio import AudioClip
    from models.train_visemes import telephone

    figs: dict = {}
    for split, clips in sets.items():
        for channel in ("clean", "phone"):
            for audio, phones in clips:
                heard = audio if channel == "clean" else telephone(torch.from_numpy(audio)[None])[0].numpy()
                clip = AudioClip(heard.astype(np.float32), SAMPLE_RATE, None, SAMPLE_RATE, 1, "")
                for engine, (conf, closure) in itertools.product(engines, pairs):
                    settings = GenerationSettings(
                        engine=engine, performance=PerformanceControls(seed=seed),
                        options=EngineOptions(threshold=conf, closure_threshold=closure))
                    curves, _ = run_engine(clip, settings)
                    figs.setdefault((engine, conf, closure, split, channel), []).append(
                        M.evaluate(curves, phones, audio, SAMPLE_RATE))
    return figs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.sweep_closure", description=__doc__.split("\n")[0])
    ap.add_argument("corpora", nargs="+", help="corpus folders (models.corpus_tensors) with val_real / val_voice")
    ap.add_argument("--clips", type=int, default=40, help="clips per validation split (default 40)")
    ap.add_argument("--confidence", type=float, nargs="+", default=[0.5])
    ap.add_argument("--closure", type=float, nargs="+", default=[0.1, 0.2, 0.3, 0.5])
    ap.add_argument("--engines", default="procedural,neural")
    ap.add_argument("--splits", nargs="+", default=["val_voice"],
                    help="validation splits (default val_voice: val_real shares its speakers with the held-out "
                         "sets of vasa-rig bench quality, so thresholds chosen on it are not judged independently)")
    ap.add_argument("--weights", default=None, help="recogniser weights to try (default: the shipped ones)")
    ap.add_argument("--head-weight", type=float, default=None,
                    help="weight of the encoder head in the front end's mean (default: the shipped one; 0: the "
                         "recogniser alone)")
    args = ap.parse_args(argv)
    if args.head_weight is not None:
        if not 0.0 <= args.head_weight <= 1.0:
            ap.error("--head-weight must be within 0..1")
        import app.engines.phonetics.mouth_shapes

        app.engines.phonetics.mouth_shapes.HEAD_WEIGHT = args.head_weight
    if args.weights:
        import models.visemes

        models.visemes.DEFAULT_WEIGHTS = Path(args.weights)
    import models.corpus_tensors as CT
    from app.engines import metrics as M

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    corpora = [CT.load(p).with_visemes() for p in args.corpora]
    sets = validation_clips(corpora, args.clips, splits=tuple(args.splits))
    if not sets:
        print("no validation clips in these corpora", file=sys.stderr)
        return 2
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    pairs = list(itertools.product(args.confidence, args.closure))
    figs = sweep(sets, engines, pairs)
    for engine, (conf, closure) in itertools.product(engines, pairs):
        cells, everything = [], []
        for split in sets:
            for channel in ("clean", "phone"):
                fs = figs[(engine, conf, closure, split, channel)]
                everything += fs
                p = M.pool(fs)
                cells.append(f"{split}/{channel} {p.closure:.3f} {p.aperture:.2f}")
        p = M.pool(everything)
        print(f"{engine:10s} confidence {conf:.2f} p/b/m {closure:.2f} | " + " | ".join(cells)
              + f" || pooled closure {p.closure:.3f} ({p.closed}/{p.bilabials}) aperture {p.aperture:.2f} "
              f"mouth SD {p.region_sd['mouth']:.3f} jitter {p.jitter:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
