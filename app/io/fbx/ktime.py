"""FBX time: ticks per second and the GlobalSettings TimeMode enum."""
from __future__ import annotations

import numpy as np

# FBX 7.x time unit (FbxTime): this many ticks make one second.
TICKS_PER_SECOND = 46186158000

# GlobalSettings "TimeMode" enum values (FbxTime::EMode) and the frame rates they stand for.
TIME_MODE_CUSTOM = 14
TIME_MODE_RATES: dict[int, float] = {
    1: 120.0,
    2: 100.0,
    3: 60.0,
    4: 50.0,
    5: 48.0,
    6: 30.0,
    7: 30.0,              # 30 drop-frame
    8: 30000.0 / 1001.0,  # NTSC drop-frame
    9: 30000.0 / 1001.0,  # NTSC full-frame
    10: 25.0,             # PAL
    11: 24.0,
    12: 1000.0,
    13: 24000.0 / 1001.0,  # film full-frame
    15: 96.0,
    16: 72.0,
    17: 60000.0 / 1001.0,
}
# Preferred mode for each rate when writing (the non-drop variant where two modes share a rate).
_WRITE_MODES = {3: 60.0, 4: 50.0, 5: 48.0, 6: 30.0, 9: 30000.0 / 1001.0, 10: 25.0, 11: 24.0, 1: 120.0,
                2: 100.0, 12: 1000.0, 13: 24000.0 / 1001.0, 15: 96.0, 16: 72.0, 17: 60000.0 / 1001.0}


def time_mode_for(fps: float) -> int:
    """The TimeMode enum for ``fps``: a named mode when it matches exactly, otherwise custom (14).

    A rate written as 29.97 is not the NTSC rate 30000/1001 and is stored as a custom rate, so that key
    times computed from it and the declared rate agree.
    """
    for mode, rate in _WRITE_MODES.items():
        if abs(fps - rate) <= 1e-9 * rate:
            return mode
    return TIME_MODE_CUSTOM


def frames_to_ticks(frames: np.ndarray, fps: float) -> np.ndarray:
    """Frame numbers (may be fractional) at ``fps`` to int64 FBX ticks, rounded to the nearest tick."""
    return np.rint(np.asarray(frames, dtype=np.float64) * (TICKS_PER_SECOND / fps)).astype(np.int64)


def ticks_to_seconds(ticks: np.ndarray) -> np.ndarray:
    return np.asarray(ticks, dtype=np.float64) / TICKS_PER_SECOND
