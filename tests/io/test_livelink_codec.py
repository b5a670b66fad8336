"""Live Link Face v6 codec: exact layout, round trips, malformed input, independent decoder, packet units."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.io.livelink.codec import (
    FIXED_SIZE,
    LIVE_LINK_FACE_NAMES,
    VALUE_COUNT,
    LiveLinkPacketError,
    decode_packet,
    encode_packet,
    fps_fraction,
    packet_size,
    to_packet_units,
)

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
FLOAT32 = st.floats(width=32, allow_nan=False)
# Any 61 float32 bit patterns (infinities, subnormals, -0.0), NaN replaced: faster to draw than 61 floats.
VALUES = st.binary(min_size=4 * VALUE_COUNT, max_size=4 * VALUE_COUNT).map(
    lambda raw: [0.0 if math.isnan(v) else v for v in struct.unpack(f">{VALUE_COUNT}f", raw)]
)
DEVICE = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_names_are_the_61_stream_channels():
    assert len(LIVE_LINK_FACE_NAMES) == 61 == len(set(LIVE_LINK_FACE_NAMES))
    assert LIVE_LINK_FACE_NAMES[17] == "JawOpen"
    assert LIVE_LINK_FACE_NAMES[51] == "TongueOut"
    assert LIVE_LINK_FACE_NAMES[52:55] == ("HeadYaw", "HeadPitch", "HeadRoll")
    assert LIVE_LINK_FACE_NAMES[60] == "RightEyeRoll"
    assert FIXED_SIZE == 270


def test_rig_uses_the_same_channel_order():
    from app.core.rig import load_rig

    assert tuple(load_rig().arkit_names) == LIVE_LINK_FACE_NAMES


def test_exact_byte_layout():
    values = [i / 100 for i in range(61)]
    data = encode_packet("dev", "Subj", 1234, 0.5, 60, 1, values)
    expected = (
        b"\x06" + b"\x00\x00\x00\x03dev" + b"\x00\x00\x00\x04Subj"
        + struct.pack(">i", 1234) + struct.pack(">f", 0.5) + struct.pack(">ii", 60, 1) + b"\x3d"
        + struct.pack(">61f", *values)
    )  # fmt: skip
    assert data == expected
    assert len(data) == 270 + 3 + 4


@settings(max_examples=150, deadline=None)
@given(device=st.text(max_size=40), subject=st.text(max_size=40), frame=INT32, sub=FLOAT32, num=INT32,
       den=INT32, values=VALUES)  # fmt: skip
def test_round_trip(device, subject, frame, sub, num, den, values):
    data = encode_packet(device, subject, frame, sub, num, den, values)
    assert len(data) == 270 + len(device.encode("utf-8")) + len(subject.encode("utf-8"))
    assert len(data) == packet_size(device, subject)
    packet = decode_packet(data)
    assert (packet.device_id, packet.subject, packet.frame_number) == (device, subject, frame)
    assert (packet.sub_frame, packet.fps_num, packet.fps_den) == (sub, num, den)
    assert packet.values == tuple(values)  # float32 inputs survive exactly
    assert struct.pack(">61f", *packet.values) == struct.pack(">61f", *values)  # down to the sign of zero


@settings(max_examples=100, deadline=None)
@given(device=st.text(alphabet="abcdef0123456789-", max_size=36),
       subject=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=20))
def test_ascii_size_rule(device, subject):
    data = encode_packet(device, subject, 0, 0.0, 60, 1, [0.0] * 61)
    assert len(data) == 270 + len(device) + len(subject)


def test_float64_values_are_rounded_to_float32():
    data = encode_packet("d", "s", 1, 0.0, 60, 1, [0.1] * 61)
    assert decode_packet(data).values[0] == pytest.approx(0.1, abs=1e-7)
    assert decode_packet(data).values[0] == float(np.float32(0.1))


def test_nan_survives_as_nan():
    values = [0.0] * 61
    values[5] = float("nan")
    assert math.isnan(decode_packet(encode_packet("d", "s", 0, 0.0, 60, 1, values)).values[5])


def test_every_truncation_is_rejected():
    data = encode_packet(DEVICE, "VasaRig", 7, 0.0, 60, 1, [0.5] * 61)
    for cut in range(len(data)):
        with pytest.raises(LiveLinkPacketError):
            decode_packet(data[:cut])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_decode_or_raise_packet_error(blob):
    try:
        packet = decode_packet(blob)
    except LiveLinkPacketError:
        return
    assert len(packet.values) == 61  # anything accepted is a well-formed packet


@pytest.mark.parametrize("version", [0, 5, 7, 255])
def test_wrong_version(version):
    data = bytearray(encode_packet("d", "s", 0, 0.0, 60, 1, [0.0] * 61))
    data[0] = version
    with pytest.raises(LiveLinkPacketError, match=f"version {version}"):
        decode_packet(bytes(data))


def test_garbled_packets():
    good = encode_packet("dev", "subj", 0, 0.0, 60, 1, [0.0] * 61)
    with pytest.raises(LiveLinkPacketError, match="empty"):
        decode_packet(b"")
    with pytest.raises(LiveLinkPacketError, match="too short"):
        decode_packet(good[:100])
    with pytest.raises(LiveLinkPacketError, match="length"):  # negative device id length
        decode_packet(b"\x06" + struct.pack(">i", -1) + good[5:])
    with pytest.raises(LiveLinkPacketError, match="length"):  # a length past the end
        decode_packet(b"\x06" + struct.pack(">i", 10_000) + good[5:])
    with pytest.raises(LiveLinkPacketError, match="announces"):  # trailing bytes
        decode_packet(good + b"\x00")
    bad_count = bytearray(good)
    bad_count[1 + 4 + 3 + 4 + 4 + 16] = 52  # the count byte after the timing block
    with pytest.raises(LiveLinkPacketError, match="52 values"):
        decode_packet(bytes(bad_count))
    bad_utf8 = b"\x06" + struct.pack(">i", 3) + b"\xff\xfe\xfd" + good[8:]
    with pytest.raises(LiveLinkPacketError, match="UTF-8"):
        decode_packet(bad_utf8)


def test_encode_rejects_bad_arguments():
    with pytest.raises(LiveLinkPacketError, match="61 values"):
        encode_packet("d", "s", 0, 0.0, 60, 1, [0.0] * 60)
    with pytest.raises(LiveLinkPacketError, match="32-bit"):
        encode_packet("d", "s", 2**31, 0.0, 60, 1, [0.0] * 61)
    with pytest.raises(LiveLinkPacketError, match="integer"):
        encode_packet("d", "s", 1.5, 0.0, 60, 1, [0.0] * 61)
    with pytest.raises(LiveLinkPacketError, match="values"):
        encode_packet("d", "s", 0, 0.0, 60, 1, [1e39] * 61)  # beyond float32


def test_packet_value_by_name_and_fps():
    values = [0.0] * 61
    values[17] = 0.75
    packet = decode_packet(encode_packet("d", "s", 3, 0.0, 30000, 1001, values))
    assert packet.value("JawOpen") == 0.75
    assert packet.fps == pytest.approx(29.97, abs=1e-3)


def test_fps_fraction():
    assert fps_fraction(60.0) == (60, 1)
    assert fps_fraction(29.97002997) == (30000, 1001)
    assert fps_fraction(23.976) == (23976, 1000)
    with pytest.raises(ValueError):
        fps_fraction(0)


def test_pylivelinkface_reads_our_packets():
    """An independent decoder (PyPI pylivelinkface 0.1) reads what we write.

    Its decoder reads the version as a little-endian int32 spanning the version byte and the first three bytes
    of the device-id length, and takes the device id as a fixed 37 bytes from offset 4: it works for
    36-character ids (what the iPhone app and our sender use) and returns the id with the length's last byte
    (0x24, '$') in front.
    """
    pll = pytest.importorskip("pylivelinkface")
    rng = np.random.default_rng(3)
    values = rng.uniform(-1, 1, 61).astype(np.float32)
    data = encode_packet(DEVICE, "VasaRig", 98765, 0.0, 60, 1, values.tolist())
    ok, face = pll.PyLiveLinkFace.decode(data)
    assert ok
    assert face.uuid == "$" + DEVICE
    assert face.name == "VasaRig"
    assert face._version == 6
    assert face._frames == 98765
    assert face._sub_frame == 0.0
    assert (face.fps, face._denominator) == (60, 1)
    for shape in pll.FaceBlendShape:
        assert face.get_blendshape(shape) == float(values[shape.value])
        assert shape.name == LIVE_LINK_FACE_NAMES[shape.value]


def test_to_packet_units_scales_rotations_and_clips():
    arkit = np.zeros((3, 61), dtype=np.float32)
    arkit[0, 17] = 0.4
    arkit[1, 17] = 1.7  # beyond 1: clipped
    arkit[2, 0] = -0.2  # below 0: clipped
    arkit[0, 52] = 90.0  # HeadYaw, degrees
    arkit[1, 53] = -36.0
    arkit[2, 60] = 400.0  # beyond 180 degrees: clipped to 1
    out = to_packet_units(arkit)
    assert out.dtype == np.float32 and out.shape == (3, 61)
    assert out[0, 17] == pytest.approx(0.4) and out[1, 17] == 1.0 and out[2, 0] == 0.0
    assert out[0, 52] == pytest.approx(0.5) and out[1, 53] == pytest.approx(-0.2) and out[2, 60] == 1.0
    assert arkit[0, 52] == 90.0  # input untouched


def test_to_packet_units_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        to_packet_units(np.zeros((4, 60)))
    bad = np.zeros((4, 61))
    bad[2, 17] = np.nan
    with pytest.raises(ValueError, match="frame 2, JawOpen"):
        to_packet_units(bad)


def test_rig_output_converts_to_valid_packets():
    from app.core.rig import load_rig

    rig = load_rig()
    curves = np.tile(rig.rest, (5, 1)).astype(np.float32)
    curves[:, rig.index("CTRL_C_jaw-translateY")] = np.linspace(0, 1, 5)
    curves[:, rig.index("head_yaw")] = 30.0
    out = to_packet_units(rig.to_arkit(curves))
    assert np.all(out[:, :52] >= 0) and np.all(out[:, :52] <= 1)
    assert out[:, 52] == pytest.approx(30.0 / 180.0)
    assert out[-1, 17] > out[0, 17]  # opening the jaw raises JawOpen
