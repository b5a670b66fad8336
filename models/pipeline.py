"""The neural engine as one object: audio encoder + Audio2Latents + Latents2Rig, loaded from one checkpoint.

``NeuralModel.generate`` turns 16 kHz audio and per-frame conditions into (frames, 180) rig curves; it is what the
app's runner (app/engines/neural.py) and the evaluation call.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .audio2latents import Audio2Latents, Audio2LatentsConfig, condition_features
from .audio_encoder import AudioEncoder, AudioEncoderConfig, encode_long
from .checkpoint import CheckpointError, build_module, read_checkpoint, save_checkpoint
from .latents2rig import Latents2RigConfig, RigAutoencoder
from .rig_channels import SHARP_CHANNELS, RigChannels  # noqa: F401 - SHARP_CHANNELS: the streaming engine's name
from .sampling import sample_sequence
from .visemes import NUM_CLASSES, SHAPE_HEAD_NAME, ShapeHead, ShapeHeadConfig

DEFAULT_STEPS = 2
DEFAULT_GUIDANCE = 1.0
DEFAULT_SMOOTH = 1  # binomial smoothing of the sampled curves over time: 0 none, k = kernel of 2k+1 frames
INPAINT_ITERS = 12
INPAINT_LR = 0.5


@dataclass
class Locked:
    """Rig values the sample must keep: ``mask`` (frames, 180) bool, ``values`` (frames, 180)."""

    mask: np.ndarray
    values: np.ndarray


def smooth_time(z: torch.Tensor, k: int) -> torch.Tensor:
    """(frames, C) filtered over time by a binomial kernel of 2k+1 taps (edges replicated). Few-step sampling
    leaves frame-to-frame noise that reads as jitter; a short kernel removes it while lip closures, which last
    several frames, survive."""
    if k <= 0 or z.shape[0] < 2:
        return z
    taps = torch.tensor([float(math.comb(2 * k, i)) for i in range(2 * k + 1)], device=z.device)
    taps = (taps / taps.sum()).view(1, 1, -1).expand(z.shape[1], 1, -1)
    x = nn.functional.pad(z.T[None], (k, k), mode="replicate")
    return nn.functional.conv1d(x, taps, groups=z.shape[1])[0].T.contiguous()


class NeuralModel(nn.Module):
    def __init__(self, encoder: AudioEncoder, rig: RigAutoencoder, a2l: Audio2Latents) -> None:
        super().__init__()
        self.encoder, self.rig, self.a2l = encoder, rig, a2l
        self.closure = None  # models.closure.ClosureHead, fitted after training (optional)
        # models.visemes.ShapeHead: a mouth-shape reader on the encoder's features, fitted after training (optional)
        self.shapes = None
        # Where the sampler's steps fall in time (sampling.time_grid), chosen per checkpoint by measurement and
        # kept in its extra data as "time_shift"; 1 (uniform) for checkpoints without one.
        self.time_shift = 1.0
        # Guidance along the phone track when a transcript's phones are given (generate's phone_guidance), also
        # chosen per checkpoint by measurement and kept in its extra data as "phone_guidance"; 1 = off.
        self.phone_guidance = 1.0

    @staticmethod
    def create(enc: AudioEncoderConfig, l2r: Latents2RigConfig, a2l: Audio2LatentsConfig) -> NeuralModel:
        if a2l.latent_dim != l2r.latent_dim or a2l.audio_dim != enc.channels:
            raise ValueError("Audio2Latents config does not fit the encoder / Latents2Rig configs")
        return NeuralModel(AudioEncoder(enc), RigAutoencoder(l2r), Audio2Latents(a2l))

    def modules_by_name(self) -> dict[str, nn.Module]:
        modules = {"audio_encoder": self.encoder, "latents2rig": self.rig, "audio2latents": self.a2l}
        if self.shapes is not None:
            modules[SHAPE_HEAD_NAME] = self.shapes
        return modules

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> None:
        extra = dict(extra or {})
        if self.time_shift != 1.0:
            extra.setdefault("time_shift", self.time_shift)
        if self.phone_guidance != 1.0:
            extra.setdefault("phone_guidance", self.phone_guidance)
        if self.closure is not None:
            extra.setdefault("closure", self.closure.to_dict())
        save_checkpoint(path, self.modules_by_name(), extra=extra)

    @staticmethod
    def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[NeuralModel, dict]:
        payload = read_checkpoint(path)
        model = NeuralModel(build_module(payload, "audio_encoder", AudioEncoderConfig, AudioEncoder),
                            build_module(payload, "latents2rig", Latents2RigConfig, RigAutoencoder),
                            build_module(payload, "audio2latents", Audio2LatentsConfig, Audio2Latents))
        if SHAPE_HEAD_NAME in payload.get("configs", {}):
            head = build_module(payload, SHAPE_HEAD_NAME, ShapeHeadConfig, ShapeHead)
            if head.config.channels != model.encoder.config.channels or head.config.classes != NUM_CLASSES:
                raise CheckpointError(f"{os.path.basename(path)}: the mouth-shape head reads {head.config.channels} "
                                      f"channels into {head.config.classes} classes; the encoder has "
                                      f"{model.encoder.config.channels} and this program uses {NUM_CLASSES}")
            model.shapes = head.eval()
        extra = payload.get("extra", {})
        if isinstance(extra, dict):
            # Sampler settings chosen per checkpoint by measurement (see the attributes in __init__).
            for key, lo, hi in (("time_shift", 0.1, 10.0), ("phone_guidance", 0.0, 10.0)):
                if key in extra:
                    value = extra[key]
                    if not isinstance(value, (int, float)) or isinstance(value, bool) or not lo <= value <= hi:
                        raise CheckpointError(f"{os.path.basename(path)}: {key} {value!r} is not a number in "
                                              f"{lo:g}-{hi:g}")
                    setattr(model, key, float(value))
        if isinstance(extra, dict) and extra.get("closure") is not None:
            from .closure import ClosureError, ClosureHead

            try:
                model.closure = ClosureHead.from_dict(extra["closure"], model.encoder.config.channels)
            except ClosureError as exc:
                raise CheckpointError(f"{os.path.basename(path)}: {exc}") from None
        return model.to(device).eval(), extra

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def generate(self, audio: np.ndarray, num_frames: int, emotion_weights: np.ndarray, gaze: np.ndarray,
                 head_distance: np.ndarray, *, seed: int = 0, steps: int = DEFAULT_STEPS,
                 guidance: float = DEFAULT_GUIDANCE, locked: Locked | None = None, mode: str = "lockstep",
                 smooth: int = DEFAULT_SMOOTH, callback: Callable[[dict], None] | None = None,
                 cancel: Callable[[], bool] | None = None, closure: bool = True,
                 time_shift: float | None = None, phones: np.ndarray | None = None,
                 phone_guidance: float | None = None, channels: RigChannels | None = None,
                 features: torch.Tensor | None = None) -> np.ndarray:
        """(num_frames, 180) float32 curves. Conditions are per frame: emotion_weights (frames, 8) =
        one-hot x intensity (blends allowed), gaze (frames, 2) degrees, head_distance (frames,) cm.
        ``closure``: run the checkpoint's lip-closure pass (models/closure.py) when it has one.
        ``time_shift``: where the steps fall (sampling.time_grid); None takes the checkpoint's.
        ``phones``: (num_frames,) mouth-shape class per frame (app.core.speech.VISEME_CLASSES, -1 = unknown), e.g.
        from a transcript aligned to the audio; used by a model that takes them (:attr:`uses_phones`).
        ``phone_guidance``: guidance on the phone track alone (the same pass without it as the reference), on the
        first step like ``guidance``; 1 = off, None = the checkpoint's (:attr:`phone_guidance`).
        ``channels``: where the caller's rig keeps the blinks (never smoothed) and the lip-closing controls
        (models/rig_channels.py); needed when ``smooth`` > 0 or the closure pass runs.
        ``features``: the audio's encoder features (:meth:`encode`), when the caller has them already."""
        # inference_mode skips autograd bookkeeping entirely; inpainting needs gradients inside its projector,
        # which inference tensors cannot take part in, so that path runs under no_grad instead.
        inpaint = locked is not None and bool(np.asarray(locked.mask).any())
        with torch.no_grad() if inpaint else torch.inference_mode():
            return self._generate(audio, num_frames, emotion_weights, gaze, head_distance, seed=seed, steps=steps,
                                  guidance=guidance, locked=locked, mode=mode, smooth=smooth, callback=callback,
                                  cancel=cancel, closure=closure,
                                  shift=self.time_shift if time_shift is None else float(time_shift), phones=phones,
                                  phone_guidance=self.phone_guidance if phone_guidance is None
                                  else float(phone_guidance), channels=channels, features=features)

    @torch.no_grad()
    def encode(self, audio: np.ndarray, num_frames: int) -> torch.Tensor:
        """(num_frames, channels) audio-encoder features of mono 16 kHz ``audio`` (any length, in chunks)."""
        return encode_long(self.encoder, torch.as_tensor(np.asarray(audio, dtype=np.float32), device=self.device),
                           num_frames)

    def shape_probabilities(self, features: torch.Tensor) -> np.ndarray | None:
        """(frames, classes) mouth-shape probabilities read from encoder features by the checkpoint's shape head
        (models/visemes.ShapeHead); None when the checkpoint has none."""
        return None if self.shapes is None else self.shapes.probabilities(features)

    @property
    def uses_phones(self) -> bool:
        """Whether the model takes a per-frame mouth-shape track (from an aligned transcript) besides the audio."""
        return self.a2l.config.phone_classes > 0

    def guided_velocity(self, x: torch.Tensor, t: torch.Tensor, a: torch.Tensor, e: torch.Tensor, o: torch.Tensor,
                        ctx: torch.Tensor, ctx_mask: torch.Tensor, p: torch.Tensor | None, guidance: float,
                        phone_guidance: float) -> torch.Tensor:
        """The denoiser's output for windows x (B, n, L) at times t (B,) with their per-frame conditions (audio
        features a, emotion weights e, other o, phone track p + 1 or None), with classifier-free guidance on the
        audio (``guidance``) and on the phone track (``phone_guidance``); 1 turns either off."""
        guided, phone_guided = guidance != 1.0, p is not None and phone_guidance != 1.0
        # Guidance acts on the first step only (t = 0), where the clip's shapes are decided: measured against
        # guiding every step, the lip-sync gain is the same, jitter is lower and it costs half as much.
        if not (guided or phone_guided) or float(t[0]) > 0.0:
            return self.a2l(x, t, a, e, o, ctx, ctx_mask, phones=p)
        # One batch of passes: full conditions; with audio guidance, none (audio, emotion and phones dropped);
        # with phone guidance, everything but the phones.
        b = x.shape[0]
        passes = 1 + int(guided) + int(phone_guided)

        def rep(y: torch.Tensor) -> torch.Tensor:
            return torch.cat([y] * passes)

        k = torch.arange(passes * b, device=x.device) // b  # which pass each row belongs to
        drop = (k == 1) if guided else torch.zeros_like(k, dtype=torch.bool)
        pp = rep(p) * (k == 0)[:, None] if p is not None else None  # only the full pass hears the phones
        v = self.a2l(rep(x), rep(t), rep(a), rep(e), rep(o), rep(ctx), rep(ctx_mask), drop, drop, pp)
        full = v[:b]
        if guided and phone_guided:
            none, heard = v[b:2 * b], v[2 * b:]
            return none + guidance * (heard - none) + phone_guidance * (full - heard)
        ref = v[b:]
        return ref + (guidance if guided else phone_guidance) * (full - ref)

    def _generate(self, audio, num_frames, emotion_weights, gaze, head_distance, *, seed, steps, guidance, locked,
                  mode, smooth, callback, cancel, closure, shift, phones, phone_guidance, channels,
                  features) -> np.ndarray:
        self.eval()
        closure = closure and self.closure is not None
        if channels is None and (smooth > 0 or closure):
            raise ValueError("smoothing and the lip-closure pass need the rig's channels (channels=RigChannels)")
        dev = self.device
        shape = (num_frames, self.rig.config.num_channels)
        if locked is not None and (locked.mask.shape != shape or locked.values.shape != shape):
            raise ValueError(f"locked mask and values must both be {shape}, got {locked.mask.shape} and "
                             f"{locked.values.shape}")
        if features is None:
            feats = self.encode(audio, num_frames)
        elif tuple(features.shape) != (num_frames, self.encoder.config.channels):
            raise ValueError(f"features must be ({num_frames}, {self.encoder.config.channels}), "
                             f"got {tuple(features.shape)}")
        else:
            feats = features.to(dev)
            if feats.is_inference() and not torch.is_inference_mode_enabled():
                feats = feats.clone()  # inpainting takes gradients, which inference tensors cannot join
        ew, other = condition_features(torch.as_tensor(emotion_weights, dtype=torch.float32, device=dev),
                                       torch.ones(num_frames, device=dev),
                                       torch.as_tensor(gaze, dtype=torch.float32, device=dev),
                                       torch.as_tensor(head_distance, dtype=torch.float32, device=dev))
        cfg = self.a2l.config
        regression = cfg.objective == "regression"
        guided = guidance != 1.0 and not regression
        track = None
        if phones is not None and self.uses_phones:
            phones = np.asarray(phones)
            if phones.shape != (num_frames,):
                raise ValueError(f"phones must be one class per frame, ({num_frames},), got {phones.shape}")
            track = (torch.as_tensor(phones, dtype=torch.long, device=dev) + 1).clamp(0, cfg.phone_classes)
        phone_guided = track is not None and phone_guidance != 1.0 and not regression

        def denoiser(x, t, starts, n, ctx, ctx_mask):
            idx = torch.tensor(starts, device=dev)[:, None] + torch.arange(n, device=dev)[None]
            p = None if track is None else track[idx]
            return self.guided_velocity(x, t, feats[idx], ew[idx], other[idx], ctx, ctx_mask, p,
                                        guidance if guided else 1.0, phone_guidance if phone_guided else 1.0)

        project = self._projector(locked, num_frames) if locked is not None and locked.mask.any() else None
        z = sample_sequence(denoiser, num_frames, cfg.latent_dim, window=cfg.window, context=cfg.context,
                            steps=steps, seed=seed, device=dev, direct=regression, project=project, shift=shift,
                            mode=mode, callback=callback, cancel=cancel)
        curves = self.rig.decode(z).float()
        if smooth > 0:
            sharp = list(channels.sharp)
            smoothed = smooth_time(curves, smooth)
            smoothed[:, sharp] = curves[:, sharp]
            curves = smoothed
        if closure:
            curves = self.closure.apply(curves, feats, channels.closing)
        curves = curves.cpu().numpy()
        if locked is not None:
            curves = np.where(locked.mask, locked.values.astype(np.float32), curves)
        return curves.astype(np.float32)

    def _projector(self, locked: Locked, num_frames: int):
        """Moves each clean estimate towards latents that decode to the locked values, so unlocked channels are
        regenerated consistently with what the user kept (the exact values are pasted in at the end)."""
        dev = self.device
        mask = torch.as_tensor(locked.mask, dtype=torch.float32, device=dev)
        values = torch.as_tensor(locked.values, dtype=torch.float32, device=dev)
        full = mask.all(dim=1)
        with torch.no_grad():
            z_full = self.rig.encode(values)
        target = self.rig.normalise(values)

        def project(x1: torch.Tensor, start: int, stop: int, gen_from: int) -> torch.Tensor:
            m = mask[start:stop]
            if not m.any():
                return x1
            z = x1[0].clone()
            f = full[start:stop]
            z[f] = z_full[start:stop][f]
            with torch.enable_grad():
                for _ in range(INPAINT_ITERS):
                    z = z.detach().requires_grad_(True)
                    pred = self.rig.normalise(self.rig.decode(z))
                    # Per-frame mean over the locked channels, summed over frames: each frame's step size
                    # does not depend on how many frames or channels are locked.
                    err = ((pred - target[start:stop]) ** 2 * m).sum(1) / m.sum(1).clamp_min(1.0)
                    (grad,) = torch.autograd.grad(err.sum(), z)
                    z = z - INPAINT_LR * grad
            z = z.detach()
            z[f] = z_full[start:stop][f]
            return z[None]

        return project
