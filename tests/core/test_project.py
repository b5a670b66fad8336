import io
import json
import zipfile

import numpy as np
import pytest

from app.core import project as P
from app.core.keys import Keys
from app.core.project import ProjectFileError, load_project, save_project
from app.core.rig import load_rig
from app.core.settings import GenerationSettings, Provenance
from app.core.take import AudioRef, EmotionKey, GenerationMeta, Lock, Take

rig = load_rig()


def _take():
    rng = np.random.default_rng(0)
    base = rig.clamp(rng.normal(0, 0.3, (240, 180)).astype(np.float32))
    settings = GenerationSettings.of(seed=7, emotion_keys=(EmotionKey(0.0, "happy", 0.8), EmotionKey(2.0, "sad", 0.3)),
                                     gaze=(5.0, -2.0), head_distance=80.0, transcript="hello there",
                                     closure_threshold=0.3)
    meta = GenerationMeta(settings=settings,
                          provenance=Provenance(phones_source="recognised", phones=12, unsure_fraction=0.25,
                                                unsure_spans=((0.5, 0.75),), seconds={"align": 0.5}))
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


def _v1_project(path, meta: dict) -> None:
    """A project as schema 1 wrote it: generation settings flat in "meta", engine notes in "extra"."""
    base = rig.rest_curves(30)
    buf = io.BytesIO()
    np.save(buf, base, allow_pickle=False)
    manifest = {"format": P.FORMAT, "schema_version": 1, "app_version": "0.1", "name": "old", "fps": 60.0,
                "num_frames": 30, "channels": rig.channel_names, "audio": None, "meta": meta, "edits": {},
                "locks": []}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(P.MANIFEST, json.dumps(manifest))
        zf.writestr(P.BASE_ARRAY, buf.getvalue())


def test_schema_1_projects_open_with_their_settings_split_into_typed_sections(tmp_path):
    p = tmp_path / "v1.vrig"
    _v1_project(p, {"engine": "neural", "seed": 7, "emotion_keys": [[0.0, "sad", 0.5]], "gaze": [70.0, -2.0],
                    "eye_contact": 0.5, "head_distance": 900.0, "articulation": 1.3, "transcript": "activated",
                    "extra": {"steps": 3, "guidance": 1.5, "inpainted": True, "phones_source": "forced",
                              "phones": 9, "align_seconds": 0.45, "synthesis_seconds": 0.06,
                              "phones_file": "/x/line.lab", "frames": 30, "something_old": 1}})
    take = load_project(p)
    s, pr = take.meta.settings, take.meta.provenance
    assert s.engine == "neural" and s.performance.seed == 7 and s.performance.articulation == 1.3
    assert s.performance.emotion_keys == (EmotionKey(0.0, "sad", 0.5),) and s.performance.eye_contact == 0.5
    # v1 accepted values outside today's ranges: they are clamped into them.
    assert s.performance.gaze == (45.0, -2.0) and s.performance.head_distance == 300.0
    assert s.options.steps == 3 and s.options.guidance == 1.5
    assert s.inputs.transcript == "activated" and s.inputs.phones_file == "/x/line.lab"
    assert pr.phones_source == "forced" and pr.phones == 9 and pr.inpainted and pr.steps == 3
    assert pr.seconds == {"align": 0.45, "synthesis": 0.06}
    assert take.meta.engine_label() == "neural, 3 steps, guidance 1.5, transcript phones"
    # Saved again, it is a schema 2 file that reads back the same.
    again = load_project(save_project(take, tmp_path / "v2.vrig"))
    assert again.meta == take.meta
    assert json.loads(zipfile.ZipFile(tmp_path / "v2.vrig").read(P.MANIFEST))["schema_version"] == P.SCHEMA_VERSION


def test_schema_1_rest_imported_and_word_recognition_takes(tmp_path):
    p = tmp_path / "rest.vrig"
    _v1_project(p, {"engine": "none", "seed": 0, "emotion_keys": [], "extra": {}})
    assert load_project(p).meta.engine == "none"
    _v1_project(p, {"engine": "import", "extra": {"source_file": "/a/b.fbx", "source_fps": 30.0}})
    meta = load_project(p).meta
    assert meta.provenance.source_file == "/a/b.fbx" and meta.provenance.source_fps == 30.0
    _v1_project(p, {"engine": "procedural", "extra": {"recogniser": "words", "threshold": 0.6}})
    options = load_project(p).meta.settings.options
    assert options.word_recognition and options.threshold == 0.6


def test_damaged_settings_are_reported_by_name(tmp_path):
    p = save_project(_take(), tmp_path / "a.vrig")
    manifest = json.loads(zipfile.ZipFile(p).read(P.MANIFEST))
    manifest["meta"]["settings"]["performance"]["head_distance"] = 5000
    _rewrite(p, manifest=manifest)
    with pytest.raises(ProjectFileError, match="head distance"):
        load_project(p)
    manifest["meta"]["settings"]["performance"]["head_distance"] = 60
    manifest["meta"]["settings"]["options"]["warp"] = 2
    _rewrite(p, manifest=manifest)
    with pytest.raises(ProjectFileError, match="warp"):
        load_project(p)
