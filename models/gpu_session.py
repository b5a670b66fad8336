"""One training session on a GPU lease: shared stages once, then three Audio2Latents variants at the same time.

    python -m models.gpu_session CORPUS OUTDIR SCALE      (SCALE 1.0 = the full lease plan; 0.02 = a CPU smoke run)

1. Latents2Rig autoencoder and masked-mel pre-training of the audio encoder (shared by the variants).
2. In parallel processes: the flow model (the shipped engine), the regression baseline (same encoder and data), and
   the flow model from a fresh, not pre-trained encoder (measures what pre-training gives on unseen voices).
Each writes NAME.pt and NAME.pt.png into OUTDIR.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from . import corpus_tensors as CT
from .audio2latents import Audio2LatentsConfig
from .audio_encoder import AudioEncoder, AudioEncoderConfig
from .latents2rig import Latents2RigConfig
from .pipeline import NeuralModel
from .train import TrainConfig, TrainingState, a2l_stage, autoencoder_stage, plot_history, pretrain_stage

VARIANTS = {"neural": ("flow", True), "regression": ("regression", True), "flow_nopretrain": ("flow", False)}


def base_config(device: str, scale: float) -> TrainConfig:
    small = scale < 0.1
    return TrainConfig(
        encoder=AudioEncoderConfig(channels=32 if small else 128),
        latents2rig=Latents2RigConfig(latent_dim=32, hidden=64 if small else 384),
        audio2latents=Audio2LatentsConfig(latent_dim=32, audio_dim=32 if small else 128, d_model=32 if small else 128,
                                          n_layers=2 if small else 4, n_heads=4),
        ae_steps=100_000, pretrain_steps=100_000, a2l_steps=100_000, batch=8 if small else 128,
        ae_batch=256 if small else 4096, lr=6e-4, ae_seconds=20 * scale, pretrain_seconds=60 * scale,
        a2l_seconds=300 * scale, val_every=250, save_every=10**9, device=device)


def shared(corpus_path: str, out: Path, scale: float) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = base_config(device, scale)
    corpus = CT.load(corpus_path).to(device)
    model = NeuralModel.create(cfg.encoder, cfg.latents2rig, cfg.audio2latents).to(device)
    state = TrainingState(out / "shared.state")
    t0 = time.time()
    autoencoder_stage(model, corpus, cfg, state, print)
    fresh_encoder = copy.deepcopy(model.encoder.state_dict())
    pretrain_stage(model, corpus, cfg, state, print)
    torch.save({"model": model.state_dict(), "fresh_encoder": fresh_encoder, "history": json.dumps(state.history)},
               out / "shared.state")
    print(f"shared stages {time.time() - t0:.0f}s", flush=True)


def variant(corpus_path: str, out: Path, scale: float, name: str) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    objective, pretrained = VARIANTS[name]
    cfg = base_config(device, scale)
    cfg.audio2latents.objective = objective
    corpus = CT.load(corpus_path).to(device)
    torch.manual_seed(cfg.seed)
    model = NeuralModel.create(cfg.encoder, cfg.latents2rig, cfg.audio2latents).to(device)
    saved = torch.load(out / "shared.state", map_location=device, weights_only=True)
    model.load_state_dict(saved["model"], strict=True)
    if not pretrained:
        model.encoder = AudioEncoder(cfg.encoder).to(device)
        model.encoder.load_state_dict(saved["fresh_encoder"], strict=True)
    state = TrainingState(out / f"{name}.state")
    state.history = {k: [tuple(p) for p in v] for k, v in json.loads(saved["history"]).items()}
    ema = a2l_stage(model, corpus, cfg, state, lambda m: print(f"[{name}] {m}", flush=True), lambda m: None)
    ema.save(out / f"{name}.pt", extra={"history": json.dumps(state.history), "variant": name,
                                         "pretrained_encoder": pretrained})
    plot_history(state.history, out / f"{name}.pt.png")


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m models.gpu_session", description=__doc__.splitlines()[0])
    ap.add_argument("corpus", help="corpus folder (vasa-rig dataset build)")
    ap.add_argument("out", type=Path, help="folder for NAME.pt and NAME.pt.png")
    ap.add_argument("scale", type=float, help="1.0 = the full lease plan; 0.02 = a CPU smoke run")
    ap.add_argument("variant", nargs="?", choices=VARIANTS, help="run only this variant (the session starts each)")
    args = ap.parse_args(argv)
    corpus_path, out, scale = args.corpus, args.out, args.scale
    out.mkdir(parents=True, exist_ok=True)
    if args.variant:
        variant(corpus_path, out, scale, args.variant)
        return 0
    shared(corpus_path, out, scale)
    procs = [subprocess.Popen([sys.executable, "-m", "models.gpu_session", corpus_path, str(out), str(scale), name])
             for name in VARIANTS]
    return max(p.wait() for p in procs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
