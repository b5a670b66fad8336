"""What each face-board control does to the preview head.

A control contributes, separately for its positive and negative side (2D controls drive two different shapes):
- displacement fields: functions of the rest position returning (n, 3) centimetres at full value, each tied to a
  part group ("skin" also moves the brows, which lie on it; "tongue", "teeth_upper", "teeth_lower", "eyes", "lids");
- lip-seal amounts: a 0..1 scalar per skin vertex that keeps the lips together while the jaw opens;
- rigid parameters: jaw rotation and slide, eye gaze, eyelid angles (degrees or centimetres per unit).

Only ``*_L_*`` controls are written out; ``*_R_*`` ones are their mirror images (x -> -x). Positions are in the
head's frame (cm, +x the character's left, +y up, +z forward); centres below follow resources/head/build_head.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

MOUTH_CORNER = np.array([2.45, -6.39, 9.0])
MIRROR = np.array([-1.0, 1.0, 1.0])

# Rigid parameters the controls drive (units per full control value). One place for the rig's ranges of motion.
JAW_OPEN_DEG, JAW_EXTREME_DEG, JAW_YAW_DEG, JAW_SLIDE_CM = 24.0, 10.0, 5.0, 0.35
JAW_FWD_CM, JAW_BACK_CM = 0.45, 0.3
BLINK_UPPER_DEG, BLINK_LOWER_DEG, WIDEN_DEG = -34.0, 10.0, 10.0
VERGENCE_DEG = 6.0


@dataclass
class Ctx:
    """Rest positions of one part plus the skin's build-time mouth coordinate (signed height above the mouth line,
    taken before the lips were sealed, so it tells upper-lip from lower-lip vertices that now touch)."""
    P: np.ndarray
    dy: np.ndarray

    @property
    def x(self):
        return self.P[:, 0]

    @property
    def y(self):
        return self.P[:, 1]

    @property
    def z(self):
        return self.P[:, 2]

    def mirrored(self) -> Ctx:
        return Ctx(self.P * MIRROR, self.dy)


Field = Callable[[Ctx], np.ndarray]
Scalar = Callable[[Ctx], np.ndarray]


@dataclass
class Side:
    fields: dict[str, list[Field]] = field(default_factory=dict)
    seal: list[Scalar] = field(default_factory=list)
    rig: dict[str, float] = field(default_factory=dict)


@dataclass
class ControlShape:
    pos: Side = field(default_factory=Side)
    neg: Side = field(default_factory=Side)


SHAPES: dict[str, ControlShape] = {}


def _side(name: str, sign: int) -> Side:
    shape = SHAPES.setdefault(name, ControlShape())
    return shape.pos if sign > 0 else shape.neg


def shape(name: str, sign: int = 1, group: str = "skin"):
    def register(fn: Field) -> Field:
        _side(name, sign).fields.setdefault(group, []).append(fn)
        return fn
    return register


def seal(name: str, sign: int = 1):
    def register(fn: Scalar) -> Scalar:
        _side(name, sign).seal.append(fn)
        return fn
    return register


def rig(name: str, sign: int = 1, **params: float) -> None:
    side = _side(name, sign)
    for key, val in params.items():
        side.rig[key] = side.rig.get(key, 0.0) + val


# ---- weight helpers -----------------------------------------------------------------------------------------
def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def blob(c: Ctx, centre, radii) -> np.ndarray:
    """Smooth weight, 1 at the centre, exactly 0 outside the ellipsoid (keeps the fields sparse)."""
    q = (c.P - np.asarray(centre)) / np.asarray(radii)
    d2 = (q * q).sum(axis=1)
    return np.where(d2 < 1.0, (1.0 - d2) ** 3, 0.0)


def vec(w: np.ndarray, dx=0.0, dy=0.0, dz=0.0) -> np.ndarray:
    return w[:, None] * np.array([dx, dy, dz])


def left(c: Ctx, soft=0.7) -> np.ndarray:
    """Share of a left-side control; left + mirrored right add to one across the centre line."""
    return smoothstep(-soft, soft, c.x)


def upper(c: Ctx) -> np.ndarray:
    """1 above the mouth line; a hard split between the lips, soft beyond the mouth corners."""
    t = 0.02 + 0.7 * smoothstep(2.2, 3.4, np.abs(c.x))
    return smoothstep(-t, t, c.dy)


def lip_band(c: Ctx, up: bool, height=1.0) -> np.ndarray:
    """The red of one lip and the skin just around it, on its own side of the mouth line."""
    side = upper(c) if up else 1.0 - upper(c)
    along = 1.0 - smoothstep(2.2, 3.1, np.abs(c.x))
    return side * along * (1.0 - smoothstep(0.0, height, np.abs(c.dy))) * smoothstep(7.0, 8.4, c.z)


def around_lip(c: Ctx, up: bool, rx=3.4, ry=2.2) -> np.ndarray:
    """A wider falloff around one lip (for shapes that drag the skin above or below it)."""
    side = upper(c) if up else 1.0 - upper(c)
    cy = -6.0 if up else -7.4
    return side * blob(c, (0.0, cy, 9.0), (rx, ry, 3.2))


def corner(c: Ctx, radii=(2.0, 1.9, 2.6), offset=(0.0, 0.0, 0.0)) -> np.ndarray:
    return blob(c, MOUTH_CORNER + np.asarray(offset), radii)


def toward_line(c: Ctx, amount: float) -> np.ndarray:
    """Vertical motion towards (amount > 0) or away from the mouth line, growing with the distance to it, so
    the contact line itself stays put."""
    return -np.sign(c.dy) * np.minimum(np.abs(c.dy), 0.8) * amount


# ---- jaw ----------------------------------------------------------------------------------------------------
rig("CTRL_C_jaw-translateY", 1, jaw_open=JAW_OPEN_DEG)
rig("CTRL_C_jaw_openExtreme-translateY", 1, jaw_open=JAW_EXTREME_DEG)
rig("CTRL_C_jaw-translateX", 1, jaw_yaw=JAW_YAW_DEG, jaw_tx=JAW_SLIDE_CM)
rig("CTRL_C_jaw-translateX", -1, jaw_yaw=-JAW_YAW_DEG, jaw_tx=-JAW_SLIDE_CM)
rig("CTRL_C_jaw_fwdBack-translateY", 1, jaw_tz=JAW_FWD_CM)
rig("CTRL_C_jaw_fwdBack-translateY", -1, jaw_tz=-JAW_BACK_CM)


@shape("CTRL_C_jaw_openExtreme-translateY")
def _jaw_extreme(c):   # the cheeks hollow and the lips stretch thin at the very end of the range
    return vec(blob(c, (3.6, -5.8, 6.5), (1.6, 2.2, 2.5)) + blob(c, (-3.6, -5.8, 6.5), (1.6, 2.2, 2.5)), dz=-0.2)


@shape("CTRL_L_jaw_clench-translateY")
def _clench(c):        # masseter bulge in front of the ear, above the jaw angle
    return vec(blob(c, (5.3, -5.0, 2.6), (1.5, 2.2, 2.0)), dx=0.3, dz=0.05)


@shape("CTRL_L_jaw_ChinRaiseD-translateY")
def _chin_raise_d(c):  # mentalis: chin boss up, lower lip pushed up and out
    chin = blob(c, (0.9, -9.6, 8.8), (2.4, 1.8, 2.4)) * left(c)
    lip = lip_band(c, False, 1.3) * left(c)
    return vec(chin, dy=0.35, dz=0.1) + vec(lip, dy=0.15, dz=0.25)


@shape("CTRL_L_jaw_ChinRaiseU-translateY")
def _chin_raise_u(c):  # pushes the upper lip up and out
    return vec(lip_band(c, True, 1.2) * left(c), dy=0.2, dz=0.2) + vec(around_lip(c, False) * left(c), dy=0.15)


@shape("CTRL_L_jaw_chinCompress-translateY")
def _chin_compress(c):
    return vec(blob(c, (0.9, -9.8, 8.8), (2.2, 1.8, 2.2)) * left(c), dy=0.2, dz=-0.25)


# ---- mouth corners ------------------------------------------------------------------------------------------
@shape("CTRL_L_mouth_cornerPull-translateY")
def _corner_pull(c):   # smile: corner out, up and back; the cheek rides up
    w = corner(c, (2.4, 2.2, 3.0))
    return vec(w, dx=0.5, dy=0.55, dz=-0.3) + vec(blob(c, (3.6, -3.8, 7.5), (1.8, 1.8, 2.4)), dy=0.3, dz=0.25)


@shape("CTRL_L_mouth_sharpCornerPull-translateY")
def _sharp_corner_pull(c):
    return vec(corner(c, (1.5, 1.4, 2.2)), dx=0.35, dy=0.6, dz=-0.2)


@shape("CTRL_L_mouth_cornerDepress-translateY")
def _corner_depress(c):  # frown: corner down, the skin below it bunches
    return vec(corner(c, (2.0, 2.4, 2.6), (0.1, -0.3, 0)), dx=0.1, dy=-0.55, dz=-0.05)


@shape("CTRL_L_mouth_corner-translateX", 1)
def _corner_wide(c):
    return vec(corner(c), dx=0.5, dz=-0.2)


@shape("CTRL_L_mouth_corner-translateX", -1)
def _corner_narrow(c):
    return vec(corner(c), dx=-0.45, dz=0.15)


@shape("CTRL_L_mouth_corner-translateY", 1)
def _corner_up(c):
    return vec(corner(c), dy=0.45)


@shape("CTRL_L_mouth_corner-translateY", -1)
def _corner_down(c):
    return vec(corner(c), dy=-0.45)


@shape("CTRL_L_mouth_stretch-translateY")
def _stretch(c):       # corner out and down, lower lip drawn flat
    return vec(corner(c, (2.6, 2.2, 3.0), (0, -0.3, 0)), dx=0.55, dy=-0.3, dz=-0.2)


@shape("CTRL_L_mouth_stretchLipsClose-translateY")
def _stretch_close(c):
    return vec(corner(c, (2.6, 2.0, 3.0)), dx=0.5, dy=-0.1, dz=-0.2)


@seal("CTRL_L_mouth_stretchLipsClose-translateY")
def _stretch_close_seal(c):
    return left(c, 1.0)


@shape("CTRL_L_mouth_dimple-translateY")
def _dimple(c):
    return vec(corner(c, (1.1, 1.1, 1.6), (0.35, 0, -0.2)), dx=0.12, dz=-0.35)


@shape("CTRL_L_mouth_cornerSharpnessU-translateY", 1)
def _sharp_u(c):
    return vec(corner(c, (0.9, 0.9, 1.5)) * upper(c), dx=0.1, dy=-0.12)


@shape("CTRL_L_mouth_cornerSharpnessU-translateY", -1)
def _round_u(c):
    return vec(corner(c, (0.9, 0.9, 1.5)) * upper(c), dx=-0.1, dy=0.12)


@shape("CTRL_L_mouth_cornerSharpnessD-translateY", 1)
def _sharp_d(c):
    return vec(corner(c, (0.9, 0.9, 1.5)) * (1 - upper(c)), dx=0.1, dy=0.12)


@shape("CTRL_L_mouth_cornerSharpnessD-translateY", -1)
def _round_d(c):
    return vec(corner(c, (0.9, 0.9, 1.5)) * (1 - upper(c)), dx=-0.1, dy=-0.12)


# ---- lips -----------------------------------------------------------------------------------------------------
@shape("CTRL_L_mouth_upperLipRaise-translateY")
def _upper_lip_raise(c):
    edge = lip_band(c, True, 1.2) * left(c) * (1 - smoothstep(1.2, 2.6, np.abs(c.x)))   # lifts off the teeth
    return (vec(around_lip(c, True, 2.6, 1.6) * blob(c, (1.2, -5.9, 9.3), (2.0, 2.0, 3.0)), dy=0.5, dz=0.1)
            + vec(edge, dy=0.35, dz=0.05))


@shape("CTRL_L_mouth_lowerLipDepress-translateY")
def _lower_lip_depress(c):
    return vec(around_lip(c, False, 2.6, 1.8) * blob(c, (1.2, -7.4, 9.3), (2.0, 2.0, 3.0)), dy=-0.55, dz=0.1)


def _pucker(c, up: bool, fwd: float, narrow: float, close: float):
    w = (lip_band(c, up, 1.4) * 0.7 + around_lip(c, up, 3.2, 2.0) * 0.3) * left(c)
    d = vec(w, dz=fwd)
    d[:, 0] -= w * narrow * np.clip(c.x, -2.6, 2.6) / 2.6
    d[:, 1] += w * toward_line(c, close)
    return d


for _u, _tag in ((True, "U"), (False, "D")):
    shape(f"CTRL_L_mouth_purse{_tag}-translateY")(lambda c, u=_u: _pucker(c, u, 0.95, 1.3, 0.3))
    shape(f"CTRL_L_mouth_towards{_tag}-translateY")(lambda c, u=_u: _pucker(c, u, 0.45, 0.2, 0.0))
    shape(f"CTRL_L_mouth_pushPull{_tag}-translateY", 1)(lambda c, u=_u: _pucker(c, u, 0.35, 0.0, 0.0))
    shape(f"CTRL_L_mouth_pushPull{_tag}-translateY", -1)(lambda c, u=_u: _pucker(c, u, -0.3, -0.1, 0.0))


@shape("CTRL_L_mouth_funnelU-translateY")
def _funnel_u(c):      # the upper lip flares up and out, opening a round hole with funnelD
    w = (lip_band(c, True, 1.4) * (1 - smoothstep(0.3, 2.3, np.abs(c.x))) + 0.25 * around_lip(c, True)) * left(c)
    roll = 1 - smoothstep(0.0, 0.9, np.abs(c.dy))
    narrow = lip_band(c, True) * left(c) * c.x
    return vec(w * (0.2 + 0.28 * roll), dy=1.0) + vec(w, dz=0.6) + vec(narrow, dx=-0.2)


@shape("CTRL_L_mouth_funnelD-translateY")
def _funnel_d(c):
    w = (lip_band(c, False, 1.4) * (1 - smoothstep(0.3, 2.3, np.abs(c.x))) + 0.25 * around_lip(c, False)) * left(c)
    roll = 1 - smoothstep(0.0, 0.9, np.abs(c.dy))
    narrow = lip_band(c, False) * left(c) * c.x
    return vec(w * (0.2 + 0.28 * roll), dy=-1.0) + vec(w, dz=0.6) + vec(narrow, dx=-0.2)


def _lip_profile(c, up: bool, fwd: float, to_line: float, height=1.1):
    w = lip_band(c, up, height) * left(c)
    d = vec(w, dz=fwd)
    d[:, 1] += w * toward_line(c, to_line)
    return d


for _u, _tag in ((True, "U"), (False, "D")):
    shape(f"CTRL_L_mouth_tighten{_tag}-translateY")(lambda c, u=_u: _lip_profile(c, u, -0.2, 0.3))
    shape(f"CTRL_L_mouth_thickness{_tag}-translateY", 1)(lambda c, u=_u: _lip_profile(c, u, 0.2, -0.25))
    shape(f"CTRL_L_mouth_thickness{_tag}-translateY", -1)(lambda c, u=_u: _lip_profile(c, u, -0.15, 0.3))
    shape(f"CTRL_L_mouth_lipsRoll{_tag}-translateY", 1)(lambda c, u=_u: _lip_profile(c, u, -0.45, 0.45))
    shape(f"CTRL_L_mouth_lipsRoll{_tag}-translateY", -1)(lambda c, u=_u: _lip_profile(c, u, 0.35, -0.3))
    shape(f"CTRL_L_mouth_press{_tag}-translateY")(lambda c, u=_u: _lip_profile(c, u, -0.1, 0.35, 1.4))
    shape(f"CTRL_L_mouth_lipsTowardsTeeth{_tag}-translateY")(lambda c, u=_u: _lip_profile(c, u, -0.5, 0.1, 1.4))
    shape(f"CTRL_L_mouth_lipsTogether{_tag}-translateY")(lambda c, u=_u: _lip_profile(c, u, 0.05, 0.1))
    seal(f"CTRL_L_mouth_lipsTogether{_tag}-translateY")(lambda c: left(c, 1.0))
    seal(f"CTRL_L_mouth_press{_tag}-translateY")(lambda c: left(c, 1.0))


shape("CTRL_L_mouth_lipsPressU-translateY")(lambda c: _lip_profile(c, True, -0.1, 0.35, 1.4)
                                              + _lip_profile(c, False, -0.1, 0.35, 1.4))
seal("CTRL_L_mouth_lipsPressU-translateY")(lambda c: left(c, 1.0))
seal("CTRL_L_mouth_lipSticky-translateY")(lambda c: left(c, 1.0))
seal("CTRL_C_mouth_stickyU-translateY")(lambda c: 0.5 + 0.5 * (1 - smoothstep(0.5, 2.2, np.abs(c.x))))
seal("CTRL_C_mouth_stickyD-translateY")(lambda c: 0.5 + 0.5 * (1 - smoothstep(0.5, 2.2, np.abs(c.x))))
for _tag in ("U", "D"):
    seal(f"CTRL_L_mouth_stickyInner{_tag}-translateY")(lambda c: left(c, 0.4) * (1 - smoothstep(0.6, 1.6, c.x)))
    seal(f"CTRL_L_mouth_stickyOuter{_tag}-translateY")(lambda c: smoothstep(0.8, 1.8, c.x))


@shape("CTRL_L_mouth_lipSticky-translateY")
def _lip_sticky(c):
    return _lip_profile(c, True, 0.05, 0.1) + _lip_profile(c, False, 0.05, 0.1)


for _tag in ("U", "D"):   # the sticky controls also squeeze the lips a little, so they show with the jaw shut
    shape(f"CTRL_L_mouth_stickyInner{_tag}-translateY")(
        lambda c, u=_tag == "U": _lip_profile(c, u, 0.08, 0.2) * (1 - smoothstep(0.6, 1.6, c.x))[:, None])
    shape(f"CTRL_L_mouth_stickyOuter{_tag}-translateY")(
        lambda c, u=_tag == "U": _lip_profile(c, u, 0.08, 0.2) * smoothstep(0.8, 1.8, c.x)[:, None])


@shape("CTRL_L_mouth_lipBiteU-translateY")
def _bite_u(c):        # upper lip tucks down and back behind the lower one
    return _lip_profile(c, True, -0.5, 0.0, 1.3) + vec(lip_band(c, True, 1.3) * left(c), dy=-0.2)


@shape("CTRL_L_mouth_lipBiteD-translateY")
def _bite_d(c):        # lower lip rolls up and back under the upper teeth (an F)
    w = lip_band(c, False, 1.5) * left(c)
    roll = 1 - smoothstep(0.0, 1.2, np.abs(c.dy))         # the lip's top edge goes furthest, under the teeth
    return vec(w, dy=0.2, dz=-0.35) + vec(w * roll, dy=0.3, dz=-0.85)


@shape("CTRL_L_mouth_lipsBlow-translateY")
def _lips_blow(c):
    return _lip_profile(c, True, 0.3, -0.2) + _lip_profile(c, False, 0.3, -0.2)


@shape("CTRL_L_mouth_suckBlow-translateY", 1)
def _cheek_suck(c):
    return vec(blob(c, (4.3, -5.2, 5.8), (1.8, 2.4, 2.6)), dx=-0.5, dz=-0.1)


@shape("CTRL_L_mouth_suckBlow-translateY", -1)
def _cheek_blow(c):
    return vec(blob(c, (4.1, -5.6, 6.2), (2.3, 2.6, 3.0)), dx=0.6, dz=0.25)


@shape("CTRL_C_mouth-translateX", 1)
def _mouth_left(c):
    return vec(blob(c, (0, -6.6, 9.2), (3.6, 2.4, 3.5)), dx=0.6, dz=-0.05)


@shape("CTRL_C_mouth-translateX", -1)
def _mouth_right(c):
    return vec(blob(c, (0, -6.6, 9.2), (3.6, 2.4, 3.5)), dx=-0.6, dz=-0.05)


@shape("CTRL_C_mouth-translateY", 1)
def _mouth_up(c):
    return vec(blob(c, (0, -6.6, 9.2), (3.6, 2.4, 3.5)), dy=0.45)


@shape("CTRL_C_mouth-translateY", -1)
def _mouth_down(c):
    return vec(blob(c, (0, -6.6, 9.2), (3.6, 2.4, 3.5)), dy=-0.45)


for _u, _tag in ((True, "U"), (False, "D")):
    shape(f"CTRL_C_mouth_lipShift{_tag}-translateY", 1)(lambda c, u=_u: vec(lip_band(c, u, 1.4), dx=0.45))
    shape(f"CTRL_C_mouth_lipShift{_tag}-translateY", -1)(lambda c, u=_u: vec(lip_band(c, u, 1.4), dx=-0.45))


# ---- nose, cheeks, ears ---------------------------------------------------------------------------------------
@shape("CTRL_L_nose-translateX", 1)
def _nostril_dilate(c):
    return vec(blob(c, (1.1, -3.9, 9.8), (0.9, 0.9, 1.1)), dx=0.2, dz=0.03)


@shape("CTRL_L_nose-translateX", -1)
def _nostril_compress(c):
    return vec(blob(c, (1.1, -3.9, 9.8), (0.9, 0.9, 1.1)), dx=-0.15)


@shape("CTRL_L_nose-translateY", 1)
def _nose_wrinkle(c):  # sneer: the wing of the nose and the skin beside it ride up
    return (vec(blob(c, (1.2, -3.6, 9.6), (1.3, 1.5, 1.6)), dy=0.35, dz=0.05)
            + vec(blob(c, (1.0, -1.0, 9.4), (1.2, 1.4, 1.5)), dy=0.12, dz=0.1)
            + vec(around_lip(c, True, 2.4, 1.6) * left(c), dy=0.15))


@shape("CTRL_L_nose-translateY", -1)
def _nostril_depress(c):
    return vec(blob(c, (1.1, -3.9, 9.8), (1.0, 1.0, 1.3)), dy=-0.2)


@shape("CTRL_L_nose_wrinkleUpper-translateY")
def _wrinkle_upper(c):
    return vec(blob(c, (0.8, 0.3, 9.1), (1.1, 1.4, 1.4)), dx=-0.1, dy=-0.2, dz=0.12)


@shape("CTRL_L_nose_nasolabialDeepen-translateY")
def _nasolabial(c):    # the cheek beside the fold bulges forward while the fold line stays
    return vec(blob(c, (2.9, -4.8, 8.2), (1.2, 1.6, 1.8)), dx=0.05, dy=0.15, dz=0.3)


@shape("CTRL_L_eye_cheekRaise-translateY")
def _cheek_raise(c):
    return vec(blob(c, (3.8, -2.2, 7.3), (2.3, 1.9, 2.8)), dy=0.45, dz=0.2)


rig("CTRL_L_eye_cheekRaise-translateY", 1, lidD_L=7.0)


@shape("CTRL_L_ear_up-translateY")
def _ear_up(c):
    return vec(blob(c, (7.1, -0.8, -1.3), (1.6, 3.8, 2.6)), dy=0.45, dz=-0.1)


# ---- eyes, lids, brows ----------------------------------------------------------------------------------------
for _eye in ("L", "R"):
    rig(f"CTRL_{_eye}_eye-translateX", 1, **{f"eye_{_eye}_yaw": 1.0})
    rig(f"CTRL_{_eye}_eye-translateX", -1, **{f"eye_{_eye}_yaw": -1.0})
    rig(f"CTRL_{_eye}_eye-translateY", 1, **{f"eye_{_eye}_pitch": 1.0})
    rig(f"CTRL_{_eye}_eye-translateY", -1, **{f"eye_{_eye}_pitch": -1.0})
    rig("CTRL_C_eye-translateX", 1, **{f"eye_{_eye}_yaw": 1.0})
    rig("CTRL_C_eye-translateX", -1, **{f"eye_{_eye}_yaw": -1.0})
    rig("CTRL_C_eye-translateY", 1, **{f"eye_{_eye}_pitch": 1.0})
    rig("CTRL_C_eye-translateY", -1, **{f"eye_{_eye}_pitch": -1.0})
rig("CTRL_lookAtSwitch-translateY", 1, vergence=VERGENCE_DEG)
rig("CTRL_C_eye_parallelLook-translateY", 1, parallel=1.0)

rig("CTRL_L_eye_blink-translateY", 1, lidU_L=BLINK_UPPER_DEG, lidD_L=BLINK_LOWER_DEG)
rig("CTRL_L_eye_blink-translateY", -1, lidU_L=WIDEN_DEG, lidD_L=-4.0)
rig("CTRL_L_eye_eyelidU-translateY", 1, lidU_L=7.0)
rig("CTRL_L_eye_eyelidU-translateY", -1, lidU_L=-9.0)
rig("CTRL_L_eye_eyelidD-translateY", 1, lidD_L=8.0)
rig("CTRL_L_eye_eyelidD-translateY", -1, lidD_L=-6.0)
rig("CTRL_L_eye_squintInner-translateY", 1, lidD_L=5.0, lidU_L=-4.0)
rig("CTRL_L_eye_lidPress-translateY", 1, lidU_L=-7.0, lidD_L=5.0)
rig("CTRL_L_eye_faceScrunch-translateY", 1, lidU_L=-9.0, lidD_L=8.0)


@shape("CTRL_L_eye_blink-translateY", 1)
def _blink_skin(c):    # the skin under the brow follows the closing lid a little
    return vec(blob(c, (3.2, 1.3, 8.5), (1.8, 0.9, 1.5)), dy=-0.12, dz=0.03)


@shape("CTRL_L_eye_blink-translateY", -1)
def _widen_skin(c):
    return vec(blob(c, (3.2, 1.3, 8.5), (1.8, 0.9, 1.5)), dy=0.12)


@shape("CTRL_L_eye_squintInner-translateY")
def _squint_inner(c):
    return vec(blob(c, (2.4, -1.0, 8.4), (1.2, 0.9, 1.4)), dy=0.15, dz=0.05)


@shape("CTRL_L_eye_lidPress-translateY")
def _lid_press(c):
    return vec(blob(c, (3.2, 1.4, 8.5), (1.8, 0.9, 1.5)), dy=-0.1, dz=-0.03)


@shape("CTRL_L_eye_faceScrunch-translateY")
def _scrunch(c):       # brow down, cheek up, the nose wrinkles: the whole eye area gathers in
    return (vec(blob(c, (2.6, 2.3, 8.6), (2.6, 1.6, 2.4)), dx=-0.15, dy=-0.35, dz=0.05)
            + vec(blob(c, (3.6, -2.1, 7.5), (2.2, 1.8, 2.6)), dy=0.35, dz=0.15)
            + vec(blob(c, (1.1, -2.6, 9.6), (1.1, 1.4, 1.5)), dy=0.15))


for _tag, _x in (("In", 2.3), ("Out", 4.1)):
    shape(f"CTRL_L_eyelashes_tweaker{_tag}-translateY", 1, group="lids")(
        lambda c, x=_x: vec(blob(c, (x, 0.5, 8.5), (0.9, 1.2, 1.6)) * (c.y > 0.3), dy=0.1))
    shape(f"CTRL_L_eyelashes_tweaker{_tag}-translateY", -1, group="lids")(
        lambda c, x=_x: vec(blob(c, (x, 0.5, 8.5), (0.9, 1.2, 1.6)) * (c.y > 0.3), dy=-0.1))


def _pupil(c, amount):
    """Slides the iris and pupil rings of the eye around its gaze axis, so the dark pupil disc grows or shrinks."""
    rel = c.P - np.array([3.2, 0.35, 7.45])
    radial = np.hypot(rel[:, 0], rel[:, 1])
    w = (1 - smoothstep(0.15, 0.55, radial)) * (rel[:, 2] > 0.8)
    return (w * amount)[:, None] * np.stack([rel[:, 0], rel[:, 1], np.zeros_like(radial)], 1)


shape("CTRL_L_eye_pupil-translateY", 1, group="eyes")(lambda c: _pupil(c, 0.55))
shape("CTRL_L_eye_pupil-translateY", -1, group="eyes")(lambda c: _pupil(c, -0.35))


@shape("CTRL_L_brow_down-translateY")
def _brow_down(c):
    return vec(blob(c, (2.2, 2.5, 8.6), (2.6, 1.8, 2.6)), dx=-0.15, dy=-0.45, dz=0.1)


@shape("CTRL_L_brow_lateral-translateY")
def _brow_lateral(c):  # corrugator: brows drawn together, a bunch between them
    return vec(blob(c, (1.6, 2.4, 8.8), (2.0, 1.6, 2.4)), dx=-0.35, dy=-0.12, dz=0.08)


@shape("CTRL_L_brow_raiseIn-translateY")
def _brow_raise_in(c):
    return vec(blob(c, (1.5, 2.8, 8.6), (2.0, 2.6, 2.6)), dy=0.6) + vec(blob(c, (1.5, 5.0, 8.0), (2.6, 2.4, 2.6)),
                                                                     dy=0.15)


@shape("CTRL_L_brow_raiseOut-translateY")
def _brow_raise_out(c):
    return vec(blob(c, (4.3, 2.6, 7.8), (2.1, 2.5, 2.8)), dy=0.55) + vec(blob(c, (4.0, 5.0, 7.0), (2.6, 2.4, 2.6)),
                                                                      dy=0.15)


# ---- teeth and tongue -----------------------------------------------------------------------------------------
for _g, _tag in (("teeth_upper", "U"), ("teeth_lower", "D")):
    for _sgn in (1, -1):
        shape(f"CTRL_C_teeth{_tag}-translateX", _sgn, group=_g)(lambda c, s=_sgn: vec(np.ones(len(c.P)), dx=0.3 * s))
        shape(f"CTRL_C_teeth{_tag}-translateY", _sgn, group=_g)(lambda c, s=_sgn: vec(np.ones(len(c.P)), dy=0.3 * s))
        shape(f"CTRL_C_teeth_fwdBack{_tag}-translateY", _sgn, group=_g)(
            lambda c, s=_sgn: vec(np.ones(len(c.P)), dz=0.3 * s))


def _tip(c):
    return smoothstep(3.5, 7.7, c.z)


shape("CTRL_C_tongue-translateX", 1, "tongue")(lambda c: vec(0.3 + 0.7 * _tip(c), dx=0.7))
shape("CTRL_C_tongue-translateX", -1, "tongue")(lambda c: vec(0.3 + 0.7 * _tip(c), dx=-0.7))
shape("CTRL_C_tongue-translateY", 1, "tongue")(lambda c: vec(0.3 + 0.7 * _tip(c), dy=0.8))
shape("CTRL_C_tongue-translateY", -1, "tongue")(lambda c: vec(0.3 + 0.7 * _tip(c), dy=-0.4))
shape("CTRL_C_tongue_inOut-translateY", 1, "tongue")(lambda c: vec(0.5 + 0.5 * _tip(c), dz=-0.8))
shape("CTRL_C_tongue_inOut-translateY", -1, "tongue")(lambda c: vec(0.2 + 0.8 * _tip(c) ** 2, dy=0.15, dz=3.2))
shape("CTRL_C_tongue_narrowWide-translateY", 1, "tongue")(
    lambda c: vec(_tip(c) * -0.35 * c.x) + vec(_tip(c), dy=0.15))
shape("CTRL_C_tongue_narrowWide-translateY", -1, "tongue")(lambda c: vec(_tip(c) * 0.3 * c.x) + vec(_tip(c), dy=-0.1))
shape("CTRL_C_tongue_press-translateY", 1, "tongue")(
    lambda c: vec(smoothstep(2.5, 5.0, c.z) * (1 - smoothstep(6.5, 8.0, c.z)), dy=0.9))
shape("CTRL_C_tongue_roll-translateX", 1, "tongue")(lambda c: vec(_tip(c) * 0.5 * c.x, dy=1.0))
shape("CTRL_C_tongue_roll-translateX", -1, "tongue")(lambda c: vec(_tip(c) * -0.5 * c.x, dy=1.0))
shape("CTRL_C_tongue_roll-translateY", 1, "tongue")(lambda c: vec(_tip(c) * 0.3 * c.x ** 2, dy=1.0))
shape("CTRL_C_tongue_roll-translateY", -1, "tongue")(lambda c: vec(_tip(c) ** 2, dy=-0.6, dz=-0.2))
shape("CTRL_C_tongue_tip-translateX", 1, "tongue")(lambda c: vec(_tip(c) ** 2, dx=0.6))
shape("CTRL_C_tongue_tip-translateX", -1, "tongue")(lambda c: vec(_tip(c) ** 2, dx=-0.6))
shape("CTRL_C_tongue_tip-translateY", 1, "tongue")(lambda c: vec(_tip(c) ** 2, dy=0.9, dz=-0.15))
shape("CTRL_C_tongue_tip-translateY", -1, "tongue")(lambda c: vec(_tip(c) ** 2, dy=-0.5))


# ---- neck -----------------------------------------------------------------------------------------------------
def _larynx(c):
    return blob(c, (0.0, -14.0, 4.4), (1.6, 2.4, 1.8))


shape("CTRL_C_neck_swallow-translateY")(lambda c: vec(_larynx(c), dy=1.2, dz=0.2))
shape("CTRL_neck_throatUpDown-translateY", 1)(lambda c: vec(_larynx(c), dy=0.8))
shape("CTRL_neck_throatUpDown-translateY", -1)(lambda c: vec(_larynx(c), dy=-0.8))
shape("CTRL_neck_throatExhaleInhale-translateY", 1)(
    lambda c: vec(blob(c, (0, -14.5, 3.5), (3.5, 4.0, 2.5)), dz=0.35))
shape("CTRL_neck_throatExhaleInhale-translateY", -1)(
    lambda c: vec(blob(c, (0, -14.5, 3.5), (3.5, 4.0, 2.5)), dz=-0.35))
shape("CTRL_neck_digastricUpDown-translateY", 1)(lambda c: vec(blob(c, (0, -11.3, 5.5), (3.0, 1.8, 2.8)), dy=0.45))
shape("CTRL_neck_digastricUpDown-translateY", -1)(
    lambda c: vec(blob(c, (0, -11.3, 5.5), (3.0, 1.8, 2.8)), dy=-0.45, dz=0.1))


def _scm(c):
    """Weight along the left sternocleidomastoid, from behind the ear to the top of the breastbone."""
    a, b = np.array([5.2, -6.0, -2.2]), np.array([1.2, -19.0, 3.0])
    t = np.clip(((c.P - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
    d = np.linalg.norm(c.P - (a + t[:, None] * (b - a)), axis=1)
    return np.where(d < 2.6, (1 - (d / 2.6) ** 2) ** 3, 0.0) * smoothstep(0.0, 0.25, t) * (1 - smoothstep(0.8, 1, t))


shape("CTRL_L_neck_mastoidContract-translateY")(lambda c: vec(_scm(c), dx=0.35, dz=0.2))


@shape("CTRL_L_neck_stretch-translateY")
def _neck_stretch(c):  # platysma: neck skin pulled down, mouth corner drawn down a little
    return vec(blob(c, (2.8, -13.0, 2.5), (2.6, 4.0, 3.0)), dy=-0.25, dz=0.12) + vec(corner(c), dy=-0.2)


# Neck correctives: extra neck deformation while the head is posed, scaled by three multipliers (upper, middle,
# lower neck). Each band has one field per pose direction; the model multiplies them by pose and multiplier.
NECK_BANDS = {"U": -9.5, "M": -13.5, "D": -17.5}
POSE_DIRECTIONS = ("pitch+", "pitch-", "yaw+", "yaw-", "roll+", "roll-")


def neck_corrective(c: Ctx, band: str, direction: str) -> np.ndarray:
    w = np.clip(1.0 - ((c.y - NECK_BANDS[band]) / 2.8) ** 2, 0.0, None) ** 2 * (c.y < -7.0)
    front = smoothstep(-1.0, 3.0, c.z)
    side = np.tanh(c.x / 3.0)
    if direction == "pitch+":    # chin up: throat skin stretches up
        return vec(w * front, dy=0.35, dz=-0.1)
    if direction == "pitch-":    # chin down: throat skin bunches forward
        return vec(w * front, dy=-0.2, dz=0.35)
    if direction.startswith("yaw"):
        s = 1.0 if direction == "yaw+" else -1.0
        return vec(w * front, dx=0.3 * s) + vec(w * np.abs(side), dz=0.1)
    s = 1.0 if direction == "roll+" else -1.0
    return vec(w * np.clip(-side * s, 0, None), dx=0.3 * s, dy=0.1)
