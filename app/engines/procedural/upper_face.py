"""Upper face: brows on pitch accents, blinks, gaze saccades, squint and cheeks with smiles and emphasis, and the
nose following the upper lip and breathing.

Blink and saccade statistics follow EmoFace (reference/ue5_integration.md section 6): blink intervals from a
log-normal (mu 3.518, sigma 0.532, clamped 15..100, read in tenths of a second: a median of 3.4 s, i.e. the
10-25 blinks per minute of conversation), a 13-frame blink at 60 fps; saccades of radius 0.1-0.2 around the gaze
target, held 25-45 frames, 5-frame transitions, 40% of them back to the target.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .poses import indices
from .prosody import Prosody
from .signals import Syllable, add_bump, smooth_noise

BLINK_LOG_MU = 3.518
BLINK_LOG_SIGMA = 0.532
BLINK_CLAMP = (15.0, 100.0)
BLINK_UNIT_S = 0.1
BLINK_PROFILE = np.array([0.25, 0.6, 0.9, 1.0, 0.95, 0.85, 0.7, 0.55, 0.4, 0.28, 0.17, 0.08, 0.03])  # 13 frames
BREAK_BLINK_PROBABILITY = 0.5
SACCADE_RADIUS = (0.1, 0.2)
SACCADE_HOLD = (25, 45)  # frames at 60 fps
SACCADE_MOVE = 5
SACCADE_RETURN = 0.4


def blink_times(rng: np.random.Generator, duration: float, rate_gain: np.ndarray, fps: float,
                breaks: Sequence[tuple[float, float]]) -> list[float]:
    """Blink onsets: a log-normal renewal process (faster where ``rate_gain`` > 1) plus blinks in phrase breaks."""
    times: list[float] = []
    t = float(rng.uniform(0.3, 3.5))  # the take starts somewhere inside an interval
    while t < duration:
        times.append(t)
        interval = np.clip(np.exp(rng.normal(BLINK_LOG_MU, BLINK_LOG_SIGMA)), *BLINK_CLAMP) * BLINK_UNIT_S
        g = float(rate_gain[min(int(t * fps), len(rate_gain) - 1)]) if len(rate_gain) else 1.0
        t += interval / max(g, 0.2)
    for start, end in breaks:
        if start <= 0.0:  # the lead-in before the first word is not a break in speech
            continue
        if rng.random() < BREAK_BLINK_PROBABILITY:
            bt = start + float(rng.uniform(0.02, 0.12))
            if bt < min(end, duration) and all(abs(bt - x) > 0.5 for x in times):
                times.append(bt)
    return sorted(times)


def blink_curve(times: Sequence[float], num_frames: int, fps: float) -> np.ndarray:
    curve = np.zeros(num_frames)
    profile = np.interp(np.arange(0, len(BLINK_PROFILE), 60.0 / fps), np.arange(len(BLINK_PROFILE)), BLINK_PROFILE)
    for t in times:
        a = int(round(t * fps))
        seg = profile[: max(min(len(profile), num_frames - a), 0)]
        if a >= 0 and len(seg):
            curve[a:a + len(seg)] = np.maximum(curve[a:a + len(seg)], seg)
    return curve


def saccades(rng: np.random.Generator, num_frames: int, fps: float, eye_contact: float,
             motion_gain: np.ndarray) -> np.ndarray:
    """(frames, 2) gaze offsets from the target in eye-control units; less eye contact = larger, more frequent
    looks away."""
    out = np.zeros((num_frames, 2))
    scale = 60.0 / fps
    # Full eye contact is EmoFace's conversational gaze; less contact looks away further and returns less.
    away = 1.0 - float(np.clip(eye_contact, 0.0, 1.0))
    p_return = SACCADE_RETURN * (1.0 - 0.75 * away)
    radius_gain = 1.0 + 2.0 * away
    pos = np.zeros(2)
    i = int(rng.integers(10, 40) / scale)
    out[:i] = pos
    while i < num_frames:
        if rng.random() < p_return:
            new = np.zeros(2)
        else:
            angle = rng.uniform(0, 2 * np.pi)
            g = float(motion_gain[min(i, num_frames - 1)])
            r = rng.uniform(*SACCADE_RADIUS) * radius_gain * g
            new = np.array([np.cos(angle) * r, np.sin(angle) * r * 0.6])  # vertical excursions are smaller
        move = max(int(round(SACCADE_MOVE / scale)), 1)
        hold = max(int(round(rng.integers(SACCADE_HOLD[0], SACCADE_HOLD[1] + 1) / scale)), 1)
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(1, move + 1) / move)
        seg = pos[None, :] + ramp[:, None] * (new - pos)[None, :]
        end = min(i + move, num_frames)
        out[i:end] = seg[: end - i]
        out[end:min(end + hold, num_frames)] = new
        pos = new
        i = end + hold
    return out


def brows(num_frames: int, fps: float, syls: Sequence[Syllable], prosody: Prosody, motion: np.ndarray,
          rng: np.random.Generator) -> dict[str, np.ndarray]:
    """raise (inner/outer) bumps on pitch accents, a little raise following high pitch, a frown on emphatic
    low-pitched stresses, and slow asymmetric drift."""
    raise_ = np.zeros(num_frames)
    down = np.zeros(num_frames)
    for s in syls:
        if s.pitch_accent:
            add_bump(raise_, s.peak, 0.15, 0.45, 0.2 + 0.28 * s.prominence * float(rng.uniform(0.7, 1.2)), fps)
        elif s.stressed:
            if rng.random() < 0.5:
                add_bump(raise_, s.peak, 0.12, 0.35, 0.13 * s.prominence, fps)
            else:
                add_bump(down, s.peak, 0.12, 0.35, 0.16 * s.prominence, fps)
    pitch = gaussian_filter1d(np.clip(prosody.pitch_st, -6, 8), 6.0)
    raise_ += 0.012 * np.clip(pitch, 0, None)
    drift = 0.03 * smooth_noise(rng, num_frames, 40.0 * fps / 60)
    raise_ = np.clip(raise_, 0, 0.9) * motion
    down = np.clip(down, 0, 0.6) * motion
    return {"raiseIn": raise_ * 0.8 + 0.5 * drift, "raiseOut": raise_ + drift, "lateral": 0.35 * raise_ + 0.4 * down,
            "down": down}


def apply_upper_face(curves: np.ndarray, *, fps: float, prosody: Prosody, syls: Sequence[Syllable],
                     breaks: Sequence[tuple[float, float]], gaze_units: tuple[float, float], eye_contact: float,
                     motion: np.ndarray, blink_gain: np.ndarray, smile: np.ndarray,
                     rngs: dict[str, np.random.Generator]) -> None:
    """Add the upper-face layers in place (offsets on top of the emotion pose)."""
    n = curves.shape[0]
    duration = n / fps
    # Brows.
    b = brows(n, fps, syls, prosody, motion, rngs["brows"])
    # A frown (the emotion's brow-down pose) holds the brows: accents raise them less.
    frown = np.clip(curves[:, indices("L_brow_down")[0]], 0.0, 1.0)
    b = {k: v * (1.0 - 0.8 * frown) if k != "down" else v for k, v in b.items()}
    asym = 1.0 + 0.08 * smooth_noise(rngs["brows"], n, 60.0 * fps / 60)
    for key, curve in b.items():
        left, right = indices(f"L_brow_{key}"), indices(f"R_brow_{key}")
        curves[:, left] += (curve * asym)[:, None]
        curves[:, right] += (curve / asym)[:, None]
    # Emphasis: a syllable-locked squint and widening of the eyes.
    emphasis = np.zeros(n)
    for s in syls:
        if s.stressed:
            add_bump(emphasis, s.peak, 0.1, 0.3, s.prominence, fps)
    accent_raise = b["raiseOut"]
    # Blinks.
    times = blink_times(rngs["blinks"], duration, blink_gain, fps, breaks)
    blink = blink_curve(times, n, fps)
    lid_noise = 0.08 * smooth_noise(rngs["blinks"], n, 20.0 * fps / 60)
    widen = -0.25 * np.clip(accent_raise, 0, 1)
    curves[:, indices("eye_blink")] += (blink * (1.0 - curves[:, indices("L_eye_blink")][:, 0]) + (1 - blink)
                                        * (widen + lid_noise))[:, None]
    # Gaze: saccades around the target, lids following the vertical gaze.
    sac = saccades(rngs["gaze"], n, fps, eye_contact, motion)
    curves[:, indices("C_eye.x")] += (gaze_units[0] + sac[:, 0])[:, None]
    curves[:, indices("C_eye")] += (gaze_units[1] + sac[:, 1])[:, None]
    vertical = gaze_units[1] + sac[:, 1]
    curves[:, indices("eye_eyelidU")] += (0.5 * vertical - 0.1 * blink)[:, None]
    curves[:, indices("eye_eyelidD")] += (-0.3 * vertical + 0.2 * blink)[:, None]
    # Squint and cheeks: with smiles (emotion and spread vowels) and with emphasis.
    loud = gaussian_filter1d(prosody.loudness.astype(np.float64), 4.0)
    stretch = curves[:, indices("L_mouth_stretch")[0]] + curves[:, indices("L_mouth_upperLipRaise")[0]]
    squint = 0.45 * smile + 0.6 * emphasis * motion + 0.25 * loud + 0.2 * stretch
    curves[:, indices("eye_squintInner")] += squint[:, None]
    cheek = 0.6 * smile + 0.35 * emphasis * motion + 0.45 * stretch
    curves[:, indices("eye_cheekRaise")] += cheek[:, None]
    curves[:, indices("eye_lidPress")] += (0.3 * emphasis * motion + 0.1 * loud)[:, None]
    curves[:, indices("eye_faceScrunch")] += (0.2 * emphasis * motion + 0.15 * smile + 0.1 * stretch)[:, None]


def apply_nose(curves: np.ndarray, *, fps: float, prosody: Prosody, breaks: Sequence[tuple[float, float]],
               rng: np.random.Generator) -> None:
    """Nostrils and nasolabial folds follow the upper lip and mouth corners (they share muscles), and flare on
    the breaths taken in phrase breaks."""
    n = curves.shape[0]
    lip_raise = curves[:, indices("L_mouth_upperLipRaise")[0]]
    pull = 0.5 * (curves[:, indices("L_mouth_cornerPull")[0]] + curves[:, indices("R_mouth_cornerPull")[0]])
    stretch = curves[:, indices("L_mouth_stretch")[0]]
    breath = np.zeros(n)
    for start, end in breaks:
        if end - start > 0.3:
            add_bump(breath, end - 0.15, min(0.25, end - start - 0.1), 0.2, float(rng.uniform(0.3, 0.5)), fps)
    loud = gaussian_filter1d(prosody.loudness.astype(np.float64), 3.0)
    curves[:, indices("nose")] += (1.0 * lip_raise + 0.4 * pull + 0.3 * loud + 0.4 * breath)[:, None]
    curves[:, indices("nose.x")] += (0.6 * breath + 0.5 * stretch + 0.25 * loud)[:, None]
    curves[:, indices("nose_nasolabialDeepen")] += (0.8 * pull + 0.5 * stretch + 0.4 * lip_raise)[:, None]
    curves[:, indices("nose_wrinkleUpper")] += (0.5 * lip_raise + 0.1 * loud)[:, None]
