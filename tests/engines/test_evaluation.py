import json
from pathlib import Path

import numpy as np
import pytest

from app.__main__ import main
from app.core.rig import load_rig
from app.engines import evaluation as E
from app.engines import metrics as M

rig = load_rig()
DATA = Path(__file__).parent / "data"


def _lively(n=600, seed=0):
    rng = np.random.default_rng(seed)
    c = rig.rest_curves(n)
    t = np.arange(n) / 60.0
    for i in range(174):
        c[:, i] = 0.3 * np.sin(2 * np.pi * (0.5 + rng.random()) * t + rng.random() * 6) * (rig.maxs[i] > 0)
    return rig.clamp(c)


def test_ground_truth_identical_shifted_and_flat():
    ref = _lively()
    same = E.compare_ground_truth(ref, ref, rig)
    assert same.rmse == pytest.approx(0.0, abs=1e-9) and same.correlation == pytest.approx(1.0)
    assert same.mean_lag == 0 and same.frd == pytest.approx(0.0, abs=1e-9)
    late = np.roll(ref, 4, axis=0)
    shifted = E.compare_ground_truth(late, ref, rig)
    assert shifted.mean_lag == pytest.approx(4.0, abs=0.5) and shifted.correlation > 0.95 and shifted.rmse > 0.01
    flat = E.compare_ground_truth(rig.rest_curves(len(ref)), ref, rig)
    assert flat.frd > 0.05  # a still upper face deviates positively (less motion than the reference)
    livelier = E.compare_ground_truth(ref * 1.0, ref * 0.5, rig)
    assert livelier.frd < 0
    with pytest.raises(E.EvaluationError):
        E.compare_ground_truth(ref, rig.rest_curves(len(ref)), rig)


def test_frd_against_captured_figures():
    still = {"eyes": 0.0, "eyebrows": 0.0, "nose": 0.0}
    assert E.frd(still, M.CAPTURED_REGION_SD) == pytest.approx(np.mean([0.063, 0.083, 0.096]))


def test_read_transcripts_formats(tmp_path):
    (tmp_path / "list.txt").write_text("; comment\nagent-pass: Please enter your password.\nb\tSecond line\n")
    t = E.read_transcripts(tmp_path / "list.txt")
    assert t == {"agent-pass": "Please enter your password.", "b": "Second line"}
    folder = tmp_path / "tx"
    folder.mkdir()
    (folder / "clip1.txt").write_text("hello there\n")
    assert E.read_transcripts(folder) == {"clip1": "hello there"}
    with pytest.raises(E.EvaluationError):
        E.read_transcripts(tmp_path / "missing.txt")
    with pytest.raises(E.EvaluationError):
        E.find_clips([tmp_path / "nothing-here"])


def test_eval_command_on_real_speech(tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("asterisk-agent-pass", "asterisk-conf-getchannel"):
        (clips / f"{name}.wav").write_bytes((DATA / f"{name}.wav").read_bytes())
    (tmp_path / "tx.txt").write_text(
        "asterisk-agent-pass: Please enter your password followed by the pound key.\n"
        "asterisk-conf-getchannel: Please enter the channel number followed by the pound key.\n")
    out = tmp_path / "report"
    assert main(["eval", str(clips), "-o", str(out), "--transcripts", str(tmp_path / "tx.txt")]) == 0
    doc = json.loads((out / "report.json").read_text())
    proc = doc["summary"]["procedural"]  # audio alone: the recogniser's mouth shapes
    assert proc["clips"] == 2 and proc["bilabials"] >= 6
    assert proc["bilabial_closure"] >= 0.85
    assert abs(proc["lag_frames"]) <= 2
    told = doc["summary"]["procedural +transcript"]  # the transcript forced-aligned
    assert told["bilabials"] >= 6 and told["bilabial_closure"] == pytest.approx(1.0)
    assert (out / "plots" / "asterisk-agent-pass.png").stat().st_size > 10_000
    md = (out / "report.md").read_text()
    assert "| bilabial closure | 1.0 |" in md and "asterisk-conf-getchannel" in md
    assert main(["eval", str(tmp_path / "none"), "-o", str(out)]) == 2
