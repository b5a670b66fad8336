"""Head pose: nods on stressed syllables plus slow drift, louder speech moving the head more, scaled by emotion
and by the distance from the camera (a close-up needs a steadier head)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .prosody import Prosody
from .signals import Syllable, add_bump, smooth_noise

REFERENCE_DISTANCE_CM = 60.0
NOD_DEG = 3.5  # pitch of a nod on a fully prominent syllable
NOD_LEAD_S = 0.08  # the head leads the stressed vowel slightly
# Drift amplitudes (standard deviation): degrees for rotations, cm for translation.
DRIFT = {"head_yaw": 3.0, "head_pitch": 1.8, "head_roll": 1.2, "head_tx": 0.5, "head_ty": 0.3, "head_tz": 0.6}
DRIFT_SIGMA_S = {"head_yaw": 0.9, "head_pitch": 0.7, "head_roll": 1.1, "head_tx": 1.2, "head_ty": 1.0,
                 "head_tz": 1.5}


def distance_gain(head_distance_cm: float) -> float:
    return float(np.clip(np.sqrt(max(head_distance_cm, 1.0) / REFERENCE_DISTANCE_CM), 0.5, 1.6))


def head_motion(num_frames: int, fps: float, syls: Sequence[Syllable], prosody: Prosody, motion: np.ndarray,
                head_distance_cm: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Offsets per head channel name (degrees / cm)."""
    gain = distance_gain(head_distance_cm) * motion
    energy = 0.5 + 0.8 * gaussian_filter1d(prosody.loudness.astype(np.float64), 0.4 * fps)
    out = {}
    for name, amp in DRIFT.items():
        out[name] = amp * smooth_noise(rng, num_frames, DRIFT_SIGMA_S[name] * fps) * energy * gain
    nod = np.zeros(num_frames)
    tilt = np.zeros(num_frames)
    for s in syls:
        if not s.stressed:
            continue
        amp = NOD_DEG * s.prominence * float(rng.uniform(0.6, 1.2))
        add_bump(nod, s.peak - NOD_LEAD_S, 0.12, 0.3, amp, fps)
        if rng.random() < 0.3:  # occasional sideways accent
            add_bump(tilt, s.peak - NOD_LEAD_S, 0.15, 0.4, float(rng.choice([-1, 1])) * 0.5 * amp, fps)
    out["head_pitch"] = out["head_pitch"] + nod * gain
    out["head_roll"] = out["head_roll"] + tilt * gain
    return out
