"""Fine-tune trained checkpoints (audio encoder + Audio2Latents) on built corpora, on a machine the corpus is not on.

A pack holds what the teacher needs and nothing it can recompute: the audio (Ogg/Opus, about 9 MB per hour, in
chunks that decode in parallel) and per clip its phones and drawn conditions. The teacher curves are rendered
again where the pack is unpacked (the procedural engine is deterministic given phones, audio and conditions), so
hours of labelled speech fit into one transfer. The Latents2Rig autoencoder stays frozen: the targets come from
the same teacher, so its latent space still fits.

    python -m models.finetune pack OUT.npz CORPUS_DIR [CORPUS_DIR ...] [source=minutes ...] [unlabelled=minutes]
    python -m models.finetune render PACK.npz OUT.pt [workers]
    python -m models.finetune train RENDERED.pt OUTDIR SECONDS
        NAME=CKPT:OBJECTIVE:CW[:PRETRAIN[:VISEME[:AUG[:GRID[:PHONES]]]]]

CW is the extra loss weight of p/b/m frames (``TrainConfig.closure_weight``).
The first corpus given to ``pack`` supplies the validation clips (``VAL_CLIPS``); every corpus supplies training
clips. ``source=minutes`` caps a source's labelled training audio (sources without a cap are taken whole);
``unlabelled=minutes`` adds that much unlabelled real training audio for the masked-mel pre-training.

``train`` runs one process per variant in parallel (they share the GPU) and writes OUTDIR/NAME.pt (EMA weights,
also every ``SAVE_SECONDS`` so a run cut short still leaves a checkpoint; the loss history is inside) and
OUTDIR/NAME.png (loss curves; VASA_RIG_PLOT=0 skips it). PRETRAIN, a fraction of SECONDS, first runs masked
log-mel prediction on all training audio (labelled and unlabelled) to adapt the encoder to the voices; VISEME
weighs the encoder's auxiliary mouth-shape classification loss (models/train.py); AUG 1 adds the strong
augmentation (room reverberation, vocal-tract-length warping, spectral tilt: ``TrainConfig.strong_augment``);
GRID is the fraction of windows trained at the sampler's step times (``TrainConfig.grid_t``) and, when above 0,
is stored with the checkpoint's time shift (the grid's) so sampling uses the same times; PHONES 1 gives the model
the per-frame mouth-shape input (models/audio2latents.py) if it has none, and trains it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from app.core.atomic import atomic_write

from . import corpus_tensors as CT
from .audio2latents import add_phone_input
from .pipeline import NeuralModel
from .train import TrainConfig, TrainingState, a2l_stage, plot_history, pretrain_stage

SAVE_SECONDS = 40.0
VAL_CLIPS = {"val_voice": 24, "val_real": 1000}
CHUNK_SECONDS = 600.0  # audio per Opus chunk: chunks encode, decode and render in parallel
# Opus quality (libsndfile's compression level): about 14 kbit/s on broadband real speech, less on the 16 kHz
# TTS. Its log-mel error (0.15 mean absolute, features scaled to about unit SD) is a mild codec augmentation.
OPUS_LEVEL = 0.97
PACK_FORMAT = "vasa-rig-finetune-pack"
PACK_VERSION = 2


class PackError(Exception):
    """A pack or rendered corpus that is missing, damaged or of another format."""


# --- pack ------------------------------------------------------------------------------------------------------
def _select(manifests: list[list[dict]], minutes: dict[str, float], unlabelled_minutes: float,
            seed: int) -> list[tuple[int, dict]]:
    """(corpus number, manifest entry) of the chosen clips: labelled training clips of each source up to its
    cap (random order), unlabelled real training clips up to ``unlabelled_minutes``, and the first corpus's
    validation clips. Labelled clips need their phones and conditions (the teacher is rendered again)."""
    rng = np.random.default_rng(seed)
    by_source: dict[str, list[tuple[int, dict]]] = {}
    unlabelled: list[tuple[int, dict]] = []
    for k, samples in enumerate(manifests):
        for s in samples:
            if s.get("split") != "train":
                continue
            if s.get("labelled") and s.get("phones") and s.get("conditions"):
                by_source.setdefault(s["source"], []).append((k, s))
            elif not s.get("labelled") and s.get("real"):
                unlabelled.append((k, s))
    chosen: list[tuple[int, dict]] = []
    for src in sorted(by_source):
        items = by_source[src]
        budget = minutes.get(src, float("inf")) * 60.0
        for j in rng.permutation(len(items)):
            if budget <= 0:
                break
            chosen.append(items[j])
            budget -= float(items[j][1]["duration"])
    budget = unlabelled_minutes * 60.0
    for j in rng.permutation(len(unlabelled)):
        if budget <= 0:
            break
        chosen.append(unlabelled[j])
        budget -= float(unlabelled[j][1]["duration"])
    for split, n in VAL_CLIPS.items():
        items = [s for s in manifests[0] if s.get("labelled") and s.get("split") == split and s.get("conditions")]
        chosen.extend((0, items[j]) for j in rng.permutation(len(items))[:n])
    return chosen


def _read_audio(corpus_dir: Path, entries: list[dict]) -> list[np.ndarray]:
    """Each entry's whole audio (float32), reading every shard once."""
    out: list[np.ndarray | None] = [None] * len(entries)
    by_shard: dict[str, list[int]] = {}
    for j, s in enumerate(entries):
        by_shard.setdefault(s["shard"], []).append(j)
    for shard, js in by_shard.items():
        with np.load(corpus_dir / shard) as z:
            audio, offsets = z["audio"], z["audio_offsets"]
            for j in js:
                i = int(entries[j]["index"])
                out[j] = audio[offsets[i]:offsets[i + 1]].astype(np.float32)
    return out  # type: ignore[return-value]


def encode_opus(samples: np.ndarray) -> np.ndarray:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(samples, -1, 1), CT.SAMPLE_RATE, format="OGG", subtype="OPUS",
             compression_level=OPUS_LEVEL)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def decode_opus(data: np.ndarray, length: int) -> np.ndarray:
    import soundfile as sf

    samples, rate = sf.read(io.BytesIO(data.tobytes()), dtype="float32")
    if rate != CT.SAMPLE_RATE:
        raise PackError(f"an audio chunk of the pack is at {rate} Hz, not {CT.SAMPLE_RATE}")
    if len(samples) < length:
        samples = np.pad(samples, (0, length - len(samples)))
    return samples[:length]


def pack(corpus_dirs: list[str], out: str, minutes: dict[str, float], unlabelled_minutes: float = 0.0,
         seed: int = 0, workers: int = 2) -> None:
    """Writes the pack (see the module doc) atomically and prints what it holds."""
    from concurrent.futures import ProcessPoolExecutor

    dirs = [Path(d) for d in corpus_dirs]
    manifests = [json.loads((d / "manifest.json").read_text())["samples"] for d in dirs]
    chosen = _select(manifests, minutes, unlabelled_minutes, seed)
    audio: list[np.ndarray] = [np.zeros(0, np.float32)] * len(chosen)
    for k, d in enumerate(dirs):
        js = [j for j, (c, _s) in enumerate(chosen) if c == k]
        for j, a in zip(js, _read_audio(d, [chosen[j][1] for j in js]), strict=True):
            audio[j] = a
    chunks: list[list[int]] = [[]]
    length = 0
    for j, a in enumerate(audio):
        if length > CHUNK_SECONDS * CT.SAMPLE_RATE:
            chunks.append([])
            length = 0
        chunks[-1].append(j)
        length += len(a)
    table = []
    for c, js in enumerate(chunks):
        offset = 0
        for j in js:
            s = chosen[j][1]
            table.append({"id": s.get("id"), "chunk": c, "offset": offset, "samples": len(audio[j]),
                          "split": s["split"], "labelled": bool(s.get("labelled")), "source": s["source"],
                          "voice": s.get("voice", ""), "real": bool(s.get("real")), "phones": s.get("phones") or [],
                          "conditions": s.get("conditions")})
            offset += len(audio[j])
    with ProcessPoolExecutor(workers) as ex:
        coded = list(ex.map(encode_opus, [np.concatenate([audio[j] for j in js]) for js in chunks]))
    arrays = {f"chunk_{c:03d}": data for c, data in enumerate(coded)}
    header = {"format": PACK_FORMAT, "version": PACK_VERSION, "clips": table, "chunks": len(chunks)}
    with atomic_write(out) as f:
        np.savez(f, header=np.array(json.dumps(header)), **arrays)
    summary: dict[str, float] = {}
    for row in table:
        key = f"{row['split']}/{row['source']}" + ("" if row["labelled"] else " (unlabelled)")
        summary[key] = summary.get(key, 0.0) + row["samples"] / CT.SAMPLE_RATE / 3600
    print(f"packed {len(table)} clips in {len(chunks)} chunks into {out} ({os.path.getsize(out) / 2**20:.1f} MiB)")
    for key in sorted(summary):
        print(f"  {key}: {summary[key]:.2f} h")


def read_pack_header(path: str) -> tuple[dict, np.lib.npyio.NpzFile]:
    try:
        z = np.load(path)
        header = json.loads(str(z["header"]))
    except (OSError, ValueError, KeyError) as exc:
        raise PackError(f"{path} is not a readable fine-tuning pack ({exc})") from None
    if header.get("format") != PACK_FORMAT or header.get("version") != PACK_VERSION:
        raise PackError(f"{path} is a pack of format {header.get('format')} version {header.get('version')}; "
                        f"this code reads {PACK_FORMAT} version {PACK_VERSION} (pack the corpus again)")
    return header, z


# --- render ----------------------------------------------------------------------------------------------------
def _render_chunk(job: tuple[bytes, int, list[dict]]) -> tuple[np.ndarray, list[dict | None]]:
    """Decode one chunk and render the teacher for its labelled clips."""
    from app.engines.phonetics import PhoneSegment

    from .data.build import cond_from_meta, render_targets

    data, length, rows = job
    samples = decode_opus(np.frombuffer(data, dtype=np.uint8), length)
    labels: list[dict | None] = []
    for row in rows:
        if not row["labelled"]:
            labels.append(None)
            continue
        clip = samples[row["offset"]:row["offset"] + row["samples"]]
        phones = [PhoneSegment(str(p), float(a), float(b)) for p, a, b in row["phones"]]
        lab = render_targets(phones, clip, cond_from_meta(row["conditions"]))
        labels.append({"curves": lab.curves.astype(np.float32), "emotion": lab.emotion, "intensity": lab.intensity,
                       "gaze": lab.gaze, "head_distance": lab.head_distance})
    return samples, labels


def render(pack_path: str, out: str, workers: int | None = None) -> None:
    """Decodes the pack and renders the teacher curves in parallel; saves the corpus tensors (``torch.save``)."""
    from concurrent.futures import ProcessPoolExecutor

    header, z = read_pack_header(pack_path)
    rows_by_chunk: list[list[dict]] = [[] for _ in range(header["chunks"])]
    for row in header["clips"]:
        rows_by_chunk[row["chunk"]].append(row)
    jobs = [(z[f"chunk_{c:03d}"].tobytes(), sum(r["samples"] for r in rows), rows)
            for c, rows in enumerate(rows_by_chunk)]
    t0 = time.time()
    with ProcessPoolExecutor(workers or os.cpu_count() or 1) as ex:
        results = list(ex.map(_render_chunk, jobs))
    parts: dict[str, list] = {k: [] for k in ("audio", "curves", "emotion", "intensity", "gaze", "head_distance")}
    table = []
    a_pos = f_pos = 0
    for rows, (samples, labels) in zip(rows_by_chunk, results, strict=True):
        for row, lab in zip(rows, labels, strict=True):
            parts["audio"].append(samples[row["offset"]:row["offset"] + row["samples"]])
            if lab is None:
                lab = CT.placeholder_labels(int(row["samples"] // CT.SAMPLES_PER_FRAME))
            nf = len(lab["curves"])
            for k in ("curves", "emotion", "intensity", "gaze", "head_distance"):
                parts[k].append(lab[k])
            table.append((a_pos, f_pos, nf, row["split"], row["labelled"], row["phones"]))
            a_pos += row["samples"]
            f_pos += nf
    corpus = CT._assemble({k: np.concatenate(v) for k, v in parts.items()}, table).with_bilabial()
    with atomic_write(out) as f:
        torch.save({"format": "vasa-rig-rendered", "corpus": dict(corpus.__dict__)}, f)
    hours = a_pos / CT.SAMPLE_RATE / 3600
    print(f"rendered {len(table)} clips ({hours:.2f} h) in {time.time() - t0:.0f} s -> {out}", flush=True)


def load_rendered(path: str) -> CT.Corpus:
    try:
        saved = torch.load(path, weights_only=True)
    except pickle.UnpicklingError:
        raise PackError(f"{path} is not a rendered corpus: it holds objects other than tensors and plain data "
                        "(refused without running them)") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise PackError(f"{path} is not a rendered corpus (python -m models.finetune render): {exc}") from None
    if not isinstance(saved, dict) or saved.get("format") != "vasa-rig-rendered":
        raise PackError(f"{path} is not a rendered corpus (python -m models.finetune render)")
    return CT.Corpus(**saved["corpus"])


# --- train -----------------------------------------------------------------------------------------------------
def to_latents(model: NeuralModel, corpus: CT.Corpus) -> CT.Corpus:
    """The corpus with its curves replaced by the (frozen) Latents2Rig encoder's latents."""
    with torch.no_grad():  # not inference mode: the latents are used in training graphs later
        z = torch.cat([model.rig.encode(corpus.curves[i:i + 65536]) for i in range(0, len(corpus.curves), 65536)])
    return dataclasses.replace(corpus, curves=z, latent_targets=True)


def train_variant(rendered: str, out_dir: Path, seconds: float, name: str, ckpt: str, objective: str,
                  closure_weight: float, pretrain: float = 0.0, viseme: float = 0.0,
                  strong_augment: bool = False, grid_t: float = 0.0, phones: bool = False) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, _ = NeuralModel.load(ckpt, device)
    if phones:
        model.a2l = add_phone_input(model.a2l, len(CT.VISEME_CLASSES))
    if model.a2l.config.objective != objective:
        raise SystemExit(f"{ckpt} is a {model.a2l.config.objective} model, not {objective}")
    corpus = to_latents(model, load_rendered(rendered).to(device))
    cuda = device == "cuda"
    cfg = TrainConfig(encoder=model.encoder.config, latents2rig=model.rig.config, audio2latents=model.a2l.config,
                      a2l_steps=1_000_000, a2l_seconds=seconds * (1 - pretrain), pretrain_steps=1_000_000,
                      pretrain_seconds=seconds * pretrain, batch=128 if cuda else 4, lr=3e-4,
                      val_every=250 if cuda else 50, save_every=100 if cuda else 25, closure_weight=closure_weight,
                      viseme_weight=viseme, strong_augment=strong_augment, grid_t=grid_t,
                      grid_shift=model.time_shift, device=device, seed=1)
    if not cuda:  # a smoke run on a CPU: a few steps only
        cfg.a2l_steps, cfg.pretrain_steps = max(2, int(seconds)), max(1, int(seconds * pretrain))
    state = TrainingState(None)
    last = [time.time()]
    info = {"variant": name, "finetuned_from": os.path.basename(ckpt), "closure_weight": closure_weight,
            "pretrain_seconds": seconds * pretrain, "viseme_weight": viseme, "strong_augment": strong_augment,
            "grid_t": grid_t, "phones": phones}

    def save(ema: NeuralModel, force: bool = False) -> None:
        if force or time.time() - last[0] > SAVE_SECONDS:
            ema.save(out_dir / f"{name}.pt", extra={**info, "history": json.dumps(state.history)})
            last[0] = time.time()

    def report(m: str) -> None:
        print(f"[{name}] {m}", flush=True)

    t0 = time.time()
    if pretrain > 0:
        pretrain_stage(model, corpus, cfg, state, report)
    ema = a2l_stage(model, corpus, cfg, state, report, save)
    save(ema, force=True)
    report(f"done in {time.time() - t0:.0f}s")
    if os.environ.get("VASA_RIG_PLOT", "1") == "1":  # off where few files may come back from a remote run
        plot_history(state.history, out_dir / f"{name}.png")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "pack" and len(argv) >= 3:
        dirs = [a for a in argv[2:] if "=" not in a]
        caps = dict(a.split("=", 1) for a in argv[2:] if "=" in a)
        unlabelled = float(caps.pop("unlabelled", 0.0))
        pack(dirs, argv[1], {k: float(v) for k, v in caps.items()}, unlabelled)
        return 0
    if argv and argv[0] == "render" and len(argv) in (3, 4):
        render(argv[1], argv[2], int(argv[3]) if len(argv) == 4 else None)
        return 0
    if argv and argv[0] == "train" and len(argv) >= 5:
        rendered, out_dir, seconds = argv[1], Path(argv[2]), float(argv[3])
        out_dir.mkdir(parents=True, exist_ok=True)
        specs = [a.split("=", 1) for a in argv[4:]]
        if len(specs) == 1:
            ckpt, objective, cw, *rest = specs[0][1].split(":")
            numbers = [float(x) for x in rest] + [0.0] * 5
            train_variant(rendered, out_dir, seconds, specs[0][0], ckpt, objective, float(cw), *numbers[:2],
                          strong_augment=bool(numbers[2]), grid_t=numbers[3], phones=bool(numbers[4]))
            return 0
        procs = [subprocess.Popen([sys.executable, "-m", "models.finetune", "train", rendered, str(out_dir),
                                   str(seconds), f"{n}={spec}"]) for n, spec in specs]
        return max(p.wait() for p in procs)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
