"""Fine-tune trained checkpoints (audio encoder + Audio2Latents) on a built corpus.

The Latents2Rig autoencoder stays frozen (the targets come from the same teacher, so its latent space still fits),
which lets the training data be stored as latents: a pack of the corpus small enough to carry to a GPU machine.

    python -m models.finetune pack CORPUS_DIR CKPT OUT.npz [source=minutes ...]
    python -m models.finetune train PACK OUTDIR SECONDS NAME=CKPT:OBJECTIVE:CLOSURE_WEIGHT [...]

``train`` runs one process per variant in parallel (they share the GPU) and writes OUTDIR/NAME.pt (EMA weights,
also every ``SAVE_SECONDS`` so a run cut short still leaves a checkpoint; the loss history is inside) and
OUTDIR/NAME.png (loss curves; VASA_RIG_PLOT=0 skips it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import corpus_tensors as CT
from .pipeline import NeuralModel
from .train import TrainConfig, TrainingState, a2l_stage, plot_history

LATENT_SCALE = 32.0  # latents are standardised; int8 steps of 1/32 SD cover +-4 SD with error far below the noise
SAVE_SECONDS = 40.0
# Minutes of labelled training audio per source in a default pack: all the real speech, then TTS voice variety.
DEFAULT_MINUTES = {"asterisk": 30.0, "espeak": 14.0, "piper": 8.0, "flite": 4.0}
VAL_CLIPS = {"val_voice": 24, "val_real": 1000}


def _select(manifest: dict, minutes: dict[str, float], seed: int) -> set[str]:
    """Sample ids: labelled training clips of each source up to its minutes (random order), plus validation."""
    rng = np.random.default_rng(seed)
    chosen: set[str] = set()
    by_source: dict[str, list[dict]] = {}
    for s in manifest["samples"]:
        if not s.get("labelled"):
            continue
        if s.get("split") == "train":
            by_source.setdefault(s["source"], []).append(s)
    for src, items in by_source.items():
        budget = minutes.get(src, 0.0) * 60.0
        for k in rng.permutation(len(items)):
            if budget <= 0:
                break
            chosen.add(items[k]["id"])
            budget -= float(items[k]["duration"])
    for split, n in VAL_CLIPS.items():
        items = [s for s in manifest["samples"] if s.get("labelled") and s.get("split") == split]
        for k in rng.permutation(len(items))[:n]:
            chosen.add(items[k]["id"])
    return chosen


def pack(corpus_dir: str, ckpt: str, out: str, minutes: dict[str, float], seed: int = 0) -> None:
    manifest = json.loads((Path(corpus_dir) / "manifest.json").read_text())
    ids = _select(manifest, minutes, seed)
    corpus = CT.load(corpus_dir, select=lambda s: s["id"] in ids).with_bilabial()
    model = NeuralModel.load(ckpt, "cpu")[0]
    with torch.inference_mode():
        z = torch.cat([model.rig.encode(corpus.curves[i:i + 65536]) for i in range(0, len(corpus.curves), 65536)])
    table = [[int(corpus.audio_start[i]), int(corpus.frame_start[i]), int(corpus.num_frames[i]), corpus.split[i],
              bool(corpus.labelled[i]), corpus.phones[i]] for i in range(len(corpus.split))]
    tmp = out + ".tmp.npz"
    with open(tmp, "wb") as f:
        np.savez_compressed(
            f, audio=CT._mulaw_encode(corpus.audio.numpy()),
            latents=np.clip(np.round(z.numpy() * LATENT_SCALE), -127, 127).astype(np.int8),
            emotion=corpus.emotion.numpy().astype(np.int8), intensity=corpus.intensity.numpy().astype(np.float16),
            gaze=corpus.gaze.numpy().astype(np.float16), head_distance=corpus.head_distance.numpy().astype(np.float16),
            bilabial=corpus.bilabial.numpy(), table=np.array(json.dumps(table)))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    hours = {sp: sum(int(corpus.num_frames[i]) for i in range(len(corpus.split)) if corpus.split[i] == sp) / 216000
             for sp in sorted(set(corpus.split))}
    print(f"packed {len(corpus.split)} clips ({', '.join(f'{k} {v:.2f} h' for k, v in hours.items())}) "
          f"into {out} ({os.path.getsize(out) / 2**20:.1f} MiB)")


def load_pack(path: str) -> CT.Corpus:
    with np.load(path) as z:
        a = {k: z[k] for k in z.files}
    table = json.loads(str(a["table"]))
    latents = a["latents"].astype(np.float32) / LATENT_SCALE
    base = CT._assemble({"audio": CT._mulaw_decode(a["audio"]), "curves": latents,
                         "emotion": a["emotion"], "intensity": a["intensity"], "gaze": a["gaze"],
                         "head_distance": a["head_distance"]}, table)
    kw = dict(base.__dict__)
    kw.update(bilabial=torch.from_numpy(a["bilabial"].astype(bool)), latent_targets=True)
    return CT.Corpus(**kw)


def train_variant(pack_path: str, out_dir: Path, seconds: float, name: str, ckpt: str, objective: str,
                  closure_weight: float) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, _ = NeuralModel.load(ckpt, device)
    if model.a2l.config.objective != objective:
        raise SystemExit(f"{ckpt} is a {model.a2l.config.objective} model, not {objective}")
    corpus = load_pack(pack_path).to(device)
    cuda = device == "cuda"
    cfg = TrainConfig(encoder=model.encoder.config, latents2rig=model.rig.config, audio2latents=model.a2l.config,
                      a2l_steps=1_000_000, a2l_seconds=seconds, batch=128 if cuda else 16, lr=3e-4,
                      val_every=250 if cuda else 50, save_every=100 if cuda else 25, closure_weight=closure_weight,
                      device=device, seed=1)
    state = TrainingState(None)
    last = [time.time()]
    info = {"variant": name, "finetuned_from": os.path.basename(ckpt), "closure_weight": closure_weight}

    def save(ema: NeuralModel, force: bool = False) -> None:
        if force or time.time() - last[0] > SAVE_SECONDS:
            ema.save(out_dir / f"{name}.pt", extra={**info, "history": json.dumps(state.history)})
            last[0] = time.time()

    t0 = time.time()
    ema = a2l_stage(model, corpus, cfg, state, lambda m: print(f"[{name}] {m}", flush=True), save)
    save(ema, force=True)
    print(f"[{name}] done in {time.time() - t0:.0f}s", flush=True)
    if os.environ.get("VASA_RIG_PLOT", "1") == "1":  # off where few files may come back from a remote run
        plot_history(state.history, out_dir / f"{name}.png")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "pack":
        minutes = dict(DEFAULT_MINUTES)
        minutes.update({k: float(v) for k, v in (a.split("=") for a in argv[4:])})
        pack(argv[1], argv[2], argv[3], minutes)
        return 0
    if argv and argv[0] == "train":
        pack_path, out_dir, seconds = argv[1], Path(argv[2]), float(argv[3])
        out_dir.mkdir(parents=True, exist_ok=True)
        specs = [a.split("=", 1) for a in argv[4:]]
        if len(specs) == 1:
            ckpt, objective, cw = specs[0][1].split(":")
            train_variant(pack_path, out_dir, seconds, specs[0][0], ckpt, objective, float(cw))
            return 0
        procs = [subprocess.Popen([sys.executable, "-m", "models.finetune", "train", pack_path, str(out_dir),
                                   str(seconds), f"{n}={spec}"]) for n, spec in specs]
        return max(p.wait() for p in procs)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
