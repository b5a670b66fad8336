"""The procedural performance engine: timed phones + the audio's prosody + the director's controls -> base
curves for all 174 face-board controls and the head pose, at 60 fps, deterministic given the seed.

Layer order matters: the mouth is blended from visemes and scaled by articulation, emotion poses are added, the
upper face, nose and head layers read the mouth and prosody, and the hard contact rules run last so no gain or
offset can open the lips on a /p/. Everything ends inside each control's range.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.core.rig import load_rig
from app.core.settings import EMOTIONS, PerformanceControls
from app.core.timebase import FPS, frames_for_duration
from app.engines.phonetics.segments import PhoneSegment

from . import emotion as E
from .coarticulation import apply_hard_rules, blend, build_targets
from .head import head_motion
from .poses import indices
from .prosody import analyse
from .signals import phrase_breaks, syllables
from .upper_face import apply_nose, apply_upper_face

_STREAMS = ("blinks", "gaze", "brows", "head", "nose")


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent random streams per layer, so a change in one layer's draws leaves the others as they were."""
    children = np.random.SeedSequence(int(seed) & 0xFFFF_FFFF_FFFF_FFFF).spawn(len(_STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(_STREAMS, children, strict=True)}


def synthesize(phones: Sequence[PhoneSegment], samples: np.ndarray, sample_rate: int,
               controls: PerformanceControls | None = None, *, num_frames: int | None = None,
               fps: float = FPS) -> np.ndarray:
    """(frames, 180) float32 base curves."""
    controls = controls or PerformanceControls()
    rig = load_rig()
    samples = np.asarray(samples, dtype=np.float32)
    n = num_frames if num_frames is not None else frames_for_duration(len(samples) / sample_rate, fps)
    rngs = _streams(controls.seed)
    prosody = analyse(samples, sample_rate, n, fps)
    weights = E.weights(controls.emotion_keys, n, fps)
    art_gain, motion_gain, blink_gain = E.gains(weights)
    art_gain = art_gain * controls.articulation

    # Mouth, jaw, tongue, teeth from visemes with coarticulation.
    mouth = blend(build_targets(phones, prosody.loudness, fps), n, fps) * art_gain[:, None]
    curves = rig.rest_curves(n).astype(np.float64) + mouth + E.offsets(weights)

    syls = syllables(phones, prosody, fps)
    breaks = phrase_breaks(phones)
    pull = curves[:, indices("mouth_cornerPull")].mean(axis=1)
    smile = np.clip(weights[:, EMOTIONS.index("happy")] + 0.5 * pull, 0.0, 1.0)
    gaze_units = (controls.gaze[0] / rig.eye_yaw_deg_per_unit, controls.gaze[1] / rig.eye_pitch_deg_per_unit)
    apply_upper_face(curves, fps=fps, prosody=prosody, syls=syls, breaks=breaks, gaze_units=gaze_units,
                     eye_contact=controls.eye_contact, motion=motion_gain, blink_gain=blink_gain, smile=smile,
                     rngs=rngs)
    apply_nose(curves, fps=fps, prosody=prosody, breaks=breaks, rng=rngs["nose"])
    for name, offset in head_motion(n, fps, syls, prosody, motion_gain, controls.head_distance,
                                    rngs["head"]).items():
        curves[:, rig.index(name)] += offset
    apply_hard_rules(curves, phones, fps)
    return rig.clamp(curves.astype(np.float32))
