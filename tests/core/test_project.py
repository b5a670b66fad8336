import io
import json
import zipfile

import numpy as np
import pytest

from app.core import project as P
from app.core.keys import Keys
from app.core.project import ProjectFileError, load_project, save_project
from app.core.rig import load_rig
from app.core.take import AudioRef, EmotionKey, GenerationMeta, Lock, Take

rig = load_rig()


def _take():
    rng = np.random.default_rng(0)
    base = rig.clamp(rng.normal(0, 0.3, (240, 180)).astype(np.float32))
    meta = GenerationMeta(engine="procedural", seed=7,
                          emotion_keys=(EmotionKey(0.0, "happy", 0.8), EmotionKey(2.0, "sad", 0.3)),
                          gaze=(5.0, -2.0), head_distance=80.0, transcript="hello there", extra={"phones": 12})
    return Take(base, name="line_042", meta=meta,
                audio=AudioRef("/data/line_042.wav", "ab" * 32, 4.0, 48000),
                edits={5: Keys.from_lists([10, 20], [0.1, -0.1], [0, 2])},
                locks=[Lock(30, 60, (5, 6)), Lock(100, 120)])


def test_round_trip(tmp_path):
    t = _take()
    path = save_project(t, tmp_path / "a.vrig")
    u = load_project(path)
    assert np.array_equal(u.base, t.base)
    assert np.array_equal(u.evaluate(), t.evaluate())
    assert u.edits == t.edits and u.locks == t.locks and u.meta == t.meta and u.audio == t.audio
    assert (u.name, u.fps, u.num_frames) == ("line_042", 60.0, 240)


def test_save_is_atomic_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "a.vrig"
    save_project(_take(), path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(P.np, "save", boom)
    with pytest.raises(OSError):
        save_project(_take(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.vrig"]  # no temp files left


def test_relative_audio_path_survives_moving_the_folder(tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    wav = folder / "line.wav"
    wav.write_bytes(b"x")
    t = Take(rig.rest_curves(10), audio=AudioRef(str(wav), "0" * 64, 1.0, 16000))
    save_project(t, folder / "p.vrig")
    moved = tmp_path / "moved"
    folder.rename(moved)
    assert load_project(moved / "p.vrig").audio.path == str((moved / "line.wav").resolve())


@pytest.mark.parametrize("content,match", [
    (b"", "not a valid archive"),
    (b"PK\x03\x04garbage" * 20, "not a valid archive"),
    (b"hello world", "not a valid archive"),
])
def test_corrupt_files(tmp_path, content, match):
    p = tmp_path / "bad.vrig"
    p.write_bytes(content)
    with pytest.raises(ProjectFileError, match=match):
        load_project(p)


def _rewrite(path, manifest=None, base=None, drop=None):
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    if manifest is not None:
        files[P.MANIFEST] = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    if base is not None:
        buf = io.BytesIO()
        np.save(buf, base)
        files[P.BASE_ARRAY] = buf.getvalue()
    if drop:
        files.pop(drop)
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in files.items():
            zf.writestr(n, d)


def test_damaged_contents(tmp_path):
    p = save_project(_take(), tmp_path / "a.vrig")
    manifest = json.loads(zipfile.ZipFile(p).read(P.MANIFEST))
    _rewrite(p, manifest=b"{broken")
    with pytest.raises(ProjectFileError, match="damaged"):
        load_project(p)
    p = save_project(_take(), tmp_path / "b.vrig")
    _rewrite(p, base=np.zeros((10, 180), np.float32))
    with pytest.raises(ProjectFileError, match="does not match"):
        load_project(p)
    p = save_project(_take(), tmp_path / "c.vrig")
    _rewrite(p, drop=P.BASE_ARRAY)
    with pytest.raises(ProjectFileError, match="missing"):
        load_project(p)
    p = save_project(_take(), tmp_path / "d.vrig")
    m = dict(manifest, channels=["CTRL_bogus"] + manifest["channels"][1:])
    _rewrite(p, manifest=m)
    with pytest.raises(ProjectFileError, match="CTRL_bogus"):
        load_project(p)
    with pytest.raises(ProjectFileError, match="not found"):
        load_project(tmp_path / "nope.vrig")


def test_newer_version_is_refused_clearly(tmp_path):
    p = save_project(_take(), tmp_path / "a.vrig")
    manifest = json.loads(zipfile.ZipFile(p).read(P.MANIFEST))
    manifest["schema_version"] = P.SCHEMA_VERSION + 1
    _rewrite(p, manifest=manifest)
    with pytest.raises(ProjectFileError, match="newer"):
        load_project(p)


def test_older_versions_load_through_upgrade_steps(tmp_path, monkeypatch):
    # Pretend the current schema is one step ahead, with an upgrade that renames a field.
    monkeypatch.setattr(P, "SCHEMA_VERSION", P.SCHEMA_VERSION + 1)
    monkeypatch.setitem(P.UPGRADES, P.SCHEMA_VERSION - 1, lambda m: {**m, "name": m["name"] + "_upgraded"})
    p = tmp_path / "old.vrig"
    monkeypatch.setattr(P, "SCHEMA_VERSION", P.SCHEMA_VERSION - 1)
    save_project(_take(), p)
    monkeypatch.setattr(P, "SCHEMA_VERSION", P.SCHEMA_VERSION + 1)
    assert load_project(p).name == "line_042_upgraded"
    monkeypatch.delitem(P.UPGRADES, P.SCHEMA_VERSION - 1)
    with pytest.raises(ProjectFileError, match="no upgrade"):
        load_project(p)
