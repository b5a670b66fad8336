"""Named reference poses (expressions, visemes, blinks, gaze) for contact sheets, reviews and tests."""

from __future__ import annotations

import numpy as np


def _both(name: str, value: float) -> dict[str, float]:
    return {name.replace("{S}", "L"): value, name.replace("{S}", "R"): value}


def _merge(*parts: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in parts:
        out.update(p)
    return out


B = _both
POSES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": _merge(B("CTRL_{S}_mouth_cornerPull-translateY", 1), B("CTRL_{S}_eye_cheekRaise-translateY", 1),
                    B("CTRL_{S}_mouth_dimple-translateY", 0.4), {"CTRL_C_jaw-translateY": 0.08}),
    "sad": _merge(B("CTRL_{S}_brow_raiseIn-translateY", 1), B("CTRL_{S}_brow_lateral-translateY", 0.5),
                  B("CTRL_{S}_mouth_cornerDepress-translateY", 1), B("CTRL_{S}_jaw_ChinRaiseD-translateY", 0.4),
                  B("CTRL_{S}_eye_eyelidU-translateY", -0.5)),
    "angry": _merge(B("CTRL_{S}_brow_down-translateY", 1), B("CTRL_{S}_brow_lateral-translateY", 1),
                    B("CTRL_{S}_mouth_pressU-translateY", 1), B("CTRL_{S}_mouth_pressD-translateY", 1),
                    B("CTRL_{S}_eye_squintInner-translateY", 0.8), B("CTRL_{S}_nose-translateY", 0.4),
                    B("CTRL_{S}_mouth_tightenU-translateY", 0.6)),
    "surprised": _merge(B("CTRL_{S}_brow_raiseIn-translateY", 1), B("CTRL_{S}_brow_raiseOut-translateY", 1),
                        B("CTRL_{S}_eye_blink-translateY", -1), {"CTRL_C_jaw-translateY": 0.6}),
    "fear": _merge(B("CTRL_{S}_brow_raiseIn-translateY", 1), B("CTRL_{S}_brow_lateral-translateY", 0.8),
                   B("CTRL_{S}_eye_blink-translateY", -0.8), B("CTRL_{S}_mouth_stretch-translateY", 0.8),
                   {"CTRL_C_jaw-translateY": 0.25}),
    "disgust": _merge(B("CTRL_{S}_nose-translateY", 1), B("CTRL_{S}_mouth_upperLipRaise-translateY", 1),
                      B("CTRL_{S}_brow_down-translateY", 0.6), B("CTRL_{S}_eye_cheekRaise-translateY", 0.5),
                      B("CTRL_{S}_mouth_cornerDepress-translateY", 0.4)),
    "M (lips together)": _merge(B("CTRL_{S}_mouth_lipsTogetherU-translateY", 1),
                                B("CTRL_{S}_mouth_lipsTogetherD-translateY", 1),
                                B("CTRL_{S}_mouth_pressU-translateY", 0.5), {"CTRL_C_jaw-translateY": 0.15}),
    "AH (jaw open)": {"CTRL_C_jaw-translateY": 0.75},
    "OO (purse+funnel)": _merge(B("CTRL_{S}_mouth_purseU-translateY", 1), B("CTRL_{S}_mouth_purseD-translateY", 1),
                                B("CTRL_{S}_mouth_funnelU-translateY", 0.8),
                                B("CTRL_{S}_mouth_funnelD-translateY", 0.8), {"CTRL_C_jaw-translateY": 0.15}),
    "EE (stretch)": _merge(B("CTRL_{S}_mouth_stretch-translateY", 0.8), B("CTRL_{S}_mouth_cornerPull-translateY", 0.3),
                           {"CTRL_C_jaw-translateY": 0.15}),
    "F (lip to teeth)": _merge(B("CTRL_{S}_mouth_lipBiteD-translateY", 1),
                               B("CTRL_{S}_mouth_lipsTowardsTeethD-translateY", 0.5),
                               B("CTRL_{S}_mouth_upperLipRaise-translateY", 1.0), {"CTRL_C_jaw-translateY": 0.2}),
    "tongue out": {"CTRL_C_jaw-translateY": 0.5, "CTRL_C_tongue_inOut-translateY": -1.0},
    "blink": B("CTRL_{S}_eye_blink-translateY", 1),
    "wink L": {"CTRL_L_eye_blink-translateY": 1, "CTRL_L_eye_cheekRaise-translateY": 0.4},
    "look left": {"CTRL_C_eye-translateX": 1},
    "look right": {"CTRL_C_eye-translateX": -1},
    "look up": {"CTRL_C_eye-translateY": 1},
    "look down": {"CTRL_C_eye-translateY": -1},
    "cheeks puffed": B("CTRL_{S}_mouth_suckBlow-translateY", -1),
    "sneer": B("CTRL_{S}_nose-translateY", 1),
    "head turn": {"head_yaw": 30.0, "head_pitch": 10.0},
    "head tilt": {"head_roll": 15.0, "head_pitch": -12.0},
}


def pose_values(pose: dict[str, float], channel_names: list[str]) -> np.ndarray:
    index = {n: i for i, n in enumerate(channel_names)}
    v = np.zeros(len(channel_names), np.float32)
    for name, val in pose.items():
        v[index[name]] = val
    return v
