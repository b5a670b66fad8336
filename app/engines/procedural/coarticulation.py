"""Mouth, jaw, tongue and teeth curves from timed phones: dominance-function blending (Cohen & Massaro 1993)
followed by the hard rules animators check first (lips meet on p/b/m, lower lip to teeth on f/v, rounding, tongue
tip up).

Each phone contributes its target pose with a dominance that is flat over the phone's core and falls off as a
Gaussian before it (anticipation, wider) and after it (carry-over, narrower). Each articulator group (lips, jaw,
tongue) is blended separately, so a /k/ leaves the lips to its neighbouring vowels while it holds the tongue, and
lip rounding spreads ahead across consonants as it does in real speech.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.core.rig import load_rig
from app.engines.phonetics.segments import SILENCE, VOWELS, PhoneSegment

from . import visemes as V
from .poses import channel_group, indices, pose_vector

_CORE_FRACTION = 0.6  # middle share of a phone during which its target holds fully
_REACH = 3.5  # dominance is evaluated up to this many fall-off widths from the core (exp(-12) beyond)
_FLOOR_DOMINANCE = 1e-4  # the rest pose's weight everywhere, so frames outside every phone stay defined
# Rule windows: frames before/after a segment over which a hard rule eases in and out.
_RULE_RAMP_IN = 3
_RULE_RAMP_OUT = 2
_JAW_LOUDNESS_BASE = 0.6  # vowel jaw opening = openness pose x (base + gain x loudness of the vowel)
_JAW_LOUDNESS_GAIN = 0.7


@dataclass(frozen=True)
class Target:
    phone: str
    start: float
    end: float
    core_start: float
    core_end: float
    pose: np.ndarray  # (channels,)
    dominance: V.Dominance


def _groups() -> dict[str, np.ndarray]:
    return {"lips": channel_group(("mouth",)), "jaw": channel_group(("jaw", "teeth")),
            "tongue": channel_group(("tongue",))}


def build_targets(phones: Sequence[PhoneSegment], loudness: np.ndarray, fps: float) -> list[Target]:
    """Targets for every phone (diphthongs split into two), vowel jaw scaled by the vowel's loudness."""
    rig = load_rig()
    jaw_like = indices("C_jaw", "mouth_lowerLipDepress", "C_teethD", "C_jaw_fwdBack")
    out: list[Target] = []
    vectors: dict[int, np.ndarray] = {}  # pose tables are shared dicts: resolve each once
    for seg in phones:
        if seg.end <= seg.start:
            continue
        parts: list[tuple[dict[str, float], float, float]]
        if seg.phone in V.DIPHTHONGS:
            first, second, share = V.DIPHTHONGS[seg.phone]
            mid = seg.start + share * (seg.end - seg.start)
            parts = [(first, seg.start, mid), (second, mid, seg.end)]
        else:
            parts = [(V.pose_for(seg.phone), seg.start, seg.end)]
        gain = 1.0
        if seg.phone in VOWELS:
            a, b = int(np.floor(seg.start * fps)), int(np.ceil(seg.end * fps)) + 1
            level = float(np.mean(loudness[max(a, 0):min(b, len(loudness))])) if b > a and len(loudness) else 0.7
            gain = _JAW_LOUDNESS_BASE + _JAW_LOUDNESS_GAIN * level
        dom = V.dominance_for(seg.phone)
        for pose, s, e in parts:
            if id(pose) not in vectors:
                vectors[id(pose)] = pose_vector(pose, rig)
            vec = vectors[id(pose)].copy()
            vec[jaw_like] *= gain
            margin = 0.5 * (1.0 - _CORE_FRACTION) * (e - s)
            out.append(Target(seg.phone, s, e, s + margin, e - margin, vec, dom))
    return out


def blend(targets: Sequence[Target], num_frames: int, fps: float) -> np.ndarray:
    """(frames, channels) offsets: per group, sum(D_i * pose_i) / sum(D_i)."""
    rig = load_rig()
    out = np.zeros((num_frames, rig.num_channels), dtype=np.float64)
    t = np.arange(num_frames) / fps
    for group, cols in _groups().items():
        num = np.zeros((num_frames, len(cols)))
        den = np.full(num_frames, _FLOOR_DOMINANCE)
        for tg in targets:
            alpha = tg.dominance.of(group)
            if alpha <= 0:
                continue
            ahead = tg.dominance.ahead
            if group == "lips" and tg.dominance.lips_ahead is not None:
                ahead = tg.dominance.lips_ahead
            behind = tg.dominance.behind
            a = max(int(np.floor((tg.core_start - _REACH * ahead) * fps)), 0)
            b = min(int(np.ceil((tg.core_end + _REACH * behind) * fps)) + 1, num_frames)
            if b <= a:
                continue
            tt = t[a:b]
            dist = np.where(tt < tg.core_start, (tg.core_start - tt) / ahead,
                            np.where(tt > tg.core_end, (tt - tg.core_end) / behind, 0.0))
            d = alpha * np.exp(-(dist**2))
            num[a:b] += d[:, None] * tg.pose[cols][None, :]
            den[a:b] += d
        out[:, cols] = num / den[:, None]
    return out


def rule_window(segments: Sequence[PhoneSegment], num_frames: int, fps: float) -> np.ndarray:
    """(frames,) 0..1: 1 on every frame inside one of ``segments`` (at least its middle frame), easing in over
    a few frames before and out after."""
    w = np.zeros(num_frames)
    for seg in segments:
        a = int(np.ceil(seg.start * fps - 1e-9))
        b = int(np.floor(seg.end * fps + 1e-9))
        if b < a:  # shorter than a frame: hold the nearest frame
            a = b = int(round(0.5 * (seg.start + seg.end) * fps))
        a, b = max(a, 0), min(b, num_frames - 1)
        if a > b:
            continue
        w[a:b + 1] = 1.0
        for k in range(1, _RULE_RAMP_IN + 1):
            if a - k >= 0:
                w[a - k] = max(w[a - k], 0.5 + 0.5 * np.cos(np.pi * k / (_RULE_RAMP_IN + 1)))
        for k in range(1, _RULE_RAMP_OUT + 1):
            if b + k < num_frames:
                w[b + k] = max(w[b + k], 0.5 + 0.5 * np.cos(np.pi * k / (_RULE_RAMP_OUT + 1)))
    return w


def _towards(curves: np.ndarray, cols: np.ndarray, value: float | np.ndarray, w: np.ndarray) -> None:
    curves[:, cols] = (1.0 - w[:, None]) * curves[:, cols] + w[:, None] * value


def _at_least(curves: np.ndarray, cols: np.ndarray, value: float, w: np.ndarray) -> None:
    curves[:, cols] = np.maximum(curves[:, cols], (w * value)[:, None])


def apply_hard_rules(curves: np.ndarray, phones: Sequence[PhoneSegment], fps: float) -> None:
    """Enforce the contacts in place, whatever coarticulation, emotion or gain did to the mouth."""
    n = curves.shape[0]
    by = {name: [p for p in phones if p.phone in group] for name, group in
          (("bilabial", V.BILABIALS), ("labiodental", V.LABIODENTALS), ("rounded", V.ROUNDED - VOWELS),
           ("tip", V.TONGUE_TIP))}
    if by["bilabial"]:
        w = rule_window(by["bilabial"], n, fps)
        closed = pose_vector(V.POSES["P"])
        for short in ("mouth_lipsTogetherU", "mouth_lipsTogetherD", "mouth_pressU", "mouth_pressD",
                      "C_mouth_stickyU", "C_mouth_stickyD", "mouth_stickyOuterU", "mouth_stickyOuterD"):
            cols = indices(short)
            _towards(curves, cols, np.maximum(curves[:, cols], closed[cols]), w)
        # Everything that parts the lips or drops the jaw goes (nearly) to zero during the closure.
        _towards(curves, indices("C_jaw"), np.minimum(curves[:, indices("C_jaw")], 0.04), w)
        for short in ("mouth_lowerLipDepress", "mouth_upperLipRaise", "mouth_lipsTowardsTeethD",
                      "mouth_lipBiteD", "C_jaw_openExtreme"):
            _towards(curves, indices(short), 0.0, w)
        _towards(curves, indices("mouth_funnelU", "mouth_funnelD"), 0.3 * curves[:, indices("mouth_funnelU",
                                                                                              "mouth_funnelD")], w)
    if by["labiodental"]:
        w = rule_window(by["labiodental"], n, fps)
        _at_least(curves, indices("mouth_lipsTowardsTeethD"), 0.55, w)
        _at_least(curves, indices("mouth_lipBiteD"), 0.35, w)
        _towards(curves, indices("C_jaw"), np.minimum(curves[:, indices("C_jaw")], 0.1), w)
        _towards(curves, indices("mouth_lowerLipDepress", "mouth_lipsTogetherD", "mouth_lipsTogetherU"), 0.0, w)
    if by["rounded"]:
        w = rule_window(by["rounded"], n, fps)
        _at_least(curves, indices("mouth_purseU", "mouth_purseD"), 0.35, w)
        _at_least(curves, indices("mouth_towardsU", "mouth_towardsD"), 0.3, w)
        _at_least(curves, indices("mouth_funnelU", "mouth_funnelD"), 0.2, w)
    if by["tip"]:
        w = rule_window(by["tip"], n, fps)
        _at_least(curves, indices("C_tongue_tip"), 0.2, w)
        _at_least(curves, indices("C_tongue_press"), 0.35, w)


def speech_phones(phones: Sequence[PhoneSegment]) -> list[PhoneSegment]:
    return [p for p in phones if p.phone != SILENCE]
