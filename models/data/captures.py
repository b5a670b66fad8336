"""Own captures into the dataset format: a Live Link Face take CSV (ARKit -> rig mapping of the rig spec) or an
EmoFace txt, plus the WAV recorded with it, become one labelled sample (source "capture", real speech).

The curves are read through app.io.export.read_take (so every format the app opens works the same here),
resampled to 60 fps there, and trimmed or padded to the audio's length; a length mismatch of more than
``MAX_MISMATCH_S`` means the files do not belong together and is refused. Emotion, gaze and head distance are
what the caller states (a capture has no teacher conditions); phones come from PocketSphinx when a transcript is
given, else the sample has none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.core.take import EMOTIONS
from app.core.timebase import FPS, SAMPLE_RATE, frames_for_duration

from . import DatasetError
from .shards import MANIFEST, Labels, ShardWriter, read_manifest

MAX_MISMATCH_S = 1.0
CAPTURE_LICENCE = "own capture (licence of the studio that recorded it)"


def import_capture(curves_path: str | Path, wav_path: str | Path, out: str | Path, *, speaker: str = "actor",
                   emotion: str = "neutral", intensity: float = 0.0, gaze: tuple[float, float] = (0.0, 0.0),
                   head_distance: float = 60.0, split: str = "train", transcript: str | None = None,
                   fps: float | None = None) -> dict:
    """Add one capture to the dataset at ``out`` (created when missing); returns its manifest entry."""
    from app.io.audio import AudioError, load_audio
    from app.io.export import read_take
    from app.io.text_formats import TakeFormatError

    curves_path, wav_path, out = Path(curves_path), Path(wav_path), Path(out)
    if curves_path.suffix.lower() not in (".csv", ".txt"):
        raise DatasetError(f"{curves_path.name}: expected a Live Link Face .csv or an EmoFace .txt")
    if emotion not in EMOTIONS:
        raise DatasetError(f"unknown emotion {emotion!r}; choose one of {', '.join(EMOTIONS)}")
    if not 0.0 <= intensity <= 1.0:
        raise DatasetError(f"intensity must be within 0..1, got {intensity}")
    if split not in ("train", "val_real"):
        raise DatasetError(f"a capture goes to split train or val_real, not {split!r}")
    if not curves_path.is_file():
        raise DatasetError(f"curves file not found: {curves_path}")
    try:
        take = read_take(curves_path, fps=fps)
        clip = load_audio(wav_path)
    except (TakeFormatError, AudioError, ValueError) as exc:
        raise DatasetError(str(exc)) from None
    curves = take.evaluate().astype(np.float32)
    n = frames_for_duration(clip.duration, FPS)
    mismatch = abs(curves.shape[0] - n) / FPS
    if mismatch > MAX_MISMATCH_S:
        raise DatasetError(f"{curves_path.name} covers {curves.shape[0] / FPS:.2f} s but {wav_path.name} lasts "
                           f"{clip.duration:.2f} s; are they from the same take?")
    if curves.shape[0] >= n:
        curves = curves[:n]
    else:  # hold the last pose over the audio's tail
        curves = np.concatenate([curves, np.repeat(curves[-1:], n - curves.shape[0], axis=0)])
    phones = []
    if transcript:
        from app.engines.phonetics import PhoneticsError, align_audio

        try:
            phones = [[p.phone, round(p.start, 4), round(p.end, 4)]
                      for p in align_audio(clip.samples, SAMPLE_RATE, transcript).phones]
        except PhoneticsError as exc:
            raise DatasetError(f"the transcript could not be aligned to {wav_path.name}: {exc}") from None
    labels = Labels(curves=curves, emotion=np.full(n, EMOTIONS.index(emotion), np.int8),
                    intensity=np.full(n, intensity, np.float32),
                    gaze=np.tile(np.asarray(gaze, np.float32), (n, 1)),
                    head_distance=np.full(n, head_distance, np.float32))
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out) if (out / MANIFEST).exists() else None
    writer = ShardWriter(out, manifest)
    count = sum(1 for s in writer.manifest["samples"] if s.get("source") == "capture")
    voice = f"capture:{speaker}"
    writer.add(clip.samples, labels, {
        "id": f"capture-{count:05d}-{curves_path.stem}", "source": "capture", "voice": voice, "real": True,
        "split": split, "text": transcript or "", "licence": CAPTURE_LICENCE, "augment": "none",
        "curves_file": str(curves_path), "audio_file": str(wav_path), "phones": phones,
        "conditions": {"emotion_keys": [[0.0, emotion, intensity]], "gaze": list(gaze),
                       "head_distance": head_distance, "measured": True}})
    entry = writer.manifest["sources"].setdefault("capture", {"licence": CAPTURE_LICENCE, "hours": 0.0,
                                                              "voices": []})
    entry["hours"] = round(entry["hours"] + clip.duration / 3600.0, 5)
    if voice not in entry["voices"]:
        entry["voices"].append(voice)
    manifest = writer.close()
    return manifest["samples"][-1]
