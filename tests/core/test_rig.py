import json
from pathlib import Path

import numpy as np
import pytest

from app.core.rig import NUM_CHANNELS, RigSpecError, load_rig, load_rig_file, parse_rig_spec, spec_path

SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference"
BUNDLED_LIST = Path(__file__).resolve().parents[2] / "resources" / "rig" / "metahuman_174_controls.txt"


def _reference_list(name: str, bundled: Path) -> list[str]:
    path = SHARED / name if (SHARED / name).exists() else bundled
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def test_control_order_matches_reference_list():
    rig = load_rig()
    assert rig.control_names == _reference_list("metahuman_174_controls.txt", BUNDLED_LIST)
    assert rig.channel_names[174:] == ["head_yaw", "head_pitch", "head_roll", "head_tx", "head_ty", "head_tz"]
    assert rig.num_channels == NUM_CHANNELS == 180


def test_bundled_list_equals_shared_reference():
    if not (SHARED / "metahuman_174_controls.txt").exists():
        pytest.skip("shared reference folder not present")
    assert BUNDLED_LIST.read_text().split() == (SHARED / "metahuman_174_controls.txt").read_text().split()


def test_index_layout_left_right_mirror():
    rig = load_rig()
    names = rig.control_names
    for i in range(29, 98):
        assert names[i].startswith("CTRL_L_")
        assert names[i + 69] == names[i].replace("CTRL_L_", "CTRL_R_", 1)
        assert rig.mirror(names[i]) == names[i + 69]
    assert rig.mirror("CTRL_C_jaw-translateY") is None


@pytest.mark.parametrize("name,region,side,lo,hi", [
    ("CTRL_C_jaw-translateY", "jaw", "C", 0.0, 1.0),
    ("CTRL_C_jaw-translateX", "jaw", "C", -1.0, 1.0),
    ("CTRL_L_eye_blink-translateY", "eyes", "L", -1.0, 1.0),
    ("CTRL_R_brow_down-translateY", "eyebrows", "R", 0.0, 1.0),
    ("CTRL_L_nose-translateX", "nose", "L", -1.0, 1.0),
    ("CTRL_C_tongue_inOut-translateY", "tongue", "C", -1.0, 1.0),
    ("CTRL_C_teethU-translateY", "teeth", "C", -1.0, 1.0),
    ("CTRL_L_mouth_cornerPull-translateY", "mouth", "L", 0.0, 1.0),
    ("CTRL_neck_throatUpDown-translateY", "neck", "C", -1.0, 1.0),
    ("CTRL_R_ear_up-translateY", "ears", "R", 0.0, 1.0),
    ("CTRL_L_eye_cheekRaise-translateY", "cheeks", "L", 0.0, 1.0),
    ("head_yaw", "head", "C", -80.0, 80.0),
])
def test_channel_facts(name, region, side, lo, hi):
    c = load_rig().channel(name)
    assert (c.region, c.side, c.min, c.max, c.rest) == (region, side, lo, hi, 0.0)


def test_every_region_has_channels_and_lookup_errors():
    rig = load_rig()
    for region in ("eyes", "eyebrows", "nose", "mouth", "jaw", "cheeks", "tongue", "teeth", "neck", "ears", "head"):
        assert rig.indices_in_region(region)
    with pytest.raises(KeyError):
        rig.index("CTRL_nope")
    with pytest.raises(KeyError):
        rig.indices_in_region("elbows")


def test_ue_curves_are_known_and_split_by_sign():
    rig = load_rig()
    ref = [n for n in _reference_list("metahuman_control_curves.txt", BUNDLED_LIST) if "expressions" in n]
    if ref:
        assert set(rig.ue_curve_names) <= set(ref)
    x = rig.rest_curves(2)
    x[0, rig.index("CTRL_L_eye_blink-translateY")] = 1.0
    x[1, rig.index("CTRL_L_eye_blink-translateY")] = -0.5
    x[0, rig.index("CTRL_L_mouth_cornerPull-translateY")] = 0.7
    ue = rig.to_ue_curves(x)
    col = {n: i for i, n in enumerate(rig.ue_curve_names)}
    assert ue[0, col["CTRL_expressions_eyeBlinkL"]] == pytest.approx(1.0)
    assert ue[0, col["CTRL_expressions_eyeWidenL"]] == 0.0
    assert ue[1, col["CTRL_expressions_eyeWidenL"]] == pytest.approx(0.5)
    assert ue[1, col["CTRL_expressions_eyeBlinkL"]] == 0.0
    assert ue[0, col["CTRL_expressions_mouthCornerPullL"]] == pytest.approx(0.7)
    assert ue[0, col["CTRL_expressions_mouthCornerPullR"]] == 0.0


def test_swallow_phases_sweep_in_turn():
    rig = load_rig()
    x = rig.rest_curves(1)
    x[0, rig.index("CTRL_C_neck_swallow-translateY")] = 0.375
    ue = rig.to_ue_curves(x)[0]
    col = {n: i for i, n in enumerate(rig.ue_curve_names)}
    phases = [ue[col[f"CTRL_expressions_neckSwallowPh{k}"]] for k in range(1, 5)]
    assert phases == pytest.approx([1.0, 0.5, 0.0, 0.0])


def test_arkit_mapping():
    rig = load_rig()
    assert len(rig.arkit_names) == 61 and rig.arkit_names[17] == "JawOpen" and rig.arkit_names[60] == "RightEyeRoll"
    x = rig.rest_curves(1)
    x[0, rig.index("CTRL_C_jaw-translateY")] = 0.4
    x[0, rig.index("CTRL_R_mouth_cornerPull-translateY")] = 0.9
    x[0, rig.index("CTRL_C_eye-translateX")] = 0.5
    x[0, rig.index("head_yaw")] = 12.0
    a = rig.to_arkit(x)[0]
    names = rig.arkit_names
    assert a[names.index("JawOpen")] == pytest.approx(0.4)
    assert a[names.index("MouthSmileRight")] == pytest.approx(0.9)
    assert a[names.index("MouthSmileLeft")] == 0.0
    # looking to the character's left: the left eye looks out, the right eye looks in
    assert a[names.index("EyeLookOutLeft")] == pytest.approx(0.5)
    assert a[names.index("EyeLookInRight")] == pytest.approx(0.5)
    assert a[names.index("EyeLookInLeft")] == 0.0
    assert a[names.index("HeadYaw")] == pytest.approx(12.0)
    assert a[names.index("LeftEyeYaw")] == pytest.approx(0.5 * rig.eye_yaw_deg_per_unit)
    assert np.all(a[:52] >= 0) and np.all(a[:52] <= 1)


def test_clamp_and_shapes():
    rig = load_rig()
    x = np.full((3, 180), 500.0, np.float32)
    c = rig.clamp(x)
    assert np.all(c == rig.maxs)
    with pytest.raises(ValueError):
        rig.to_arkit(np.zeros((3, 10)))


def _spec() -> dict:
    return json.loads(spec_path().read_text())


def test_validation_rejects_bad_specs(tmp_path):
    spec = _spec()
    spec["controls"] = spec["controls"][:-1]
    with pytest.raises(RigSpecError, match="173 controls"):
        parse_rig_spec(spec)
    spec = _spec()
    spec["controls"][3]["region"] = "elbow"
    with pytest.raises(RigSpecError, match="unknown region"):
        parse_rig_spec(spec)
    spec = _spec()
    spec["controls"][5]["rest"] = 3.0
    with pytest.raises(RigSpecError, match="outside range"):
        parse_rig_spec(spec)
    spec = _spec()
    spec["version"] = 99
    with pytest.raises(RigSpecError, match="version"):
        parse_rig_spec(spec)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RigSpecError, match="cannot read"):
        load_rig_file(bad)
    with pytest.raises(RigSpecError, match="not found"):
        load_rig_file(tmp_path / "missing.json")


def test_spec_file_is_what_the_build_script_writes():
    import importlib.util

    script = spec_path().parent / "build_rig_spec.py"
    mod_spec = importlib.util.spec_from_file_location("build_rig_spec", script)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    assert module.build() == _spec()
