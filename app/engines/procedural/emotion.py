"""Emotion: eight categories x intensity, keyed over time, acting as pose offsets and as gains on articulation
and on motion energy (head, brows, gaze)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.core.take import EMOTIONS, EmotionKey

from .poses import pose_vector

# Offsets at intensity 1 (face-board units; head in degrees).
POSES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"mouth_cornerPull": 0.6, "mouth_dimple": 0.3, "eye_cheekRaise": 0.55, "eye_squintInner": 0.3,
              "nose_nasolabialDeepen": 0.35, "mouth_sharpCornerPull": 0.15, "brow_raiseOut": 0.1,
              "eye_lidPress": 0.1, "mouth_lowerLipDepress": 0.08, "mouth_upperLipRaise": 0.05, "nose": 0.1},
    "sad": {"brow_raiseIn": 0.6, "brow_lateral": 0.3, "mouth_cornerDepress": 0.5, "eye_blink": 0.15,
            "jaw_ChinRaiseD": 0.3, "mouth_pushPullD": 0.15, "eye_eyelidU": -0.1, "head_pitch": 5.0,
            "mouth_cornerPull": -0.2},
    "angry": {"brow_down": 0.7, "brow_lateral": 0.5, "eye_squintInner": 0.45, "eye_lidPress": 0.3,
              "eye_faceScrunch": 0.2, "nose_wrinkleUpper": 0.25, "mouth_upperLipRaise": 0.15,
              "mouth_tightenU": 0.3, "mouth_tightenD": 0.25, "jaw_clench": 0.3, "nose": 0.15,
              "head_pitch": 2.0},
    "fearful": {"brow_raiseIn": 0.7, "brow_raiseOut": 0.4, "brow_lateral": 0.35, "eye_blink": -0.4,
                "mouth_stretch": 0.4, "mouth_cornerDepress": 0.15, "mouth_stretchLipsClose": 0.2,
                "neck_stretch": 0.2, "head_pitch": -2.0},
    "disgusted": {"nose_wrinkleUpper": 0.6, "mouth_upperLipRaise": 0.5, "brow_down": 0.35,
                  "eye_squintInner": 0.35, "mouth_cornerDepress": 0.25, "nose_nasolabialDeepen": 0.4,
                  "eye_faceScrunch": 0.3, "nose": 0.3, "jaw_ChinRaiseU": 0.2},
    "surprised": {"brow_raiseIn": 0.7, "brow_raiseOut": 0.8, "eye_blink": -0.5, "C_jaw": 0.08,
                  "mouth_lowerLipDepress": 0.12, "eye_eyelidU": 0.2, "head_pitch": -3.0},
    "contempt": {"L_mouth_cornerPull": 0.45, "L_mouth_dimple": 0.45, "L_mouth_sharpCornerPull": 0.25,
                 "eye_squintInner": 0.15, "L_brow_down": 0.1, "R_brow_raiseOut": 0.15, "head_pitch": -3.0,
                 "head_roll": 3.0},
}
HEAD_KEYS = ("head_yaw", "head_pitch", "head_roll")


@dataclass(frozen=True)
class Gains:
    articulation: float  # mouth amplitude
    motion: float  # head, brow and gaze amplitude
    blink: float  # blink rate


GAINS: dict[str, Gains] = {
    "neutral": Gains(1.0, 1.0, 1.0),
    "happy": Gains(1.1, 1.2, 1.0),
    "sad": Gains(0.75, 0.6, 0.8),
    "angry": Gains(1.25, 1.3, 0.9),
    "fearful": Gains(0.9, 1.1, 1.4),
    "disgusted": Gains(1.0, 0.9, 1.0),
    "surprised": Gains(1.15, 1.2, 0.7),
    "contempt": Gains(0.9, 0.8, 1.0),
}


def weights(keys: Sequence[EmotionKey], num_frames: int, fps: float) -> np.ndarray:
    """(frames, 8) intensity of each emotion per frame: keys interpolated linearly in time (each key is the
    vector with its intensity at its emotion), held before the first key and after the last."""
    out = np.zeros((num_frames, len(EMOTIONS)))
    if not keys:
        return out
    keys = sorted(keys, key=lambda k: k.time)
    times = np.array([k.time for k in keys])
    vecs = np.zeros((len(keys), len(EMOTIONS)))
    for i, k in enumerate(keys):
        vecs[i, EMOTIONS.index(k.emotion)] = k.intensity
    t = np.arange(num_frames) / fps
    for j in range(len(EMOTIONS)):
        out[:, j] = np.interp(t, times, vecs[:, j])
    return out


def offsets(w: np.ndarray) -> np.ndarray:
    """(frames, channels) pose offsets for emotion weights ``w`` (frames, 8)."""
    from app.core.rig import load_rig

    rig = load_rig()
    table = np.zeros((len(EMOTIONS), rig.num_channels))
    for j, name in enumerate(EMOTIONS):
        pose = dict(POSES[name])
        head = {k: pose.pop(k) for k in HEAD_KEYS if k in pose}
        table[j] = pose_vector(pose, rig)
        for k, v in head.items():
            table[j, rig.index(k)] = v
    return w @ table


def gains(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame (articulation, motion, blink) gains: 1 + sum of intensity x (gain - 1)."""
    g = np.array([[GAINS[e].articulation, GAINS[e].motion, GAINS[e].blink] for e in EMOTIONS]) - 1.0
    total = 1.0 + w @ g
    return total[:, 0], total[:, 1], total[:, 2]
