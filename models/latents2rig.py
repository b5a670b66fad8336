"""Latents2Rig: a per-frame decoder from a compact motion latent to the 180 rig channels, and the encoder trained
with it that gives Audio2Latents its targets.

Channels are standardised with the training set's mean and SD (stored as buffers, so they travel with the weights);
latents are standardised too, after the autoencoder is trained, so the flow model sees unit-scale targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

NUM_CHANNELS = 180
MIN_CHANNEL_SD = 0.02  # channels that barely move in the data are not blown up by standardisation


@dataclass
class Latents2RigConfig:
    num_channels: int = NUM_CHANNELS
    latent_dim: int = 32
    hidden: int = 384
    latent_noise: float = 0.05  # noise on the latent in training: the decoder tolerates sampling error


def _mlp(inp: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                         nn.Linear(hidden, out))


class RigAutoencoder(nn.Module):
    def __init__(self, config: Latents2RigConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = _mlp(config.num_channels, config.hidden, config.latent_dim)
        self.decoder = _mlp(config.latent_dim, config.hidden, config.num_channels)
        self.register_buffer("channel_mean", torch.zeros(config.num_channels))
        self.register_buffer("channel_sd", torch.ones(config.num_channels))
        self.register_buffer("latent_mean", torch.zeros(config.latent_dim))
        self.register_buffer("latent_sd", torch.ones(config.latent_dim))

    def set_channel_stats(self, curves: torch.Tensor) -> None:
        """Standardisation from (N, 180) training frames."""
        self.channel_mean.copy_(curves.mean(0))
        self.channel_sd.copy_(curves.std(0).clamp_min(MIN_CHANNEL_SD))

    def normalise(self, curves: torch.Tensor) -> torch.Tensor:
        return (curves - self.channel_mean) / self.channel_sd

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.channel_sd + self.channel_mean

    def encode(self, curves: torch.Tensor) -> torch.Tensor:
        """(..., 180) rig values -> (..., latent_dim) standardised latents."""
        z = self.encoder(self.normalise(curves))
        return (z - self.latent_mean) / self.latent_sd

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(..., latent_dim) standardised latents -> (..., 180) rig values."""
        return self.denormalise(self.decoder(z * self.latent_sd + self.latent_mean))

    def reconstruction_loss(self, curves: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.normalise(curves)
        z = self.encoder(x)
        if self.training and self.config.latent_noise > 0:
            noise = torch.randn(z.shape, generator=generator, device=z.device)
            z = z + self.config.latent_noise * noise * z.detach().std(0, keepdim=True)
        return nn.functional.mse_loss(self.decoder(z), x)
