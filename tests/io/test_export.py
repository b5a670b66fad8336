import errno

import numpy as np
import pytest

from app.__main__ import main
from app.core import atomic
from app.core.project import save_project
from app.core.rig import NUM_CONTROLS, load_rig
from app.core.take import Take
from app.io.export import ExportError, read_take, write_take

rig = load_rig()


def _take(n=180):
    base = rig.rest_curves(n)
    t = np.arange(n) / 60.0
    for i in range(NUM_CONTROLS):
        base[:, i] = rig.mins[i] + (rig.maxs[i] - rig.mins[i]) * (0.5 + 0.5 * np.sin(t * (1 + i % 5) + i))
    base[:, 174:177] = np.stack([8 * np.sin(t), 3 * np.cos(t), np.sin(2 * t)], axis=1)
    return Take(rig.clamp(base), name="take_01")


def test_fbx_faceboard_round_trip_through_read_take(tmp_path):
    take = _take()
    write_take(take, tmp_path / "a.fbx", curves="faceboard", key_tolerance=None)
    back = read_take(tmp_path / "a.fbx")
    assert back.num_frames == take.num_frames and back.name == "take_01"
    assert np.allclose(back.evaluate(), take.evaluate(), atol=1e-4)


def test_fbx_metahuman_curves_with_key_reduction_stay_within_tolerance(tmp_path):
    take = _take()
    write_take(take, tmp_path / "m.fbx", key_tolerance=1e-3)
    back = read_take(tmp_path / "m.fbx")
    ue0, ue1 = rig.to_ue_curves(take.evaluate()), rig.to_ue_curves(back.evaluate())
    eye = [i for i, n in enumerate(rig.ue_curve_names) if "eyeLook" in n]
    keep = [i for i in range(len(rig.ue_curve_names)) if i not in eye]
    # a bipolar control is rebuilt from two reduced curves, so its error can reach twice the tolerance
    assert np.abs(ue0[:, keep] - ue1[:, keep]).max() <= 2e-3 + 1e-6
    assert np.allclose(back.evaluate()[:, 174:177], take.evaluate()[:, 174:177], atol=2e-3)


@pytest.mark.parametrize("suffix", [".fbx", ".csv", ".txt", ".json", ".vrig"])
def test_disk_full_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch, suffix):
    target = tmp_path / f"out{suffix}"
    write_take(_take(), target)
    before = target.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises((ExportError, OSError), match="No space left"):
        write_take(_take(60), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_unwritable_destination(tmp_path, monkeypatch):
    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    with pytest.raises(ExportError, match="Permission denied"):
        write_take(_take(), tmp_path / "a.csv")


def test_export_command(tmp_path, capsys):
    proj = save_project(_take(), tmp_path / "p.vrig")
    assert main(["export", str(proj), "-o", str(tmp_path / "a.fbx"), "--fps", "30", "--range", "10:69"]) == 0
    assert "wrote" in capsys.readouterr().out
    back = read_take(tmp_path / "a.fbx")
    assert back.num_frames == 59  # 30 frames at 30 fps = 29/30 s, back at 60 fps
    assert main(["export", str(proj), "-o", str(tmp_path / "a.json"), "--curves", "arkit"]) == 0
    assert main(["export", str(proj), "-o", str(tmp_path / "a.txt"), "--range", "5:1000"]) == 2
    assert "outside the take" in capsys.readouterr().err
    assert main(["export", str(proj), "-o", str(tmp_path / "a.txt"), "--range", "x"]) == 2
    (tmp_path / "bad.fbx").write_bytes(b"Kaydara FBX Binary  \x00\x1a\x00" + b"\x00" * 10)
    assert main(["export", str(tmp_path / "bad.fbx"), "-o", str(tmp_path / "b.csv")]) == 2
    assert "bad.fbx" in capsys.readouterr().err
    assert not (tmp_path / "b.csv").exists()


def test_metahuman_fbx_carries_head_curves_and_can_skip_the_head_joint(tmp_path):
    from app.io.fbx import read_fbx_curves

    take = _take()
    write_take(take, tmp_path / "h.fbx", head_joint=False, key_tolerance=None)
    fbx = read_fbx_curves(tmp_path / "h.fbx")
    assert not fbx.head_rotation and "HeadYaw" in fbx.curves and "CTRL_expressions_jawOpen" in fbx.curves
    assert np.allclose(fbx.curves["HeadYaw"][1], take.evaluate()[:, 174], atol=1e-4)
    back = read_take(tmp_path / "h.fbx")
    assert np.allclose(back.evaluate()[:, 174:177], take.evaluate()[:, 174:177], atol=1e-4)
