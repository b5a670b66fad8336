"""Train the mouth-shape recogniser (models/visemes.py) on one or more corpora, under hard channel augmentation.

    python -m models.train_visemes CORPUS [CORPUS...] --out models/weights/visemes.pt --seconds 1800 [--resume]

Targets are the corpus's aligned phones as mouth-shape classes per frame (silence included). Training draws random
crops from the ``train`` split of every corpus (in proportion to their labelled frames); the held-out speakers and
voices of ``val_real`` and ``val_voice`` are scored clean and through a telephone channel at each report. Each crop
goes through, independently drawn: a synthetic room, a telephone band (300-3400 Hz) with 8-bit mu-law coding or
an 8 kHz low-pass, coloured noise at 0-25 dB SNR, gain, clipping, and on the log-mel a vocal-tract-length warp and
a spectral tilt. The run stops after ``--seconds`` of wall time, saves the weights atomically, and keeps its
optimiser state beside them (``OUT.state``) so ``--resume`` continues where it stopped.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from app.core.atomic import atomic_write
from app.core.speech import BILABIAL_CLASS, BILABIAL_PHONES
from app.core.timebase import SAMPLE_RATE

from . import corpus_tensors as CT
from .train import augment_mel, room_reverb
from .visemes import NUM_CLASSES, VisemeRecogniser, VisemeRecogniserConfig


# --- augmentation ---------------------------------------------------------------------------------------------
def _band(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """(B, n) audio band-passed per clip to lo..hi Hz (B, 1) with a brick-wall FFT mask."""
    n = x.shape[1]
    freqs = torch.fft.rfftfreq(n, 1 / SAMPLE_RATE).to(x.device)[None]
    return torch.fft.irfft(torch.fft.rfft(x) * ((freqs >= lo) & (freqs <= hi)), n=n)


def _mulaw(x: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Quantise through mu-law at ``bits`` (the G.711 telephone codec's companding)."""
    mu = 2 ** bits - 1
    peak = x.abs().amax(1, keepdim=True).clamp_min(1e-4)
    y = torch.sign(x) * torch.log1p(mu * (x / peak).abs().clamp(max=1)) / math.log1p(mu)
    y = torch.round(y * (mu // 2)) / (mu // 2)
    return torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu * peak


def _coloured_noise(b: int, n: int, g: torch.Generator, device) -> torch.Tensor:
    """(B, n) unit-power noise with a 1/f^alpha spectrum, alpha in 0..2 per clip (white to brown)."""
    white = torch.randn(b, n, generator=g).to(device)
    alpha = 2 * torch.rand(b, 1, generator=g).to(device)
    freqs = torch.fft.rfftfreq(n, 1 / SAMPLE_RATE).to(device)[None].clamp_min(20.0)
    y = torch.fft.irfft(torch.fft.rfft(white) * freqs.pow(-alpha / 2), n=n)
    return y / y.pow(2).mean(1, keepdim=True).clamp_min(1e-12).sqrt()


def augment_channel(audio: torch.Tensor, g: torch.Generator, p_clean: float = 0.15) -> torch.Tensor:
    """(B, samples) -> the same clips through random rooms, lines, noise, levels and clipping."""
    b, n = audio.shape
    dev = audio.device
    x = room_reverb(audio, g, 0.4)
    r = torch.rand(b, 8, generator=g).to(dev)
    # Channel: 30% telephone band (+ mu-law on most of those), 15% 8 kHz sampling, 10% a 5.5 kHz low-pass.
    tel = r[:, 0:1] < 0.3
    lo = torch.where(tel, torch.full_like(r[:, :1], 300.0), torch.zeros_like(r[:, :1]))
    hi = torch.where(tel, torch.full_like(r[:, :1], 3400.0),
                     torch.where(r[:, 0:1] < 0.45, torch.full_like(r[:, :1], 4000.0),
                                 torch.where(r[:, 0:1] < 0.55, torch.full_like(r[:, :1], 5500.0),
                                             torch.full_like(r[:, :1], 9000.0))))
    x = _band(x, lo, hi)
    x = torch.where(tel & (r[:, 1:2] < 0.7), _mulaw(x), x)
    # Noise at 0-25 dB SNR on 60% of clips.
    power = x.pow(2).mean(1, keepdim=True).clamp_min(1e-10)
    snr_db = 25 * r[:, 2:3]
    noise = _coloured_noise(b, n, g, dev) * torch.sqrt(power / 10 ** (snr_db / 10))
    x = torch.where(r[:, 3:4] < 0.6, x + noise, x)
    # Level -30..+6 dB relative to a peak of 0.5, then clipping on 10% of clips.
    peak = x.abs().amax(1, keepdim=True).clamp_min(1e-6)
    x = x / peak * 0.5 * 10 ** ((r[:, 4:5] * 36 - 30) / 20)
    level = (0.1 + 0.4 * r[:, 5:6]) * x.abs().amax(1, keepdim=True)
    x = torch.where(r[:, 6:7] < 0.1, torch.maximum(torch.minimum(x, level), -level), x)
    return torch.where(r[:, 7:8] < p_clean, audio, x)


def telephone(audio: torch.Tensor) -> torch.Tensor:
    """The fixed telephone channel of the validation figures: 300-3400 Hz and 8-bit mu-law."""
    b = audio.shape[0]
    lo = torch.full((b, 1), 300.0, device=audio.device)
    return _mulaw(_band(audio, lo, torch.full_like(lo, 3400.0)))


# --- data -----------------------------------------------------------------------------------------------------
class Sampler:
    """Random crops with per-frame classes from the labelled samples of ``splits`` in several corpora."""

    def __init__(self, corpora: list[CT.Corpus], splits: tuple[str, ...]) -> None:
        self.parts = []
        for c in corpora:
            idx = c.indices(*splits, labelled=True)
            idx = torch.tensor([int(i) for i in idx if c.phones[int(i)]], dtype=torch.long)
            if len(idx):
                self.parts.append((c, idx, float(c.num_frames[idx].sum())))
        if not self.parts:
            raise CT.CorpusError(f"no labelled samples with phones in split(s) {', '.join(splits)}")
        w = torch.tensor([p[2] for p in self.parts])
        self.weights = w / w.sum()

    @property
    def frames(self) -> int:
        return int(sum(p[2] for p in self.parts))

    def batch(self, size: int, frames: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        counts = torch.bincount(torch.multinomial(self.weights, size, replacement=True, generator=g),
                                minlength=len(self.parts))
        audio, labels = [], []
        for (c, idx, _), k in zip(self.parts, counts.tolist(), strict=True):
            if k:
                crop = c.crops(idx, k, frames, g)
                audio.append(crop["audio"])
                labels.append(crop["viseme"])
        return torch.cat(audio), torch.cat(labels)

    def clips(self) -> list[tuple[np.ndarray, np.ndarray, list]]:
        """Every sample whole: (audio, classes per frame, phones)."""
        out = []
        for c, idx, _ in self.parts:
            for i in idx.tolist():
                fr = c.sample_frames(i)
                out.append((c.sample_audio(i), c.viseme[fr].numpy().astype(np.int64), c.phones[i]))
        return out


def class_weights(sampler: Sampler, power: float = 0.35) -> torch.Tensor:
    """Cross-entropy weights ~ frequency^-power (rare mouth shapes count more), mean 1 over the frames."""
    counts = torch.zeros(NUM_CLASSES)
    for c, idx, _ in sampler.parts:
        for i in idx.tolist():
            v = c.viseme[c.sample_frames(i)].long()
            counts += torch.bincount(v[v >= 0], minlength=NUM_CLASSES).float()
    freq = counts / counts.sum().clamp_min(1)
    w = freq.clamp_min(1e-4).pow(-power)
    w = torch.minimum(w, w[freq > 0].min() * 6) if bool((freq > 0).any()) else w  # unseen classes: capped
    return w / (w * freq).sum()


# --- scoring --------------------------------------------------------------------------------------------------
def score(model: VisemeRecogniser, clips: list, channel=None, threshold: float = 0.5) -> dict:
    """Frame accuracy, and bilabial recall (p/b/m segments with a confident p/b/m frame inside, +-1 frame) and
    false p/b/m detections per minute of speech, on whole clips."""
    correct = total = hit = segs = false_runs = 0
    speech_frames = 0
    for audio, labels, phones in clips:
        x = torch.from_numpy(audio)
        if channel is not None:
            x = channel(x[None])[0]
        probs = model.probabilities(x.numpy(), len(labels))
        pred = probs.argmax(1)
        conf = probs.max(1) >= threshold
        correct += int((pred == labels).sum())
        total += len(labels)
        speech_frames += int((labels > 0).sum())
        bil = (pred == BILABIAL_CLASS) & conf
        truth = labels == BILABIAL_CLASS
        for p, start, end in phones:
            if p in BILABIAL_PHONES:
                a = max(0, int(math.ceil(float(start) * 60)) - 1)
                b = min(len(labels), int(math.ceil(float(end) * 60)) + 1)
                if b > a:
                    segs += 1
                    hit += bool(bil[a:b].any())
        # A detected p/b/m run with no true p/b/m frame within 2 frames is a false closure.
        near = np.convolve(truth.astype(float), np.ones(5), mode="same") > 0
        run_starts = np.flatnonzero(bil & ~np.r_[False, bil[:-1]])
        for s in run_starts:
            e = s
            while e < len(bil) and bil[e]:
                e += 1
            false_runs += not near[s:e].any()
    minutes = max(speech_frames / 3600.0, 1e-9)
    return {"accuracy": correct / max(total, 1), "bilabial_recall": hit / max(segs, 1), "bilabials": segs,
            "false_closures_per_min": false_runs / minutes}


# --- the closure loss -----------------------------------------------------------------------------------------
NEAR_FRAMES = 3  # frames around a true p/b/m (either side) where a closure is not counted as false
HARD_FRACTION = 0.05  # of the speech frames away from any p/b/m, the share with the highest p/b/m that is penalised


def closure_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """A loss on the decision the engines take from p/b/m, as the closure figure counts it.

    For each run of p/b/m frames, the *highest* p/b/m probability within one frame of the run should be high (a
    closure somewhere in the segment is what counts, so a label off by a frame costs nothing); on speech frames
    more than NEAR_FRAMES from any p/b/m, p/b/m should be low, with the hardest HARD_FRACTION of them weighted like
    the mean. Frame cross-entropy spreads its effort over twelve classes; this term aims at the one decision that
    shows most on a face."""
    logp = torch.log_softmax(logits.float(), dim=-1)[..., BILABIAL_CLASS]  # (B, F)
    truth = (labels == BILABIAL_CLASS).float()
    near1 = torch.nn.functional.max_pool1d(truth[:, None], 3, stride=1, padding=1)[:, 0] > 0
    k = 2 * NEAR_FRAMES + 1
    near = torch.nn.functional.max_pool1d(truth[:, None], k, stride=1, padding=NEAR_FRAMES)[:, 0] > 0
    # Segments: runs of near1 (each p/b/m run grown by a frame); the max of log p inside each.
    pos_terms = []
    lab = near1.cpu().numpy()
    for b in range(lab.shape[0]):
        edges = np.flatnonzero(np.diff(np.r_[0, lab[b].astype(np.int8), 0]))
        for a, e in zip(edges[::2], edges[1::2], strict=True):
            pos_terms.append(logp[b, a:e].max())
    pos = -torch.stack(pos_terms).mean() if pos_terms else logits.sum() * 0.0
    far = (~near) & (labels > 0)
    if not bool(far.any()):
        return pos
    p = logp.exp()[far]
    neg_all = -torch.log1p(-p.clamp(max=1 - 1e-6))
    hard = neg_all.topk(max(1, int(HARD_FRACTION * neg_all.numel()))).values
    return pos + neg_all.mean() + hard.mean()


# --- training -------------------------------------------------------------------------------------------------
def train(corpora: list[CT.Corpus], out: Path, seconds: float, *, resume: bool = False, batch: int = 24,
          frames: int = 192, lr: float = 2e-3, seed: int = 0, report_every: float = 300.0,
          config: VisemeRecogniserConfig | None = None, init: Path | None = None, closure_weight: float = 0.0,
          log=print) -> dict:
    corpora = [c.with_visemes() for c in corpora]
    train_set = Sampler(corpora, ("train",))
    val_sets = {}
    for split in ("val_real", "val_voice"):
        try:
            val_sets[split] = Sampler(corpora, (split,)).clips()[:120]
        except CT.CorpusError:
            pass
    weights = class_weights(train_set)
    log(f"training on {train_set.frames / 3600:.1f} min of labelled speech; class weights "
        + " ".join(f"{w:.2f}" for w in weights.tolist()))
    g = torch.Generator().manual_seed(seed)
    if init is not None:  # fine-tune: start from saved weights (their config wins)
        model = VisemeRecogniser.load(init).train()
        log(f"starting from {init}")
    else:
        model = VisemeRecogniser(config or VisemeRecogniserConfig())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    state_path = out.with_name(out.name + ".state")
    step, elapsed = 0, 0.0
    history: list[dict] = []
    if resume and state_path.is_file():
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        model = VisemeRecogniser(VisemeRecogniserConfig(**{k: tuple(v) if isinstance(v, list) else v
                                                           for k, v in st["config"].items()}))
        model.load_state_dict(st["model"])
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        opt.load_state_dict(st["opt"])
        step, elapsed, history = int(st["step"]), float(st["elapsed"]), list(st["history"])
        g.manual_seed(seed + step)
        log(f"resumed at step {step} after {elapsed:.0f} s")
    total = elapsed + seconds
    loss_fn = nn.CrossEntropyLoss(weight=weights, ignore_index=-1, label_smoothing=0.05)
    t_start = time.perf_counter() - elapsed
    next_report = elapsed + report_every
    running = []
    model.train()
    while True:
        elapsed = time.perf_counter() - t_start
        if elapsed >= total:
            break
        frac = elapsed / total
        for group in opt.param_groups:  # short warm-up, then cosine decay over the whole (resumed) budget
            group["lr"] = lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * frac))
        audio, labels = train_set.batch(batch, frames, g)
        with torch.no_grad():
            audio = augment_channel(audio, g)
        logits = model(audio, frames, mel_transform=lambda m: augment_mel(m, g))
        loss = loss_fn(logits.reshape(-1, NUM_CLASSES), labels.reshape(-1))
        if closure_weight:
            loss = loss + closure_weight * closure_loss(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running.append(loss.item())
        step += 1
        if elapsed >= next_report:
            next_report += report_every
            history.append(_report(model, val_sets, step, elapsed, running, log))
            running = []
            _save(model, opt, out, state_path, step, elapsed, history)
            model.train()
    history.append(_report(model, val_sets, step, elapsed, running, log))
    _save(model, opt, out, state_path, step, elapsed, history)
    return history[-1]


def _report(model, val_sets, step, elapsed, running, log) -> dict:
    entry = {"step": step, "seconds": round(elapsed, 1), "loss": float(np.mean(running)) if running else None}
    for name, clips in val_sets.items():
        for label, ch in (("clean", None), ("phone", telephone)):
            s = score(model, clips, ch)
            entry[f"{name}/{label}"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()}
    parts = [f"step {step}", f"{elapsed:.0f} s", f"loss {entry['loss']:.3f}" if entry["loss"] else "loss -"]
    for key, s in entry.items():
        if isinstance(s, dict):
            parts.append(f"{key}: acc {s['accuracy']:.3f} pbm {s['bilabial_recall']:.3f} "
                         f"false {s['false_closures_per_min']:.1f}/min")
    log(" | ".join(parts))
    return entry


def _save(model, opt, out: Path, state_path: Path, step: int, elapsed: float, history: list) -> None:
    import dataclasses

    model.save(out, extra={"step": step, "train_seconds": round(elapsed, 1), "history": history[-1:]})
    cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(model.config).items()}
    with atomic_write(state_path) as fh:
        torch.save({"config": cfg, "model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                    "elapsed": elapsed, "history": history}, fh)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.train_visemes", description=__doc__.splitlines()[0])
    ap.add_argument("corpora", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=1800)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--frames", type=int, default=192)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--channels", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report-every", type=float, default=300)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--init", type=Path, help="start from these weights (fine-tuning) instead of at random")
    ap.add_argument("--closure-weight", type=float, default=0.0,
                    help="weight of the p/b/m closure loss beside the frame cross-entropy (0: none)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        corpora = [CT.load(p) for p in args.corpora]
    except CT.CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train(corpora, args.out, args.seconds, resume=args.resume, batch=args.batch, frames=args.frames, lr=args.lr,
          seed=args.seed, report_every=args.report_every,
          config=VisemeRecogniserConfig(channels=args.channels), init=args.init,
          closure_weight=args.closure_weight, log=lambda s: print(s, flush=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
