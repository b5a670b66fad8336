"""Lip closure on p/b/m from the audio: a detector on the audio encoder's features and a closing pass.

The first thing an animator checks is that the lips meet on p, b and m. Few-step sampling on voices the model has
not heard often leaves the lips slightly apart there. The encoder's features already separate bilabial frames well
(a linear probe: frame-level AUC 0.98 on training speech, 0.92 on held-out real speakers), so a logistic head on
them, fitted after training with the encoder frozen, marks the frames where a bilabial is likely. The closing
pass then moves only the lip-closing controls (jaw open, lower-lip depress, lips together) towards the teacher's
typical closed-lips values there, with a short ramp on either side; every other control keeps what the model
sampled.

This module is the pass as the runtime runs it; fitting the head is a training tool, models/fit_closure.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from .rig_channels import CLOSING_CONTROLS

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

    def apply(self, curves: torch.Tensor, feats: torch.Tensor, closing: Sequence[int]) -> torch.Tensor:
        """Curves (frames, 180) with the lip-closing controls (columns ``closing`` of the curves, in
        CLOSING_CONTROLS order: RigChannels.closing) moved towards the closed pose where a bilabial is detected;
        the other controls are returned unchanged."""
        cols = list(closing)
        w = self.closing_weight(self.probability(feats.float()))[:, None]
        pose = torch.tensor(self.pose, dtype=curves.dtype, device=curves.device)[None]
        out = curves.clone()
        out[:, cols] = curves[:, cols] + w * (pose - curves[:, cols])
        return out

