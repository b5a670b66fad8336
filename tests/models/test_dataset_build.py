"""A tiny corpus build: format contract, determinism, reader crops aligned with the shards, info figures."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from app.core.rig import load_rig
from app.core.take import EMOTIONS

pytestmark = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed")

SOURCES = ("flite", "pocketsphinx")


def _build(out, seed=5, minutes=0.15):
    from models.data.build import BuildOptions, build

    options = BuildOptions(out=out, minutes=minutes, sources=SOURCES, seed=seed)
    return build(options), options


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    manifest, _ = _build(out)
    return out, manifest


def test_manifest_follows_the_format(corpus):
    out, m = corpus
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["format"] == "vasa-rig/dataset" and on_disk["version"] == 1
    assert on_disk["fps"] == 60 and on_disk["sample_rate"] == 16000
    assert on_disk["channels"] == list(load_rig().channel_names) and len(on_disk["channels"]) == 180
    assert on_disk["emotions"] == list(EMOTIONS)
    synthetic = [s for s in on_disk["samples"] if s["source"] == "flite"]
    assert sum(s["duration"] for s in synthetic) >= 0.15 * 60
    for s in on_disk["samples"]:
        assert {"id", "shard", "index", "source", "voice", "real", "labelled", "split", "duration", "text",
                "licence", "augment"} <= set(s)
        assert s["split"] in ("train", "val_voice", "val_real")
    # Held-out voices and speakers never appear in train.
    assert all(s["split"] == "val_real" for s in on_disk["samples"] if s["voice"] == "pocketsphinx:librivox")
    assert all(s["split"] == "val_voice" for s in on_disk["samples"] if s["voice"] == "flite:awb")
    assert set(on_disk["sources"]) == set(SOURCES)
    for shard in on_disk["shards"]:
        with np.load(out / shard["file"]) as z:
            n = shard["num_samples"]
            assert z["audio"].dtype == np.float32 and z["audio_offsets"].shape == (n + 1,)
            assert z["audio_offsets"][-1] == len(z["audio"])
            if shard["labelled"]:
                frames = z["frame_offsets"][-1]
                assert z["curves"].shape == (frames, 180) and z["curves"].dtype == np.float32
                assert z["emotion"].dtype == np.int8 and z["emotion"].shape == (frames,)
                assert z["gaze"].shape == (frames, 2) and z["head_distance"].shape == (frames,)
                assert z["intensity"].shape == (frames,)
                # Frame count matches the audio length at 60 fps for every sample.
                a = np.diff(z["audio_offsets"]) / 16000.0
                f = np.diff(z["frame_offsets"])
                assert np.all(f == np.floor(a * 60 + 1e-9).astype(int) + 1)


def test_targets_follow_the_phones(corpus):
    """The jaw opens more during vowels than during bilabial closures (the teacher used the true phones)."""
    out, m = corpus
    rig = load_rig()
    jaw = rig.index("CTRL_C_jaw-translateY") if "CTRL_C_jaw-translateY" in rig.channel_names else None
    if jaw is None:
        pytest.skip("rig has no jaw channel of that name")
    vowel, closed = [], []
    for s in m["samples"]:
        if s["source"] != "flite":
            continue
        with np.load(out / s["shard"]) as z:
            f0 = z["frame_offsets"][s["index"]]
            curves = z["curves"][f0 : z["frame_offsets"][s["index"] + 1]]
        for p, a, b in s["phones"]:
            mid = min(int((a + b) / 2 * 60), len(curves) - 1)
            if p in ("AA", "AE", "AO", "AW", "AY"):
                vowel.append(curves[mid, jaw])
            elif p in ("P", "B", "M"):
                closed.append(curves[mid, jaw])
    assert vowel and closed
    assert abs(np.mean(vowel) - rig.rest[jaw]) > abs(np.mean(closed) - rig.rest[jaw])


def test_same_seed_same_corpus(corpus, tmp_path):
    out, m = corpus
    again, _ = _build(tmp_path / "again")
    assert [(s["text"], s["voice"], s.get("variant"), s["duration"]) for s in again["samples"]] == \
           [(s["text"], s["voice"], s.get("variant"), s["duration"]) for s in m["samples"]]
    first = m["shards"][0]["file"]
    with np.load(out / first) as a, np.load(tmp_path / "again" / first) as b:
        assert np.array_equal(a["audio"], b["audio"]) and np.array_equal(a["curves"], b["curves"])


def test_reader_yields_aligned_crops(corpus):
    from models.data.reader import CorpusDataset

    out, m = corpus
    ds = CorpusDataset(out, split="train", crop_seconds=1.0, seed=3)
    assert len(ds) == sum(1 for s in m["samples"] if s["split"] == "train" and s["labelled"])
    for i in range(min(len(ds), 6)):
        item = ds[i]
        assert item["audio"].shape == (16000,) and item["curves"].shape == (60, 180)
        assert item["emotion"].shape == (60,) and item["gaze"].shape == (60, 2)
        s = ds.samples[i]
        with np.load(out / s["shard"]) as z:
            a0 = z["audio_offsets"][s["index"]]
            f0 = z["frame_offsets"][s["index"]]
            audio = z["audio"][a0 : z["audio_offsets"][s["index"] + 1]]
            curves = z["curves"][f0 : z["frame_offsets"][s["index"] + 1]]
        start = int(round(float(item["start_seconds"]) * 60))
        n = int(item["mask"].sum())
        assert np.allclose(item["curves"][:n].numpy(), curves[start : start + n])
        a_start = int(round(start * 16000 / 60))
        k = int(item["audio_mask"].sum())
        assert np.array_equal(item["audio"][:k].numpy(), audio[a_start : a_start + k])
        assert not item["mask"][n:].any() and np.all(item["curves"][n:].numpy() == 0)
    # A sample shorter than the crop is padded and masked.
    long_ds = CorpusDataset(out, split="train", crop_seconds=20.0)
    item = long_ds[0]
    assert item["audio"].shape == (320000,) and 0 < int(item["mask"].sum()) < 1200


def test_unlabelled_set_holds_real_speech_only(corpus):
    from models.data.reader import UnlabelledAudioDataset

    out, _ = corpus
    ds = UnlabelledAudioDataset(out, split="val_real", crop_seconds=1.5)
    assert len(ds) == 5 and all(s["real"] for s in ds.samples)
    assert ds[0]["audio"].shape == (24000,)


def test_info_reports_hours_voices_and_phones(corpus):
    from models.data.info import format_summary, summarise

    out, _ = corpus
    info = summarise(out)
    assert info["real_speakers"] == 1 and info["synthetic_voices"] >= 2
    assert sum(info["emotion_frames"].values()) > 0
    assert info["phone_counts"]["AH"] > 0
    text = format_summary(info)
    assert "hours per source" in text and "phone coverage" in text


def test_bad_requests_are_clear_errors(tmp_path, corpus):
    from models.data import DatasetError
    from models.data.build import BuildOptions, build
    from models.data.reader import CorpusDataset

    with pytest.raises(DatasetError, match="unknown source"):
        build(BuildOptions(out=tmp_path / "x", minutes=1, sources=("nope",)))
    with pytest.raises(DatasetError, match="already holds"):
        build(BuildOptions(out=corpus[0], minutes=1, sources=("flite",)))
    with pytest.raises(DatasetError, match="no manifest"):
        CorpusDataset(tmp_path)


@pytest.mark.slow
def test_five_minute_build(tmp_path):
    from models.data.info import summarise

    manifest, options = _build(tmp_path / "five", seed=11, minutes=5.0)
    info = summarise(tmp_path / "five")
    assert info["hours"]["flite (labelled)"] * 60 >= 5.0
    assert info["variants_per_source"]["flite"] > 20
    assert not [r for r in options.report if "failed" in r and "flite" in r]
