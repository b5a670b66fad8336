"""Opt-in check of exported FBX files with Blender's own FBX importer (PyPI `bpy`, large).

Two uses:

* As a script under a Python that has `bpy` installed: prints a JSON report of what Blender imported.
      /path/to/bpy-python tests/io/blender_fbx_check.py FILE.fbx [FRAME ...]
* As a slow test (not collected by default; the file name does not start with test_):
      VASA_BPY_PYTHON=/path/to/bpy-python python -m pytest tests/io/blender_fbx_check.py -m slow -q
  It writes a take with our exporter, imports it in a separate `bpy` process and checks the skeleton, the
  custom properties and the head animation. Skips when no `bpy` interpreter is available.

Blender's importer reads user-defined properties as static custom properties (their value at rest) and
animates only transforms, shape keys and camera lenses, so custom-property curves are reported but not
expected to be animated in Blender; the animated curves themselves are validated with ufbx.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def blender_report(fbx_path: str, frames: list[int]) -> dict:
    """Import ``fbx_path`` into an empty Blender scene and describe the result (runs under bpy)."""
    import bpy  # noqa: PLC0415 - only available in the Blender interpreter

    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.import_scene.fbx(filepath=fbx_path)
    scene = bpy.context.scene
    report: dict = {"blender": bpy.app.version_string, "result": sorted(result),
                    "fps": scene.render.fps / scene.render.fps_base, "objects": [], "actions": []}
    for obj in bpy.data.objects:
        entry = {"name": obj.name, "type": obj.type}
        if obj.type == "ARMATURE":
            entry["bones"] = {b.name: (b.parent.name if b.parent else None) for b in obj.data.bones}
            entry["pose_bone_props"] = {pb.name: {k: float(pb[k]) for k in pb.keys()
                                                  if isinstance(pb[k], (int, float))}
                                        for pb in obj.pose.bones}
            entry["head_pose"] = _head_pose(obj, frames)
        report["objects"].append(entry)
    for action in bpy.data.actions:
        curves = _fcurves(action)
        report["actions"].append({
            "name": action.name,
            "frame_range": list(action.frame_range),
            "fcurves": sorted({(fc.data_path, fc.array_index, len(fc.keyframe_points)) for fc in curves}),
        })
    return report


def _fcurves(action) -> list:
    curves = list(getattr(action, "fcurves", None) or [])
    for layer in getattr(action, "layers", []):  # layered actions (Blender 4.4+)
        for strip in layer.strips:
            for bag in strip.channelbags:
                curves += list(bag.fcurves)
    return curves


def _head_pose(armature, frames: list[int]) -> dict:
    """Per frame: the head bone's rotation (XYZ Euler, degrees) and location relative to its rest pose."""
    import bpy  # noqa: PLC0415

    bone = armature.pose.bones.get("head")
    if bone is None:
        return {}
    rest = bone.bone.matrix_local
    out = {}
    for frame in frames:
        bpy.context.scene.frame_set(frame)
        delta = bone.matrix @ rest.inverted()
        euler = delta.to_euler("XYZ")
        out[str(frame)] = {"rotation_xyz_deg": [float(a) * 180.0 / 3.141592653589793 for a in euler],
                           "location": list(delta.translation)}
    return out


# ------------------------------------------------------------------------------------------ pytest side

def _bpy_python() -> str | None:
    candidate = os.environ.get("VASA_BPY_PYTHON")
    if candidate:
        return candidate
    try:
        import bpy  # noqa: F401, PLC0415
    except ImportError:
        return None
    return sys.executable


try:
    import pytest
except ImportError:  # running as a script inside the bpy environment
    pytest = None

if pytest is not None:

    @pytest.mark.slow
    def test_blender_imports_exported_fbx(tmp_path):
        python = _bpy_python()
        if python is None:
            pytest.skip("no bpy: set VASA_BPY_PYTHON to a Python with PyPI bpy installed")
        import numpy as np
        from scipy.spatial.transform import Rotation

        from app.io.fbx import write_fbx_curves

        fps, frames = 60.0, 120
        t = np.arange(frames) / fps
        curves = {"CTRL_expressions_jawOpen": 0.3 + 0.3 * np.sin(3 * t),
                  "CTRL_expressions_mouthCornerPullL": np.linspace(0.1, 0.9, frames)}
        rot = np.stack([20 * np.sin(t), 10 * np.sin(2 * t), 5 * np.cos(t)], axis=1)
        trans = np.stack([0.5 * t, -0.25 * t, 0.1 * np.sin(t)], axis=1)
        path = write_fbx_curves(tmp_path / "blender.fbx", curves, fps, take_name="BlenderCheck",
                                head_rotation=rot, head_translation=trans, key_tolerance=None)
        check_frames = [0, 30, 77, 119]
        # Blender starts imported animation at frame 1 (its default animation offset).
        proc = subprocess.run([python, __file__, str(path), *[str(f + 1) for f in check_frames]],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(report, indent=1))

        assert report["result"] == ["FINISHED"]
        assert report["fps"] == pytest.approx(fps)
        armatures = [o for o in report["objects"] if o["type"] == "ARMATURE"]
        assert len(armatures) == 1
        arm = armatures[0]
        assert arm["bones"] == {"root": None, "head": "root"}
        props = arm["pose_bone_props"]["root"]
        for name, values in curves.items():
            assert props[name] == pytest.approx(float(values[0]), abs=1e-6)
        (action,) = report["actions"]
        assert action["frame_range"] == pytest.approx([1.0, float(frames)])
        for frame in check_frames:
            pose = arm["head_pose"][str(frame + 1)]
            yaw, pitch, roll = rot[frame]
            expected = Rotation.from_euler("xyz", [roll, -pitch, -yaw], degrees=True)
            got = Rotation.from_euler("xyz", pose["rotation_xyz_deg"], degrees=True)
            assert (expected.inv() * got).magnitude() < 1e-3, frame
            np.testing.assert_allclose(pose["location"], [trans[frame, 0], -trans[frame, 1], trans[frame, 2]],
                                       atol=1e-4)


if __name__ == "__main__":
    target = sys.argv[1]
    wanted = [int(a) for a in sys.argv[2:]] or [1]
    print(json.dumps(blender_report(str(Path(target).resolve()), wanted)))
