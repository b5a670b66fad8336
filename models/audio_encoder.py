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


class StreamingEncoder:
    """:meth:`AudioEncoder.forward_mel` on a window that slides along a stream, computing again only what the new
    audio changed.

    Each call gets the log-mel of the current window (its first 60 fps frame is absolute frame ``start``) and how
    many of its mel frames are final: taken from audio already heard, not from a stand-in for the future. An
    output frame of any layer whose inputs are all final is final too; those are kept (the last :attr:`KEEP` per
    layer) and a later call takes them from there instead of computing them again. Everything else is computed as
    :meth:`AudioEncoder.forward_mel` would on the window, with the same zero padding at its edges, so the result
    is the same up to float rounding wherever the window's left edge is out of reach (the caller keeps a margin
    wider than the receptive field there; the live engine does). Windows must start on the same mel frame grid
    (the live engine starts them on multiples of 3 frames).

    The work is done time-major, each convolution as one matrix product over its shifted inputs: on the few dozen
    frames of a live step that is about three times faster than ``conv1d``.
    """

    KEEP = 48  # final frames kept per layer: more than the widest reach of the next layer

    def __init__(self, encoder: AudioEncoder) -> None:
        self.encoder = encoder
        self._layers = [_Layer("inp", encoder.inp), _Layer("down", encoder.down)]
        self._layers += [_Layer("block", b.conv1, b) for b in encoder.blocks]
        self.reset()

    def reset(self) -> None:
        """Forget the stream (the next call starts afresh)."""
        self._cache: list[tuple[int, torch.Tensor] | None] = [None] * len(self._layers)

    def __call__(self, mel: torch.Tensor, start: int, mel_final: int, lo: int, hi: int) -> torch.Tensor:
        """(1, N_MELS, 2T) log-mel of the window -> (hi - lo, C) encoder output for its frames lo..hi-1."""
        x_mel = mel[0].transpose(0, 1)  # (2T, N_MELS)
        n_out = x_mel.shape[0] // FEATURES_PER_FRAME
        layers = self._layers
        # Each layer's input length, the absolute position of its first output frame, and its final count.
        in_len, offsets, finals = [], [], []
        final = mel_final
        for layer in layers:
            in_len.append(x_mel.shape[0] if layer.kind in ("inp", "down") else n_out)
            offsets.append(start * (FEATURES_PER_FRAME if layer.kind == "inp" else 1))
            # output j is final when its last input, j*stride - pad + span - 1, is below the input's final count
            final = max(0, (final + layer.pad - layer.span) // layer.stride + 1)
            finals.append(final)
        # Top down: the frames each layer must give (a..b), the part of them its cache holds (a..s).
        need: list[tuple[int, int]] = [(0, 0)] * len(layers)
        held: list[tuple[torch.Tensor | None, int]] = [(None, 0)] * len(layers)
        a, b = max(0, lo), min(n_out, hi)
        for k in range(len(layers) - 1, -1, -1):
            need[k] = (a, b)
            held[k] = (None, a)
            cached = self._cache[k]
            if cached is not None and a < b:
                c0 = cached[0] - offsets[k]
                c1 = c0 + cached[1].shape[0]
                if c0 <= a < c1:
                    s = min(b, c1)
                    held[k] = (cached[1][a - c0:s - c0], s)
            s, layer = held[k][1], layers[k]
            if s < b:
                a, b = max(0, s * layer.stride - layer.pad), min(in_len[k], (b - 1) * layer.stride - layer.pad
                                                                 + layer.span)
            else:
                a, b = 0, 0
        # Bottom up: each layer's new frames from the frames below.
        below: tuple[int, torch.Tensor] = (0, x_mel)  # (first frame, (n, C) values)
        for k, layer in enumerate(layers):
            a, b = need[k]
            cached, s = held[k]
            parts = [] if cached is None else [cached]
            if s < b:
                parts.append(layer.run(below, s, b, in_len[k]))
            values = torch.cat(parts) if len(parts) > 1 else parts[0] if parts else x_mel.new_zeros(
                (0, layer.out_channels))
            below = (a, values)
            f = min(finals[k], b)
            if f > a:  # keep the final frames, at most KEEP, by absolute position
                keep = values[max(0, f - a - self.KEEP):f - a]
                self._cache[k] = (offsets[k] + f - keep.shape[0], keep.clone())
        a, values = below
        norm = self.encoder.out_norm.norm
        out = nn.functional.layer_norm(values, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
        return out[max(0, lo) - a:hi - a]


class _Layer:
    """One convolution of the encoder (with its residual block around it, for a block), time-major."""

    def __init__(self, kind: str, conv: nn.Conv1d, block: ResidualBlock | None = None) -> None:
        self.kind, self.block = kind, block
        self.stride, self.pad, self.dilation = conv.stride[0], conv.padding[0], conv.dilation[0]
        self.kernel = conv.kernel_size[0]
        self.span = self.dilation * (self.kernel - 1) + 1  # output j reads inputs j*stride - pad ... + span - 1
        self.out_channels = conv.out_channels
        # (kernel * in, out): row k * in + c is input channel c at tap k
        self.weight = conv.weight.detach().permute(2, 1, 0).reshape(-1, conv.out_channels).contiguous()
        self.bias = conv.bias.detach()
        if block is not None:
            self.weight2 = block.conv2.weight.detach()[:, :, 0].t().contiguous()
            self.bias2 = block.conv2.bias.detach()

    def run(self, below: tuple[int, torch.Tensor], s: int, b: int, length: int) -> torch.Tensor:
        """Output frames s..b-1 from the input frames ``below`` (first frame, (n, C)) of a window whose input is
        ``length`` frames long (zero outside, as the convolution pads)."""
        first, values = below
        i0, i1 = s * self.stride - self.pad, (b - 1) * self.stride - self.pad + self.span
        lo, hi = max(i0, 0), min(i1, length)
        if lo < first or hi > first + values.shape[0]:
            raise RuntimeError(f"frames {lo}..{hi} of a layer are not at hand ({first}..{first + values.shape[0]})")
        x = values[lo - first:hi - first]
        inp = x
        if self.block is not None:
            n = self.block.norm.norm
            inp = nn.functional.layer_norm(x, n.normalized_shape, n.weight, n.bias, n.eps)
        if i0 < lo or i1 > hi:  # the zero padding is of the convolution's input (normalised, in a block)
            inp = nn.functional.pad(inp, (0, 0, lo - i0, i1 - hi))
        t_out = b - s
        taps = [inp[k * self.dilation:k * self.dilation + (t_out - 1) * self.stride + 1:self.stride]
                for k in range(self.kernel)]
        y = torch.addmm(self.bias, torch.cat(taps, dim=1), self.weight)
        if self.kind == "inp":
            return nn.functional.gelu(y)
        if self.kind == "down":
            return y
        y = torch.addmm(self.bias2, nn.functional.gelu(y), self.weight2)
        return x[s - lo:b - lo] + y
