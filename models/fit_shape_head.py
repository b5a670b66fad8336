"""Fits the mouth-shape head (models/visemes.ShapeHead) to a trained neural engine: a training tool, run once per
checkpoint, after the engine's training (its audio encoder stays frozen).

    python -m models.fit_shape_head CKPT CORPUS_DIR [CORPUS_DIR ...] --out CKPT [--batches 300] [--steps 3000]

Features are the frozen encoder's, on random crops of the corpora's ``train`` split under the recogniser's channel
and spectrum augmentation (models/train_visemes.augment_channel, models/train.augment_mel): telephone band, codecs,
noise, reverberation, level. The head is then fitted on those frames with the recogniser's class weights. It reports
frame accuracy on the validation voices (``val_voice``, clean and through a telephone line) for the recogniser, the
head and the two averaged, and writes a copy of the checkpoint that carries the head (a module of its own,
``shape_head``: about 36 thousand numbers).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import torch
from torch import nn

from .visemes import ShapeHead, ShapeHeadConfig

CROP_FRAMES = 192
CROPS_PER_BATCH = 24


def features(model, sampler, batches: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(frames, C) float16 encoder features and (frames,) classes of ``batches`` augmented batches of training
    crops (frames without a class left out)."""
    from .train import augment_mel
    from .train_visemes import augment_channel

    g = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    enc = model.encoder.eval()
    for _ in range(batches):
        audio, labels = sampler.batch(CROPS_PER_BATCH, CROP_FRAMES, g)
        with torch.inference_mode():
            audio = augment_channel(audio, g)
            f = enc(audio.to(model.device), CROP_FRAMES, mel_transform=lambda m: augment_mel(m, g)).cpu()
        xs.append(f.reshape(-1, f.shape[-1]).half())
        ys.append(labels.reshape(-1))
    x, y = torch.cat(xs), torch.cat(ys).long()
    keep = y >= 0
    return x[keep], y[keep]


def fit(x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor, steps: int = 3000, batch: int = 4096,
        lr: float = 3e-3, hidden: int = 256, seed: int = 0) -> ShapeHead:
    """The head fitted on features ``x`` (frames, C) and classes ``y``: AdamW with a cosine schedule, weighted
    cross-entropy with light label smoothing (the averaged probabilities stay calibrated)."""
    torch.manual_seed(seed)
    head = ShapeHead(ShapeHeadConfig(channels=int(x.shape[1]), hidden=hidden))
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=0.05)
    g = torch.Generator().manual_seed(seed)
    head.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        idx = torch.randint(0, len(y), (batch,), generator=g)
        loss = loss_fn(head(x[idx].float()), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head.eval()


def frame_scores(model, recogniser, clips: list, channel=None) -> dict[str, tuple[float, float]]:
    """{reader: (frame accuracy, p/b/m recall at the front end's closure threshold)} on whole ``clips``
    (Sampler.clips()), optionally through ``channel`` (a function on (1, samples) audio)."""
    from app.core.speech import BILABIAL_CLASS
    from app.engines.phonetics.mouth_shapes import CLOSURE_THRESHOLD

    probs: dict[str, list[np.ndarray]] = {"recogniser": [], "head": [], "mean": []}
    labels = []
    for audio, classes, _ in clips:
        a = audio if channel is None else channel(torch.from_numpy(audio)[None])[0].numpy()
        n = len(classes)
        rec = recogniser.probabilities(a, n)
        head = model.shape_probabilities(model.encode(a, n))
        for name, p in (("recogniser", rec), ("head", head), ("mean", (rec + head) / 2)):
            probs[name].append(p)
        labels.append(classes)
    y = np.concatenate(labels)
    keep = y >= 0
    out = {}
    for name, ps in probs.items():
        p = np.concatenate(ps)[keep]
        bil = y[keep] == BILABIAL_CLASS
        recall = float((p[bil, BILABIAL_CLASS] >= CLOSURE_THRESHOLD).mean()) if bil.any() else float("nan")
        out[name] = (float((p.argmax(1) == y[keep]).mean()), recall)
    return out


def main(argv: list[str]) -> int:
    import argparse

    from . import corpus_tensors as CT
    from .pipeline import NeuralModel
    from .train_visemes import Sampler, class_weights, telephone
    from .visemes import VisemeRecogniser

    p = argparse.ArgumentParser(prog="python -m models.fit_shape_head", description="fit the mouth-shape head")
    p.add_argument("ckpt")
    p.add_argument("corpora", nargs="+", metavar="CORPUS_DIR")
    p.add_argument("--out", required=True)
    p.add_argument("--batches", type=int, default=300, help=f"augmented batches of {CROPS_PER_BATCH} crops")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--val-clips", type=int, default=60, help="validation clips scored (0: none)")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, extra = NeuralModel.load(args.ckpt)
    corpora = [CT.load(d).with_visemes() for d in args.corpora]
    train = Sampler(corpora, ("train",))
    t0 = time.perf_counter()
    x, y = features(model, train, args.batches)
    t1 = time.perf_counter()
    print(f"features: {len(y)} frames from {args.batches} batches in {t1 - t0:.0f} s", flush=True)
    model.shapes = fit(x, y, class_weights(train), steps=args.steps)
    print(f"head fitted in {time.perf_counter() - t1:.0f} s", flush=True)
    if args.val_clips > 0:
        clips = Sampler(corpora, ("val_voice",)).clips()[:args.val_clips]
        recogniser = VisemeRecogniser.load()
        for label, channel in (("clean", None), ("telephone", telephone)):
            scores = frame_scores(model, recogniser, clips, channel)
            print(f"val_voice {label}: " + ", ".join(f"{k} accuracy {a:.3f} p/b/m recall {r:.3f}"
                                                    for k, (a, r) in scores.items()), flush=True)
    model.save(args.out, extra=extra)
    print(f"mouth-shape head -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
