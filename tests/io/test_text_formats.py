import json

import numpy as np
import pytest

from app.core.rig import NUM_CONTROLS, load_rig
from app.core.take import Take
from app.io import text_formats as tf
from app.io.export import ExportError, ExportOptions, read_take, write_take

rig = load_rig()
NO_CURVE = {"CTRL_lookAtSwitch-translateY", "CTRL_neckCorrectivesMultiplyerD-translateY",
            "CTRL_neckCorrectivesMultiplyerM-translateY", "CTRL_neckCorrectivesMultiplyerU-translateY"}


def _take(n=240):
    base = rig.rest_curves(n)
    t = np.arange(n) / 60.0
    for i in range(NUM_CONTROLS):
        base[:, i] = rig.mins[i] + (rig.maxs[i] - rig.mins[i]) * (0.5 + 0.5 * np.sin(t * (1 + i % 7) + i))
    base[:, rig.index("CTRL_C_eye-translateX")] = 0.0  # gaze on the per-eye controls only (see from_ue_curves)
    base[:, rig.index("CTRL_C_eye-translateY")] = 0.0
    base[:, 174] = 10 * np.sin(t)
    base[:, 175] = -4 * np.cos(t)
    base[:, 179] = 2.5
    return Take(rig.clamp(base), name="line 7")


def _effective_gaze(curves):
    out = []
    for side in "LR":
        for axis in "XY":
            out.append(curves[:, rig.index(f"CTRL_{side}_eye-translate{axis}")]
                       + curves[:, rig.index(f"CTRL_C_eye-translate{axis}")])
    return np.stack(out, axis=1)


def test_emoface_txt_round_trip(tmp_path):
    take = _take()
    write_take(take, tmp_path / "a.txt")
    lines = (tmp_path / "a.txt").read_text().splitlines()
    assert len(lines) == take.num_frames and all(len(line.split(",")) == 174 for line in lines)
    back = read_take(tmp_path / "a.txt")
    assert np.allclose(back.evaluate()[:, :174], take.evaluate()[:, :174], atol=1e-6)


def test_faceboard_json_round_trip_with_head(tmp_path):
    take = _take()
    write_take(take, tmp_path / "a.json", curves="faceboard")
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["fps"] == 60.0 and doc["name"] == "line 7" and len(doc["channels"]) == 174
    assert doc["head_pose"]["units"]["yaw"] == "deg"
    back = read_take(tmp_path / "a.json")
    assert np.allclose(back.evaluate(), take.evaluate(), atol=1e-4)


def test_json_numbers_are_the_values_rounded_to_six_decimals(tmp_path):
    from app.io.text_formats import write_curves_json

    rng = np.random.default_rng(3)
    curves = rig.rest_curves(40).astype(np.float32) + rng.normal(0, 0.3, (40, 180)).astype(np.float32)
    curves[5, 0] = 1e-7  # rounds to zero
    write_curves_json(tmp_path / "r.json", curves, 60.0, rig, meta={"gaze": (1.5, -2.0)})
    text = (tmp_path / "r.json").read_text()
    doc = json.loads(text)
    assert "NaN" not in text and doc["meta"]["gaze"] == [1.5, -2.0]
    for j, name in enumerate(rig.control_names[:20]):
        assert doc["channels"][name] == [round(float(v), 6) for v in curves[:, j].astype(np.float64)]
    assert doc["channels"][rig.control_names[0]][5] == 0.0
    assert doc["head_pose"]["yaw"] == [round(float(v), 5) for v in curves[:, 174].astype(np.float64)]


def test_metahuman_json_round_trip(tmp_path):
    take = _take()
    write_take(take, tmp_path / "m.json", curves="metahuman")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert "CTRL_expressions_jawOpen" in doc["channels"] and "CTRL_expressions_eyeBlinkL" in doc["channels"]
    back = read_take(tmp_path / "m.json").evaluate()
    orig = take.evaluate()
    keep = [i for i, n in enumerate(rig.control_names) if n not in NO_CURVE and "_eye-" not in n]
    assert np.allclose(back[:, keep], orig[:, keep], atol=1e-4)
    assert np.allclose(_effective_gaze(back), _effective_gaze(orig), atol=1e-4)


def test_llf_csv_header_rows_and_round_trip_of_arkit_values(tmp_path):
    take = _take()
    write_take(take, tmp_path / "t.csv", fps=30)
    lines = (tmp_path / "t.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["Timecode", "BlendShapeCount"] and header[2:] == rig.arkit_names
    assert lines[1].startswith("00:00:00:00.000,61,") and lines[31].startswith("00:00:01:00.000,61,")
    assert len(lines) - 1 == 120  # 239/60 s at 30 fps: frames 0..119
    back = read_take(tmp_path / "t.csv")  # frame rate from the timecodes (30), resampled to 60
    assert back.num_frames == 239  # 119 frames at 30 fps span 119/30 s
    from app.core.timebase import resample_curves

    exported = rig.to_arkit(resample_curves(take.evaluate(), 60.0, 30.0))  # what the file holds
    assert np.allclose(rig.to_arkit(back.evaluate())[::2, :55], exported[:, :55], atol=1e-4)


def test_llf_csv_columns_are_read_by_name(tmp_path):
    # Recorded files put JawRight before JawLeft; values must follow the header, not the position.
    names = list(rig.arkit_names)
    i, j = names.index("JawLeft"), names.index("JawRight")
    names[i], names[j] = names[j], names[i]
    row = [0.0] * 61
    row[names.index("JawLeft")] = 0.8
    row[names.index("JawOpen")] = 0.3
    text = "Timecode,BlendShapeCount," + ",".join(names) + "\n"
    text += "".join(f"00:00:00:{k:02d}.000,61," + ",".join(map(str, row)) + "\n" for k in range(3))
    (tmp_path / "rec.csv").write_text(text)
    curves = read_take(tmp_path / "rec.csv", fps=60).evaluate()
    assert curves[0, rig.index("CTRL_C_jaw-translateX")] == pytest.approx(0.8)
    assert curves[0, rig.index("CTRL_C_jaw-translateY")] == pytest.approx(0.3)


@pytest.mark.parametrize("name,content,match", [
    ("a.txt", "1,2,3\n", "line 1: expected 174"),
    ("b.txt", "", "no frames"),
    ("c.txt", ",".join(["0"] * 173 + ["x"]) + "\n", "not a number"),
    ("d.csv", "a,b,c\n1,2,3\n", "not a Live Link Face take"),
    ("e.csv", "", "empty"),
    ("f.json", "{oops", "not valid JSON"),
    ("g.json", '{"format": "other"}', "not a VASA-Rig curves file"),
    ("h.json", '{"format": "vasa-rig/curves", "version": 1, "num_frames": 3, "fps": 60, "curve_set": "faceboard",'
               ' "channels": {"CTRL_C_jaw-translateY": [1, 2]}}', "expected 3"),
])
def test_malformed_files(tmp_path, name, content, match):
    (tmp_path / name).write_text(content)
    with pytest.raises(tf.TakeFormatError, match=match):
        read_take(tmp_path / name)


def test_short_csv_row_reports_line(tmp_path):
    text = "Timecode,BlendShapeCount," + ",".join(rig.arkit_names) + "\n00:00:00:00.000,61,0.1\n"
    (tmp_path / "s.csv").write_text(text)
    with pytest.raises(tf.TakeFormatError, match="line 2"):
        read_take(tmp_path / "s.csv")


def test_export_options_errors(tmp_path):
    take = _take()
    with pytest.raises(ExportError, match="use one of"):
        write_take(take, tmp_path / "a.mp3")
    with pytest.raises(ExportError, match="frame range"):
        write_take(take, tmp_path / "a.txt", start_frame=10, end_frame=5000)
    with pytest.raises(ExportError, match="frame rate"):
        write_take(take, tmp_path / "a.txt", fps=-1)
    with pytest.raises(ExportError, match="curve naming"):
        write_take(take, tmp_path / "a.json", curves="bogus")
    with pytest.raises(ExportError, match="folder does not exist"):
        write_take(take, tmp_path / "nope" / "a.txt")


def test_frame_range_and_rate(tmp_path):
    take = _take()
    write_take(take, tmp_path / "r.txt", ExportOptions(fps=30, start_frame=60, end_frame=119))
    rows = np.loadtxt(tmp_path / "r.txt", delimiter=",")
    assert rows.shape == (30, 174)
    from app.core.timebase import resample_curves

    expected = resample_curves(take.evaluate()[60:120], 60.0, 30.0)[:, :174]
    assert np.allclose(rows, expected, atol=1e-5)
    # each exported frame lies within the values of the source frames around its time
    src = take.evaluate()[:, :174]
    for k in range(1, 29):
        lo = src[60 + 2 * k - 1:60 + 2 * k + 2].min(axis=0) - 1e-5
        hi = src[60 + 2 * k - 1:60 + 2 * k + 2].max(axis=0) + 1e-5
        assert np.all((rows[k] >= lo) & (rows[k] <= hi))


def test_llf_csv_shorter_than_a_second_keeps_its_rate(tmp_path):
    """A take that never rolls over a second fits any rate above its last FF: it is read at 60 fps, not at the
    smallest rate that fits (which made a half-second 60 fps take twice as long)."""
    for n in (2, 30, 59):
        write_take(_take(n), tmp_path / "short.csv")
        back = read_take(tmp_path / "short.csv")
        assert back.num_frames == n and back.meta.provenance.source_fps == 60.0
    write_take(_take(40), tmp_path / "slow.csv", fps=30)  # 0.65 s at 30 fps with the rate given when reading
    assert read_take(tmp_path / "slow.csv", fps=30).num_frames == 39
