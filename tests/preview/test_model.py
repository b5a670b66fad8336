"""The deformation model: every control moves the right place, the lips meet and part, evaluation is fast."""

import time

import numpy as np
import pytest

from app.core.rig import load_rig
from app.preview.model import HeadModel, HeadModelError

# Controls whose effect shows only together with another channel (a switch or a multiplier).
CONDITIONAL = {
    "CTRL_C_eye_parallelLook-translateY": {"CTRL_lookAtSwitch-translateY": 1.0},
    "CTRL_neckCorrectivesMultiplyerU-translateY": {"head_pitch": 30.0},
    "CTRL_neckCorrectivesMultiplyerM-translateY": {"head_pitch": 30.0},
    "CTRL_neckCorrectivesMultiplyerD-translateY": {"head_pitch": 30.0},
}
# the lip-seal controls hold an open mouth shut: they show with the jaw open
for _name in ("CTRL_C_mouth_stickyU", "CTRL_C_mouth_stickyD", "CTRL_L_mouth_lipSticky", "CTRL_R_mouth_lipSticky",
              "CTRL_L_mouth_lipsTogetherU", "CTRL_L_mouth_lipsTogetherD", "CTRL_R_mouth_lipsTogetherU",
              "CTRL_R_mouth_lipsTogetherD"):
    CONDITIONAL[_name + "-translateY"] = {"CTRL_C_jaw-translateY": 0.4}
# Where each rig region may move vertices, as (y_min, y_max) in the head frame (cm, y up, eyes at y ~ 0.35).
REGION_Y = {"eyes": (-4.5, 4.5), "eyebrows": (-1.0, 8.5), "nose": (-7.5, 2.0), "cheeks": (-9.0, 1.0),
            "mouth": (-12.5, -2.0), "jaw": (-16.0, -1.0), "teeth": (-9.0, -4.0), "tongue": (-10.0, -4.0),
            "neck": (-22.5, -4.5), "ears": (-6.0, 5.0)}
MOVED = 0.02   # cm: a vertex moving less than this counts as still


def frame(model, **values):
    v = model.rest_values()
    for name, val in values.items():
        v[model.index(name)] = val
    return v


def displacement(model, values):
    posed = model.evaluate_stacked(values)
    rest = model.evaluate_stacked(model.rest_values())
    return posed, np.linalg.norm(posed - rest, axis=1), rest


def test_channel_order_follows_the_rig(model):
    rig = load_rig()
    assert model.channel_names == list(rig.channel_names)
    assert len(model.channel_names) == 180


def test_geometry_is_a_head_with_all_parts(model):
    total = sum(len(p) for p in model.rest.values())
    assert 10_000 <= len(model.rest["skin"]) <= 30_000
    assert total < 60_000
    for part in ("skin", "brows", "eye_L", "eye_R", "teeth_upper", "teeth_lower", "tongue", "lid_upper_L"):
        assert len(model.faces[part]) > 100
        assert model.colors[part].shape == (len(model.rest[part]), 3)


@pytest.mark.parametrize("name", load_rig().control_names)
def test_each_control_moves_vertices_only_in_its_region(model, name):
    rig = load_rig()
    ch = rig.channel(name)
    base = frame(model, **CONDITIONAL.get(name, {}))
    for value in {ch.max, ch.min} - {0.0}:
        v = base.copy()
        v[model.index(name)] = value
        posed, moved, rest = displacement(model, v)
        _, base_moved, _ = displacement(model, base)
        delta = np.linalg.norm(posed - model.evaluate_stacked(base), axis=1)
        assert delta.max() > 0.05, f"{name}={value} has no visible effect"
        if name in CONDITIONAL:
            continue
        lo, hi = REGION_Y[ch.region]
        ys = rest[delta > MOVED, 1]
        assert ys.min() >= lo and ys.max() <= hi, (
            f"{name}={value} moves vertices at y {ys.min():.1f}..{ys.max():.1f}, outside {ch.region} {lo}..{hi}")


def test_left_and_right_controls_mirror(model):
    pairs = [("CTRL_L_mouth_cornerPull-translateY", "CTRL_R_mouth_cornerPull-translateY"),
             ("CTRL_L_brow_raiseOut-translateY", "CTRL_R_brow_raiseOut-translateY"),
             ("CTRL_L_eye_blink-translateY", "CTRL_R_eye_blink-translateY")]
    for left, right in pairs:
        pl, ml, rest = displacement(model, frame(model, **{left: 1.0}))
        pr, mr, _ = displacement(model, frame(model, **{right: 1.0}))
        assert abs(ml.max() - mr.max()) < 0.05 * ml.max(), (left, ml.max(), mr.max())
        # the displaced centres of mass mirror each other
        cl, cr = np.average(rest, axis=0, weights=ml), np.average(rest, axis=0, weights=mr)
        assert np.allclose(cl * [-1, 1, 1], cr, atol=0.3), (left, cl, cr)
        # the left control moves the character's left (+x), the right one the right
        assert np.average(rest[:, 0], weights=ml) > 1.0
        assert np.average(rest[:, 0], weights=mr) < -1.0


def test_jaw_open_moves_chin_and_lower_teeth_not_brows(model):
    posed, moved, rest = displacement(model, frame(model, **{"CTRL_C_jaw-translateY": 1.0}))
    skin = model._slices["skin"]
    chin = (rest[skin, 1] < -9.5) & (rest[skin, 2] > 8.0)
    assert moved[skin][chin].min() > 1.0
    assert posed[skin][chin, 1].mean() < rest[skin][chin, 1].mean() - 1.0     # the chin drops
    assert moved[model._slices["brows"]].max() < 1e-4
    assert moved[model._slices["teeth_lower"]].min() > 0.5
    assert moved[model._slices["teeth_upper"]].max() < 1e-4


def _lip_gap(model, values):
    """Mean distance between the upper lip's and the lower lip's contact-line vertices along the mouth middle."""
    skin = model.evaluate(values)["skin"]
    dy = model.geometry.parts["skin"].attributes["mouth_dy"]
    rest = model.rest["skin"]
    front = (np.abs(rest[:, 0]) < 1.2) & (rest[:, 2] > 9.0)
    upper = front & (dy > 0) & (dy < 0.2)
    lower = front & (dy < 0) & (dy > -0.2)
    gaps = []
    for x in np.linspace(-1.0, 1.0, 9):
        u = upper & (np.abs(rest[:, 0] - x) < 0.15)
        d = lower & (np.abs(rest[:, 0] - x) < 0.15)
        gaps.append(skin[u, 1].min() - skin[d, 1].max())
    return float(np.mean(gaps))


def test_lips_meet_at_rest_and_part_when_the_jaw_opens(model):
    assert abs(_lip_gap(model, model.rest_values())) < 0.05
    assert _lip_gap(model, frame(model, **{"CTRL_C_jaw-translateY": 0.5})) > 1.0


@pytest.mark.parametrize("seal", ["CTRL_{S}_mouth_lipsTogetherU-translateY", "CTRL_{S}_mouth_pressU-translateY"])
def test_bilabial_controls_keep_the_lips_together_with_the_jaw_open(model, seal):
    values = {"CTRL_C_jaw-translateY": 0.3}
    open_gap = _lip_gap(model, frame(model, **values))
    values.update({seal.replace("{S}", "L"): 1.0, seal.replace("{S}", "R"): 1.0,
                   seal.replace("{S}", "L").replace("U-", "D-"): 1.0,
                   seal.replace("{S}", "R").replace("U-", "D-"): 1.0})
    sealed_gap = _lip_gap(model, frame(model, **values))
    assert open_gap > 0.5
    assert sealed_gap < 0.1


def test_sticky_lips_close_the_middle_of_an_open_mouth(model):
    open_gap = _lip_gap(model, frame(model, **{"CTRL_C_jaw-translateY": 0.3}))
    sticky = _lip_gap(model, frame(model, **{"CTRL_C_jaw-translateY": 0.3, "CTRL_C_mouth_stickyU-translateY": 1.0,
                                             "CTRL_C_mouth_stickyD-translateY": 1.0}))
    assert sticky < 0.25 * open_gap


def test_blink_closes_the_lids_over_the_eye(model):
    def lid_gap(values):
        """Opening between the lid margins straight in front of the left eye's centre."""
        pts = model.evaluate(values)
        centre = model.geometry.landmarks["eye_L"]
        front = {lid: (np.abs(model.rest[lid][:, 0] - centre[0]) < 0.25) & (model.rest[lid][:, 2] > centre[2] + 0.8)
                 for lid in ("lid_upper_L", "lid_lower_L")}
        return pts["lid_upper_L"][front["lid_upper_L"], 1].min() - pts["lid_lower_L"][front["lid_lower_L"], 1].max()

    assert lid_gap(model.rest_values()) > 0.5
    assert lid_gap(frame(model, **{"CTRL_L_eye_blink-translateY": 1.0})) < 0.05
    assert lid_gap(frame(model, **{"CTRL_L_eye_blink-translateY": -1.0})) > lid_gap(model.rest_values())
    assert lid_gap(frame(model, **{"CTRL_R_eye_blink-translateY": 1.0})) > 0.5      # the other eye stays open


def test_gaze_turns_the_pupils_the_right_way(model):
    def pupil(values, side="L"):
        pts = model.evaluate(values)[f"eye_{side}"]
        dark = model.colors[f"eye_{side}"].sum(axis=1) < 60
        return pts[dark].mean(axis=0)

    rest = pupil(model.rest_values())
    assert pupil(frame(model, **{"CTRL_C_eye-translateX": 1.0}))[0] > rest[0] + 0.3      # character's left
    assert pupil(frame(model, **{"CTRL_C_eye-translateY": 1.0}))[1] > rest[1] + 0.3      # up
    assert pupil(frame(model, **{"CTRL_R_eye-translateX": -1.0}), "R")[0] < pupil(model.rest_values(), "R")[0] - 0.3


def test_head_pose_turns_the_head_and_keeps_the_bust(model):
    posed, moved, rest = displacement(model, frame(model, head_yaw=30.0))
    nose = np.argmax(rest[:, 2])
    assert posed[nose, 0] > rest[nose, 0] + 3.0          # the face turns to the character's left
    assert moved[rest[:, 1] < -20.0].max() < 0.05        # the bust stays put
    posed, moved, rest = displacement(model, frame(model, head_tx=2.0))
    assert np.allclose(posed[nose] - rest[nose], [2.0, 0.0, 0.0], atol=1e-4)


def test_bad_frames_are_rejected_clearly(model):
    with pytest.raises(HeadModelError, match="180"):
        model.evaluate(np.zeros(174))
    with pytest.raises(HeadModelError, match="finite"):
        model.evaluate(np.full(180, np.nan))


def test_full_rig_frame_evaluates_quickly(model):
    rng = np.random.default_rng(1)
    rig = load_rig()
    values = rng.uniform(rig.mins, rig.maxs).astype(np.float32) * 0.5
    model.evaluate(values)
    times = []
    for _ in range(60):
        t0 = time.perf_counter()
        model.evaluate(values)
        times.append(time.perf_counter() - t0)
    # the budget is 2 ms on a quiet machine; the best of many runs keeps the test honest on a busy one
    assert min(times) < 0.004, f"one frame took {min(times) * 1000:.2f} ms"


def test_model_loads_from_an_explicit_path(tmp_path):
    from app.preview.geometry import HeadGeometryError, default_path

    m = HeadModel.load(default_path())
    assert len(m.channel_names) == 180
    with pytest.raises(HeadGeometryError, match="not found"):
        HeadModel.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    with pytest.raises(HeadGeometryError):
        HeadModel.load(bad)


def test_head_pose_moves_the_head_rigidly(model):
    """Only the neck bends: the face, jaw, chin, lips, teeth and eyes keep their shape (so the mouth stays shut)."""
    from app.preview.model import _rot_x, _rot_y, _rot_z

    values = frame(model, head_yaw=30.0, head_pitch=10.0, head_roll=-8.0, head_ty=0.5)
    posed = model.evaluate_stacked(values)
    rest = model.evaluate_stacked(model.rest_values())
    rot = _rot_y(30.0) @ _rot_x(-10.0) @ _rot_z(-8.0)
    pivot = model.geometry.landmarks["neck_pivot"].astype(np.float64)
    rigid = (rest - pivot) @ rot.T + pivot + [0.0, 0.5, 0.0]
    err = np.linalg.norm(posed - rigid, axis=1)
    a, b, _ = model.geometry.landmarks["jaw_line"]
    head = rest[:, 1] > a + b * rest[:, 2] - 0.6               # skull, face, jaw and chin: above the jaw line
    chin = (rest[:, 1] < -10.0) & (rest[:, 2] > 6.0)
    assert chin.any() and head[chin].all()
    assert err[head].max() < 1e-3, f"head vertices leave the rigid motion by {err[head].max():.3f} cm"
    assert err.max() > 1.0                                     # ... while the neck does bend towards the bust
