"""Shard files and the manifest of the dataset format (see build.py for the layout; the neural engine reads it).

Shards are uncompressed .npz: reading is what training does most. Measured on a 10 MB shard of a small build,
np.savez_compressed made it 0.55x the size (the many constant curve channels compress well) but 3.4x slower to
load and 30x slower to write; disk is cheaper here than loader time.
Every file is written atomically, and the manifest is rewritten after every shard, so a build that stops
part-way leaves a readable dataset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.atomic import atomic_write, atomic_write_text
from app.core.rig import load_rig
from app.core.take import EMOTIONS
from app.core.timebase import FPS, SAMPLE_RATE

from . import FORMAT_NAME, FORMAT_VERSION, DatasetError

MANIFEST = "manifest.json"
SHARD_SECONDS = 600.0  # audio per shard: ~38 MB audio + ~26 MB curves, quick to load, few files
LABEL_KEYS = ("curves", "emotion", "intensity", "gaze", "head_distance")


@dataclass
class Labels:
    curves: np.ndarray  # (frames, 180) float32
    emotion: np.ndarray  # (frames,) int8
    intensity: np.ndarray  # (frames,) float32
    gaze: np.ndarray  # (frames, 2) float32 degrees yaw/pitch
    head_distance: np.ndarray  # (frames,) float32 cm


@dataclass
class _Pending:
    labelled: bool
    audio: list[np.ndarray] = field(default_factory=list)
    labels: list[Labels] = field(default_factory=list)
    seconds: float = 0.0


def write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=1))


def new_manifest() -> dict:
    rig = load_rig()
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "fps": int(FPS), "sample_rate": SAMPLE_RATE,
            "channels": list(rig.channel_names), "emotions": list(EMOTIONS), "shards": [], "samples": [],
            "sources": {}}


def read_manifest(directory: str | Path) -> dict:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{directory} is not a dataset: it has no {MANIFEST}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None
    if data.get("format") != FORMAT_NAME:
        raise DatasetError(f"{path} is not a {FORMAT_NAME} manifest")
    if int(data.get("version", 0)) > FORMAT_VERSION:
        raise DatasetError(f"{path} has format version {data.get('version')}; this code reads up to "
                           f"{FORMAT_VERSION}")
    return data


class ShardWriter:
    """Collects samples into labelled and unlabelled shards and keeps the manifest up to date."""

    def __init__(self, directory: str | Path, manifest: dict | None = None,
                 shard_seconds: float = SHARD_SECONDS) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.manifest = manifest if manifest is not None else new_manifest()
        self.shard_seconds = shard_seconds
        self._pending = {True: _Pending(True), False: _Pending(False)}
        self._pending_meta: dict[bool, list[dict]] = {True: [], False: []}
        self._next = len(self.manifest["shards"])

    def add(self, audio: np.ndarray, labels: Labels | None, meta: dict) -> None:
        """One sample; ``meta`` holds the manifest fields other than id/shard/index/labelled/duration."""
        labelled = labels is not None
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if labelled:
            n = labels.curves.shape[0]
            if labels.curves.shape != (n, len(self.manifest["channels"])):
                raise DatasetError(f"curves must be (frames, {len(self.manifest['channels'])}), got "
                                   f"{labels.curves.shape}")
            for key in LABEL_KEYS[1:]:
                if getattr(labels, key).shape[0] != n:
                    raise DatasetError(f"{key} has {getattr(labels, key).shape[0]} frames, curves have {n}")
        pend = self._pending[labelled]
        pend.audio.append(audio)
        if labelled:
            pend.labels.append(labels)
        pend.seconds += len(audio) / SAMPLE_RATE
        self._pending_meta[labelled].append(dict(meta, labelled=labelled, duration=round(len(audio) / SAMPLE_RATE, 4)))
        if pend.seconds >= self.shard_seconds:
            self.flush(labelled)

    def flush(self, labelled: bool | None = None) -> None:
        for flag in ((True, False) if labelled is None else (labelled,)):
            if self._pending[flag].audio:
                self._write_shard(flag)
        write_json(self.dir / MANIFEST, self.manifest)

    def close(self) -> dict:
        self.flush()
        return self.manifest

    def _write_shard(self, labelled: bool) -> None:
        pend = self._pending[labelled]
        metas = self._pending_meta[labelled]
        name = f"shard_{self._next:05d}.npz"
        self._next += 1
        lengths = np.array([len(a) for a in pend.audio], dtype=np.int64)
        arrays = {"audio": np.concatenate(pend.audio).astype(np.float32),
                  "audio_offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)}
        if labelled:
            frames = np.array([lab.curves.shape[0] for lab in pend.labels], dtype=np.int64)
            arrays["frame_offsets"] = np.concatenate([[0], np.cumsum(frames)]).astype(np.int64)
            arrays["curves"] = np.concatenate([lab.curves for lab in pend.labels]).astype(np.float32)
            arrays["emotion"] = np.concatenate([lab.emotion for lab in pend.labels]).astype(np.int8)
            arrays["intensity"] = np.concatenate([lab.intensity for lab in pend.labels]).astype(np.float32)
            arrays["gaze"] = np.concatenate([lab.gaze for lab in pend.labels]).astype(np.float32).reshape(-1, 2)
            arrays["head_distance"] = np.concatenate([lab.head_distance for lab in pend.labels]).astype(np.float32)
        else:
            # Readers index frame_offsets for every shard; all zeros says "no frames" for each sample.
            arrays["frame_offsets"] = np.zeros(len(lengths) + 1, dtype=np.int64)
        with atomic_write(self.dir / name) as fh:
            np.savez(fh, **arrays)
        self.manifest["shards"].append({"file": name, "num_samples": len(lengths), "labelled": labelled})
        for index, meta in enumerate(metas):
            sample_id = meta.pop("id", None) or f"{len(self.manifest['samples']):07d}"
            self.manifest["samples"].append({"id": sample_id, "shard": name, "index": index, **meta})
        self._pending[labelled] = _Pending(labelled)
        self._pending_meta[labelled] = []


def load_shard(directory: str | Path, name: str) -> dict[str, np.ndarray]:
    path = Path(directory) / name
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read shard {path}: {exc}") from None
