"""The stored preview head: labelled parts with per-vertex colours, loaded from resources/head/head.npz.

Coordinates are centimetres: +x is the character's left, +y up, +z forward (the face looks down +z).
resources/head/build_head.py makes the file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.paths import resources_dir

SUPPORTED_FORMAT = 1
PART_NAMES = (
    "skin", "brows", "eye_L", "eye_R", "lid_upper_L", "lid_lower_L", "lid_upper_R", "lid_lower_R",
    "teeth_upper", "teeth_lower", "tongue",
)


class HeadGeometryError(RuntimeError):
    """The head geometry file is missing or unreadable."""


@dataclass(frozen=True)
class Part:
    name: str
    points: np.ndarray                # (n, 3) float32 rest positions
    faces: np.ndarray                 # (m, 3) int32 triangles
    colors: np.ndarray                # (n, 3) uint8
    attributes: dict[str, np.ndarray] = field(default_factory=dict)   # per-vertex float32 arrays

    @property
    def num_points(self) -> int:
        return len(self.points)


@dataclass(frozen=True)
class HeadGeometry:
    parts: dict[str, Part]
    landmarks: dict[str, np.ndarray]  # name -> (3,) float32

    @property
    def num_points(self) -> int:
        return sum(p.num_points for p in self.parts.values())


def default_path() -> Path:
    return resources_dir() / "head" / "head.npz"


def load_head_geometry(path: Path | None = None) -> HeadGeometry:
    path = Path(path) if path is not None else default_path()
    if path == default_path():
        return _load_cached(str(path))
    return _read(path)


@functools.lru_cache(maxsize=2)
def _load_cached(path: str) -> HeadGeometry:
    return _read(Path(path))


def _read(path: Path) -> HeadGeometry:
    if not path.is_file():
        raise HeadGeometryError(f"head geometry not found: {path} (run resources/head/build_head.py)")
    try:
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format_version"])
            if version != SUPPORTED_FORMAT:
                raise HeadGeometryError(f"{path}: head geometry format {version}, expected {SUPPORTED_FORMAT}")
            names = [str(n) for n in data["parts"]]
            missing = set(PART_NAMES) - set(names)
            if missing:
                raise HeadGeometryError(f"{path}: parts missing: {', '.join(sorted(missing))}")
            parts = {}
            for name in names:
                prefix = f"{name}/"
                attrs = {k[len(prefix):]: data[k].astype(np.float32) for k in data.files
                         if k.startswith(prefix) and k[len(prefix):] not in ("points", "faces", "colors")}
                parts[name] = Part(name, data[prefix + "points"].astype(np.float32),
                                   data[prefix + "faces"].astype(np.int32), data[prefix + "colors"], attrs)
            landmarks = {str(n): v.astype(np.float32)
                         for n, v in zip(data["landmark_names"], data["landmark_values"], strict=True)}
    except (KeyError, ValueError, OSError) as exc:
        raise HeadGeometryError(f"{path}: not a readable head geometry file ({exc})") from exc
    for part in parts.values():
        if part.faces.size and (part.faces.min() < 0 or part.faces.max() >= part.num_points):
            raise HeadGeometryError(f"{path}: part {part.name} has faces outside its vertex range")
    return HeadGeometry(parts, landmarks)
