"""torch Datasets over a built corpus: aligned random crops of audio and targets.

``CorpusDataset(dir, split, crop_seconds, labelled, seed)`` yields dicts of tensors:
  audio (crop*16000,), curves (crop*60, 180), emotion (crop*60,) int64, intensity (crop*60,),
  gaze (crop*60, 2), head_distance (crop*60,), mask (crop*60,) bool (False on padding), audio_mask
  (crop*16000,) bool, voice / source (int64 ids into .voices / .sources).
A crop starts on a frame: crop frame i is sample frame start+i, and crop audio sample j is sample audio sample
round(start*16000/60)+j, so frame i and audio sample round(i*16000/60) of the crop are the same instant (to within
half a sample). ``start_seconds`` says where the crop began.
Short samples are padded at the end with zeros and a False mask. ``UnlabelledAudioDataset`` gives audio crops of
every real clip (labelled or not) for self-supervised pre-training.

Shards are loaded lazily and cached per worker (an LRU of a few shards), so DataLoader workers share nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from app.core.take import EMOTIONS
from app.core.timebase import FPS, SAMPLE_RATE

from . import DatasetError
from .shards import load_shard, read_manifest

SPLITS = ("train", "val_voice", "val_real", "all")
_CACHE_SHARDS = 4


class _ShardCache:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._cache: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()

    def get(self, name: str) -> dict[str, np.ndarray]:
        if name in self._cache:
            self._cache.move_to_end(name)
            return self._cache[name]
        data = load_shard(self.dir, name)
        self._cache[name] = data
        while len(self._cache) > _CACHE_SHARDS:
            self._cache.popitem(last=False)
        return data


class _Base(Dataset):
    def __init__(self, directory, split: str, crop_seconds: float, seed: int, select) -> None:
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        if crop_seconds <= 0:
            raise DatasetError("crop_seconds must be positive")
        self.dir = Path(directory)
        self.manifest = read_manifest(self.dir)
        if list(self.manifest.get("emotions", EMOTIONS)) != list(EMOTIONS):
            raise DatasetError(f"{directory} uses another emotion list: {self.manifest.get('emotions')}")
        self.samples = [s for s in self.manifest["samples"]
                        if (split == "all" or s.get("split", "train") == split) and select(s)]
        if not self.samples:
            raise DatasetError(f"{directory} has no samples for split {split!r}")
        self.voices = sorted({s.get("voice", "") for s in self.manifest["samples"]})
        self.sources = sorted({s.get("source", "") for s in self.manifest["samples"]})
        self.crop_frames = int(round(crop_seconds * FPS))
        self.crop_samples = int(round(crop_seconds * SAMPLE_RATE))
        self.seed = int(seed)
        self.epoch = 0
        self._cache = _ShardCache(self.dir)

    def set_epoch(self, epoch: int) -> None:
        """Different crops each epoch, still deterministic given (seed, epoch, index)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, int(index)]))

    def _audio(self, s: dict) -> tuple[dict[str, np.ndarray], np.ndarray]:
        shard = self._cache.get(s["shard"])
        i = int(s["index"])
        a0, a1 = shard["audio_offsets"][i], shard["audio_offsets"][i + 1]
        return shard, shard["audio"][a0:a1]

    def _ids(self, s: dict) -> dict[str, torch.Tensor]:
        return {"voice": torch.tensor(self.voices.index(s.get("voice", "")), dtype=torch.int64),
                "source": torch.tensor(self.sources.index(s.get("source", "")), dtype=torch.int64)}


def _pad(x: np.ndarray, n: int) -> np.ndarray:
    if len(x) >= n:
        return x[:n]
    pad = np.zeros((n - len(x),) + x.shape[1:], dtype=x.dtype)
    return np.concatenate([x, pad])


class CorpusDataset(_Base):
    """Aligned random crops of labelled samples (or of all samples' audio with ``labelled=False``)."""

    def __init__(self, directory, split: str = "train", crop_seconds: float = 2.0, labelled: bool = True,
                 seed: int = 0) -> None:
        self.labelled = labelled
        super().__init__(directory, split, crop_seconds, seed,
                         (lambda s: bool(s.get("labelled"))) if labelled else (lambda s: True))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        s = self.samples[index]
        shard, audio = self._audio(s)
        rng = self._rng(index)
        if self.labelled:
            i = int(s["index"])
            f0, f1 = int(shard["frame_offsets"][i]), int(shard["frame_offsets"][i + 1])
            frames = f1 - f0
            start = int(rng.integers(0, frames - self.crop_frames + 1)) if frames > self.crop_frames else 0
            sl = slice(f0 + start, f0 + min(frames, start + self.crop_frames))
            a_start = int(round(start * SAMPLE_RATE / FPS))
            n_valid = sl.stop - sl.start
            out = {"curves": _pad(shard["curves"][sl], self.crop_frames),
                   "emotion": _pad(shard["emotion"][sl].astype(np.int64), self.crop_frames),
                   "intensity": _pad(shard["intensity"][sl], self.crop_frames),
                   "gaze": _pad(shard["gaze"][sl], self.crop_frames),
                   "head_distance": _pad(shard["head_distance"][sl], self.crop_frames)}
            mask = np.arange(self.crop_frames) < n_valid
            result = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}
            result["mask"] = torch.from_numpy(mask)
        else:
            a_frames = int(len(audio) * FPS // SAMPLE_RATE)
            start = int(rng.integers(0, a_frames - self.crop_frames + 1)) if a_frames > self.crop_frames else 0
            a_start = int(round(start * SAMPLE_RATE / FPS))
            result = {}
        clip = audio[a_start : a_start + self.crop_samples]
        result["audio"] = torch.from_numpy(_pad(clip.astype(np.float32), self.crop_samples))
        result["audio_mask"] = torch.from_numpy(np.arange(self.crop_samples) < len(clip))
        result["start_seconds"] = torch.tensor(start / FPS, dtype=torch.float32)
        result.update(self._ids(s))
        return result


class UnlabelledAudioDataset(_Base):
    """Audio crops of every real clip (any language, labelled or not) for self-supervised pre-training."""

    def __init__(self, directory, split: str = "train", crop_seconds: float = 2.0, seed: int = 0) -> None:
        super().__init__(directory, split, crop_seconds, seed, lambda s: bool(s.get("real")))

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        s = self.samples[index]
        _shard, audio = self._audio(s)
        rng = self._rng(index)
        start = int(rng.integers(0, len(audio) - self.crop_samples + 1)) if len(audio) > self.crop_samples else 0
        clip = audio[start : start + self.crop_samples]
        out = {"audio": torch.from_numpy(_pad(clip.astype(np.float32), self.crop_samples)),
               "audio_mask": torch.from_numpy(np.arange(self.crop_samples) < len(clip))}
        out.update(self._ids(s))
        return out
