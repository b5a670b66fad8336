"""Write a Take to any supported file, and read one back: the single entry point for exporters and importers.

By extension: .vrig project, .fbx binary FBX curves, .csv Live Link Face take, .txt EmoFace, .json named curves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.project import PROJECT_SUFFIX, load_project, save_project
from app.core.rig import NUM_CONTROLS, RigSpec, load_rig
from app.core.settings import GenerationSettings, Provenance
from app.core.take import GenerationMeta, Take
from app.core.timebase import FPS, resample_curves
from app.io import text_formats as tf

EXPORT_SUFFIXES = (PROJECT_SUFFIX, ".fbx", ".csv", ".txt", ".json")


class ExportError(ValueError):
    """The export cannot be made as asked (bad option, unsupported extension, empty range)."""


@dataclass(frozen=True)
class ExportOptions:
    fps: float | None = None  # None: the take's rate
    curves: str = "metahuman"  # metahuman | faceboard | arkit (FBX and JSON)
    start_frame: int | None = None  # in the take's frames, inclusive
    end_frame: int | None = None  # inclusive
    key_tolerance: float | None = 1e-4  # FBX key reduction; None keeps every key
    drop_constant: bool = False  # FBX: skip curves that stay at rest
    root_name: str = "root"
    head_name: str = "head"
    head_joint: bool = True  # FBX: head pose as rotation/translation keys on the head joint


def export_curves(take: Take, options: ExportOptions) -> tuple[np.ndarray, float, float]:
    """The evaluated curves of the chosen frame range at the export rate; also the rate and the start time."""
    n = take.num_frames
    start = 0 if options.start_frame is None else int(options.start_frame)
    end = n - 1 if options.end_frame is None else int(options.end_frame)
    if not 0 <= start <= end < n:
        raise ExportError(f"frame range {start}..{end} is outside the take (frames 0..{n - 1})")
    fps = take.fps if options.fps is None else float(options.fps)
    if not np.isfinite(fps) or fps <= 0 or fps > 1000:
        raise ExportError(f"frame rate must be between 0 and 1000, got {fps:g}")
    curves = take.evaluate()[start:end + 1]
    if not np.all(np.isfinite(curves)):
        raise ExportError("the take contains NaN or infinite values; regenerate it before exporting")
    if fps != take.fps:
        curves = resample_curves(curves, take.fps, fps)
    return curves, fps, start / take.fps


def write_take(take: Take, path: str | Path, options: ExportOptions | None = None, **kwargs) -> Path:
    """Write ``take`` to ``path`` in the format its extension names. Keyword arguments override ``options``."""
    options = options or ExportOptions()
    if kwargs:
        options = ExportOptions(**{**options.__dict__, **kwargs})
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ExportError(f"cannot write {path.name}: use one of {', '.join(EXPORT_SUFFIXES)}")
    if options.curves not in tf.CURVE_SETS:
        raise ExportError(f"unknown curve naming {options.curves!r}; choose {', '.join(tf.CURVE_SETS)}")
    if not path.parent.is_dir():
        raise ExportError(f"folder does not exist: {path.parent}")
    try:
        return _write(take, path, suffix, options)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None


def _write(take: Take, path: Path, suffix: str, options: ExportOptions) -> Path:
    if suffix == PROJECT_SUFFIX:
        return save_project(take, path)
    curves, fps, start_time = export_curves(take, options)
    rig = take.rig
    if suffix == ".txt":
        tf.write_emoface_txt(path, curves)
    elif suffix == ".csv":
        tf.write_llf_csv(path, curves, fps, rig, start_seconds=start_time)
    elif suffix == ".json":
        tf.write_curves_json(path, curves, fps, rig, curve_set=options.curves, name=take.name,
                             meta=_meta_dict(take))
    else:
        _write_fbx(path, curves, fps, take, options, start_time)
    return path


def _write_fbx(path: Path, curves: np.ndarray, fps: float, take: Take, options: ExportOptions,
               start_time: float) -> None:
    from app.io.fbx import FbxExportError, write_fbx_curves

    names, values = tf.curve_set_values(curves, take.rig, options.curves)
    rest = {n: 0.0 for n in names}
    if options.curves == "faceboard":
        rest = {n: float(take.rig.rest[i]) for i, n in enumerate(names)}
    named = {n: values[:, i] for i, n in enumerate(names)}
    if options.curves == "metahuman":
        # MetaHuman animation also carries head motion as curves (HeadYaw ... HeadTranslationZ), which an
        # Animation Blueprint can apply on top of the body; the head joint keys below are the other route.
        for i, channel in enumerate(take.rig.channel_names[NUM_CONTROLS:]):
            named[take.rig.head_ue_curves[channel]] = curves[:, NUM_CONTROLS + i]
            rest[take.rig.head_ue_curves[channel]] = 0.0
    head = options.head_joint
    try:
        write_fbx_curves(path, named, fps, take_name=take.name or "take",
                         root_name=options.root_name, head_name=options.head_name,
                         head_rotation=curves[:, NUM_CONTROLS:NUM_CONTROLS + 3] if head else None,
                         head_translation=curves[:, NUM_CONTROLS + 3:NUM_CONTROLS + 6] if head else None,
                         start_frame=int(round(start_time * fps)), key_tolerance=options.key_tolerance,
                         drop_constant=options.drop_constant, rest=rest)
    except FbxExportError as exc:
        raise ExportError(str(exc)) from None


def _meta_dict(take: Take) -> dict:
    m = take.meta
    p = m.settings.performance
    return {"engine": m.engine, "seed": p.seed, "head_distance": p.head_distance, "gaze": list(p.gaze),
            "emotion_keys": [[k.time, k.emotion, k.intensity] for k in p.emotion_keys],
            "audio": None if take.audio is None else take.audio.path}


def read_take(path: str | Path, *, fps: float | None = None, rig: RigSpec | None = None) -> Take:
    """Open any supported file as a Take at the internal 60 fps (imported curves become the base curves)."""
    path = Path(path)
    suffix = path.suffix.lower()
    rig = rig or load_rig()
    if suffix == PROJECT_SUFFIX:
        return load_project(path, rig)
    if suffix == ".txt":
        imported = tf.read_emoface_txt(path, rig, fps=fps or FPS)
    elif suffix == ".csv":
        imported = tf.read_llf_csv(path, rig, fps=fps)
    elif suffix == ".json":
        imported = tf.read_curves_json(path, rig)
    elif suffix == ".fbx":
        imported = _read_fbx(path, rig)
    else:
        raise tf.TakeFormatError(f"cannot open {path.name}: use one of {', '.join(EXPORT_SUFFIXES)}")
    curves = imported.curves
    if imported.fps != FPS:
        curves = resample_curves(curves, imported.fps, FPS, keep_extremes=False)
    source = imported.meta.get("source")
    if source and imported.meta.get("curve_set"):
        source = f"{source} ({imported.meta['curve_set']} curves)"
    meta = GenerationMeta(settings=GenerationSettings(engine="import"),
                          provenance=Provenance(source_file=str(path), source_fps=float(imported.fps),
                                                source_format=str(source) if source else None))
    return Take(curves, fps=FPS, name=imported.name, rig=rig, meta=meta)


def _read_fbx(path: Path, rig: RigSpec) -> tf.ImportedCurves:
    from app.io.fbx import FbxFormatError, read_fbx_curves

    try:
        fbx = read_fbx_curves(path)
    except FbxFormatError as exc:
        raise tf.TakeFormatError(str(exc)) from None
    sampled = fbx.sample()
    n = fbx.num_frames
    known = {"faceboard": rig.control_names, "metahuman": rig.ue_curve_names, "arkit": rig.arkit_names[:52]}
    counts = {k: sum(1 for name in names if name in sampled) for k, names in known.items()}
    curve_set = max(counts, key=counts.get)
    if counts[curve_set] == 0:
        raise tf.TakeFormatError(f"{path.name} has no curves with MetaHuman, face-board or ARKit names")
    names = known[curve_set]
    values = np.stack([sampled.get(name, np.zeros(n)) for name in names], axis=1).astype(np.float32)
    out = tf.rig_curves_from_set(values, rig, curve_set)
    for i, ch in enumerate(("head_yaw", "head_pitch", "head_roll", "head_tx", "head_ty", "head_tz")):
        ue_name = rig.head_ue_curves[ch]
        if ch in sampled:
            out[:, NUM_CONTROLS + i] = sampled[ch]
        elif ue_name in sampled:
            out[:, NUM_CONTROLS + i] = sampled[ue_name]
    return tf.ImportedCurves(rig.clamp(out), fbx.fps, fbx.take_name or path.stem,
                             {"source": "fbx", "curve_set": curve_set})
