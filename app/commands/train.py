"""``vasa-rig train``: train the neural engine (Latents2Rig, audio-encoder pre-training, Audio2Latents) on a corpus."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands import CommandError

NAME = "train"
HELP = ("train the neural engine on a corpus folder (manifest.json + shards) and write a checkpoint; under "
        "torchrun, data-parallel over the processes")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="corpus folder (vasa-rig dataset build) or packed .npz")
    p.add_argument("--out", required=True, help="checkpoint to write (.pt); loss curves go to OUT.png")
    p.add_argument("--resume", action="store_true", help="continue from OUT.state after an interruption")
    p.add_argument("--steps", type=int, default=4000, help="Audio2Latents training steps (default 4000)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when available")
    p.add_argument("--objective", choices=("flow", "regression"), default="flow",
                   help="flow (the engine) or regression (the baseline)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", default=None, metavar="CKPT",
                   help="fine-tune this checkpoint (keeps its Latents2Rig; trains encoder + Audio2Latents only)")
    p.add_argument("--closure-weight", type=float, default=16.0,
                   help="extra loss weight on p/b/m frames, from the corpus phones (default 16; 0: off)")
    p.add_argument("--viseme-weight", type=float, default=1.5,
                   help="weight of the encoder's auxiliary mouth-shape classification from the corpus phones "
                        "(default 1.5; 0: off)")
    p.add_argument("--phones", action="store_true",
                   help="also train the phone track: the model then takes the mouth shapes of a transcript "
                        "aligned to the audio when one is given (added to an --init model that lacks it)")
    p.add_argument("--augment", choices=("strong", "basic", "none"), default="strong",
                   help="audio augmentation: basic = gain, noise, telephone band; strong (default) adds room "
                        "reverberation, vocal-tract-length warping and spectral tilt")


def run(args: argparse.Namespace) -> int:
    import torch

    from models import corpus_tensors as CT
    from models import distributed as D
    from models.train import TrainConfig, train

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise CommandError("--device cuda was asked for but no CUDA device is available")
    if args.steps < 1:
        raise CommandError("--steps must be at least 1")
    if args.closure_weight < 0 or args.viseme_weight < 0:
        raise CommandError("--closure-weight and --viseme-weight must not be negative")
    if args.init is not None and not Path(args.init).is_file():
        raise CommandError(f"--init checkpoint {args.init} does not exist")
    try:
        device = D.setup(device)  # under torchrun: join the other processes (gloo on CPU, NCCL on CUDA)
    except (RuntimeError, ValueError) as exc:
        raise CommandError(f"cannot join the torchrun processes: {exc}") from None
    try:
        corpus = CT.load(args.data)
    except (CT.CorpusError, OSError, KeyError, ValueError) as exc:
        raise CommandError(f"cannot read the corpus: {exc}") from exc
    cfg = TrainConfig(a2l_steps=args.steps, ae_steps=max(200, args.steps // 2),
                      pretrain_steps=max(100, args.steps // 4), device=device, seed=args.seed,
                      closure_weight=args.closure_weight, viseme_weight=args.viseme_weight,
                      augment=args.augment != "none", strong_augment=args.augment == "strong")
    cfg.audio2latents.objective = args.objective
    if args.phones:
        cfg.audio2latents.phone_classes = len(CT.VISEME_CLASSES)
    out = Path(args.out)
    from models.checkpoint import CheckpointError

    main = D.is_main()  # known before the process group is left
    if D.world() > 1 and main:
        print(f"data-parallel over {D.world()} processes: effective batch {cfg.batch * D.world()}", flush=True)
    try:
        train(corpus, out, cfg, resume=args.resume, report=lambda m: print(m, flush=True), init=args.init)
    except (CheckpointError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    finally:
        D.shutdown()
    if main:
        print(f"wrote {out} and {out}.png")
    return 0
