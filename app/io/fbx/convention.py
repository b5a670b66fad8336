"""Conventions shared by the FBX curve writer and reader: axes, head channels, key attributes.

Axis system. The file declares Z up, front axis Y with sign -1, X as the coord axis, right-handed, in
centimetres (UnitScaleFactor 1) -- the axis system Unreal Engine's own FBX exporter writes. UE is
left-handed (X forward, Y right, Z up); its exporter, and therefore its importer, converts by negating
Y. The head channels (yaw/pitch/roll in degrees, tx/ty/tz in cm) are taken as UE values: yaw about Z
(up), pitch about Y, roll about X (an FRotator), translations along UE X/Y/Z. Stored on the head joint:

    Lcl Rotation    (X, Y, Z) = ( roll, -pitch, -yaw)   rotation order XYZ (the FBX default)
    Lcl Translation (X, Y, Z) = ( tx,   -ty,    tz )

which is how UE itself converts an FRotator/FVector when it writes FBX, so UE reads the values back as
the same yaw/pitch/roll. The XYZ Euler order (X first, then Y, then Z) composes like FRotator
(roll, then pitch, then yaw). On a MetaHuman skeleton the head bone has its own rest orientation, so
these are offsets in the joint's parent frame; the minimal skeleton here has identity rest transforms.
"""
from __future__ import annotations

import numpy as np

# Rig channel names of the head pose (degrees, centimetres), in the order of the (frames, 3) arrays.
HEAD_ROTATION_CHANNELS = ("head_yaw", "head_pitch", "head_roll")
HEAD_TRANSLATION_CHANNELS = ("head_tx", "head_ty", "head_tz")

LCL_TRANSLATION = "Lcl Translation"
LCL_ROTATION = "Lcl Rotation"
LCL_SCALING = "Lcl Scaling"
AXIS_CHANNELS = ("X", "Y", "Z")

# Properties70 flags: A animatable, + animated (has a curve), U user-defined. UE's own export writes its
# curve properties as animatable user-defined doubles, which appear animated as "A+U".
FLAGS_USER_ANIMATED = "A+U"
FLAGS_ANIMATED = "A+"
FLAGS_ANIMATABLE = "A"

# AnimationCurve key attributes. KeyAttrFlags 0x4 = linear interpolation (FbxAnimCurveDef); one shared
# attribute for all keys (KeyAttrRefCount = number of keys). KeyAttrDataFloat holds right slope, next
# left slope, the two tangent weights packed as int16 ten-thousandths (0.3333 each: 0x0D05), and the
# velocities -- unused for linear keys but expected to be present.
KEY_VERSION = 4008
KEY_FLAGS_LINEAR = 0x00000004
KEY_FLAGS_INTERPOLATION_MASK = 0x0000000E
KEY_FLAGS_CONSTANT = 0x00000002
KEY_ATTR_DATA = np.array([0, 0, 0x0D050D05, 0], dtype=np.int32).view(np.float32)

# GlobalSettings axis system (see module docstring).
AXIS_SETTINGS = {
    "UpAxis": 2, "UpAxisSign": 1,
    "FrontAxis": 1, "FrontAxisSign": -1,
    "CoordAxis": 0, "CoordAxisSign": 1,
    "OriginalUpAxis": 2, "OriginalUpAxisSign": 1,
}
UNIT_SCALE_CM = 1.0


def ue_rotation_to_fbx(yaw_pitch_roll: np.ndarray) -> np.ndarray:
    """(frames, 3) yaw, pitch, roll in degrees -> (frames, 3) Lcl Rotation X, Y, Z."""
    ypr = np.asarray(yaw_pitch_roll, dtype=np.float64)
    return np.stack([ypr[:, 2], -ypr[:, 1], -ypr[:, 0]], axis=1)


def fbx_rotation_to_ue(xyz: np.ndarray) -> np.ndarray:
    """Inverse of ue_rotation_to_fbx."""
    xyz = np.asarray(xyz, dtype=np.float64)
    return np.stack([-xyz[:, 2], -xyz[:, 1], xyz[:, 0]], axis=1)


def ue_translation_to_fbx(txyz: np.ndarray) -> np.ndarray:
    """(frames, 3) UE centimetres -> (frames, 3) Lcl Translation; its own inverse."""
    t = np.asarray(txyz, dtype=np.float64)
    return np.stack([t[:, 0], -t[:, 1], t[:, 2]], axis=1)


fbx_translation_to_ue = ue_translation_to_fbx
