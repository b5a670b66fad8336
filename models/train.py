"""Training loops: Latents2Rig autoencoder, self-supervised audio-encoder pre-training (masked log-mel
prediction), Audio2Latents (rectified flow, or plain regression for the baseline). Plain functions over a
``TrainConfig``; the command line lives in app/commands/train.py.

Every stage is resumable: a training state (weights, optimiser, EMA, step, loss history) is written next to the
output every ``save_every`` steps and at the end of each stage; ``resume=True`` continues from it.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from app.core.atomic import atomic_write
from app.core.timebase import SAMPLE_RATE

from . import distributed as D
from .audio2latents import Audio2LatentsConfig, add_phone_input, condition_features
from .audio_encoder import AudioEncoderConfig, MaskedMelHead, span_mask
from .corpus_tensors import Corpus
from .latents2rig import Latents2RigConfig
from .pipeline import NeuralModel
from .sampling import time_grid

STAGES = ("autoencoder", "pretrain", "audio2latents")


@dataclass
class TrainConfig:
    encoder: AudioEncoderConfig = field(default_factory=AudioEncoderConfig)
    latents2rig: Latents2RigConfig = field(default_factory=Latents2RigConfig)
    audio2latents: Audio2LatentsConfig = field(default_factory=Audio2LatentsConfig)
    ae_steps: int = 2000
    pretrain_steps: int = 1000
    a2l_steps: int = 4000
    batch: int = 32
    ae_batch: int = 1024
    lr: float = 3e-4
    ae_lr: float = 1e-3
    weight_decay: float = 0.01
    ema: float = 0.999
    seed: int = 0
    val_every: int = 250
    save_every: int = 500
    augment: bool = True
    # Also room reverberation, vocal-tract-length warping and a random spectral tilt (see augment_audio and
    # augment_mel): voices, rooms and microphones the corpus does not have.
    strong_augment: bool = False
    closure_weight: float = 0.0  # extra loss weight on p/b/m frames (needs the corpus's bilabial flags)
    viseme_weight: float = 0.0  # > 0: auxiliary mouth-shape classification from the encoder's features
    # Fraction of each batch trained at the sampler's own step times (sampling.time_grid(grid_steps, grid_shift))
    # instead of logit-normal t, which almost never draws t near 0: the first step of a few-step sampler starts
    # there, from pure noise, and is where the mouth of the whole take is decided.
    grid_t: float = 0.0
    grid_steps: int = 2
    grid_shift: float = 1.5
    ae_seconds: float = 0.0  # > 0: fit the stage's steps to this many seconds (steps stay an upper bound)
    pretrain_seconds: float = 0.0
    a2l_seconds: float = 0.0
    device: str = "cpu"


class TrainingState:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.stage_done: list[str] = []
        self.history: dict[str, list] = {}

    def log(self, key: str, step: int, value: float) -> None:
        self.history.setdefault(key, []).append((step, float(value)))


def augment_audio(audio: torch.Tensor, g: torch.Generator, reverb: float = 0.0) -> torch.Tensor:
    """Gain, noise at 5-40 dB SNR, and band-limiting (telephone-like) on a (B, samples) batch; with ``reverb`` > 0,
    that fraction of the clips first goes through a synthetic room (see :func:`room_reverb`)."""
    b, n = audio.shape
    dev = audio.device
    if reverb > 0:
        audio = room_reverb(audio, g, reverb)
    r = torch.rand(b, 4, generator=g).to(dev)
    x = audio * (10 ** ((r[:, 0:1] * 24 - 12) / 20))
    power = x.pow(2).mean(1, keepdim=True).clamp_min(1e-8)
    snr_db = 5 + 35 * r[:, 1:2]
    noise = torch.randn(b, n, generator=g).to(dev) * torch.sqrt(power / 10 ** (snr_db / 10))
    x = torch.where(r[:, 2:3] < 0.5, x + noise, x)
    spec = torch.fft.rfft(x)
    freqs = torch.fft.rfftfreq(n, 1 / SAMPLE_RATE).to(dev)
    cutoff = torch.where(r[:, 3:4] < 0.25, torch.full_like(r[:, 3:4], 3600.0), torch.full_like(r[:, 3:4], 9e3))
    x = torch.fft.irfft(spec * (freqs[None] < cutoff), n=n)
    return x.clamp(-1, 1)


def room_reverb(audio: torch.Tensor, g: torch.Generator, fraction: float, max_seconds: float = 0.4) -> torch.Tensor:
    """About ``fraction`` of the (B, samples) clips convolved with a synthetic room response: the direct sound
    plus exponentially decaying noise (RT60 0.15-0.8 s, direct-to-reverberant ratio -3 to +12 dB), level kept.
    The response is causal, so the mouth stays in time with the direct sound."""
    b, n = audio.shape
    dev = audio.device
    m = int(max_seconds * SAMPLE_RATE)
    r = torch.rand(b, 3, generator=g).to(dev)
    rt60 = 0.15 + 0.65 * r[:, 0:1]
    t = torch.arange(1, m, device=dev)[None] / SAMPLE_RATE
    tail = torch.randn(b, m - 1, generator=g).to(dev) * torch.exp(-6.908 * t / rt60)  # -60 dB at rt60
    drr_db = -3 + 15 * r[:, 1:2]
    tail = tail * torch.sqrt(10 ** (-drr_db / 10) / tail.pow(2).sum(1, keepdim=True).clamp_min(1e-8))
    ir = torch.cat([torch.ones(b, 1, device=dev), tail], dim=1)
    size = n + m
    wet = torch.fft.irfft(torch.fft.rfft(audio, size) * torch.fft.rfft(ir, size), size)[:, :n]
    def rms(x: torch.Tensor) -> torch.Tensor:
        return x.pow(2).mean(1, keepdim=True).add(1e-10).sqrt()

    wet = wet * rms(audio) / rms(wet)
    return torch.where(r[:, 2:3] < fraction, wet, audio)


def warp_mel(mel: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """(B, N_MELS, T) log-mel with each clip's frequency axis scaled by ``alpha`` (B,): band k of the result holds
    what the input had at the band's centre frequency / alpha (a vocal-tract-length change; linear interpolation
    between bands, the edge bands repeated)."""
    from .features import mel_band_edges_hz, mel_band_position

    b, nm, t = mel.shape
    centres_hz = torch.from_numpy(mel_band_edges_hz(nm)[1:-1]).float().to(mel.device)
    pos = mel_band_position(centres_hz[None] / alpha[:, None].float(), nm).clamp(0, nm - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=nm - 1)
    w = (pos - lo.float())[..., None]
    return (torch.gather(mel, 1, lo[..., None].expand(b, nm, t)) * (1 - w)
            + torch.gather(mel, 1, hi[..., None].expand(b, nm, t)) * w)


def augment_mel(mel: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """(B, N_MELS, T) log-mel of the encoder's scale -> the same with, per clip, a vocal-tract-length warp (the
    frequency axis scaled by 0.88-1.14, 80% of clips) and a smooth random spectral tilt (up to about +-6 dB,
    half of the clips): speakers and microphones unlike the corpus's."""
    b, nm, _t = mel.shape
    dev = mel.device
    r = torch.rand(b, 5, generator=g).to(dev)
    alpha = torch.where(r[:, 0] < 0.8, 0.88 + 0.26 * r[:, 1], torch.ones_like(r[:, 1]))
    mel = warp_mel(mel, alpha)
    k = torch.linspace(0, 1, nm, device=dev)
    coef = (r[:, 2:4] * 2 - 1) * 0.18 * (r[:, 4:5] < 0.5)  # log-mel units are ln/4: 0.18 is about 3 dB
    tilt = coef[:, 0:1] * torch.cos(math.pi * k)[None] + coef[:, 1:2] * torch.cos(2 * math.pi * k)[None]
    return mel + tilt[..., None]


def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
            pe.lerp_(pm, 1 - decay)


def _autocast(device: str):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda") else torch.autocast(
        "cpu", enabled=False)


class Budget:
    """The number of steps of a stage: fixed, or fitted to a time budget after timing the first steps (so one
    script trains within a device lease whatever the card's speed). The schedule reads ``total`` as it changes."""

    def __init__(self, steps: int, seconds: float = 0.0) -> None:
        self.total, self.seconds, self.t0 = steps, seconds, time.time()

    def update(self, step: int) -> None:
        # Timed from step 10 to 60: the first steps carry one-off costs (kernel selection, caches) that would
        # make the estimate far too pessimistic.
        if self.seconds > 0 and step == 10:
            self.t10 = time.time()
        if self.seconds > 0 and step == 60:
            per_step = (time.time() - self.t10) / 50
            left = self.seconds - (time.time() - self.t0)
            # Under torchrun every process must stop at the same step: the slowest one's estimate counts.
            self.total = D.agree_min(max(61, min(self.total, 60 + int(left / per_step))))


def _schedule(opt: torch.optim.Optimizer, budget: Budget) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up (at most 200 steps), then cosine decay to zero at the budget's end."""
    def factor(s: int) -> float:
        warm = min(200, budget.total // 10 + 1)
        return min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, budget.total) / budget.total))
    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def autoencoder_stage(model: NeuralModel, corpus: Corpus, cfg: TrainConfig, state: TrainingState,
                      report: Callable[[str], None]) -> None:
    rig = model.rig
    train_idx = corpus.indices("train", labelled=True)
    frames = torch.cat([torch.arange(int(corpus.frame_start[i]), int(corpus.frame_start[i] + corpus.num_frames[i]))
                        for i in train_idx.tolist()]).to(corpus.curves.device)
    rig.set_channel_stats(corpus.curves[frames])
    opt = torch.optim.AdamW(rig.parameters(), lr=cfg.ae_lr, weight_decay=0.0)
    budget = Budget(cfg.ae_steps, cfg.ae_seconds)
    sched = _schedule(opt, budget)
    g = torch.Generator().manual_seed(cfg.seed + 1000 * D.rank())  # each process draws its own batches
    gd = torch.Generator(device=cfg.device).manual_seed(cfg.seed + 1000 * D.rank())
    rig.train()
    step = 0
    while step < budget.total:
        pick = frames[torch.randint(len(frames), (cfg.ae_batch,), generator=g).to(frames.device)]
        loss = rig.reconstruction_loss(corpus.curves[pick], gd)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        D.average_gradients(rig.parameters())
        opt.step()
        sched.step()
        if step % 100 == 0 or step == budget.total - 1:
            state.log("autoencoder/train", step, loss.item())
            report(f"autoencoder {step}/{budget.total} loss {loss.item():.4f}")
        step += 1
        budget.update(step)
    rig.eval()
    with torch.no_grad():  # standardise the latents over the training frames
        z = torch.cat([rig.encoder(rig.normalise(corpus.curves[frames[i:i + 65536]]))
                       for i in range(0, len(frames), 65536)])
        rig.latent_mean.copy_(z.mean(0))
        rig.latent_sd.copy_(z.std(0).clamp_min(1e-3))


def pretrain_stage(model: NeuralModel, corpus: Corpus, cfg: TrainConfig, state: TrainingState,
                   report: Callable[[str], None]) -> None:
    """Masked log-mel prediction on unlabelled and training audio (never the validation speakers)."""
    enc = model.encoder
    head = MaskedMelHead(enc.config.channels).to(cfg.device)
    D.broadcast_module(head)
    idx = torch.cat([corpus.indices("train"), corpus.indices("unlabelled")])
    params = list(enc.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr * 2, weight_decay=cfg.weight_decay)
    budget = Budget(cfg.pretrain_steps, cfg.pretrain_seconds)
    sched = _schedule(opt, budget)
    g = torch.Generator().manual_seed(cfg.seed + 1 + 1000 * D.rank())
    frames = cfg.audio2latents.window
    enc.train()
    step = 0
    while step < budget.total:
        batch = corpus.crops(idx, cfg.batch, frames, g)
        audio = augment_audio(batch["audio"], g) if cfg.augment else batch["audio"]
        with torch.no_grad(), torch.autocast(device_type=audio.device.type, enabled=False):
            mel = enc.logmel(audio.float(), frames)
        m = span_mask(mel.shape[0], frames, 0.3, 5, None, mel.device)  # masked at the 60 fps frame level
        m2 = m.repeat_interleave(2, dim=1)
        with _autocast(cfg.device):
            pred = head(enc.forward_mel(mel.masked_fill(m2[:, None, :], 0.0)))
        loss = ((pred.float() - mel) ** 2 * m2[:, None, :]).sum() / (m2.sum() * mel.shape[1]).clamp_min(1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        D.average_gradients(params)
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == budget.total - 1:
            state.log("pretrain/train", step, loss.item())
            report(f"pretrain {step}/{budget.total} loss {loss.item():.4f}")
        step += 1
        budget.update(step)


def a2l_batch_loss(model: NeuralModel, batch: dict, cfg: Audio2LatentsConfig, g: torch.Generator,
                   train: bool, closure_weight: float = 0.0, viseme_head: nn.Module | None = None,
                   viseme_weight: float = 0.0, mel_augment: bool = False,
                   t_grid: tuple[float, ...] = (), grid_fraction: float = 0.0) -> torch.Tensor:
    """Masked MSE of the velocity (flow) or latents (regression). ``batch["latents"]``, when present, are the
    targets already encoded by the (frozen) Latents2Rig encoder; else ``batch["curves"]`` are encoded here.
    ``closure_weight`` > 0 weighs p/b/m frames (``batch["bilabial"]``) 1 + closure_weight times: closures are
    few and short, and a plain mean lets the model round them off. ``viseme_head`` (a linear layer on the encoder's
    features) adds ``viseme_weight`` x the cross-entropy of the frames' mouth-shape classes (``batch["viseme"]``):
    a direct phonetic signal for the encoder, which the flow loss gives only through the sampled latents.
    ``mel_augment`` warps and tilts the log-mel before the encoder (:func:`augment_mel`). ``grid_fraction`` of the
    windows (flow only) take their t from ``t_grid`` (the sampler's step times) instead of logit-normal."""
    dev = batch["mask"].device
    b, n = batch["mask"].shape
    with torch.no_grad():
        z = batch["latents"].float() if "latents" in batch else model.rig.encode(batch["curves"])
    feats = model.encoder(batch["audio"], n, (lambda mel: augment_mel(mel, g)) if mel_augment else None)
    ew, other = condition_features(batch["emotion"], batch["intensity"], batch["gaze"], batch["head_distance"])
    r = torch.rand(b, 4, generator=g).to(dev)
    has_ctx = r[:, 0] >= cfg.p_no_context
    ctx_mask = (torch.arange(n, device=dev)[None] < cfg.context) & has_ctx[:, None]
    drop_a = (r[:, 1] < cfg.p_drop_audio) if train else torch.zeros(b, dtype=torch.bool, device=dev)
    drop_e = (r[:, 2] < cfg.p_drop_emotion) if train else torch.zeros(b, dtype=torch.bool, device=dev)
    if cfg.objective == "regression":
        x, t, target = torch.zeros_like(z), torch.zeros(b, device=dev), z
        drop_a = drop_e = None
    else:
        t = torch.sigmoid(torch.randn(b, generator=g).to(dev))
        if t_grid and grid_fraction > 0:
            u = torch.rand(b, generator=g).to(dev)
            pick = torch.randint(len(t_grid), (b,), generator=g).to(dev)
            t = torch.where(u < grid_fraction, torch.tensor(t_grid, device=dev)[pick], t)
        noise = torch.randn(z.shape, generator=g).to(dev)
        x = t[:, None, None] * z + (1 - t[:, None, None]) * noise
        target = z - noise
    phones = None
    if cfg.phone_classes > 0 and "viseme" in batch:
        # Mouth-shape class + 1 (0 = unknown); hidden from p_drop_phones of the training windows and from every
        # validation window, so validation measures the audio-only model that most takes use.
        phones = (batch["viseme"].long() + 1).clamp_min(0)
        if train:
            phones = phones * (torch.rand(b, generator=g).to(dev) >= cfg.p_drop_phones)[:, None]
        else:
            phones = torch.zeros_like(phones)
    pred = model.a2l(x, t, feats, ew, other, z, ctx_mask, drop_a, drop_e, phones)
    w = (batch["mask"] & ~ctx_mask).float()
    if closure_weight > 0 and "bilabial" in batch:
        w = w * (1.0 + closure_weight * batch["bilabial"].float())
    loss = ((pred.float() - target) ** 2).mean(-1).mul(w).sum() / w.sum().clamp_min(1)
    if viseme_head is not None and viseme_weight > 0 and "viseme" in batch:
        logits = viseme_head(feats).float()
        ce = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["viseme"].reshape(-1),
                                         ignore_index=-1)
        if torch.isfinite(ce):  # a batch of unlabelled frames only gives NaN
            loss = loss + viseme_weight * ce
    return loss


@torch.no_grad()
def validate(model: NeuralModel, corpus: Corpus, split: str, cfg: TrainConfig, batches: int = 4) -> float | None:
    idx = corpus.indices(split, labelled=True)
    if len(idx) == 0:
        return None
    g = torch.Generator().manual_seed(1234)
    was = model.training
    model.eval()
    losses = []
    for _ in range(batches):
        batch = corpus.crops(idx, cfg.batch, cfg.audio2latents.window, g)
        with _autocast(cfg.device):
            losses.append(a2l_batch_loss(model, batch, cfg.audio2latents, g, train=False).item())
    model.train(was)
    return sum(losses) / len(losses)


def a2l_stage(model: NeuralModel, corpus: Corpus, cfg: TrainConfig, state: TrainingState,
              report: Callable[[str], None], save: Callable[[NeuralModel], None]) -> NeuralModel:
    """Trains encoder + Audio2Latents; returns the EMA copy (used for validation and saved)."""
    idx = corpus.indices("train", labelled=True)
    params = list(model.encoder.parameters()) + list(model.a2l.parameters())
    if cfg.closure_weight > 0 and corpus.bilabial is None:
        corpus = corpus.with_bilabial()
    head = None
    if (cfg.viseme_weight > 0 or cfg.audio2latents.phone_classes > 0) and corpus.viseme is None:
        corpus = corpus.with_visemes()
    if cfg.viseme_weight > 0:
        from app.core.speech import VISEME_CLASSES

        head = nn.Linear(model.encoder.config.channels, len(VISEME_CLASSES)).to(cfg.device)
        D.broadcast_module(head)
        params += list(head.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    budget = Budget(cfg.a2l_steps, cfg.a2l_seconds)
    sched = _schedule(opt, budget)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(cfg.seed + 2 + 1000 * D.rank())
    model.train()
    model.rig.eval()
    t_grid = tuple(time_grid(cfg.grid_steps, cfg.grid_shift)[:-1]) if cfg.grid_t > 0 else ()
    t0 = time.time()
    step = 0
    while step < budget.total:
        batch = corpus.crops(idx, cfg.batch, cfg.audio2latents.window, g)
        if cfg.augment:
            batch["audio"] = augment_audio(batch["audio"], g, reverb=0.3 if cfg.strong_augment else 0.0)
        with _autocast(cfg.device):
            loss = a2l_batch_loss(model, batch, cfg.audio2latents, g, train=True, closure_weight=cfg.closure_weight,
                                  viseme_head=head, viseme_weight=cfg.viseme_weight,
                                  mel_augment=cfg.augment and cfg.strong_augment, t_grid=t_grid,
                                  grid_fraction=cfg.grid_t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        D.average_gradients(params)
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        _ema_update(ema, model, cfg.ema if step > 200 else 0.0)
        if step % 50 == 0:
            state.log(f"{cfg.audio2latents.objective}/train", step, loss.item())
        if D.is_main() and (step % cfg.val_every == 0 or step == budget.total - 1):
            for split in ("val_voice", "val_real"):
                v = validate(ema, corpus, split, cfg)
                if v is not None:
                    state.log(f"{cfg.audio2latents.objective}/{split}", step, v)
            report(f"{cfg.audio2latents.objective} {step}/{budget.total} loss {loss.item():.4f} "
                   f"({time.time() - t0:.0f}s)")
        if step and step % cfg.save_every == 0 and D.is_main():
            save(ema)
        step += 1
        budget.update(step)
    return ema


def plot_history(history: dict[str, list], path: str | os.PathLike) -> None:
    """Loss curves as a PNG (log scale), one panel per stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({k.split("/")[0] for k in history})
    fig, axes = plt.subplots(1, max(len(groups), 1), figsize=(5 * max(len(groups), 1), 3.5), squeeze=False)
    for ax, grp in zip(axes[0], groups, strict=False):
        for key, pts in sorted(history.items()):
            if key.split("/")[0] == grp and pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key.split("/", 1)[1])
        ax.set_title(grp)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.legend()
    fig.tight_layout()
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=80)
    plt.close(fig)


def train(corpus: Corpus, out: str | os.PathLike, cfg: TrainConfig, *, resume: bool = False,
          report: Callable[[str], None] = print, init: str | os.PathLike | None = None) -> NeuralModel:
    """All stages; writes the checkpoint to ``out``, the loss curves to ``out``.png and a resumable state to
    ``out``.state. Returns the trained model (EMA weights).

    ``init``: fine-tune this checkpoint instead of starting afresh: its configs replace those in ``cfg``, its
    Latents2Rig is kept frozen, and only the Audio2Latents stage (with the encoder) runs."""
    out = Path(out)
    state_path = Path(str(out) + ".state")
    torch.manual_seed(cfg.seed)
    if not D.is_main():  # under torchrun only rank 0 speaks and writes files
        report = _silent
    state = TrainingState(state_path)
    if init is not None:
        model = NeuralModel.load(init, cfg.device)[0]
        cfg.encoder, cfg.latents2rig = model.encoder.config, model.rig.config
        objective = cfg.audio2latents.objective
        if model.a2l.config.objective != objective:
            raise ValueError(f"{Path(init).name} is a {model.a2l.config.objective} model; cannot fine-tune it "
                             f"as {objective}")
        if cfg.audio2latents.phone_classes > 0:  # asked for the phone input: add it to a model without one
            model.a2l = add_phone_input(model.a2l, cfg.audio2latents.phone_classes)
        cfg.audio2latents = model.a2l.config
        state.stage_done = ["autoencoder", "pretrain"]
    else:
        model = NeuralModel.create(cfg.encoder, cfg.latents2rig, cfg.audio2latents).to(cfg.device)
    if resume and state_path.is_file():
        saved = torch.load(state_path, map_location=cfg.device, weights_only=True)
        model.load_state_dict(saved["model"], strict=True)
        state.stage_done = list(saved["stage_done"])
        state.history = {k: [tuple(p) for p in v] for k, v in json.loads(saved["history"]).items()}
        report(f"resumed after stages: {', '.join(state.stage_done) or 'none'}")
    D.broadcast_module(model)
    corpus = corpus.to(cfg.device)

    def save_state(m: NeuralModel) -> None:
        if not D.is_main():
            return
        with atomic_write(state_path) as fh:
            torch.save({"model": m.state_dict(), "stage_done": state.stage_done,
                        "history": json.dumps(state.history)}, fh)

    if "autoencoder" not in state.stage_done:
        autoencoder_stage(model, corpus, cfg, state, report)
        state.stage_done.append("autoencoder")
        save_state(model)
    if "pretrain" not in state.stage_done and cfg.pretrain_steps > 0:
        pretrain_stage(model, corpus, cfg, state, report)
        state.stage_done.append("pretrain")
        save_state(model)
    if "audio2latents" not in state.stage_done:
        model = a2l_stage(model, corpus, cfg, state, report, save_state)
        state.stage_done.append("audio2latents")
        save_state(model)
    if D.is_main():
        extra = {"train_config": json.dumps(asdict(cfg)), "history": json.dumps(state.history),
                 "processes": D.world()}
        model.save(out, extra=extra)
        plot_history(state.history, str(out) + ".png")
    return model


def _silent(message: str) -> None:
    del message
