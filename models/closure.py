"""Lip closure on p/b/m from the audio: a detector on the audio encoder's features and a closing pass.

The first thing an animator checks is that the lips meet on p, b and m. Few-step sampling on voices the model has
not heard often leaves the lips slightly apart there. The encoder's features already separate bilabial frames well
(a linear probe: frame-level AUC 0.98 on training speech, 0.92 on held-out real speakers), so a logistic head on
them, fitted after training with the encoder frozen, marks the frames where a bilabial is likely. The closing
pass then moves only the lip-closing controls (jaw open, lower-lip depress, lips together) towards the teacher's
typical closed-lips values there, with a short ramp on either side; every other control keeps what the model
sampled.

    python -m models.closure CKPT CORPUS_DIR [CORPUS_DIR ...] --out CKPT [--clips N]

fits the head on the corpora's labelled training clips and writes a copy of the checkpoint that carries it (in the
checkpoint's ``extra``, under ``closure``: a few hundred numbers).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

import numpy as np
import torch

# The controls that open and close the lips (the opening of app/engines/metrics.py reads these).
CLOSING_CONTROLS = (
    "CTRL_C_jaw-translateY",
    "CTRL_L_mouth_lowerLipDepress-translateY", "CTRL_R_mouth_lowerLipDepress-translateY",
    "CTRL_L_mouth_lipsTogetherU-translateY", "CTRL_R_mouth_lipsTogetherU-translateY",
    "CTRL_L_mouth_lipsTogetherD-translateY", "CTRL_R_mouth_lipsTogetherD-translateY",
)  # fmt: skip
# Weight of the closed pose around a detected frame (offsets -2..2): closures are approached and left, not cut in.
RAMP = (0.35, 0.75, 1.0, 0.75, 0.35)


class ClosureError(Exception):
    """A closure head that does not fit the model or is malformed."""


@dataclass
class ClosureHead:
    weight: list[float]  # (C,) logistic weights on the encoder's features
    bias: float
    threshold: float  # probability above which a frame counts as bilabial
    pose: list[float]  # closed-lips values of CLOSING_CONTROLS

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict, channels: int) -> ClosureHead:
        try:
            head = ClosureHead(weight=[float(x) for x in d["weight"]], bias=float(d["bias"]),
                               threshold=float(d["threshold"]), pose=[float(x) for x in d["pose"]])
        except (KeyError, TypeError, ValueError) as exc:
            raise ClosureError(f"the checkpoint's closure head is malformed ({exc})") from None
        if len(head.weight) != channels or len(head.pose) != len(CLOSING_CONTROLS):
            raise ClosureError(f"the checkpoint's closure head has {len(head.weight)} weights and "
                               f"{len(head.pose)} pose values; the encoder has {channels} channels")
        return head

    def probability(self, feats: torch.Tensor) -> torch.Tensor:
        """(frames, C) encoder features -> (frames,) probability of a bilabial."""
        w = torch.tensor(self.weight, dtype=feats.dtype, device=feats.device)
        return torch.sigmoid(feats @ w + self.bias)

    def closing_weight(self, prob: torch.Tensor) -> torch.Tensor:
        """(frames,) 0..1: 1 on detected frames, the ramp around them."""
        hit = (prob > self.threshold).float()
        k = len(RAMP) // 2
        padded = torch.nn.functional.pad(hit, (k, k))
        ramp = torch.tensor(RAMP, dtype=hit.dtype, device=hit.device)
        windows = padded.unfold(0, len(RAMP), 1)  # (frames, taps)
        return (windows * ramp).max(dim=1).values

    def apply(self, curves: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """Curves (frames, 180) with the lip-closing controls moved towards the closed pose where a bilabial is
        detected; the other controls are returned unchanged."""
        from app.core.rig import load_rig

        rig = load_rig()
        cols = [rig.index(name) for name in CLOSING_CONTROLS]
        w = self.closing_weight(self.probability(feats.float()))[:, None]
        pose = torch.tensor(self.pose, dtype=curves.dtype, device=curves.device)[None]
        out = curves.clone()
        out[:, cols] = curves[:, cols] + w * (pose - curves[:, cols])
        return out


def fit(model, corpora: list, clips: int | None = None, iters: int = 400, seed: int = 0) -> ClosureHead:
    """Fits the head on the labelled training clips of ``corpora`` (curves are the teacher's; at most ``clips``
    random clips of each): logistic regression on the frozen encoder's features, threshold at the best
    frame-level F1, pose = median teacher values of CLOSING_CONTROLS over bilabial frames."""
    from app.core.rig import load_rig

    from .corpus_tensors import bilabial_frames

    rig = load_rig()
    cols = [rig.index(name) for name in CLOSING_CONTROLS]
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

    from . import corpus_tensors as CT
    from .pipeline import NeuralModel

    p = argparse.ArgumentParser(prog="python -m models.closure", description="fit the lip-closure head")
    p.add_argument("ckpt")
    p.add_argument("corpora", nargs="+", metavar="CORPUS_DIR")
    p.add_argument("--out", required=True)
    p.add_argument("--clips", type=int, default=None, help="at most N random training clips per corpus")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    model, extra = NeuralModel.load(args.ckpt)
    corpora = [CT.load(d, select=lambda s: bool(s.get("labelled")) and s.get("split") == "train")
               for d in args.corpora]
    head = fit(model, corpora, args.clips)
    model.save(args.out, extra={**extra, "closure": head.to_dict()})
    print(f"closure head (threshold {head.threshold:.2f}) fitted on {len(corpora)} corpora -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
