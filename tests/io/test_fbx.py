"""Binary FBX node codec, key reduction, and write/read round trips with our own reader."""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.io.fbx import FbxExportError, FbxFormatError, read_fbx_curves, reduce_keys, write_fbx_curves
from app.io.fbx.binary import MAGIC, FbxNode, decode_document, encode_document
from app.io.fbx.keyreduce import max_reduction_error
from app.io.fbx.ktime import TICKS_PER_SECOND, time_mode_for


def smooth_curves(frames: int, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Speech-like test curves: smoothed random walks, a sine, a step, constants."""
    rng = np.random.default_rng(seed)
    kernel = np.hanning(9) / np.hanning(9).sum()
    out = {}
    for i in range(count):
        walk = np.cumsum(rng.normal(0, 0.05, frames + 8))
        out[f"CTRL_expressions_c{i:03d}"] = np.convolve(walk, kernel, mode="valid")[:frames]
    t = np.arange(frames) / 60.0
    out["CTRL_expressions_sine"] = 0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t)
    out["CTRL_expressions_step"] = (np.arange(frames) >= frames // 2).astype(float)
    out["CTRL_expressions_zero"] = np.zeros(frames)
    out["CTRL_expressions_atRest"] = np.full(frames, 0.25)
    return out


# ------------------------------------------------------------------------------------------ binary codec

def test_codec_round_trips_every_property_type():
    arrays = {
        "f": np.linspace(0, 1, 5, dtype=np.float32),
        "d": np.linspace(-1, 1, 400),  # big enough to be zlib-compressed
        "l": np.arange(3, dtype=np.int64) * 46186158000,
        "i": np.array([1, -2, 3], dtype=np.int32),
        "b": np.array([True, False, True]),
    }
    scalars = [np.int16(-7), True, 123, np.float32(1.5), 2.25, np.int64(2**40), "name\x00\x01Model",
               b"\x00\xff raw"]
    node = FbxNode("Top", scalars, [FbxNode("Arrays", list(arrays.values())), FbxNode("Empty")])
    version, nodes = decode_document(encode_document([node, FbxNode("Second", ["x"])]))
    assert version == 7400
    assert [n.name for n in nodes] == ["Top", "Second"]
    top = nodes[0]
    assert top.props == [-7, True, 123, 1.5, 2.25, 2**40, "name\x00\x01Model", b"\x00\xff raw"]
    decoded = top.find("Arrays").props
    for original, back in zip(arrays.values(), decoded, strict=True):
        assert back.dtype.kind == original.dtype.kind
        np.testing.assert_array_equal(back, original)
    assert top.find("Empty").props == [] and top.find("Empty").children == []


def test_encoded_layout_header_offsets_sentinels_footer():
    data = encode_document([FbxNode("A", [1], [FbxNode("B", [2.0])])])
    assert data[:23] == MAGIC and struct.unpack_from("<I", data, 23)[0] == 7400
    end_a, nprops, plen, nlen = struct.unpack_from("<IIIB", data, 27)
    assert (nprops, plen, nlen) == (1, 5, 1) and data[40:41] == b"A"
    # A's children: B's record, then a 13-byte null record ending exactly at A's end offset.
    assert data[end_a - 13:end_a] == b"\x00" * 13
    # Top-level list closed by a null record; footer ends with the version, 120 zeros and the magic.
    assert data[end_a:end_a + 13] == b"\x00" * 13
    assert data[-16 - 120 - 4:-16 - 120] == struct.pack("<I", 7400)
    assert (len(data) - 16 - 120 - 4) % 16 == 0


def test_large_arrays_are_zlib_compressed():
    values = np.zeros(1000, dtype=np.float64)
    data = encode_document([FbxNode("K", [values])])
    count, encoding, length = struct.unpack_from("<III", data, 27 + 13 + 1 + 1)
    assert (count, encoding) == (1000, 1)
    assert zlib.decompress(data[27 + 13 + 2 + 12:27 + 13 + 2 + 12 + length]) == values.tobytes()


def test_unsupported_property_value_is_rejected():
    with pytest.raises(TypeError):
        encode_document([FbxNode("X", [object()])])
    with pytest.raises(OverflowError):
        encode_document([FbxNode("X", [2**40])])


# ------------------------------------------------------------------------------------------ key reduction

@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=80),
       st.sampled_from([0.0, 1e-4, 1e-2, 0.3]))
def test_reduction_keeps_error_bound_and_end_keys(values, tol):
    values = np.asarray(values)
    kept = reduce_keys(values, tol)
    assert kept[0] == 0 and kept[-1] == len(values) - 1
    assert np.all(np.diff(kept) > 0)
    # Kept keys are stored as float32: allow their own rounding on top of the tolerance.
    rounding = np.max(np.abs(values - values.astype(np.float32))) if len(values) else 0.0
    assert max_reduction_error(values, kept) <= tol + 2 * rounding + 1e-12


def test_reduction_drops_linear_and_constant_stretches():
    ramp = np.concatenate([np.linspace(0, 1, 50), np.ones(50), np.linspace(1, 0, 50)])
    kept = reduce_keys(ramp, 1e-6)
    assert set(kept.tolist()) <= {0, 49, 50, 99, 100, 149} and {0, 149} <= set(kept.tolist())
    noisy = np.random.default_rng(1).normal(size=200)
    assert len(reduce_keys(noisy, 1e-6)) == 200


# ------------------------------------------------------------------------------------ write + own reader

@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0, 29.97])
@pytest.mark.parametrize("tolerance", [None, 1e-3])
def test_round_trip_with_own_reader(tmp_path, fps, tolerance):
    curves = smooth_curves(150, 6, seed=int(fps))
    t = np.arange(150) / fps
    rot = np.stack([12 * np.sin(t), 6 * np.cos(2 * t), 3 * t], axis=1)
    trans = np.stack([0.5 * t, -0.3 * t, np.sin(t)], axis=1)
    path = write_fbx_curves(tmp_path / "take.fbx", curves, fps, take_name="Shot 7", head_rotation=rot,
                            head_translation=trans, start_frame=12, key_tolerance=tolerance)
    back = read_fbx_curves(path)
    assert back.fps == pytest.approx(fps) and back.take_name == "Shot 7"
    assert back.start_time == pytest.approx(12 / fps) and back.num_frames == 150
    assert set(back.curves) == set(curves)
    sampled = back.sample()
    bound = (tolerance or 0.0) + 1e-6
    for name, values in curves.items():
        times, keys = back.curves[name]
        assert times[0] == pytest.approx(12 / fps) and times[-1] == pytest.approx(161 / fps)
        if tolerance is None:
            assert len(keys) == 150
            np.testing.assert_allclose(times, (12 + np.arange(150)) / fps, rtol=0, atol=1e-9)
        assert np.max(np.abs(sampled[name] - values)) <= bound, name
    for i, name in enumerate(("head_yaw", "head_pitch", "head_roll")):
        assert np.max(np.abs(sampled[name] - rot[:, i])) <= (tolerance or 0.0) + 1e-5
    for i, name in enumerate(("head_tx", "head_ty", "head_tz")):
        assert np.max(np.abs(sampled[name] - trans[:, i])) <= (tolerance or 0.0) + 1e-5


def test_reduction_shrinks_the_file_and_constant_curves_collapse(tmp_path):
    curves = smooth_curves(600, 4)
    full = write_fbx_curves(tmp_path / "full.fbx", curves, 60, take_name="t", key_tolerance=None)
    small = write_fbx_curves(tmp_path / "small.fbx", curves, 60, take_name="t", key_tolerance=1e-3)
    assert small.stat().st_size < full.stat().st_size
    back = read_fbx_curves(small)
    assert len(back.curves["CTRL_expressions_zero"][1]) == 2
    assert len(back.curves["CTRL_expressions_step"][1]) == 4


def test_drop_constant_skips_only_curves_at_rest(tmp_path):
    curves = smooth_curves(60, 2)
    curves["CTRL_expressions_constOffRest"] = np.full(60, 0.7)
    path = write_fbx_curves(tmp_path / "d.fbx", curves, 60, take_name="t", drop_constant=True,
                            rest={"CTRL_expressions_atRest": 0.25})
    names = set(read_fbx_curves(path).curves)
    assert "CTRL_expressions_zero" not in names and "CTRL_expressions_atRest" not in names
    assert {"CTRL_expressions_constOffRest", "CTRL_expressions_c000", "CTRL_expressions_step"} <= names


def test_time_modes_and_ticks():
    assert time_mode_for(60) == 3 and time_mode_for(24) == 11 and time_mode_for(25) == 10
    assert time_mode_for(30) == 6 and time_mode_for(50) == 4 and time_mode_for(30000 / 1001) == 9
    assert time_mode_for(29.97) == 14 and time_mode_for(17.5) == 14
    assert TICKS_PER_SECOND // 60 * 60 == TICKS_PER_SECOND


# ------------------------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("kwargs, message", [
    ({"curves": {"a": np.array([0.0, np.nan])}}, "NaN"),
    ({"curves": {"a": np.zeros(3), "b": np.zeros(4)}}, "frames"),
    ({"curves": {"a": np.zeros((3, 2))}}, "1-D"),
    ({"curves": {"Lcl Rotation": np.zeros(3)}}, "clashes"),
    ({"curves": {"a": np.zeros(3)}, "fps": 0}, "frame rate"),
    ({"curves": {"a": np.zeros(3)}, "head_rotation": np.zeros((3, 2))}, "head_rotation"),
    ({"curves": {"a": np.zeros(3)}, "head_translation": np.full((3, 3), np.inf)}, "NaN"),
    ({"curves": {}}, "no frames"),
])
def test_bad_input_is_refused_and_nothing_is_written(tmp_path, kwargs, message):
    target = tmp_path / "out.fbx"
    args = {"fps": 60, **kwargs}
    with pytest.raises(FbxExportError, match=message):
        write_fbx_curves(target, args.pop("curves"), args.pop("fps"), take_name="t", **args)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_gives_clear_error(tmp_path):
    with pytest.raises(FbxExportError, match="cannot write"):
        write_fbx_curves(tmp_path / "missing" / "x.fbx", {"a": np.zeros(3)}, 60, take_name="t")


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "x.fbx"
    target.write_bytes(b"old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(FbxExportError, match="No space left"):
        write_fbx_curves(target, {"a": np.zeros(3)}, 60, take_name="t")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.fbx"]


# ------------------------------------------------------------------------------------------ corrupt files

@pytest.fixture()
def good_file(tmp_path):
    return write_fbx_curves(tmp_path / "good.fbx", smooth_curves(120, 3), 60, take_name="t")


@pytest.mark.parametrize("damage", ["truncate_half", "truncate_header", "empty", "text", "ascii_fbx",
                                    "bad_offset", "bad_zlib", "bad_type"])
def test_corrupt_files_raise_format_error(tmp_path, good_file, damage):
    data = bytearray(good_file.read_bytes())
    if damage == "truncate_half":
        data = data[:len(data) // 2]
    elif damage == "truncate_header":
        data = data[:20]
    elif damage == "empty":
        data = bytearray()
    elif damage == "text":
        data = bytearray(b"hello, this is not an FBX file at all" * 10)
    elif damage == "ascii_fbx":
        data = bytearray(b"; FBX 7.4.0 project file\nFBXHeaderExtension:  {\n}\n")
    elif damage == "bad_offset":
        struct.pack_into("<I", data, 27, len(data) + 1000)
    elif damage == "bad_zlib":
        index = bytes(data).index(b"KeyTime")
        data[index + 7 + 13:index + 7 + 23] = b"\xff" * 10  # inside the compressed key times
    elif damage == "bad_type":
        index = bytes(data).index(b"FBXHeaderVersion")
        data[index + len("FBXHeaderVersion")] = ord("Q")
    path = tmp_path / "bad.fbx"
    path.write_bytes(bytes(data))
    with pytest.raises(FbxFormatError):
        read_fbx_curves(path)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(FbxFormatError, match="cannot read"):
        read_fbx_curves(tmp_path / "nope.fbx")


# ------------------------------------------------------------------------------------ file structure

def test_file_structure_matches_what_ue_imports(tmp_path):
    """The node graph UE's importer walks: user props on root, curve nodes, connections, settings."""
    curves = {"CTRL_expressions_jawOpen": np.linspace(0, 1, 30), "CTRL_expressions_browDownL": np.zeros(30)}
    path = write_fbx_curves(tmp_path / "s.fbx", curves, 25, take_name="Take A",
                            head_rotation=np.zeros((30, 3)), key_tolerance=None)
    _, nodes = decode_document(path.read_bytes())
    top = {n.name: n for n in nodes}
    assert list(top) == ["FBXHeaderExtension", "FileId", "CreationTime", "Creator", "GlobalSettings",
                         "Documents", "References", "Definitions", "Objects", "Connections", "Takes"]
    settings = {p.props[0]: p.props[4:] for p in top["GlobalSettings"].find("Properties70").children}
    assert settings["TimeMode"] == [10] and settings["UpAxis"] == [2] and settings["UnitScaleFactor"] == [1.0]
    objects = top["Objects"].children
    models = {o.props[1]: o for o in objects if o.name == "Model"}
    assert set(models) == {"root\x00\x01Model", "head\x00\x01Model"}
    root = models["root\x00\x01Model"]
    assert root.props[2] == "LimbNode"
    root_props = {p.props[0]: p.props[1:4] for p in root.find("Properties70").children}
    for name in curves:
        assert root_props[name] == ["double", "Number", "A+U"]
    attrs = [o for o in objects if o.name == "NodeAttribute"]
    assert {a.find("TypeFlags").props[0] for a in attrs} == {"Skeleton"}
    curve_nodes = {o.props[0]: o for o in objects if o.name == "AnimationCurveNode"}
    by_name = {o.props[1].split("\x00\x01")[0]: o for o in curve_nodes.values()}
    assert set(by_name) == {*curves, "R"}
    channels = [p.props[0] for p in by_name["CTRL_expressions_jawOpen"].find("Properties70").children]
    assert channels == ["d|CTRL_expressions_jawOpen"]
    links = [c.props for c in top["Connections"].children]
    root_id = root.props[0]
    jaw_id = by_name["CTRL_expressions_jawOpen"].props[0]
    assert ["OP", jaw_id, root_id, "CTRL_expressions_jawOpen"] in links
    curve_links = [lk for lk in links if lk[0] == "OP" and lk[2] == jaw_id]
    assert len(curve_links) == 1 and curve_links[0][3] == "d|CTRL_expressions_jawOpen"
    curve = next(o for o in objects if o.name == "AnimationCurve" and o.props[0] == curve_links[0][1])
    assert curve.find("KeyTime").props[0].dtype == np.int64
    np.testing.assert_array_equal(curve.find("KeyTime").props[0], np.arange(30) * (TICKS_PER_SECOND // 25))
    assert curve.find("KeyValueFloat").props[0].dtype == np.float32
    assert curve.find("KeyAttrFlags").props[0].tolist() == [4]  # linear
    assert curve.find("KeyAttrRefCount").props[0].tolist() == [30]
    assert len(curve.find("KeyAttrDataFloat").props[0]) == 4
    stack = next(o for o in objects if o.name == "AnimationStack")
    assert stack.props[1] == "Take A\x00\x01AnimStack"
    stop = {p.props[0]: p.props[4] for p in stack.find("Properties70").children}["LocalStop"]
    assert stop == 29 * (TICKS_PER_SECOND // 25)
    assert top["Takes"].find("Current").props == ["Take A"]


def test_sample_at_given_times_holds_end_values(tmp_path):
    path = write_fbx_curves(tmp_path / "h.fbx", {"a": np.array([0.0, 1.0, 2.0])}, 10, take_name="t",
                            start_frame=10, key_tolerance=None)
    back = read_fbx_curves(path)
    np.testing.assert_allclose(back.sample(np.array([0.0, 1.05, 1.1, 5.0]))["a"], [0.0, 0.5, 1.0, 2.0])
