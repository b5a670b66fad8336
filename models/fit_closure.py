"""Fits the lip-closure head (models/closure.py) to a trained model: a training tool, run once per checkpoint.

    python -m models.fit_closure CKPT CORPUS_DIR [CORPUS_DIR ...] --out CKPT [--clips N]

fits the head on the corpora's labelled training clips and writes a copy of the checkpoint that carries it (in the
checkpoint's ``extra``, under ``closure``: a few hundred numbers).
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from .closure import ClosureError, ClosureHead
from .rig_channels import RigChannels


def fit(model, corpora: list, clips: int | None = None, iters: int = 400, seed: int = 0, *,
        channels: RigChannels) -> ClosureHead:
    """Fits the head on the labelled training clips of ``corpora`` (curves are the teacher's; at most ``clips``
    random clips of each): logistic regression on the frozen encoder's features, threshold at the best
    frame-level F1, pose = median teacher values of CLOSING_CONTROLS (columns ``channels.closing`` of the
    corpus's curves) over bilabial frames."""
    from .corpus_tensors import bilabial_frames

    cols = list(channels.closing)
    feats, labels, poses = [], [], []
    model.eval()
    rng = np.random.default_rng(seed)
    chosen = []
    for corpus in corpora:
        idx = corpus.indices("train", labelled=True).tolist()
        if clips is not None:
            idx = sorted(rng.permutation(idx)[:clips].tolist())
        chosen.extend((corpus, i) for i in idx)
    for corpus, i in chosen:
        n = int(corpus.num_frames[i])
        flags = bilabial_frames(corpus.phones[i], n)
        with torch.inference_mode():
            f = model.encoder(torch.from_numpy(corpus.sample_audio(i))[None].to(model.device), n)[0].cpu()
        feats.append(f)
        labels.append(torch.from_numpy(flags))
        curves = corpus.curves[corpus.sample_frames(i)]
        if flags.any():
            poses.append(curves[torch.from_numpy(flags)][:, cols])
    if not poses:
        raise ClosureError("no p/b/m frames among the training clips: cannot fit the closure head")
    x, y = torch.cat(feats).float(), torch.cat(labels).float()
    head = torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    pos = float(y.mean())
    weight = torch.tensor((1.0 - pos) / max(pos, 1e-6))
    for _ in range(iters):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(head(x)[:, 0], y, pos_weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        prob = torch.sigmoid(head(x)[:, 0])
    best, threshold = -1.0, 0.5
    for t in np.linspace(0.05, 0.95, 19):
        hit = prob > float(t)
        tp = float((hit & (y > 0)).sum())
        f1 = 2 * tp / max(float(hit.sum()) + float(y.sum()), 1.0)
        if f1 > best:
            best, threshold = f1, float(t)
    pose = torch.cat(poses).median(dim=0).values
    return ClosureHead(weight=head.weight[0].detach().tolist(), bias=float(head.bias.detach()[0]), threshold=threshold,
                       pose=pose.tolist())


def main(argv: list[str]) -> int:
    import argparse

    from app.core.rig import load_rig

    from . import corpus_tensors as CT
    from .pipeline import NeuralModel

    p = argparse.ArgumentParser(prog="python -m models.fit_closure", description="fit the lip-closure head")
    p.add_argument("ckpt")
    p.add_argument("corpora", nargs="+", metavar="CORPUS_DIR")
    p.add_argument("--out", required=True)
    p.add_argument("--clips", type=int, default=None, help="at most N random training clips per corpus")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    model, extra = NeuralModel.load(args.ckpt)
    corpora = [CT.load(d, select=lambda s: bool(s.get("labelled")) and s.get("split") == "train")
               for d in args.corpora]
    head = fit(model, corpora, args.clips, channels=RigChannels.from_names(load_rig().channel_names))
    model.save(args.out, extra={**extra, "closure": head.to_dict()})
    print(f"closure head (threshold {head.threshold:.2f}) fitted on {len(corpora)} corpora -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
