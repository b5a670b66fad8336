"""Audio encoder trained from scratch: log-mel (120 fps) -> per-frame features (60 fps).

Convolution only (no attention over the clip), so a long recording can be encoded in overlapping chunks with
results equal to encoding it whole, and memory stays bounded. Normalisation is per time step, for the same reason:
nothing depends on how long the input is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .features import FEATURES_PER_FRAME, N_MELS, LogMel


@dataclass
class AudioEncoderConfig:
    channels: int = 192
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8)
    kernel: int = 3
    dropout: float = 0.1

    @property
    def receptive_frames(self) -> int:
        """Frames (60 fps) of audio either side of a frame that can influence it."""
        return sum(d * (self.kernel // 2) * 2 for d in self.dilations) + 4


class ChannelNorm(nn.Module):
    """LayerNorm over channels of a (B, C, T) tensor, independently per time step."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        pad = dilation * (kernel // 2)
        self.norm = ChannelNorm(channels)
        self.conv1 = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(self.conv2(nn.functional.gelu(self.conv1(self.norm(x)))))


class AudioEncoder(nn.Module):
    def __init__(self, config: AudioEncoderConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.logmel = LogMel()
        self.inp = nn.Conv1d(N_MELS, c, 5, padding=2)
        self.down = nn.Conv1d(c, c, 2 * FEATURES_PER_FRAME, stride=FEATURES_PER_FRAME, padding=1)
        self.blocks = nn.ModuleList(ResidualBlock(c, config.kernel, d, config.dropout) for d in config.dilations)
        self.out_norm = ChannelNorm(c)

    def forward_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, N_MELS, 2T) -> (B, C, T)."""
        x = nn.functional.gelu(self.inp(mel))
        x = self.down(x)
        for block in self.blocks:
            x = block(x)
        return self.out_norm(x)

    def forward(self, audio: torch.Tensor, num_frames: int,
                mel_transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """(B, samples) at 16 kHz -> (B, T=num_frames, C). ``mel_transform`` (training augmentation) maps the
        (B, N_MELS, 2T) log-mel before the convolutions."""
        with torch.autocast(device_type=audio.device.type, enabled=False):  # FFT and log stay in float32
            mel = self.logmel(audio.float(), num_frames)
            if mel_transform is not None:
                mel = mel_transform(mel)
        return self.forward_mel(mel).transpose(1, 2)


class MaskedMelHead(nn.Module):
    """Self-supervised pre-training: predict the masked log-mel frames from the encoder's output."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv1d(channels, N_MELS * FEATURES_PER_FRAME, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, N_MELS, 2T)."""
        b, _, t = h.shape
        y = self.proj(h).view(b, FEATURES_PER_FRAME, N_MELS, t)
        return y.permute(0, 2, 3, 1).reshape(b, N_MELS, t * FEATURES_PER_FRAME)


def span_mask(batch: int, length: int, ratio: float, span: int, generator: torch.Generator | None,
              device: torch.device) -> torch.Tensor:
    """(B, length) bool: about ``ratio`` of the positions covered by random spans of ``span`` positions."""
    starts = torch.rand(batch, length, generator=generator, device=device) < ratio / span
    mask = torch.zeros(batch, length, dtype=torch.bool, device=device)
    for k in range(span):
        mask[:, k:] |= starts[:, : length - k]
    return mask


def encode_long(encoder: AudioEncoder, audio: torch.Tensor, num_frames: int, chunk_frames: int = 3600) -> torch.Tensor:
    """Encode (samples,) audio of any length in chunks with margins wider than the receptive field; the result
    matches encoding it in one piece (up to float rounding) with memory bounded by the chunk size."""
    from app.core.timebase import FPS, SAMPLE_RATE

    margin = encoder.config.receptive_frames + 8
    outs = []
    spf = SAMPLE_RATE / FPS
    for start in range(0, num_frames, chunk_frames):
        stop = min(num_frames, start + chunk_frames)
        a = max(0, start - margin)
        b = min(num_frames, stop + margin)
        s0 = int(round(a * spf))
        piece = audio[s0: int(round(b * spf)) + int(spf) + 1]
        # Frame alignment: frame a sits at sample a*spf; s0 is its rounded position (error < 1 sample).
        h = encoder(piece[None], b - a)[0]
        outs.append(h[start - a: stop - a])
    return torch.cat(outs, dim=0)
