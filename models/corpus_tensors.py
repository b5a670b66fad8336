"""The corpus held in memory as tensors, for fast random crops on the training device.

Reads the shared shard format (manifest.json + .npz shards, see models/quick_corpus.py) directly. ``pack`` writes a
compact copy (8-bit mu-law audio, float16 curves) small enough to send to a GPU machine; ``load`` reads either.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from app.core.atomic import atomic_write
from app.core.speech import BILABIAL_PHONES, VISEME_CLASSES, viseme_frames  # noqa: F401 - read as CT.VISEME_CLASSES
from app.core.timebase import FPS, SAMPLE_RATE

SAMPLES_PER_FRAME = SAMPLE_RATE / FPS
MU = 255.0


class CorpusError(Exception):
    """The data folder is missing or not in the expected format."""


def _mulaw_encode(x: np.ndarray) -> np.ndarray:
    y = np.sign(x) * np.log1p(MU * np.clip(np.abs(x), 0, 1)) / np.log1p(MU)
    return np.round(y * 127).astype(np.int8)


def _mulaw_decode(q: np.ndarray) -> np.ndarray:
    y = q.astype(np.float32) / 127.0
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU).astype(np.float32)


@dataclass
class Corpus:
    audio: torch.Tensor  # (S,) float32
    curves: torch.Tensor  # (F, 180)
    emotion: torch.Tensor  # (F,) int64
    intensity: torch.Tensor  # (F,)
    gaze: torch.Tensor  # (F, 2)
    head_distance: torch.Tensor  # (F,)
    audio_start: torch.Tensor  # (N,) int64 per sample
    frame_start: torch.Tensor  # (N,)
    num_frames: torch.Tensor  # (N,)
    split: list[str]
    labelled: torch.Tensor  # (N,) bool
    phones: list[list]  # per sample [[phone, start, end], ...] (may be empty)
    # Optional per-frame flag (F,) uint8: 1 inside a p/b/m segment (+/- 1 frame); weights the closure frames in
    # training. Built from ``phones`` by :func:`bilabial_frames` when absent.
    bilabial: torch.Tensor | None = None
    latent_targets: bool = False  # ``curves`` hold Latents2Rig latents (F, latent_dim), crops name them "latents"
    # Optional per-frame mouth-shape class (F,) int8 (see VISEME_CLASSES; -1 where unknown), the target of the
    # encoder's auxiliary classification loss. Built from ``phones`` by :meth:`with_visemes`.
    viseme: torch.Tensor | None = None

    def to(self, device: str | torch.device) -> Corpus:
        kw = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()}
        return Corpus(**kw)

    def indices(self, *splits: str, labelled: bool | None = None) -> torch.Tensor:
        keep = [i for i, s in enumerate(self.split) if s in splits and (labelled is None or
                                                                        bool(self.labelled[i]) == labelled)]
        return torch.tensor(keep, dtype=torch.long)

    def sample_audio(self, i: int) -> np.ndarray:
        a = int(self.audio_start[i])
        n = int(round(int(self.num_frames[i]) * SAMPLES_PER_FRAME))
        return self.audio[a:a + n].cpu().numpy()

    def sample_frames(self, i: int) -> slice:
        f = int(self.frame_start[i])
        return slice(f, f + int(self.num_frames[i]))

    def crops(self, idx: torch.Tensor, batch: int, frames: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Random crops of ``frames`` frames (and the matching audio) from the samples in ``idx``, drawn in
        proportion to their length; shorter samples are padded and masked."""
        dev = self.curves.device
        lengths = self.num_frames[idx].float()
        pick = idx[torch.multinomial(lengths.cpu(), batch, replacement=True, generator=generator)].to(dev)
        n = self.num_frames[pick]
        room = (n - frames).clamp_min(0)
        off = (torch.rand(batch, generator=generator).to(dev) * (room + 1).float()).long().clamp_max(room)
        ar = torch.arange(frames, device=dev)
        fidx = self.frame_start[pick, None] + (off[:, None] + ar[None]).clamp_max(n[:, None] - 1)
        mask = (off[:, None] + ar[None]) < n[:, None]
        n_samp = int(round(frames * SAMPLES_PER_FRAME))
        a0 = self.audio_start[pick] + torch.round(off.double() * SAMPLES_PER_FRAME).long()
        a_end = self.audio_start[pick] + torch.round(n.double() * SAMPLES_PER_FRAME).long()
        aidx = a0[:, None] + torch.arange(n_samp, device=dev)[None]
        audio = torch.where(aidx < a_end[:, None], self.audio[aidx.clamp_max(self.audio.shape[0] - 1)], 0.0)
        target = "latents" if self.latent_targets else "curves"
        out = {"audio": audio, target: self.curves[fidx], "emotion": self.emotion[fidx],
               "intensity": self.intensity[fidx], "gaze": self.gaze[fidx],
               "head_distance": self.head_distance[fidx], "mask": mask}
        if self.bilabial is not None:
            out["bilabial"] = self.bilabial[fidx] & mask
        if self.viseme is not None:
            out["viseme"] = torch.where(mask, self.viseme[fidx].long(), -1)
        return out

    def with_bilabial(self) -> Corpus:
        """This corpus with the per-frame p/b/m flag filled in from the phones."""
        return replace(self, bilabial=self._frame_labels(bilabial_frames, False, torch.bool))

    def with_visemes(self) -> Corpus:
        """This corpus with the per-frame mouth-shape class filled in from the phones (-1: unlabelled clips)."""
        return replace(self, viseme=self._frame_labels(viseme_frames, -1, torch.int8))

    def _frame_labels(self, make: Callable[[list, int], np.ndarray], fill, dtype: torch.dtype) -> torch.Tensor:
        """(F,) per-frame values: ``make(phones, num_frames)`` on each labelled clip with phones, else ``fill``."""
        out = torch.full((self.curves.shape[0],), fill, dtype=dtype)
        for i, phones in enumerate(self.phones):
            if bool(self.labelled[i]) and phones:
                f0, n = int(self.frame_start[i]), int(self.num_frames[i])
                out[f0:f0 + n] = torch.from_numpy(make(phones, n))
        return out.to(self.curves.device)


def bilabial_frames(phones: list, num_frames: int) -> np.ndarray:
    """(num_frames,) bool: frames inside a p/b/m segment widened by one frame, exactly the frames the closure
    figure reads (app/engines/metrics.py)."""
    from app.engines.metrics import segment_frames
    from app.engines.phonetics import PhoneSegment

    segments = [PhoneSegment(str(p), float(a), float(b)) for p, a, b in phones if p in BILABIAL_PHONES]
    flags = np.zeros(num_frames, bool)
    flags[segment_frames(segments, num_frames, FPS, pad=1)] = True
    return flags


def placeholder_labels(num_frames: int) -> dict[str, np.ndarray]:
    """Per-frame arrays for an audio-only clip: they keep frame indexing uniform and are never trained on."""
    return {"curves": np.zeros((num_frames, 180), np.float32), "emotion": np.zeros(num_frames, np.int8),
            "intensity": np.zeros(num_frames, np.float32), "gaze": np.zeros((num_frames, 2), np.float32),
            "head_distance": np.full(num_frames, 60.0, np.float32)}


def load(path: str | os.PathLike, select: Callable[[dict], bool] | None = None) -> Corpus:
    """A corpus folder (manifest.json + shards) or a packed .npz file. ``select`` (folders only) keeps the
    manifest entries for which it returns True, and reads only the shards they need."""
    path = Path(path)
    if path.is_file():
        return _load_packed(path)
    manifest = path / "manifest.json"
    if not manifest.is_file():
        raise CorpusError(f"{path} has no manifest.json; build a corpus first (vasa-rig dataset build)")
    meta = json.loads(manifest.read_text())
    shards: dict[str, dict] = {}
    parts: dict[str, list] = {k: [] for k in ("audio", "curves", "emotion", "intensity", "gaze", "head_distance")}
    table, a_pos, f_pos = [], 0, 0
    for s in meta["samples"]:
        if select is not None and not select(s):
            continue
        if s["shard"] not in shards:
            with np.load(path / s["shard"]) as z:
                shards[s["shard"]] = {k: z[k] for k in z.files}
        sh, i = shards[s["shard"]], int(s["index"])
        a0, a1 = sh["audio_offsets"][i], sh["audio_offsets"][i + 1]
        f0, f1 = sh["frame_offsets"][i], sh["frame_offsets"][i + 1]
        labelled = bool(s.get("labelled", True)) and f1 > f0
        nf = int(f1 - f0) if labelled else int((a1 - a0) // SAMPLES_PER_FRAME)
        parts["audio"].append(sh["audio"][a0:a1].astype(np.float32))
        if labelled:
            for k in ("curves", "emotion", "intensity", "gaze", "head_distance"):
                parts[k].append(sh[k][f0:f1])
        else:
            for k, v in placeholder_labels(nf).items():
                parts[k].append(v)
        table.append((a_pos, f_pos, nf, s.get("split", "train"), labelled, s.get("phones", [])))
        a_pos += int(a1 - a0)
        f_pos += nf
    if not table:
        raise CorpusError(f"{path} holds no samples")
    return _assemble({k: np.concatenate(v) for k, v in parts.items()}, table)


def _assemble(arrays: dict[str, np.ndarray], table: list) -> Corpus:
    return Corpus(audio=torch.from_numpy(arrays["audio"].astype(np.float32)),
                  curves=torch.from_numpy(arrays["curves"].astype(np.float32)),
                  emotion=torch.from_numpy(arrays["emotion"].astype(np.int64)),
                  intensity=torch.from_numpy(arrays["intensity"].astype(np.float32).reshape(-1)),
                  gaze=torch.from_numpy(arrays["gaze"].astype(np.float32)),
                  head_distance=torch.from_numpy(arrays["head_distance"].astype(np.float32).reshape(-1)),
                  audio_start=torch.tensor([t[0] for t in table], dtype=torch.long),
                  frame_start=torch.tensor([t[1] for t in table], dtype=torch.long),
                  num_frames=torch.tensor([t[2] for t in table], dtype=torch.long),
                  split=[t[3] for t in table], labelled=torch.tensor([t[4] for t in table]),
                  phones=[t[5] for t in table])


def subset(corpus: Corpus, keep: list[int]) -> Corpus:
    """A corpus holding only samples ``keep`` (in that order)."""
    arrays: dict[str, list] = {k: [] for k in ("audio", "curves", "emotion", "intensity", "gaze", "head_distance")}
    table, a_pos, f_pos = [], 0, 0
    for i in keep:
        a = int(corpus.audio_start[i])
        na = int(round(int(corpus.num_frames[i]) * SAMPLES_PER_FRAME))
        arrays["audio"].append(corpus.audio[a:a + na].numpy())
        fr = corpus.sample_frames(i)
        for k in ("curves", "emotion", "intensity", "gaze", "head_distance"):
            arrays[k].append(getattr(corpus, k)[fr].numpy())
        table.append((a_pos, f_pos, int(corpus.num_frames[i]), corpus.split[i], bool(corpus.labelled[i]),
                      corpus.phones[i]))
        a_pos += na
        f_pos += int(corpus.num_frames[i])
    return _assemble({k: np.concatenate(v) for k, v in arrays.items()}, table)


def pack(corpus: Corpus, out: str | os.PathLike) -> None:
    """Compact copy for transfer: 8-bit mu-law audio, float16 curves, compressed."""
    out = Path(out)
    with atomic_write(out) as f:
        np.savez_compressed(
            f, audio=_mulaw_encode(corpus.audio.numpy()), curves=corpus.curves.numpy().astype(np.float16),
            emotion=corpus.emotion.numpy().astype(np.int8), intensity=corpus.intensity.numpy(),
            gaze=corpus.gaze.numpy(), head_distance=corpus.head_distance.numpy(),
            table=np.array(json.dumps([[int(corpus.audio_start[i]), int(corpus.frame_start[i]),
                                        int(corpus.num_frames[i]), corpus.split[i], bool(corpus.labelled[i]),
                                        corpus.phones[i]] for i in range(len(corpus.split))])))


def _load_packed(path: Path) -> Corpus:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["audio"] = _mulaw_decode(arrays["audio"])
    return _assemble(arrays, json.loads(str(arrays["table"])))
