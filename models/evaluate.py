"""Measure a checkpoint against the teacher (the corpus's own curves) on held-out splits, with the figures of
quality_metrics.md (app/engines/metrics.py).

    python -m models.evaluate CORPUS CKPT [CKPT...] [--steps N] [--clips N]
"""

from __future__ import annotations

import sys
import time

import torch

from app.core.timebase import SAMPLE_RATE
from app.engines import metrics as M
from app.engines.phonetics import PhoneSegment

from . import corpus_tensors as CT
from .pipeline import NeuralModel


def _conds(corpus: CT.Corpus, i: int):
    fr = corpus.sample_frames(i)
    e = corpus.emotion[fr]
    w = torch.nn.functional.one_hot(e, 8).float() * corpus.intensity[fr, None]
    return w.numpy(), corpus.gaze[fr].numpy(), corpus.head_distance[fr].numpy()


def evaluate(corpus: CT.Corpus, split: str, generators: dict, clips: int) -> dict[str, M.PooledFigures]:
    idx = corpus.indices(split, labelled=True).tolist()[:clips]
    figs: dict[str, list] = {name: [] for name in ["teacher", *generators]}
    for i in idx:
        audio = corpus.sample_audio(i)
        phones = [PhoneSegment(p, float(s), float(e)) for p, s, e in corpus.phones[i]]
        teacher = corpus.curves[corpus.sample_frames(i)].numpy()
        figs["teacher"].append(M.evaluate(teacher, phones, audio, SAMPLE_RATE))
        for name, gen in generators.items():
            figs[name].append(M.evaluate(gen(audio, len(teacher), *_conds(corpus, i), i), phones, audio,
                                         SAMPLE_RATE))
    return {k: M.pool(v) for k, v in figs.items()}


def main(argv: list[str]) -> int:
    steps = int(argv[argv.index("--steps") + 1]) if "--steps" in argv else 4
    clips = int(argv[argv.index("--clips") + 1]) if "--clips" in argv else 40
    paths = [a for a in argv[1:] if a.endswith(".pt")]
    torch.set_num_threads(2)
    corpus = CT.load(argv[0])
    gens = {}
    for p in paths:
        model = NeuralModel.load(p, "cpu")[0]
        gens[p.rsplit("/", 1)[-1]] = (lambda m: lambda a, n, w, g, d, i: m.generate(a, n, w, g, d, seed=i,
                                                                                     steps=steps))(model)
    for split in ("val_real", "val_voice"):
        t0 = time.time()
        res = evaluate(corpus, split, gens, clips)
        print(f"== {split} ({time.time() - t0:.0f}s, steps={steps})")
        for name, f in res.items():
            sd = " ".join(f"{r}={v:.3f}" for r, v in f.region_sd.items())
            print(f"{name:24s} clips={f.clips} closure={f.closure} ({f.closed}/{f.bilabials}) "
                  f"aperture={f.aperture and round(f.aperture, 2)} lag={f.lag} jitter={f.jitter:.4f} "
                  f"blinks/min={f.blinks_per_min and round(f.blinks_per_min, 1)} {sd}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
