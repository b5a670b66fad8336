"""Build resources/rig/rig_spec.json: the MetaHuman face-board as data.

Run once after changing the rules below: ``python resources/rig/build_rig_spec.py``. The JSON it writes is what the
application reads (app.core.rig); this script only records how each field was decided.

Sources: the 174 control names in channel order (EmoFace / VASA-Rig convention), the ranges and 2D-control list
from the MetaHuman face board, and the naming conventions that link a face-board control to the raw
``CTRL_expressions_*`` curves (e.g. CTRL_L_mouth_cornerPull -> mouthCornerPullL). Sign convention for sliders whose
name joins two words (fwdBack, UpDown, suckBlow, inOut, ...): positive drives the first word.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTROL_LIST = HERE / "metahuman_174_controls.txt"
OUT = HERE / "rig_spec.json"

# Controls whose translateX and translateY both live in [-1, 1] (2D "rect" controls).
RECT_2D = {"CTRL_C_eye", "CTRL_L_eye", "CTRL_R_eye", "CTRL_C_mouth", "CTRL_L_mouth_corner",
           "CTRL_R_mouth_corner", "CTRL_L_nose", "CTRL_R_nose", "CTRL_C_teethU", "CTRL_C_teethD",
           "CTRL_C_tongue", "CTRL_C_tongue_roll", "CTRL_C_tongue_tip"}
# Bipolar sliders in [-1, 1] (suffix after CTRL_C_/CTRL_L_/CTRL_R_/CTRL_).
BIPOLAR = {"jaw_fwdBack", "mouth_lipShiftD", "mouth_lipShiftU", "teeth_fwdBackD", "teeth_fwdBackU", "tongue_inOut",
           "tongue_narrowWide", "eye_blink", "eye_eyelidD", "eye_eyelidU", "eye_pupil", "eyelashes_tweakerIn",
           "eyelashes_tweakerOut", "mouth_cornerSharpnessD", "mouth_cornerSharpnessU", "mouth_lipsRollD",
           "mouth_lipsRollU", "mouth_pushPullD", "mouth_pushPullU", "mouth_suckBlow", "mouth_thicknessD",
           "mouth_thicknessU", "neck_digastricUpDown", "neck_throatExhaleInhale", "neck_throatUpDown"}

# Face-board control (without side prefix and attribute) -> CTRL_expressions curve stem(s).
# A value "+stem/-stem" splits a bipolar control by sign; "stem" alone is driven by the positive range.
# "{s}" is replaced by the side letter (L/R) for sided controls.
CURVE_RULES: dict[str, dict[str, str | list[str]]] = {
    # centre
    "C_eye.X": {"+": ["eyeLookLeftL", "eyeLookLeftR"], "-": ["eyeLookRightL", "eyeLookRightR"]},
    "C_eye.Y": {"+": ["eyeLookUpL", "eyeLookUpR"], "-": ["eyeLookDownL", "eyeLookDownR"]},
    "C_eye_parallelLook.Y": {"+": "eyeParallelLookDirection"},
    "C_jaw.X": {"+": "jawLeft", "-": "jawRight"},
    "C_jaw.Y": {"+": "jawOpen"},
    "C_jaw_fwdBack.Y": {"+": "jawFwd", "-": "jawBack"},
    "C_jaw_openExtreme.Y": {"+": "jawOpenExtreme"},
    "C_mouth.X": {"+": "mouthLeft", "-": "mouthRight"},
    "C_mouth.Y": {"+": "mouthUp", "-": "mouthDown"},
    "C_mouth_lipShiftD.Y": {"+": "mouthLowerLipShiftLeft", "-": "mouthLowerLipShiftRight"},
    "C_mouth_lipShiftU.Y": {"+": "mouthUpperLipShiftLeft", "-": "mouthUpperLipShiftRight"},
    "C_mouth_stickyD.Y": {"+": "mouthStickyDC"},
    "C_mouth_stickyU.Y": {"+": "mouthStickyUC"},
    "C_neck_swallow.Y": {"phases": ["neckSwallowPh1", "neckSwallowPh2", "neckSwallowPh3", "neckSwallowPh4"]},
    "C_teethD.X": {"+": "teethLeftD", "-": "teethRightD"},
    "C_teethD.Y": {"+": "teethUpD", "-": "teethDownD"},
    "C_teethU.X": {"+": "teethLeftU", "-": "teethRightU"},
    "C_teethU.Y": {"+": "teethUpU", "-": "teethDownU"},
    "C_teeth_fwdBackD.Y": {"+": "teethFwdD", "-": "teethBackD"},
    "C_teeth_fwdBackU.Y": {"+": "teethFwdU", "-": "teethBackU"},
    "C_tongue.X": {"+": "tongueLeft", "-": "tongueRight"},
    "C_tongue.Y": {"+": "tongueUp", "-": "tongueDown"},
    "C_tongue_inOut.Y": {"+": "tongueIn", "-": "tongueOut"},
    "C_tongue_narrowWide.Y": {"+": "tongueNarrow", "-": "tongueWide"},
    "C_tongue_press.Y": {"+": "tonguePress"},
    "C_tongue_roll.X": {"+": "tongueTwistLeft", "-": "tongueTwistRight"},
    "C_tongue_roll.Y": {"+": "tongueRoll", "-": "tongueBendDown"},
    "C_tongue_tip.X": {"+": "tongueTipLeft", "-": "tongueTipRight"},
    "C_tongue_tip.Y": {"+": "tongueTipUp", "-": "tongueTipDown"},
    # sided (s = L or R)
    "brow_down.Y": {"+": "browDown{s}"},
    "brow_lateral.Y": {"+": "browLateral{s}"},
    "brow_raiseIn.Y": {"+": "browRaiseIn{s}"},
    "brow_raiseOut.Y": {"+": "browRaiseOuter{s}"},
    "ear_up.Y": {"+": "earUp{s}"},
    "eye.X": {"+": "eyeLookLeft{s}", "-": "eyeLookRight{s}"},
    "eye.Y": {"+": "eyeLookUp{s}", "-": "eyeLookDown{s}"},
    "eye_blink.Y": {"+": "eyeBlink{s}", "-": "eyeWiden{s}"},
    "eye_cheekRaise.Y": {"+": "eyeCheekRaise{s}"},
    "eye_eyelidD.Y": {"+": "eyeLowerLidUp{s}", "-": "eyeLowerLidDown{s}"},
    "eye_eyelidU.Y": {"+": "eyeUpperLidUp{s}", "-": "eyeRelax{s}"},
    "eye_faceScrunch.Y": {"+": "eyeFaceScrunch{s}"},
    "eye_lidPress.Y": {"+": "eyeLidPress{s}"},
    "eye_pupil.Y": {"+": "eyePupilWide{s}", "-": "eyePupilNarrow{s}"},
    "eye_squintInner.Y": {"+": "eyeSquintInner{s}"},
    "eyelashes_tweakerIn.Y": {"+": "eyelashesUpIN{s}", "-": "eyelashesDownIN{s}"},
    "eyelashes_tweakerOut.Y": {"+": "eyelashesUpOUT{s}", "-": "eyelashesDownOUT{s}"},
    "jaw_ChinRaiseD.Y": {"+": "jawChinRaiseD{s}"},
    "jaw_ChinRaiseU.Y": {"+": "jawChinRaiseU{s}"},
    "jaw_chinCompress.Y": {"+": "jawChinCompress{s}"},
    "jaw_clench.Y": {"+": "jawClench{s}"},
    "mouth_corner.X": {"+": "mouthCornerWide{s}", "-": "mouthCornerNarrow{s}"},
    "mouth_corner.Y": {"+": "mouthCornerUp{s}", "-": "mouthCornerDown{s}"},
    "mouth_cornerDepress.Y": {"+": "mouthCornerDepress{s}"},
    "mouth_cornerPull.Y": {"+": "mouthCornerPull{s}"},
    "mouth_cornerSharpnessD.Y": {"+": "mouthCornerSharpenD{s}", "-": "mouthCornerRounderD{s}"},
    "mouth_cornerSharpnessU.Y": {"+": "mouthCornerSharpenU{s}", "-": "mouthCornerRounderU{s}"},
    "mouth_dimple.Y": {"+": "mouthDimple{s}"},
    "mouth_funnelD.Y": {"+": "mouthFunnelD{s}"},
    "mouth_funnelU.Y": {"+": "mouthFunnelU{s}"},
    "mouth_lipBiteD.Y": {"+": "mouthLowerLipBite{s}"},
    "mouth_lipBiteU.Y": {"+": "mouthUpperLipBite{s}"},
    "mouth_lipSticky.Y": {"phases": ["mouthLipsSticky{s}Ph1", "mouthLipsSticky{s}Ph2", "mouthLipsSticky{s}Ph3"]},
    "mouth_lipsBlow.Y": {"+": "mouthLipsBlow{s}"},
    "mouth_lipsPressU.Y": {"+": "mouthLipsPress{s}"},
    "mouth_lipsRollD.Y": {"+": "mouthLowerLipRollIn{s}", "-": "mouthLowerLipRollOut{s}"},
    "mouth_lipsRollU.Y": {"+": "mouthUpperLipRollIn{s}", "-": "mouthUpperLipRollOut{s}"},
    "mouth_lipsTogetherD.Y": {"+": "mouthLipsTogetherD{s}"},
    "mouth_lipsTogetherU.Y": {"+": "mouthLipsTogetherU{s}"},
    "mouth_lipsTowardsTeethD.Y": {"+": "mouthLowerLipTowardsTeeth{s}"},
    "mouth_lipsTowardsTeethU.Y": {"+": "mouthUpperLipTowardsTeeth{s}"},
    "mouth_lowerLipDepress.Y": {"+": "mouthLowerLipDepress{s}"},
    "mouth_pressD.Y": {"+": "mouthPressD{s}"},
    "mouth_pressU.Y": {"+": "mouthPressU{s}"},
    "mouth_purseD.Y": {"+": "mouthLipsPurseD{s}"},
    "mouth_purseU.Y": {"+": "mouthLipsPurseU{s}"},
    "mouth_pushPullD.Y": {"+": "mouthLipsPushD{s}", "-": "mouthLipsPullD{s}"},
    "mouth_pushPullU.Y": {"+": "mouthLipsPushU{s}", "-": "mouthLipsPullU{s}"},
    "mouth_sharpCornerPull.Y": {"+": "mouthSharpCornerPull{s}"},
    "mouth_stickyInnerD.Y": {"+": "mouthStickyDIN{s}"},
    "mouth_stickyInnerU.Y": {"+": "mouthStickyUIN{s}"},
    "mouth_stickyOuterD.Y": {"+": "mouthStickyDOUT{s}"},
    "mouth_stickyOuterU.Y": {"+": "mouthStickyUOUT{s}"},
    "mouth_stretch.Y": {"+": "mouthStretch{s}"},
    "mouth_stretchLipsClose.Y": {"+": "mouthStretchLipsClose{s}"},
    "mouth_suckBlow.Y": {"+": "mouthCheekSuck{s}", "-": "mouthCheekBlow{s}"},
    "mouth_thicknessD.Y": {"+": "mouthLipsThickD{s}", "-": "mouthLipsThinD{s}"},
    "mouth_thicknessU.Y": {"+": "mouthLipsThickU{s}", "-": "mouthLipsThinU{s}"},
    "mouth_tightenD.Y": {"+": "mouthLipsTightenD{s}"},
    "mouth_tightenU.Y": {"+": "mouthLipsTightenU{s}"},
    "mouth_towardsD.Y": {"+": "mouthLipsTowardsD{s}"},
    "mouth_towardsU.Y": {"+": "mouthLipsTowardsU{s}"},
    "mouth_upperLipRaise.Y": {"+": "mouthUpperLipRaise{s}"},
    "neck_mastoidContract.Y": {"+": "neckMastoidContract{s}"},
    "neck_stretch.Y": {"+": "neckStretch{s}"},
    "nose.X": {"+": "noseNostrilDilate{s}", "-": "noseNostrilCompress{s}"},
    "nose.Y": {"+": "noseWrinkle{s}", "-": "noseNostrilDepress{s}"},
    "nose_nasolabialDeepen.Y": {"+": "noseNasolabialDeepen{s}"},
    "nose_wrinkleUpper.Y": {"+": "noseWrinkleUpper{s}"},
    # unsided neck sliders
    "neck_digastricUpDown.Y": {"+": "neckDigastricUp", "-": "neckDigastricDown"},
    "neck_throatExhaleInhale.Y": {"+": "neckThroatExhale", "-": "neckThroatInhale"},
    "neck_throatUpDown.Y": {"+": "neckThroatUp", "-": "neckThroatDown"},
    # switches without an expression curve
    "lookAtSwitch.Y": {},
    "neckCorrectivesMultiplyerD.Y": {},
    "neckCorrectivesMultiplyerM.Y": {},
    "neckCorrectivesMultiplyerU.Y": {},
}

HEAD_CHANNELS = [
    # name, unit, min, max, UE curve
    ("head_yaw", "deg", -80.0, 80.0, "HeadYaw"),
    ("head_pitch", "deg", -60.0, 60.0, "HeadPitch"),
    ("head_roll", "deg", -45.0, 45.0, "HeadRoll"),
    ("head_tx", "cm", -30.0, 30.0, "HeadTranslationX"),
    ("head_ty", "cm", -30.0, 30.0, "HeadTranslationY"),
    ("head_tz", "cm", -30.0, 30.0, "HeadTranslationZ"),
]

# Gaze: face-board eye translate (-1..1) to eye rotation in degrees, used for the ARKit eye yaw/pitch values.
EYE_YAW_DEG_PER_UNIT = 30.0
EYE_PITCH_DEG_PER_UNIT = 25.0


def parse(name: str) -> tuple[str, str, str]:
    """'CTRL_L_mouth_corner-translateX' -> (side 'L', key 'mouth_corner.X', control 'CTRL_L_mouth_corner')."""
    control, attr = name.split("-")
    axis = {"translateX": "X", "translateY": "Y"}[attr]
    m = re.match(r"CTRL_([LRC])_(.+)$", control)
    if m:
        side, stem = m.group(1), m.group(2)
    else:
        side, stem = "C", control[len("CTRL_"):]
    key = f"{'C_' if m and side == 'C' else ''}{stem}.{axis}"
    return side, key, control


def region_of(name: str) -> str:
    stem = name.split("-")[0]
    if "_eye_cheekRaise" in stem or "mouth_suckBlow" in stem:
        return "cheeks"
    if "lookAtSwitch" in stem or "_eye" in stem:
        return "eyes"
    for token, region in (("brow", "eyebrows"), ("ear_", "ears"), ("nose", "nose"), ("tongue", "tongue"),
                          ("teeth", "teeth"), ("neck", "neck"), ("jaw", "jaw"), ("mouth", "mouth")):
        if token in stem:
            return region
    raise ValueError(f"no region rule for {name}")


def value_range(name: str) -> tuple[float, float]:
    side, key, control = parse(name)
    stem = key.split(".")[0].removeprefix("C_")
    if control in RECT_2D:
        return -1.0, 1.0
    if control == "CTRL_C_jaw":
        return (-1.0, 1.0) if key.endswith(".X") else (0.0, 1.0)
    if stem in BIPOLAR:
        return -1.0, 1.0
    return 0.0, 1.0


def curve_links(name: str) -> list[dict]:
    """The expression curves a control drives, as linear ramps: curve = clip((v - lo) / (hi - lo), 0, 1)."""
    side, key, _ = parse(name)
    rule = CURVE_RULES.get(key)
    if rule is None:
        raise ValueError(f"no curve rule for {name} (key {key})")
    links: list[dict] = []

    def stems(v):
        return [v] if isinstance(v, str) else list(v)

    for s in stems(rule.get("+", [])):
        links.append({"curve": "CTRL_expressions_" + s.format(s=side), "lo": 0.0, "hi": 1.0})
    for s in stems(rule.get("-", [])):
        links.append({"curve": "CTRL_expressions_" + s.format(s=side), "lo": 0.0, "hi": -1.0})
    phases = stems(rule.get("phases", []))
    for i, s in enumerate(phases):
        # A phase slider sweeps its curves one after another over the positive range.
        links.append({"curve": "CTRL_expressions_" + s.format(s=side),
                      "lo": i / len(phases), "hi": (i + 1) / len(phases)})
    return links


def arkit_rules() -> list[dict]:
    """ARKit blendshape = clip(sum of weight * ramp(control), 0, 1); rotations listed separately."""
    def r(control, weight=1.0, lo=0.0, hi=1.0):
        return {"control": control, "weight": weight, "lo": lo, "hi": hi}

    def ty(c):
        return f"CTRL_{c}-translateY"

    def tx(c):
        return f"CTRL_{c}-translateX"

    out: dict[str, list[dict]] = {}
    for S, side in (("Left", "L"), ("Right", "R")):
        # For the left eye, "in" is towards the nose = looking to the character's right (negative tx).
        look_in = (0.0, -1.0) if side == "L" else (0.0, 1.0)
        look_out = (0.0, 1.0) if side == "L" else (0.0, -1.0)
        out[f"EyeBlink{S}"] = [r(ty(f"{side}_eye_blink"))]
        out[f"EyeLookDown{S}"] = [r(ty(f"{side}_eye"), 1, 0, -1), r(ty("C_eye"), 1, 0, -1)]
        out[f"EyeLookIn{S}"] = [r(tx(f"{side}_eye"), 1, *look_in), r(tx("C_eye"), 1, *look_in)]
        out[f"EyeLookOut{S}"] = [r(tx(f"{side}_eye"), 1, *look_out), r(tx("C_eye"), 1, *look_out)]
        out[f"EyeLookUp{S}"] = [r(ty(f"{side}_eye")), r(ty("C_eye"))]
        out[f"EyeSquint{S}"] = [r(ty(f"{side}_eye_squintInner"), 0.7), r(ty(f"{side}_eye_lidPress"), 0.3)]
        out[f"EyeWide{S}"] = [r(ty(f"{side}_eye_blink"), 1, 0, -1)]
    out["JawForward"] = [r(ty("C_jaw_fwdBack"))]
    out["JawLeft"] = [r(tx("C_jaw"))]
    out["JawRight"] = [r(tx("C_jaw"), 1, 0, -1)]
    out["JawOpen"] = [r(ty("C_jaw"))]
    out["MouthClose"] = [r(ty(f"{s}_mouth_lipsTogether{d}"), 0.25) for s in "LR" for d in "UD"]
    out["MouthFunnel"] = [r(ty(f"{s}_mouth_funnel{d}"), 0.25) for s in "LR" for d in "UD"]
    out["MouthPucker"] = [r(ty(f"{s}_mouth_purse{d}"), 0.25) for s in "LR" for d in "UD"]
    out["MouthLeft"] = [r(tx("C_mouth"))]
    out["MouthRight"] = [r(tx("C_mouth"), 1, 0, -1)]
    for S, side in (("Left", "L"), ("Right", "R")):
        out[f"MouthSmile{S}"] = [r(ty(f"{side}_mouth_cornerPull"))]
    for S, side in (("Left", "L"), ("Right", "R")):
        out[f"MouthFrown{S}"] = [r(ty(f"{side}_mouth_cornerDepress"))]
    for S, side in (("Left", "L"), ("Right", "R")):
        out[f"MouthDimple{S}"] = [r(ty(f"{side}_mouth_dimple"))]
    for S, side in (("Left", "L"), ("Right", "R")):
        out[f"MouthStretch{S}"] = [r(ty(f"{side}_mouth_stretch"))]
    out["MouthRollLower"] = [r(ty(f"{s}_mouth_lipsRollD"), 0.5) for s in "LR"]
    out["MouthRollUpper"] = [r(ty(f"{s}_mouth_lipsRollU"), 0.5) for s in "LR"]
    out["MouthShrugLower"] = [r(ty(f"{s}_jaw_ChinRaiseD"), 0.5) for s in "LR"]
    out["MouthShrugUpper"] = [r(ty(f"{s}_jaw_ChinRaiseU"), 0.5) for s in "LR"]
    for S, side in (("Left", "L"), ("Right", "R")):
        out[f"MouthPress{S}"] = [r(ty(f"{side}_mouth_pressU"), 0.5), r(ty(f"{side}_mouth_pressD"), 0.5)]
    for S, side in (("Left", "L"), ("Right", "R")):
        out[f"MouthLowerDown{S}"] = [r(ty(f"{side}_mouth_lowerLipDepress"))]
    for S, side in (("Left", "L"), ("Right", "R")):
        out[f"MouthUpperUp{S}"] = [r(ty(f"{side}_mouth_upperLipRaise"))]
    out["BrowDownLeft"] = [r(ty("L_brow_down"))]
    out["BrowDownRight"] = [r(ty("R_brow_down"))]
    out["BrowInnerUp"] = [r(ty(f"{s}_brow_raiseIn"), 0.5) for s in "LR"]
    out["BrowOuterUpLeft"] = [r(ty("L_brow_raiseOut"))]
    out["BrowOuterUpRight"] = [r(ty("R_brow_raiseOut"))]
    out["CheekPuff"] = [r(ty(f"{s}_mouth_suckBlow"), 0.5, 0, -1) for s in "LR"]
    out["CheekSquintLeft"] = [r(ty("L_eye_cheekRaise"))]
    out["CheekSquintRight"] = [r(ty("R_eye_cheekRaise"))]
    out["NoseSneerLeft"] = [r(ty("L_nose"))]
    out["NoseSneerRight"] = [r(ty("R_nose"))]
    out["TongueOut"] = [r(ty("C_tongue_inOut"), 1, 0, -1)]
    return [{"name": k, "terms": v} for k, v in out.items()]


ARKIT_ORDER = (
    "EyeBlinkLeft EyeLookDownLeft EyeLookInLeft EyeLookOutLeft EyeLookUpLeft EyeSquintLeft EyeWideLeft "
    "EyeBlinkRight EyeLookDownRight EyeLookInRight EyeLookOutRight EyeLookUpRight EyeSquintRight EyeWideRight "
    "JawForward JawLeft JawRight JawOpen MouthClose MouthFunnel MouthPucker MouthLeft MouthRight MouthSmileLeft "
    "MouthSmileRight MouthFrownLeft MouthFrownRight MouthDimpleLeft MouthDimpleRight MouthStretchLeft "
    "MouthStretchRight MouthRollLower MouthRollUpper MouthShrugLower MouthShrugUpper MouthPressLeft MouthPressRight "
    "MouthLowerDownLeft MouthLowerDownRight MouthUpperUpLeft MouthUpperUpRight BrowDownLeft BrowDownRight "
    "BrowInnerUp BrowOuterUpLeft BrowOuterUpRight CheekPuff CheekSquintLeft CheekSquintRight NoseSneerLeft "
    "NoseSneerRight TongueOut HeadYaw HeadPitch HeadRoll LeftEyeYaw LeftEyePitch LeftEyeRoll RightEyeYaw "
    "RightEyePitch RightEyeRoll"
).split()


def build() -> dict:
    names = [line.strip() for line in CONTROL_LIST.read_text().splitlines() if line.strip()]
    if len(names) != 174:
        raise SystemExit(f"expected 174 controls, found {len(names)}")
    controls = []
    for name in names:
        side, _, _ = parse(name)
        lo, hi = value_range(name)
        controls.append({"name": name, "region": region_of(name), "side": side, "min": lo, "max": hi,
                         "rest": 0.0, "kind": "bipolar" if lo < 0 else "unipolar",
                         "curves": curve_links(name)})
    head = [{"name": n, "region": "head", "side": "C", "unit": u, "min": lo, "max": hi, "rest": 0.0,
             "ue_curve": ue} for n, u, lo, hi, ue in HEAD_CHANNELS]
    arkit = arkit_rules()
    blend_names = [a["name"] for a in arkit]
    if blend_names != ARKIT_ORDER[:52]:
        order = {n: i for i, n in enumerate(ARKIT_ORDER)}
        arkit.sort(key=lambda a: order[a["name"]])
        if [a["name"] for a in arkit] != ARKIT_ORDER[:52]:
            raise SystemExit("ARKit rules do not cover the 52 blendshapes")
    return {
        "format": "vasa-rig/rig-spec",
        "version": 1,
        "frame_rate": 60,
        "sign_convention": "for a slider named after two words (fwdBack, UpDown, suckBlow, inOut), positive "
                           "drives the first; eye translateX positive looks to the character's left",
        "controls": controls,
        "head": head,
        "arkit": {
            "order": ARKIT_ORDER,
            "blendshapes": arkit,
            "eye_yaw_deg_per_unit": EYE_YAW_DEG_PER_UNIT,
            "eye_pitch_deg_per_unit": EYE_PITCH_DEG_PER_UNIT,
            "rotation_scale": "Live Link Face sends rotations as degrees / 180",
        },
    }


def main() -> int:
    spec = build()
    OUT.write_text(json.dumps(spec, indent=1) + "\n")
    print(f"wrote {OUT} ({len(spec['controls'])} controls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
