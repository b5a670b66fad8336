"""Measure a checkpoint against the teacher (the corpus's own curves) on held-out splits, with the figures of
quality_metrics.md (app/engines/metrics.py).

    python -m models.evaluate CORPUS CKPT [CKPT...] [--steps N[,N...]] [--guidance G] [--phone-guidance G]
        [--smooth K] [--seeds S] [--clips N] [--splits val_real,val_voice] [--voices VOICE[,VOICE...]] [--shift S]
        [--recogniser VISEMES.pt] [--threshold T] [--closure-threshold C] [--recognised-guidance G]
        [--channel telephone] [--procedural]

``--voices`` keeps the clips of those voices only (the manifest's ``voice``, e.g. ``asterisk:Carlo``), to measure
one held-out speaker at a time. ``--shift`` overrides the checkpoints' sampling time shift (sampling.time_grid).
A checkpoint that takes a phone track (``NeuralModel.uses_phones``) is measured twice: on audio alone, and
``+phones`` with the clip's own aligned phones (what a transcript gives it in the app), with the checkpoint's
phone guidance unless ``--phone-guidance`` sets one.

``--recogniser`` adds, for such a checkpoint, ``+recognised``: the track read from the audio alone by the
mouth-shape recogniser (models/visemes.py; frames below ``--threshold`` unknown, p/b/m from
``--closure-threshold``) with ``--recognised-guidance``.
``--procedural`` adds the procedural engine on the recogniser's phones (``procedural recognised``); the teacher row
is the procedural engine on the clip's aligned phones, i.e. with a transcript. ``--channel telephone`` passes
every clip through a telephone line (300-3400 Hz, 8-bit mu-law) before the generators hear it; the figures are
still read against the clean clip's phones.

CORPUS is a corpus folder (only its labelled validation clips are read) or a packed .npz.
"""

from __future__ import annotations

import sys
import time

import torch

from app.core.timebase import SAMPLE_RATE
from app.engines import metrics as M
from app.engines.neural import rig_channels
from app.engines.phonetics import PhoneSegment

from . import corpus_tensors as CT
from .pipeline import NeuralModel


def _conds(corpus: CT.Corpus, i: int):
    fr = corpus.sample_frames(i)
    e = corpus.emotion[fr]
    w = torch.nn.functional.one_hot(e, 8).float() * corpus.intensity[fr, None]
    return w.numpy(), corpus.gaze[fr].numpy(), corpus.head_distance[fr].numpy()


def evaluate(corpus: CT.Corpus, split: str, generators: dict, clips: int,
             seeds: int = 1, channel=None) -> dict[str, M.PooledFigures]:
    """Pooled figures per generator over the first ``clips`` clips of ``split``; each generator runs ``seeds``
    times per clip (seeds i, i + 1000, ...: i is the clip's position in the loaded corpus) and all runs are
    pooled, since on a small split one draw of the sampling noise moves the figures. ``channel`` maps a
    (1, samples) tensor to what the generators hear."""
    idx = corpus.indices(split, labelled=True).tolist()[:clips]
    figs: dict[str, list] = {name: [] for name in ["teacher", *generators]}
    for i in idx:
        audio = corpus.sample_audio(i)
        heard = audio if channel is None else channel(torch.from_numpy(audio)[None])[0].numpy()
        phones = [PhoneSegment(p, float(s), float(e)) for p, s, e in corpus.phones[i]]
        teacher = corpus.curves[corpus.sample_frames(i)].numpy()
        track = CT.viseme_frames(corpus.phones[i], len(teacher))  # the clip's phones as the models take them
        figs["teacher"].append(M.evaluate(teacher, phones, audio, SAMPLE_RATE))
        for name, gen in generators.items():
            for r in range(seeds):
                figs[name].append(M.evaluate(gen(heard, len(teacher), *_conds(corpus, i), i + 1000 * r, track),
                                             phones, audio, SAMPLE_RATE))
    return {k: M.pool(v) for k, v in figs.items()}


def _procedural(recognise, threshold: float, closure: float):
    """A generator: the procedural engine on the recogniser's phones, with the corpus's emotion as keys."""
    from app.core.settings import PerformanceControls
    from app.engines.phonetics.mouth_shapes import frames_to_segments
    from app.engines.procedural.engine import synthesize

    def gen(a, n, w, g, d, i, track):
        phones = frames_to_segments(recognise(a, n), threshold, closure)
        return synthesize(phones, a, SAMPLE_RATE, PerformanceControls(seed=i), num_frames=n)

    return gen


def _arg(argv: list[str], flag: str, default: str) -> str:
    return argv[argv.index(flag) + 1] if flag in argv else default


def main(argv: list[str]) -> int:
    steps_list = [int(x) for x in _arg(argv, "--steps", "4").split(",")]
    clips = int(_arg(argv, "--clips", "40"))
    guidance = float(_arg(argv, "--guidance", "1.0"))
    pg = _arg(argv, "--phone-guidance", "")
    phone_guidance = float(pg) if pg else None  # None: each checkpoint's own
    smooth = int(_arg(argv, "--smooth", "0"))
    seeds = int(_arg(argv, "--seeds", "1"))
    splits = _arg(argv, "--splits", "val_real,val_voice").split(",")
    shift = float(_arg(argv, "--shift", "0")) or None
    voices = set(_arg(argv, "--voices", "").split(",")) - {""}
    recogniser_path = _arg(argv, "--recogniser", "")
    threshold = float(_arg(argv, "--threshold", "0.5"))
    closure = float(_arg(argv, "--closure-threshold", str(threshold)))
    channel = None
    if _arg(argv, "--channel", "") == "telephone":
        from .train_visemes import telephone as channel
    elif "--channel" in argv:
        print("error: --channel takes 'telephone'", file=sys.stderr)
        return 2
    paths = [a for a in argv[1:] if a.endswith(".pt") and a != recogniser_path]
    rig_cols = rig_channels()
    torch.set_num_threads(2)
    if argv[0].endswith(".npz"):
        corpus = CT.load(argv[0])
    else:
        corpus = CT.load(argv[0], select=lambda s: bool(s.get("labelled")) and s.get("split") in splits
                         and (not voices or s.get("voice") in voices))
    gens = {}
    recognise = None
    if recogniser_path:
        from app.engines.phonetics.mouth_shapes import decide

        from .visemes import RECOGNISED_PHONE_GUIDANCE, VisemeRecogniser

        rec = VisemeRecogniser.load(recogniser_path)
        rec_guidance = float(_arg(argv, "--recognised-guidance", str(RECOGNISED_PHONE_GUIDANCE)))

        def recognise(a, n):
            return rec.probabilities(a, n)
    if "--procedural" in argv:
        if recognise is None:
            print("error: --procedural needs --recogniser", file=sys.stderr)
            return 2
        gens["procedural recognised"] = _procedural(recognise, threshold, closure)
    for p in paths:
        model = NeuralModel.load(p, "cpu")[0]
        direct = model.a2l.config.objective == "regression"
        for steps in ([1] if direct else steps_list):
            for use in (False, True) if model.uses_phones else (False,):
                name = "/".join(p.split("/")[-2:]) + ("" if direct else f" s{steps}") + (" +phones" if use else "")
                gens[name] = (lambda m, k, u: lambda a, n, w, g, d, i, track: m.generate(
                    a, n, w, g, d, seed=i, steps=k, guidance=guidance, smooth=smooth, time_shift=shift,
                    phones=track if u else None,
                    phone_guidance=phone_guidance, channels=rig_cols))(model, steps, use)
            if model.uses_phones and recognise is not None:
                name = "/".join(p.split("/")[-2:]) + ("" if direct else f" s{steps}") + " +recognised"
                gens[name] = (lambda m, k: lambda a, n, w, g, d, i, track: m.generate(
                    a, n, w, g, d, seed=i, steps=k, guidance=guidance, smooth=smooth, time_shift=shift,
                    phones=decide(recognise(a, n), threshold, closure), phone_guidance=rec_guidance,
                    channels=rig_cols))(model, steps)
    for split in splits:
        t0 = time.time()
        with torch.inference_mode():
            res = evaluate(corpus, split, gens, clips, seeds, channel)
        shown = "checkpoint's" if phone_guidance is None else phone_guidance
        heard = "" if channel is None else ", telephone channel"
        print(f"== {split}{heard} ({time.time() - t0:.0f}s, guidance={guidance}, phone guidance={shown}, "
              f"smooth={smooth}, seeds={seeds})")
        for name, f in res.items():
            sd = " ".join(f"{r}={v:.3f}" for r, v in f.region_sd.items())
            print(f"{name:24s} clips={f.clips} closure={f.closure and round(f.closure, 3)} ({f.closed}/{f.bilabials}) "
                  f"aperture={f.aperture and round(f.aperture, 2)} lag={f.lag} jitter={f.jitter:.4f} "
                  f"blinks/min={f.blinks_per_min and round(f.blinks_per_min, 1)} {sd}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
