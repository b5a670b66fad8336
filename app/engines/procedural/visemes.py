"""Viseme targets: one pose per ARPAbet phone over the mouth, jaw, tongue and teeth controls, plus how strongly
each phone holds each articulator against its neighbours (its dominance, Cohen & Massaro 1993).

Amplitudes are calibrated against captured MetaHuman speech (reference/ue5_integration.md section 7: jaw open up to
~0.44, lower-lip depress ~0.8, purse ~1.0, towards ~0.75, lips-together ~0.76) so the mouth moves as much as an
actor's does, not the few per cent that make a face look muted.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.speech import BILABIAL_PHONES, SILENCE

from .poses import Pose

BILABIALS = BILABIAL_PHONES
LABIODENTALS = frozenset({"F", "V"})
ROUNDED = frozenset({"W", "UW", "OW", "OY", "SH", "ZH", "CH", "JH", "R", "UH", "AO", "ER"})
TONGUE_TIP = frozenset({"TH", "DH", "L", "T", "D", "N"})
OPEN_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY"})
GROUPS = ("lips", "jaw", "tongue")
"""Articulators blended independently: a /k/ leaves the lips to its neighbours but holds the tongue."""

# Shared pieces of poses.
_CLOSED_LIPS: Pose = {
    "mouth_lipsTogetherU": 0.45, "mouth_lipsTogetherD": 0.75, "mouth_pressU": 0.25, "mouth_pressD": 0.3,
    "C_mouth_stickyU": 0.3, "C_mouth_stickyD": 0.3, "mouth_stickyInnerU": 0.2, "mouth_stickyInnerD": 0.3,
    "mouth_stickyOuterU": 0.45, "mouth_stickyOuterD": 0.5, "mouth_lipsPressU": 0.2, "C_jaw": 0.03,
    "jaw_ChinRaiseD": 0.3, "jaw_ChinRaiseU": 0.2, "jaw_chinCompress": 0.2, "mouth_lipsRollU": 0.15,
    "mouth_tightenU": 0.15, "mouth_tightenD": 0.15,
}  # fmt: skip
_ROUND: Pose = {
    "mouth_purseU": 0.55, "mouth_purseD": 0.55, "mouth_towardsU": 0.45, "mouth_towardsD": 0.45,
    "mouth_funnelU": 0.3, "mouth_funnelD": 0.25, "mouth_suckBlow": -0.2, "mouth_pushPullU": 0.2,
    "mouth_pushPullD": 0.2, "mouth_thicknessU": 0.15, "mouth_thicknessD": 0.15,
}  # fmt: skip
_TIP_UP: Pose = {"C_tongue_tip": 0.25, "C_tongue_press": 0.6, "C_tongue": 0.25, "C_tongue_inOut": 0.1}


def _scaled(pose: Pose, k: float) -> dict[str, float]:
    return {name: v * k for name, v in pose.items()}


def _vowel(jaw: float, depress: float, *, stretch: float = 0.0, pull: float = 0.0, raise_: float = 0.0,
           rnd: float = 0.0, tongue_y: float = 0.0, tongue_out: float = 0.0) -> dict[str, float]:
    pose = {"C_jaw": jaw, "mouth_lowerLipDepress": depress, "mouth_upperLipRaise": raise_,
            "mouth_stretch": stretch, "mouth_cornerPull": pull, "mouth_dimple": 0.5 * pull,
            "mouth_cornerSharpnessD": 0.3 * stretch, "C_jaw_fwdBack": -0.3 * jaw + 0.1 * stretch,
            "C_tongue": tongue_y, "C_tongue_inOut": tongue_out, "C_teethD": -0.4 * jaw,
            "mouth_thicknessD": -0.15 * depress, "mouth_lipsRollD": -0.2 * depress}
    if rnd:
        pose.update({k: v * rnd + pose.get(k, 0.0) for k, v in _ROUND.items()})
    return pose


POSES: dict[str, dict[str, float]] = {
    # vowels: jaw from openness, lips from spreading or rounding
    "AA": _vowel(0.40, 0.50, raise_=0.15, tongue_y=-0.35, tongue_out=-0.1),
    "AE": _vowel(0.34, 0.50, stretch=0.35, raise_=0.25, pull=0.15, tongue_y=-0.2),
    "AH": {**_vowel(0.30, 0.40, raise_=0.1, tongue_y=-0.15), "mouth_cornerDepress": 0.12},
    "AO": _vowel(0.36, 0.35, rnd=0.55, tongue_y=-0.3, tongue_out=-0.2),
    "EH": _vowel(0.24, 0.35, stretch=0.3, raise_=0.15, pull=0.1, tongue_y=0.1),
    "ER": {**_vowel(0.14, 0.15, rnd=0.6, tongue_y=0.2), "mouth_cornerDepress": 0.1},
    "IH": _vowel(0.15, 0.25, stretch=0.4, pull=0.15, tongue_y=0.3),
    "IY": _vowel(0.10, 0.20, stretch=0.5, pull=0.3, raise_=0.1, tongue_y=0.45),
    "UH": _vowel(0.16, 0.15, rnd=0.75, tongue_y=0.1, tongue_out=-0.2),
    "UW": _vowel(0.09, 0.05, rnd=1.3, tongue_y=0.25, tongue_out=-0.3),
    # consonants
    "P": {**_CLOSED_LIPS},
    "B": {**_CLOSED_LIPS, "mouth_pressU": 0.15, "mouth_pressD": 0.2},
    "M": {**_CLOSED_LIPS, "mouth_pressU": 0.1, "mouth_pressD": 0.1, "mouth_lipsTogetherU": 0.4},
    "F": {"C_jaw": 0.07, "jaw_ChinRaiseD": 0.2,
          "mouth_lipsTowardsTeethD": 0.7, "mouth_lipBiteD": 0.5, "mouth_upperLipRaise": 0.25,
          "mouth_lipsRollD": 0.3, "C_teethU": 0.1, "mouth_pushPullD": -0.2, "C_jaw_fwdBack": -0.15},
    "V": {"C_jaw": 0.08, "jaw_ChinRaiseD": 0.15,
          "mouth_lipsTowardsTeethD": 0.65, "mouth_lipBiteD": 0.45, "mouth_upperLipRaise": 0.2,
          "mouth_lipsRollD": 0.25, "C_teethU": 0.1, "mouth_pushPullD": -0.2, "C_jaw_fwdBack": -0.15},
    "TH": {"C_jaw": 0.13, "mouth_lowerLipDepress": 0.25, "C_tongue_tip": 0.35, "C_tongue_press": 0.4,
           "C_tongue_inOut": 0.5, "mouth_upperLipRaise": 0.15},
    "DH": {"C_jaw": 0.12, "mouth_lowerLipDepress": 0.2, "C_tongue_tip": 0.35, "C_tongue_press": 0.4,
           "C_tongue_inOut": 0.45, "mouth_upperLipRaise": 0.1},
    "T": {"C_jaw": 0.12, "mouth_lowerLipDepress": 0.2, "mouth_stretch": 0.1, **_TIP_UP},
    "D": {"C_jaw": 0.13, "mouth_lowerLipDepress": 0.2, **_TIP_UP},
    "N": {"C_jaw": 0.12, "mouth_lowerLipDepress": 0.15, **_TIP_UP},
    "L": {"C_jaw": 0.17, "mouth_lowerLipDepress": 0.25, **_TIP_UP, "C_tongue_tip": 0.4, "C_tongue_press": 0.4},
    "S": {"C_jaw": 0.05, "mouth_stretch": 0.3, "mouth_tightenD": 0.2, "jaw_clench": 0.15,
          "mouth_cornerPull": 0.1, "mouth_lowerLipDepress": 0.3,
          "mouth_upperLipRaise": 0.2, "C_tongue_tip": 0.15, "C_tongue_press": 0.3, "C_teethD": 0.1},
    "Z": {"C_jaw": 0.05, "mouth_stretch": 0.25, "mouth_tightenD": 0.15, "jaw_clench": 0.1,
          "mouth_lowerLipDepress": 0.3, "mouth_upperLipRaise": 0.15,
          "C_tongue_tip": 0.15, "C_tongue_press": 0.3, "C_teethD": 0.1},
    "SH": {"C_jaw": 0.07, **_scaled(_ROUND, 0.8), "mouth_funnelU": 0.45, "mouth_funnelD": 0.4,
           "mouth_lowerLipDepress": 0.2, "mouth_upperLipRaise": 0.2, "C_tongue_tip": 0.3, "C_tongue_press": 0.2},
    "ZH": {"C_jaw": 0.07, **_scaled(_ROUND, 0.8), "mouth_funnelU": 0.4, "mouth_funnelD": 0.35,
           "mouth_lowerLipDepress": 0.2, "C_tongue_tip": 0.3, "C_tongue_press": 0.2},
    "CH": {"C_jaw": 0.07, **_scaled(_ROUND, 0.75), "mouth_funnelU": 0.4, "mouth_funnelD": 0.35,
           "mouth_lowerLipDepress": 0.15, "C_tongue_tip": 0.3, "C_tongue_press": 0.5},
    "JH": {"C_jaw": 0.08, **_scaled(_ROUND, 0.7), "mouth_funnelU": 0.4, "mouth_funnelD": 0.35,
           "mouth_lowerLipDepress": 0.15, "C_tongue_tip": 0.3, "C_tongue_press": 0.5},
    "R": {"C_jaw": 0.10, **_scaled(_ROUND, 0.7), "C_tongue_roll": 0.3, "C_tongue": 0.2, "C_tongue_tip": 0.1},
    "W": {"C_jaw": 0.05, **_scaled(_ROUND, 1.4), "mouth_lipsTogetherD": 0.1},
    "Y": {"C_jaw": 0.08, "mouth_stretch": 0.35, "mouth_cornerPull": 0.15, "mouth_lowerLipDepress": 0.15,
          "C_tongue": 0.5},
    "K": {"C_jaw": 0.14, "mouth_lowerLipDepress": 0.2, "C_tongue": 0.45, "C_tongue_inOut": -0.25},
    "G": {"C_jaw": 0.14, "mouth_lowerLipDepress": 0.2, "C_tongue": 0.45, "C_tongue_inOut": -0.25},
    "NG": {"C_jaw": 0.12, "mouth_lowerLipDepress": 0.15, "C_tongue": 0.45, "C_tongue_inOut": -0.25},
    "HH": {"C_jaw": 0.15, "mouth_lowerLipDepress": 0.2},
    SILENCE: {"C_jaw": 0.02, "mouth_lipsTogetherU": 0.15, "mouth_lipsTogetherD": 0.2},
}
# Diphthongs glide between two targets: (first, second, fraction of the segment held by the first).
DIPHTHONGS: dict[str, tuple[dict[str, float], dict[str, float], float]] = {
    "AW": (POSES["AA"], _vowel(0.14, 0.1, rnd=0.9), 0.6),
    "AY": (POSES["AA"], _vowel(0.14, 0.2, stretch=0.35, pull=0.15, tongue_y=0.35), 0.6),
    "EY": (POSES["EH"], POSES["IY"], 0.55),
    "OW": (_vowel(0.28, 0.25, rnd=0.7), _vowel(0.12, 0.05, rnd=1.1), 0.55),
    "OY": (POSES["AO"], _vowel(0.14, 0.2, stretch=0.3, tongue_y=0.35), 0.55),
}
# Openness of each vowel (0..1) used to scale jaw motion with loudness.
OPENNESS = {"AA": 1.0, "AE": 0.9, "AH": 0.8, "AO": 0.9, "AW": 1.0, "AY": 1.0, "EH": 0.65, "ER": 0.4,
            "EY": 0.6, "IH": 0.45, "IY": 0.3, "OW": 0.7, "OY": 0.8, "UH": 0.45, "UW": 0.3}  # fmt: skip


@dataclass(frozen=True)
class Dominance:
    """How strongly a phone holds each articulator (0..1), and how far its influence reaches (seconds) before
    (anticipation) and after (carry-over) its core."""

    lips: float
    jaw: float
    tongue: float
    ahead: float = 0.065
    behind: float = 0.045
    lips_ahead: float | None = None  # anticipatory lip rounding reaches further than other gestures

    def of(self, group: str) -> float:
        return {"lips": self.lips, "jaw": self.jaw, "tongue": self.tongue}[group]


_VOWEL_DOM = Dominance(0.6, 0.9, 0.4, ahead=0.07, behind=0.05)
_ROUND_VOWEL_DOM = Dominance(0.85, 0.9, 0.4, ahead=0.07, behind=0.05, lips_ahead=0.12)
DOMINANCE: dict[str, Dominance] = {
    **{v: _VOWEL_DOM for v in OPENNESS},
    **{v: _ROUND_VOWEL_DOM for v in ("UW", "OW", "UH", "OY", "AO", "ER")},
    "P": Dominance(1.0, 0.8, 0.1), "B": Dominance(1.0, 0.8, 0.1), "M": Dominance(1.0, 0.8, 0.1),
    "F": Dominance(0.95, 0.7, 0.1), "V": Dominance(0.95, 0.7, 0.1),
    "W": Dominance(0.95, 0.5, 0.2, lips_ahead=0.12),
    "SH": Dominance(0.75, 0.5, 0.6, lips_ahead=0.1), "ZH": Dominance(0.75, 0.5, 0.6, lips_ahead=0.1),
    "CH": Dominance(0.75, 0.5, 0.7, lips_ahead=0.1), "JH": Dominance(0.75, 0.5, 0.7, lips_ahead=0.1),
    "R": Dominance(0.55, 0.35, 0.5, lips_ahead=0.1),
    "TH": Dominance(0.3, 0.45, 0.9), "DH": Dominance(0.3, 0.45, 0.9),
    "T": Dominance(0.15, 0.35, 0.9), "D": Dominance(0.15, 0.35, 0.9), "N": Dominance(0.15, 0.35, 0.9),
    "L": Dominance(0.15, 0.35, 0.9),
    "S": Dominance(0.4, 0.6, 0.6), "Z": Dominance(0.4, 0.6, 0.6),
    "K": Dominance(0.1, 0.3, 0.7), "G": Dominance(0.1, 0.3, 0.7), "NG": Dominance(0.1, 0.3, 0.7),
    "Y": Dominance(0.4, 0.4, 0.6),
    "HH": Dominance(0.05, 0.1, 0.05),
    SILENCE: Dominance(0.35, 0.35, 0.3, ahead=0.08, behind=0.08),
}  # fmt: skip


def pose_for(phone: str) -> dict[str, float]:
    """The target of a (non-diphthong) phone; unknown symbols fall back to a neutral half-open mouth."""
    if phone in POSES:
        return POSES[phone]
    if phone in DIPHTHONGS:
        return DIPHTHONGS[phone][0]
    return POSES["AH"] if phone else POSES[SILENCE]


def dominance_for(phone: str) -> Dominance:
    return DOMINANCE.get(phone, _VOWEL_DOM)
