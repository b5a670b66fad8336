"""Poses written with short control names, resolved once against the rig.

A pose is a mapping from a short name to a value (an offset from the rest pose). Short names:
  "C_jaw"                -> CTRL_C_jaw-translateY
  "C_jaw.x"              -> CTRL_C_jaw-translateX
  "mouth_purseU"         -> CTRL_L_mouth_purseU-translateY and CTRL_R_mouth_purseU-translateY (both sides)
  "L_mouth_cornerPull"   -> one side only
  "lookAtSwitch"         -> CTRL_lookAtSwitch-translateY (controls without a side letter)
Writing poses this way keeps the viseme and emotion tables readable and symmetric by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np

from app.core.rig import RigSpec, load_rig

Pose = Mapping[str, float]


def resolve(short: str, rig: RigSpec | None = None) -> list[int]:
    """Channel indices a short name stands for (KeyError with the name if the rig has no such control)."""
    if rig is None or rig is load_rig():
        return list(_resolve_app(short))
    return _resolve(short, rig)


@cache
def _resolve_app(short: str) -> tuple[int, ...]:
    return tuple(_resolve(short, load_rig()))


def _resolve(short: str, rig: RigSpec) -> list[int]:
    base, _, axis = short.partition(".")
    attr = "translateX" if axis == "x" else "translateY"
    if base.startswith(("C_", "L_", "R_")):
        names = [f"CTRL_{base}-{attr}"]
    else:
        names = [f"CTRL_L_{base}-{attr}", f"CTRL_R_{base}-{attr}"]
        try:
            rig.index(names[0])
        except KeyError:
            names = [f"CTRL_{base}-{attr}"]
    try:
        return [rig.index(n) for n in names]
    except KeyError:
        raise KeyError(f"pose control {short!r} does not name a rig control") from None


def pose_vector(pose: Pose, rig: RigSpec | None = None) -> np.ndarray:
    """(channels,) float32 offsets; channels the pose does not name are 0."""
    rig = rig or load_rig()
    out = np.zeros(rig.num_channels, dtype=np.float32)
    for short, value in pose.items():
        out[resolve(short, rig)] = value
    return out


@cache
def indices(*shorts: str) -> np.ndarray:
    """Channel indices of several short names (application rig), as one array."""
    rig = load_rig()
    return np.array([i for s in shorts for i in resolve(s, rig)], dtype=np.int64)


@cache
def channel_group(prefixes: tuple[str, ...]) -> np.ndarray:
    """Indices of the face-board controls whose name (after CTRL_X_) starts with one of ``prefixes``."""
    rig = load_rig()
    out = []
    for c in rig.channels[: len(rig.control_names)]:
        stem = c.name.split("_", 2)[-1] if c.name[5:7] in ("C_", "L_", "R_") else c.name[5:]
        if stem.startswith(prefixes):
            out.append(c.index)
    return np.array(out, dtype=np.int64)
