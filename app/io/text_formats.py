"""Plain-text take formats: EmoFace txt, Live Link Face take CSV, and JSON curves -- writers and readers.

- EmoFace txt: one frame per line, the 174 face-board values comma-separated, 60 fps unless stated otherwise.
- Live Link Face CSV: ``Timecode,BlendShapeCount,<61 names>``; rows ``HH:MM:SS:FF.fff,61,<61 values>``.
  Rotations (head and eyes) are written as on the Live Link stream: degrees / 180. Readers index columns by header
  name, since recorded files order some columns differently from the stream.
- JSON: named channels per curve set (faceboard, metahuman or arkit), fps, head pose and take metadata.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from app.core.atomic import atomic_write_text
from app.core.rig import NUM_CONTROLS, RigSpec
from app.core.timebase import timecode

JSON_FORMAT = "vasa-rig/curves"
JSON_VERSION = 1
CURVE_SETS = ("metahuman", "faceboard", "arkit")
LLF_ROTATION_SCALE = 180.0


class TakeFormatError(ValueError):
    """A take file is malformed; the message names the file and, where it helps, the line."""


@dataclass
class ImportedCurves:
    """Curves read from a file, as rig channels at ``fps`` (frames, 180)."""

    curves: np.ndarray
    fps: float
    name: str
    meta: dict


# --- EmoFace txt --------------------------------------------------------------------------------------------------

def write_emoface_txt(path: str | Path, curves: np.ndarray) -> None:
    """``curves``: (frames, 180) or (frames, 174); only the 174 face-board values are written."""
    values = np.asarray(curves, dtype=np.float64)[:, :NUM_CONTROLS]
    buf = io.StringIO()
    np.savetxt(buf, values, fmt="%.6f", delimiter=",")
    atomic_write_text(path, buf.getvalue())


def read_emoface_txt(path: str | Path, rig: RigSpec, fps: float = 60.0) -> ImportedCurves:
    path = Path(path)
    rows = []
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = line.split(",")
        if len(parts) != NUM_CONTROLS:
            raise TakeFormatError(f"{path.name}, line {lineno}: expected {NUM_CONTROLS} comma-separated values, "
                                  f"found {len(parts)}")
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            raise TakeFormatError(f"{path.name}, line {lineno}: not a number in the row") from None
    if not rows:
        raise TakeFormatError(f"{path.name} holds no frames")
    values = np.asarray(rows, dtype=np.float32)
    _check_finite(values, path)
    out = rig.rest_curves(len(values))
    out[:, :NUM_CONTROLS] = values
    return ImportedCurves(rig.clamp(out), float(fps), path.stem, {})


# --- Live Link Face CSV --------------------------------------------------------------------------------------------

def write_llf_csv(path: str | Path, curves: np.ndarray, fps: float, rig: RigSpec, start_seconds: float = 0.0) -> None:
    arkit = rig.to_arkit(curves).astype(np.float64)
    arkit[:, 52:] /= LLF_ROTATION_SCALE
    buf = io.StringIO()
    buf.write("Timecode,BlendShapeCount," + ",".join(rig.arkit_names) + "\n")
    for i, row in enumerate(arkit):
        buf.write(f"{timecode(start_seconds + i / fps, fps)},61," + ",".join(f"{v:.6f}" for v in row) + "\n")
    atomic_write_text(path, buf.getvalue())


_TIMECODE = re.compile(r"^(\d+):(\d\d):(\d\d):(\d+)(?:\.(\d+))?$")


def read_llf_csv(path: str | Path, rig: RigSpec, fps: float | None = None) -> ImportedCurves:
    """Read a Live Link Face take CSV. The frame rate comes from ``fps`` or, failing that, from the timecodes."""
    path = Path(path)
    reader = csv.reader(io.StringIO(_read_text(path)))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise TakeFormatError(f"{path.name} is empty") from None
    columns = {name: i for i, name in enumerate(header)}
    missing = [n for n in rig.arkit_names[:52] if n not in columns]
    if "Timecode" not in columns or missing:
        what = "the Timecode column" if "Timecode" not in columns else f"columns {', '.join(missing[:4])}"
        raise TakeFormatError(f"{path.name} is not a Live Link Face take (missing {what})")
    picks = [columns.get(n) for n in rig.arkit_names]
    values, stamps = [], []
    for lineno, row in enumerate(reader, start=2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise TakeFormatError(f"{path.name}, line {lineno}: {len(row)} columns, the header has {len(header)}")
        try:
            values.append([float(row[i]) if i is not None else 0.0 for i in picks])
        except ValueError:
            raise TakeFormatError(f"{path.name}, line {lineno}: not a number in the row") from None
        stamps.append(row[columns["Timecode"]].strip())
    if not values:
        raise TakeFormatError(f"{path.name} holds no frames")
    arkit = np.asarray(values, dtype=np.float32)
    _check_finite(arkit, path)
    arkit[:, 52:] *= LLF_ROTATION_SCALE
    rate = float(fps) if fps else _fps_from_timecodes(stamps, path)
    return ImportedCurves(rig.from_arkit(arkit), rate, path.stem, {"source": "live-link-face-csv"})


def _fps_from_timecodes(stamps: list[str], path: Path) -> float:
    """The frame rate the FF field of the timecodes implies (Live Link Face records 30 or 60).

    Once the seconds roll over, the largest FF seen fixes the rate (the smallest standard rate above it). A take
    shorter than a second never rolls over and fits any rate above its last FF: it is read at 60 fps, the rate of
    our exports and of the rig's data, unless its FF already reaches 60."""
    max_ff = 0
    seconds = set()
    for s in stamps:
        m = _TIMECODE.match(s)
        if not m:
            raise TakeFormatError(f"{path.name}: timecode {s!r} is not HH:MM:SS:FF.fff; give the frame rate")
        max_ff = max(max_ff, int(m.group(4)))
        seconds.add(m.group(1, 2, 3))
    if len(seconds) <= 1 and max_ff < 60:
        return 60.0
    for rate in (24.0, 25.0, 30.0, 50.0, 60.0, 120.0):
        if max_ff < rate:
            return rate
    raise TakeFormatError(f"{path.name}: cannot tell the frame rate from the timecodes; give it explicitly")


# --- JSON ------------------------------------------------------------------------------------------------------

def curve_set_values(curves: np.ndarray, rig: RigSpec, curve_set: str) -> tuple[list[str], np.ndarray]:
    """Names and (frames, n) values of a take in one of the curve sets (head pose excluded)."""
    if curve_set == "faceboard":
        return rig.control_names, np.asarray(curves[:, :NUM_CONTROLS], np.float32)
    if curve_set == "metahuman":
        return list(rig.ue_curve_names), rig.to_ue_curves(curves)
    if curve_set == "arkit":
        return list(rig.arkit_names[:52]), rig.to_arkit(curves)[:, :52]
    raise ValueError(f"unknown curve set {curve_set!r}; choose {', '.join(CURVE_SETS)}")


def rig_curves_from_set(values: np.ndarray, rig: RigSpec, curve_set: str) -> np.ndarray:
    """(frames, n) values named by ``curve_set`` (in the order curve_set_values gives) -> (frames, 180) rig
    curves, head at rest."""
    n = len(values)
    if curve_set == "faceboard":
        out = rig.rest_curves(n)
        out[:, :NUM_CONTROLS] = values
        return out
    if curve_set == "metahuman":
        return rig.from_ue_curves(values)
    if curve_set == "arkit":
        full = np.zeros((n, 61), np.float32)
        full[:, :52] = values
        return rig.from_arkit(full)
    raise ValueError(f"unknown curve set {curve_set!r}; choose {', '.join(CURVE_SETS)}")


HEAD_POSE_KEYS = ("yaw", "pitch", "roll", "tx", "ty", "tz")


def write_curves_json(path: str | Path, curves: np.ndarray, fps: float, rig: RigSpec, *, curve_set: str = "faceboard",
                      name: str = "take", meta: dict | None = None) -> None:
    names, values = curve_set_values(curves, rig, curve_set)
    head = np.asarray(curves[:, NUM_CONTROLS:], np.float64)
    # np.round divides the rounded integer by 10**k, which gives the same double as round() (the nearest one to the
    # decimal) outside exact ties. orjson writes each row as the shortest text that reads back as that double, as
    # json.dumps did, about 8x faster (a 5-minute take of random curves written whole: 1.65 s -> 0.21 s).
    channels = np.ascontiguousarray(np.round(np.asarray(values, np.float64), 6).T)
    pose = np.ascontiguousarray(np.round(head, 5).T)
    doc = {
        "format": JSON_FORMAT, "version": JSON_VERSION, "name": name, "fps": fps, "num_frames": int(len(curves)),
        "curve_set": curve_set, "meta": meta or {},
        "channels": dict(zip(names, channels, strict=True)),
        "head_pose": {"units": {"yaw": "deg", "pitch": "deg", "roll": "deg", "tx": "cm", "ty": "cm", "tz": "cm"},
                      **dict(zip(HEAD_POSE_KEYS, pose, strict=True))},
    }
    atomic_write_text(path, orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY).decode())


def read_curves_json(path: str | Path, rig: RigSpec) -> ImportedCurves:
    path = Path(path)
    text = _read_text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TakeFormatError(f"{path.name} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise TakeFormatError(f"{path.name} is not a VASA-Rig curves file (nested too deeply)") from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise TakeFormatError(f"{path.name} is not a VASA-Rig curves file")
    version = doc.get("version", 0)
    if not isinstance(version, int):
        raise TakeFormatError(f"{path.name}: invalid curves format version {version!r}")
    if version > JSON_VERSION:
        raise TakeFormatError(f"{path.name} was written by a newer version (curves format {version})")
    try:
        n, fps, curve_set = int(doc["num_frames"]), float(doc["fps"]), str(doc["curve_set"])
        channels = doc["channels"]
        if curve_set not in CURVE_SETS:
            raise TakeFormatError(f"{path.name}: unknown curve set {curve_set!r}")
        if not 0 < fps <= 1000:  # also refuses NaN
            raise TakeFormatError(f"{path.name}: frame rate {fps:g} is not between 0 and 1000 fps")
        if not 1 <= n <= len(text):  # every frame takes at least a character: a larger count is a lie
            raise TakeFormatError(f"{path.name}: num_frames {n} does not fit the file")
        names = {"faceboard": rig.control_names, "metahuman": rig.ue_curve_names,
                 "arkit": rig.arkit_names[:52]}[curve_set]
        values = np.zeros((n, len(names)), np.float32)
        for i, name in enumerate(names):
            if name in channels:
                values[:, i] = _json_column(channels[name], n, name, path)
        out = rig_curves_from_set(values, rig, curve_set)
        head = doc.get("head_pose", {})
        for i, k in enumerate(("yaw", "pitch", "roll", "tx", "ty", "tz")):
            if k in head:
                out[:, NUM_CONTROLS + i] = _json_column(head[k], n, f"head_pose {k}", path)
        meta = doc.get("meta", {})
        meta = dict(meta) if isinstance(meta, dict) else {}
    except TakeFormatError:
        raise
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise TakeFormatError(f"{path.name}: malformed curves file ({exc})") from None
    return ImportedCurves(rig.clamp(out), fps, str(doc.get("name", path.stem)), meta)


def _json_column(values, n: int, name: str, path: Path) -> np.ndarray:
    col = np.asarray(values, dtype=np.float64)
    if col.shape != (n,):
        raise TakeFormatError(f"{path.name}: channel {name} has {col.size} values, expected {n}")
    _check_finite(col, path)
    # Beyond any rig range (clamped later), and within float32, so the cast cannot overflow.
    return np.clip(col, -1e6, 1e6).astype(np.float32)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TakeFormatError(f"file not found: {path}") from None
    except UnicodeDecodeError:
        raise TakeFormatError(f"{path.name} is not a text file") from None
    except OSError as exc:
        raise TakeFormatError(f"cannot read {path}: {exc.strerror or exc}") from None


def _check_finite(values: np.ndarray, path: Path) -> None:
    if not np.all(np.isfinite(values)):
        raise TakeFormatError(f"{path.name} contains NaN or infinite values")
