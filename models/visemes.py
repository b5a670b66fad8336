"""Mouth-shape recogniser: audio alone -> per-frame probabilities of the 12 mouth-shape classes at 60 fps.

The classes are :data:`app.core.speech.VISEME_CLASSES` (class 0 is silence, 1 is p/b/m, ...). The network
is the audio encoder's convolution stack (log-mel at 120 fps, one stride-2 step to 60 fps, dilated residual
blocks, normalisation per time step) at a smaller width, with a linear classifier on top: it sees about a second
of audio either side of a frame, is frame-synchronous by construction, and a long recording is processed in
chunks with results equal to processing it whole. Trained here (``python -m models.train_visemes``) on the
corpus's aligned real and synthetic speech under heavy channel augmentation; the weights ship in
models/weights/visemes.pt.

    rec = VisemeRecogniser.load()
    probs = rec.probabilities(samples)            # (frames, 12) float32, rows sum to 1

Deciding a class per frame from the probabilities (and leaving unsure frames undecided) is the engines' front
end: app/engines/phonetics/mouth_shapes.py.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from app.core.speech import NUM_VISEME_CLASSES

from .audio_encoder import AudioEncoder, AudioEncoderConfig, encode_long
from .checkpoint import CheckpointError, build_module, read_checkpoint, save_checkpoint

NUM_CLASSES = NUM_VISEME_CLASSES
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "visemes.pt"
MODULE_NAME = "visemes"
# Guidance of the neural engine along a track read by the recogniser (a transcript's track uses the checkpoint's
# own phone guidance): chosen on held-out speakers, see models/MODEL_CARD.md.
RECOGNISED_PHONE_GUIDANCE = 2.0


@dataclass
class VisemeRecogniserConfig:
    channels: int = 128
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)
    kernel: int = 3
    dropout: float = 0.1
    classes: int = NUM_CLASSES
    # Per-class offsets added to the log-probabilities before the softmax at inference, for a calibration fitted
    # after training; zero = the raw classifier (the shipped weights: their operating points are the thresholds
    # of app/engines/phonetics/mouth_shapes.py instead).
    bias: tuple[float, ...] = field(default_factory=lambda: (0.0,) * NUM_CLASSES)

    def encoder_config(self) -> AudioEncoderConfig:
        return AudioEncoderConfig(channels=self.channels, dilations=tuple(self.dilations), kernel=self.kernel,
                                  dropout=self.dropout)


class VisemeRecogniser(nn.Module):
    def __init__(self, config: VisemeRecogniserConfig) -> None:
        super().__init__()
        if len(config.bias) != config.classes:
            raise ValueError(f"bias needs one value per class ({config.classes}), got {len(config.bias)}")
        self.config = config
        self.encoder = AudioEncoder(config.encoder_config())
        self.head = nn.Linear(config.channels, config.classes)

    def forward(self, audio: torch.Tensor, num_frames: int, mel_transform=None) -> torch.Tensor:
        """(B, samples) 16 kHz -> (B, num_frames, classes) logits (training; no calibration bias)."""
        return self.head(self.encoder(audio, num_frames, mel_transform))

    @torch.no_grad()
    def probabilities(self, samples: np.ndarray, num_frames: int | None = None,
                      chunk_frames: int = 3600) -> np.ndarray:
        """(frames, classes) float32 calibrated class probabilities for mono 16 kHz ``samples`` of any length
        (processed in chunks of ``chunk_frames`` with margins, so memory stays bounded)."""
        from app.core.timebase import SAMPLE_RATE, frames_for_duration

        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"audio must be mono (samples,), got shape {x.shape}")
        n = frames_for_duration(len(x) / SAMPLE_RATE) if num_frames is None else int(num_frames)
        if n <= 0:
            return np.zeros((0, self.config.classes), np.float32)
        was_training = self.training
        self.eval()
        try:
            dev = next(self.parameters()).device
            h = encode_long(self.encoder, torch.from_numpy(np.nan_to_num(x)).to(dev), n, chunk_frames)
            logits = self.head(h).float() + torch.tensor(self.config.bias, dtype=torch.float32, device=dev)
            return torch.softmax(logits, dim=-1).cpu().numpy().astype(np.float32)
        finally:
            self.train(was_training)

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> None:
        save_checkpoint(path, {MODULE_NAME: self}, extra=extra)

    @staticmethod
    def load(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> VisemeRecogniser:
        """The recogniser saved at ``path`` (default: the shipped weights). CheckpointError if it is missing,
        unreadable or not a recogniser; weights are read without running pickled code."""
        payload = read_checkpoint(path or DEFAULT_WEIGHTS)
        held = sorted(payload.get("configs", {}))
        if MODULE_NAME not in held:
            raise CheckpointError(f"{Path(path or DEFAULT_WEIGHTS).name} is not a mouth-shape recogniser "
                                  f"checkpoint (it holds: {', '.join(held) or 'nothing'})")
        model = build_module(payload, MODULE_NAME, VisemeRecogniserConfig, VisemeRecogniser)
        if model.config.classes != NUM_CLASSES:
            raise CheckpointError(f"the recogniser has {model.config.classes} classes, this program uses "
                                  f"{NUM_CLASSES}")
        return model.to(device).eval()


SHAPE_HEAD_NAME = "shape_head"


@dataclass
class ShapeHeadConfig:
    channels: int = 128  # the audio encoder's feature width
    hidden: int = 256
    classes: int = NUM_CLASSES


class ShapeHead(nn.Module):
    """A second reader of the mouth-shape classes: a small network on the neural engine's audio-encoder features
    (frozen; fitted after the engine's training by models/fit_shape_head.py and kept in its checkpoint). That encoder
    was trained to predict motion, not classes, on other crops than the recogniser, so its mistakes differ from the
    recogniser's; the front end averages the two readers' probabilities (app/engines/phonetics/mouth_shapes.py)."""

    def __init__(self, config: ShapeHeadConfig) -> None:
        super().__init__()
        self.config = config
        self.net = nn.Sequential(nn.Linear(config.channels, config.hidden), nn.GELU(),
                                 nn.Linear(config.hidden, config.classes))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """(..., channels) encoder features -> (..., classes) logits."""
        return self.net(feats)

    @torch.no_grad()
    def probabilities(self, feats: torch.Tensor) -> np.ndarray:
        """(frames, channels) encoder features -> (frames, classes) float32 probabilities, rows summing to 1."""
        return torch.softmax(self.net(feats.float()), dim=-1).cpu().numpy().astype(np.float32)


_cache: dict[tuple[str, str], VisemeRecogniser] = {}
_lock = threading.Lock()


def load_cached(path: str | os.PathLike | None = None, device: str = "cpu") -> VisemeRecogniser:
    """:meth:`VisemeRecogniser.load`, once per (path, device) in a process."""
    key = (str(path or DEFAULT_WEIGHTS), device)
    with _lock:
        if key not in _cache:
            _cache[key] = VisemeRecogniser.load(key[0], device)
        return _cache[key]
