"""Live Link Face UDP packets, version 6: encoding, decoding and the conversion of rig output to packet units.

Wire format (big-endian, no padding, strings without terminator), as read by UE's Apple ARKit Live Link
source:

    uint8   packet version (6)
    int32   device id length, then the device id bytes (UTF-8; the iPhone app sends a 36-character UUID)
    int32   subject name length, then the subject name bytes (UTF-8)
    int32   frame number
    float32 sub-frame (0..1)
    int32   frame rate numerator, int32 frame rate denominator
    uint8   value count (61)
    61 x float32 values: 52 ARKit blendshapes (0..1), then head and eye rotations (degrees / 180, so -1..1)

UE drops a packet whose version is not 6 or whose count is not 61, so both are checked on decode too.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PACKET_VERSION = 6
DEFAULT_PORT = 11111  # the port UE's Live Link Face source listens on by default

# The 61 values in stream order (UE's EARFaceBlendShape). Recorded take CSVs order a few columns differently.
LIVE_LINK_FACE_NAMES: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft", "EyeSquintLeft",
    "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight", "EyeLookOutRight",
    "EyeLookUpRight", "EyeSquintRight", "EyeWideRight", "JawForward", "JawLeft", "JawRight", "JawOpen",
    "MouthClose", "MouthFunnel", "MouthPucker", "MouthLeft", "MouthRight", "MouthSmileLeft",
    "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight", "MouthDimpleLeft", "MouthDimpleRight",
    "MouthStretchLeft", "MouthStretchRight", "MouthRollLower", "MouthRollUpper", "MouthShrugLower",
    "MouthShrugUpper", "MouthPressLeft", "MouthPressRight", "MouthLowerDownLeft", "MouthLowerDownRight",
    "MouthUpperUpLeft", "MouthUpperUpRight", "BrowDownLeft", "BrowDownRight", "BrowInnerUp",
    "BrowOuterUpLeft", "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft", "CheekSquintRight",
    "NoseSneerLeft", "NoseSneerRight", "TongueOut",
    "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw",
    "RightEyePitch", "RightEyeRoll",
)  # fmt: skip
VALUE_COUNT = len(LIVE_LINK_FACE_NAMES)  # 61
BLENDSHAPE_COUNT = 52  # values [0, 52) are blendshape weights; [52, 61) are rotations
ROTATION_SCALE_DEG = 180.0  # rotations travel as degrees / 180

_INT32 = struct.Struct(">i")
_TIMING = struct.Struct(">ifiiB")  # frame number, sub-frame, rate numerator, rate denominator, value count
_VALUES = struct.Struct(f">{VALUE_COUNT}f")
# Fixed part: version byte + two length prefixes + timing block + values = 270 bytes.
FIXED_SIZE = 1 + 2 * _INT32.size + _TIMING.size + _VALUES.size
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


class LiveLinkError(Exception):
    """Base class of Live Link failures."""


class LiveLinkPacketError(LiveLinkError, ValueError):
    """A packet that cannot be encoded or decoded (too short, garbled, wrong version or value count)."""


@dataclass(frozen=True)
class LiveLinkPacket:
    device_id: str
    subject: str
    frame_number: int
    sub_frame: float
    fps_num: int
    fps_den: int
    values: tuple[float, ...]  # 61 values, packet units

    @property
    def fps(self) -> float:
        return self.fps_num / self.fps_den if self.fps_den else 0.0

    def value(self, name: str) -> float:
        """The value of one named channel, e.g. ``packet.value("JawOpen")``."""
        return self.values[LIVE_LINK_FACE_NAMES.index(name)]


def packet_size(device_id: str, subject: str) -> int:
    return FIXED_SIZE + len(device_id.encode("utf-8")) + len(subject.encode("utf-8"))


def _check_int32(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise LiveLinkPacketError(f"{name} must be an integer, got {value!r}")
    if not _INT32_MIN <= int(value) <= _INT32_MAX:
        raise LiveLinkPacketError(f"{name} {value} does not fit a 32-bit signed integer")
    return int(value)


def encode_packet(
    device_id: str,
    subject: str,
    frame_number: int,
    sub_frame: float,
    fps_num: int,
    fps_den: int,
    values: Sequence[float],
) -> bytes:
    """One Live Link Face v6 packet. ``values`` are 61 floats in packet units (see ``to_packet_units``)."""
    device = device_id.encode("utf-8")
    name = subject.encode("utf-8")
    if len(values) != VALUE_COUNT:
        raise LiveLinkPacketError(f"a Live Link Face packet carries {VALUE_COUNT} values, got {len(values)}")
    frame_number = _check_int32("frame number", frame_number)
    fps_num = _check_int32("frame rate numerator", fps_num)
    fps_den = _check_int32("frame rate denominator", fps_den)
    try:
        timing = _TIMING.pack(frame_number, float(sub_frame), fps_num, fps_den, VALUE_COUNT)
        packed_values = _VALUES.pack(*(float(v) for v in values))
    except (OverflowError, struct.error, TypeError, ValueError) as exc:
        raise LiveLinkPacketError(f"cannot encode packet values: {exc}") from exc
    return b"".join(
        (bytes((PACKET_VERSION,)), _INT32.pack(len(device)), device, _INT32.pack(len(name)), name, timing,
         packed_values)
    )  # fmt: skip


def _read_string(data: bytes, offset: int, what: str) -> tuple[str, int]:
    if offset + _INT32.size > len(data):
        raise LiveLinkPacketError(f"packet too short: it ends inside the {what} length ({len(data)} bytes)")
    (length,) = _INT32.unpack_from(data, offset)
    offset += _INT32.size
    if length < 0 or offset + length > len(data):
        raise LiveLinkPacketError(f"garbled packet: {what} length {length} does not fit {len(data)} bytes")
    try:
        text = data[offset : offset + length].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LiveLinkPacketError(f"garbled packet: {what} is not valid UTF-8") from exc
    return text, offset + length


def decode_packet(data: bytes) -> LiveLinkPacket:
    """Parse one packet; raises ``LiveLinkPacketError`` for anything UE itself would not accept."""
    data = bytes(data)
    if not data:
        raise LiveLinkPacketError("empty packet")
    if data[0] != PACKET_VERSION:
        raise LiveLinkPacketError(
            f"unsupported Live Link Face packet version {data[0]} (expected {PACKET_VERSION})"
        )
    if len(data) < FIXED_SIZE:
        raise LiveLinkPacketError(
            f"packet too short: {len(data)} bytes, a v6 packet has at least {FIXED_SIZE}"
        )
    device_id, offset = _read_string(data, 1, "device id")
    subject, offset = _read_string(data, offset, "subject name")
    expected = offset + _TIMING.size + _VALUES.size
    if len(data) != expected:
        raise LiveLinkPacketError(
            f"garbled packet: {len(data)} bytes, but its header announces {expected} "
            f"(device id {len(device_id)} chars, subject {len(subject)} chars)"
        )
    frame_number, sub_frame, fps_num, fps_den, count = _TIMING.unpack_from(data, offset)
    if count != VALUE_COUNT:
        raise LiveLinkPacketError(f"packet carries {count} values; Live Link Face v6 has {VALUE_COUNT}")
    values = _VALUES.unpack_from(data, offset + _TIMING.size)
    return LiveLinkPacket(device_id, subject, frame_number, sub_frame, fps_num, fps_den, values)


def neutral_values() -> tuple[float, ...]:
    """The rest pose: every blendshape 0, head and eyes straight ahead."""
    return (0.0,) * VALUE_COUNT


def to_packet_units(arkit: np.ndarray) -> np.ndarray:
    """Rig output (frames, 61) with rotations in DEGREES (what ``RigSpec.to_arkit`` returns) -> packet units.

    Blendshapes are clipped to 0..1; rotations become degrees / 180 clipped to -1..1, the ranges UE expects.
    Returns a new float32 array; raises ``ValueError`` for a wrong shape or non-finite values.
    """
    frames = np.asarray(arkit, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != VALUE_COUNT:
        raise ValueError(f"expected an array of shape (frames, {VALUE_COUNT}), got {frames.shape}")
    bad = ~np.isfinite(frames)
    if bad.any():
        frame, column = np.argwhere(bad)[0]
        raise ValueError(
            f"ARKit values contain {int(bad.sum())} non-finite entries "
            f"(first at frame {frame}, {LIVE_LINK_FACE_NAMES[column]})"
        )
    out = np.empty(frames.shape, dtype=np.float32)
    out[:, :BLENDSHAPE_COUNT] = np.clip(frames[:, :BLENDSHAPE_COUNT], 0.0, 1.0)
    out[:, BLENDSHAPE_COUNT:] = np.clip(frames[:, BLENDSHAPE_COUNT:] / ROTATION_SCALE_DEG, -1.0, 1.0)
    return out


def fps_fraction(fps: float) -> tuple[int, int]:
    """Frame rate as the numerator/denominator pair carried in packets (29.97 -> 30000/1001)."""
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")
    if abs(fps - round(fps)) < 1e-6:
        return int(round(fps)), 1
    for den in (1001, 1000, 100):
        num = fps * den
        if abs(num - round(num)) < 1e-3:
            return int(round(num)), den
    return int(round(fps * 1000)), 1000
