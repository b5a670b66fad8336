"""Audio2Latents: a transformer denoiser over a window of motion latents, trained with rectified flow.

A window holds ``window`` frames (2 s at 60 fps). Its first ``context`` frames may carry the previous window's tail
as clean latents (a flag marks them); the model predicts the velocity of the rest. Per-frame conditions: audio
features, emotion (8 weights = one-hot x intensity, so the embedding scales with intensity), gaze (yaw, pitch),
head distance. Audio and emotion are each dropped in training (replaced by learned null vectors) so sampling can
use classifier-free guidance. With ``phone_classes`` > 0 the model also takes a per-frame mouth-shape class
(app.core.speech.VISEME_CLASSES, 0 = unknown), from phones aligned to a transcript when the user has one;
training hides it from half of the windows, so the model stays as good on audio alone. With
``objective="regression"`` the same network predicts the latents directly from the conditions: the plain
regression baseline, trained on the same data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

NUM_EMOTIONS = 8
GAZE_SCALE_DEG = 20.0
REFERENCE_DISTANCE_CM = 60.0


@dataclass
class Audio2LatentsConfig:
    latent_dim: int = 32
    audio_dim: int = 192
    d_model: int = 192
    n_layers: int = 6
    n_heads: int = 6
    ff_mult: int = 4
    window: int = 120
    context: int = 12
    dropout: float = 0.1
    p_drop_audio: float = 0.1
    p_drop_emotion: float = 0.1
    p_no_context: float = 0.2
    objective: str = "flow"  # "flow" or "regression"
    phone_classes: int = 0  # > 0: per-frame mouth-shape class input (class k at index k + 1; 0 = unknown)
    p_drop_phones: float = 0.5  # windows trained without it (all unknown)

    @property
    def stride(self) -> int:
        return self.window - self.context


def condition_features(emotion: torch.Tensor, intensity: torch.Tensor, gaze: torch.Tensor,
                       head_distance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame conditions -> (emotion weights (..., 8), other (..., 3)).

    ``emotion`` is either an integer category per frame or already a weight vector per frame (keyed blends)."""
    if emotion.dtype in (torch.int8, torch.int16, torch.int32, torch.int64):
        w = nn.functional.one_hot(emotion.long(), NUM_EMOTIONS).float() * intensity.unsqueeze(-1)
    else:
        w = emotion.float()
    other = torch.stack([gaze[..., 0] / GAZE_SCALE_DEG, gaze[..., 1] / GAZE_SCALE_DEG,
                         torch.log(head_distance.clamp_min(1.0) / REFERENCE_DISTANCE_CM)], dim=-1)
    return w, other.float()


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * 1000.0 * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class Block(nn.Module):
    def __init__(self, d: int, heads: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff_mult * d), nn.GELU(), nn.Linear(ff_mult * d, d))
        self.drop = nn.Dropout(dropout)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.ff(self.norm2(x)))


class Audio2Latents(nn.Module):
    def __init__(self, config: Audio2LatentsConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.x_in = nn.Linear(config.latent_dim, d)
        self.ctx_in = nn.Linear(config.latent_dim, d)
        self.audio_in = nn.Linear(config.audio_dim, d)
        self.emotion_in = nn.Linear(NUM_EMOTIONS, d, bias=False)
        self.other_in = nn.Linear(3, d)
        self.null_audio = nn.Parameter(torch.zeros(d))
        self.null_emotion = nn.Parameter(torch.zeros(d))
        if config.phone_classes > 0:
            # Zero at first: a model given this input later (add_phone_input) starts out exactly as it was.
            self.phone_in = nn.Embedding(config.phone_classes + 1, d)
            nn.init.zeros_(self.phone_in.weight)
        self.pos = nn.Parameter(torch.zeros(config.window, d))
        self.time = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(Block(d, config.n_heads, config.ff_mult, config.dropout)
                                    for _ in range(config.n_layers))
        self.out_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, config.latent_dim)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, x: torch.Tensor, t: torch.Tensor, audio: torch.Tensor, emotion_w: torch.Tensor,
                other: torch.Tensor, ctx: torch.Tensor, ctx_mask: torch.Tensor,
                drop_audio: torch.Tensor | None = None, drop_emotion: torch.Tensor | None = None,
                phones: torch.Tensor | None = None) -> torch.Tensor:
        """Velocity (flow) or latents (regression) for a window.

        x (B,T,L) noisy latents; t (B,) in 0..1 (0 = noise); audio (B,T,A); emotion_w (B,T,8); other (B,T,3);
        ctx (B,T,L) clean latents where ctx_mask (B,T) is True (the window's first frames); drop_* (B,) bool;
        phones (B,T) long, mouth-shape class + 1 (0 = unknown; None = all unknown), for a model with phone_classes.
        """
        b, n, _ = x.shape
        cm = ctx_mask.unsqueeze(-1)
        h = torch.where(cm, self.ctx_in(ctx), self.x_in(x))
        a = self.audio_in(audio)
        e = self.emotion_in(emotion_w)
        if drop_audio is not None:
            a = torch.where(drop_audio[:, None, None], self.null_audio.expand_as(a), a)
        if drop_emotion is not None:
            e = torch.where(drop_emotion[:, None, None], self.null_emotion.expand_as(e), e)
        h = h + a + e + self.other_in(other) + self.pos[:n]
        if self.config.phone_classes > 0:
            if phones is None:
                phones = torch.zeros(b, n, dtype=torch.long, device=x.device)
            h = h + self.phone_in(phones.long().clamp(0, self.config.phone_classes))
        h = h + self.time(timestep_embedding(t, self.config.d_model))[:, None, :]
        for block in self.blocks:
            h = block(h)
        return self.out(self.out_norm(h))


def add_phone_input(a2l: Audio2Latents, classes: int) -> Audio2Latents:
    """A copy of ``a2l`` that also takes the per-frame mouth-shape class input (zero at first, so its output is
    unchanged until trained); ``a2l`` itself if it already has one."""
    if a2l.config.phone_classes > 0:
        if a2l.config.phone_classes != classes:
            raise ValueError(f"the model takes {a2l.config.phone_classes} mouth-shape classes, not {classes}")
        return a2l
    from dataclasses import replace

    out = Audio2Latents(replace(a2l.config, phone_classes=classes)).to(next(a2l.parameters()).device)
    missing, unexpected = out.load_state_dict(a2l.state_dict(), strict=False)
    if list(missing) != ["phone_in.weight"] or unexpected:
        raise RuntimeError(f"unexpected weights when adding the phone input: {missing} {unexpected}")
    return out.train(a2l.training)
