"""Exported FBX files checked with an independent reader: the ufbx C library through its PyPI binding.

The ufbx 0.0.x binding crashes when an element wrapper outlives the temporary list it was taken from,
so every intermediate object is kept alive in ``_Keep`` while the scene is read.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from app.io.fbx import write_fbx_curves

ufbx = pytest.importorskip("ufbx")

FPS_CASES = [24.0, 30.0, 60.0, 29.97]


class _Keep(list):
    def __call__(self, obj):
        self.append(obj)
        return obj


def read_with_ufbx(path):
    """(scene, keep, {(element name, prop name): [curve or None per channel]}) from ufbx."""
    keep = _Keep()
    scene = keep(ufbx.load_file(str(path)))
    stacks = keep(scene.anim_stacks)
    assert len(stacks) == 1
    layers = keep(keep(stacks[0]).layers)
    assert len(layers) == 1
    props = keep(keep(layers[0]).anim_props)
    found = {}
    for i in range(len(props)):
        anim_prop = keep(props[i])
        element = keep(anim_prop.element)
        value = keep(anim_prop.anim_value)
        found[(element.name, anim_prop.prop_name)] = [keep(c) if c is not None else None
                                                       for c in keep(value.curves)]
    return scene, keep, found


def keyframes(curve, keep):
    frames = keep(curve.keyframes)
    times = np.array([k.time for k in frames])
    values = np.array([k.value for k in frames])
    interpolation = {k.interpolation for k in frames}
    return times, values, interpolation


def make_take(frames: int, fps: float, seed: int):
    rng = np.random.default_rng(seed)
    kernel = np.hanning(7) / np.hanning(7).sum()
    curves = {}
    for i in range(12):
        walk = np.cumsum(rng.normal(0, 0.04, frames + 6))
        curves[f"CTRL_expressions_jaw{i:02d}"] = np.convolve(walk, kernel, mode="valid")[:frames]
    curves["EyeBlinkLeft"] = np.clip(np.sin(np.arange(frames) / 9.0), 0, 1)
    curves["CTRL_C_jaw-translateY"] = np.zeros(frames)
    t = np.arange(frames) / fps
    rot = np.stack([15 * np.sin(1.3 * t), 8 * np.sin(0.7 * t + 1), 4 * np.cos(2.1 * t)], axis=1)
    trans = np.stack([0.8 * np.sin(t), 0.4 * np.cos(t), 0.2 * t], axis=1)
    return curves, rot, trans


@pytest.mark.parametrize("fps", FPS_CASES)
@pytest.mark.parametrize("tolerance", [None, 1e-3])
def test_ufbx_reads_expected_curves(tmp_path, fps, tolerance):
    frames, start = 180, 5
    curves, rot, trans = make_take(frames, fps, seed=int(fps * 100))
    path = write_fbx_curves(tmp_path / "take.fbx", curves, fps, take_name="Dialogue 01", head_rotation=rot,
                            head_translation=trans, start_frame=start, key_tolerance=tolerance)
    scene, keep, found = read_with_ufbx(path)
    settings = keep(scene.settings)
    assert settings.frames_per_second == pytest.approx(fps, rel=1e-9)
    metadata = keep(scene.metadata)
    assert metadata.version == 7400 and len(keep(metadata.warnings)) == 0
    stack = keep(keep(scene.anim_stacks)[0])
    assert stack.name == "Dialogue 01"
    assert stack.time_begin == pytest.approx(start / fps, abs=1e-9)
    assert stack.time_end == pytest.approx((start + frames - 1) / fps, abs=1e-9)

    root, head = keep(scene.find_node("root")), keep(scene.find_node("head"))
    assert keep(root.parent).name == "" and keep(head.parent).name == "root"
    assert keep(root.bone) is not None and keep(head.bone) is not None

    frame_times = (start + np.arange(frames)) / fps
    expected_keys = set(curves) | {LCL for LCL in ("Lcl Rotation", "Lcl Translation")}
    assert {prop for _, prop in found} == expected_keys
    for name, values in curves.items():
        prop = keep(keep(root.props).find_prop(name))
        assert prop is not None, name
        assert prop.flags & ufbx.PropFlags.USER_DEFINED and prop.flags & ufbx.PropFlags.ANIMATABLE
        curve = found[("root", name)][0]
        times, keys, interpolation = keyframes(curve, keep)
        assert interpolation == {ufbx.Interpolation.LINEAR}
        assert times[0] == pytest.approx(frame_times[0], abs=1e-9)
        assert times[-1] == pytest.approx(frame_times[-1], abs=1e-9)
        # Every key sits on a frame, with the stored float32 value of that frame.
        index = np.rint(times * fps).astype(int) - start
        np.testing.assert_allclose(times, frame_times[index], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(keys, values[index].astype(np.float32))
        if tolerance is None:
            assert len(times) == frames
        # ufbx's own evaluation of the curve at every frame stays within the tolerance.
        evaluated = np.array([ufbx.evaluate_curve(curve, float(t), 0.0) for t in frame_times])
        assert np.max(np.abs(evaluated - values)) <= (tolerance or 0.0) + 1e-6, name


@pytest.mark.parametrize("tolerance", [None, 1e-3])
def test_ufbx_head_transform_matches_documented_axes(tmp_path, tolerance):
    fps, frames = 60.0, 120
    curves, rot, trans = make_take(frames, fps, seed=3)
    path = write_fbx_curves(tmp_path / "head.fbx", curves, fps, take_name="t", head_rotation=rot,
                            head_translation=trans, key_tolerance=tolerance)
    scene, keep, found = read_with_ufbx(path)
    assert all(c is not None for c in found[("head", "Lcl Rotation")])
    head = keep(scene.find_node("head"))
    anim = keep(scene.anim)
    for frame in (0, 17, 64, 119):
        transform = ufbx.evaluate_transform(anim, head, frame / fps)
        yaw, pitch, roll = rot[frame]
        # Documented mapping: Lcl Rotation XYZ = (roll, -pitch, -yaw), Euler order XYZ.
        expected = Rotation.from_euler("xyz", [roll, -pitch, -yaw], degrees=True).as_quat()
        q = transform.rotation
        got = np.array([q.x, q.y, q.z, q.w])
        error = min(np.abs(got - expected).max(), np.abs(got + expected).max())  # q and -q are equal
        assert error < 2e-4 + (tolerance or 0) * 0.02
        t = transform.translation
        expected_t = [trans[frame, 0], -trans[frame, 1], trans[frame, 2]]
        np.testing.assert_allclose([t.x, t.y, t.z], expected_t, atol=1e-5 + (tolerance or 0))


def test_ufbx_reads_a_250_curve_take_with_dropped_constants(tmp_path):
    frames = 240
    rng = np.random.default_rng(11)
    curves = {f"CTRL_expressions_n{i:03d}": np.cumsum(rng.normal(0, 0.01, frames)) for i in range(200)}
    curves.update({f"CTRL_expressions_z{i:02d}": np.zeros(frames) for i in range(50)})
    path = write_fbx_curves(tmp_path / "big.fbx", curves, 60, take_name="big", key_tolerance=1e-4,
                            drop_constant=True)
    _, _, found = read_with_ufbx(path)
    names = {prop for _, prop in found}
    assert names == {f"CTRL_expressions_n{i:03d}" for i in range(200)}
