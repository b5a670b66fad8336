"""Own captures: a Live Link Face CSV + WAV and an EmoFace txt + WAV become labelled dataset samples."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from app.core.rig import load_rig
from app.io.text_formats import write_emoface_txt, write_llf_csv


def _wav(path, seconds):
    t = np.arange(int(seconds * 16000)) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32), 16000)


def _arkit_motion(frames):
    rig = load_rig()
    arkit = np.zeros((frames, len(rig.arkit_names)), np.float32)
    t = np.arange(frames) / 60
    arkit[:, rig.arkit_names.index("JawOpen")] = 0.5 + 0.4 * np.sin(2 * np.pi * 1.5 * t)
    arkit[:, rig.arkit_names.index("EyeBlinkLeft")] = (np.sin(2 * np.pi * 0.5 * t) > 0.9).astype(np.float32)
    return rig.from_arkit(arkit)


def test_llf_csv_round_trip(tmp_path):
    from models.data.captures import import_capture
    from models.data.reader import CorpusDataset
    from models.data.shards import read_manifest

    rig = load_rig()
    curves = _arkit_motion(120)
    write_llf_csv(tmp_path / "take.csv", curves, 60.0, rig)
    _wav(tmp_path / "take.wav", 2.0)
    entry = import_capture(tmp_path / "take.csv", tmp_path / "take.wav", tmp_path / "ds", speaker="jo",
                           emotion="happy", intensity=0.6)
    assert entry["source"] == "capture" and entry["voice"] == "capture:jo" and entry["real"] and entry["labelled"]
    m = read_manifest(tmp_path / "ds")
    with np.load(tmp_path / "ds" / m["shards"][0]["file"]) as z:
        stored = z["curves"]
        assert z["emotion"].tolist() == [1] * len(stored) and np.allclose(z["intensity"], 0.6)
        assert len(z["audio"]) == 32000
    assert stored.shape == (121, 180)  # 2 s of audio at 60 fps, the last pose held over the final frame
    # The stored curves reproduce the ARKit values the CSV carried.
    back = rig.to_arkit(stored[:120])
    want = rig.to_arkit(curves)
    jaw = rig.arkit_names.index("JawOpen")
    assert np.allclose(back[:, jaw], want[:, jaw], atol=2e-3)
    assert np.allclose(back[:, :52], want[:, :52], atol=2e-3)
    # A second import appends to the same dataset; the reader sees both.
    write_emoface_txt(tmp_path / "take2.txt", curves)
    import_capture(tmp_path / "take2.txt", tmp_path / "take.wav", tmp_path / "ds")
    ds = CorpusDataset(tmp_path / "ds", crop_seconds=1.0)
    assert len(ds) == 2 and ds[1]["curves"].shape == (60, 180)


def test_capture_errors_are_clear(tmp_path):
    from models.data import DatasetError
    from models.data.captures import import_capture

    rig = load_rig()
    write_llf_csv(tmp_path / "short.csv", _arkit_motion(30), 60.0, rig)
    _wav(tmp_path / "long.wav", 3.0)
    with pytest.raises(DatasetError, match="same take"):
        import_capture(tmp_path / "short.csv", tmp_path / "long.wav", tmp_path / "ds")
    with pytest.raises(DatasetError, match="unknown emotion"):
        import_capture(tmp_path / "short.csv", tmp_path / "long.wav", tmp_path / "ds", emotion="bored")
    (tmp_path / "bad.csv").write_text("nothing,here\n1,2\n")
    with pytest.raises(DatasetError, match="Live Link Face"):
        import_capture(tmp_path / "bad.csv", tmp_path / "long.wav", tmp_path / "ds")
