"""One regression test per defect the fuzz and fault campaign found (each failed before its fix)."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import soundfile as sf

from app.__main__ import main
from app.core.project import BASE_ARRAY, MANIFEST, ProjectFileError, load_project, save_project
from app.core.take import EmotionKey, Take
from app.io.export import read_take, write_take
from app.io.text_formats import TakeFormatError


def _members(tmp_path) -> tuple[dict, bytes]:
    path = save_project(Take.rest(10, name="r"), tmp_path / "seed.vrig")
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read(MANIFEST)), zf.read(BASE_ARRAY)


def _project(tmp_path, name: str, manifest, base: bytes, compression=zipfile.ZIP_DEFLATED):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.writestr(MANIFEST, manifest if isinstance(manifest, bytes) else json.dumps(manifest))
        zf.writestr(BASE_ARRAY, base)
    return path


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def test_project_with_damaged_deflate_data_is_a_project_error(tmp_path):
    manifest, base = _members(tmp_path)
    data = bytearray(_project(tmp_path, "p.vrig", manifest, base).read_bytes())
    start = data.index(b"base.npy") + len(b"base.npy")  # the local header's name, then the deflate stream
    data[start + 20:start + 40] = bytes(range(20))
    (tmp_path / "p.vrig").write_bytes(bytes(data))
    with pytest.raises(ProjectFileError, match="p.vrig"):
        load_project(tmp_path / "p.vrig")  # was zlib.error


def test_project_with_an_unknown_zip_version_is_a_project_error(tmp_path):
    manifest, base = _members(tmp_path)
    data = bytearray(_project(tmp_path, "p.vrig", manifest, base).read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 6:central + 8] = (95).to_bytes(2, "little")  # "needs zip version 9.5"
    (tmp_path / "p.vrig").write_bytes(bytes(data))
    with pytest.raises(ProjectFileError, match="p.vrig"):
        load_project(tmp_path / "p.vrig")  # was NotImplementedError


def test_project_with_deeply_nested_json_is_a_project_error(tmp_path):
    _, base = _members(tmp_path)
    path = _project(tmp_path, "deep.vrig", b"[" * 100_000 + b"]" * 100_000, base)
    with pytest.raises(ProjectFileError, match="deep.vrig"):
        load_project(path)  # was RecursionError


@pytest.mark.parametrize("field", ["meta", "edits"])
def test_project_with_a_wrongly_typed_section_is_a_project_error(tmp_path, field):
    manifest, base = _members(tmp_path)
    manifest[field] = 7
    with pytest.raises(ProjectFileError, match="w.vrig"):
        load_project(_project(tmp_path, "w.vrig", manifest, base))  # was AttributeError


def test_project_with_a_complex_curve_array_is_refused(tmp_path):
    manifest, _ = _members(tmp_path)
    base = np.zeros((10, len(manifest["channels"])), np.complex64)
    with pytest.raises(ProjectFileError, match="c.vrig: the curve array holds complex64"):
        load_project(_project(tmp_path, "c.vrig", manifest, _npy(base)))  # was cast silently, imaginary part lost


@pytest.mark.parametrize("fps", [float("nan"), 1e308, -1])
def test_project_frame_rate_outside_0_to_1000_is_refused(tmp_path, fps):
    manifest, base = _members(tmp_path)
    manifest["fps"] = fps
    with pytest.raises(ProjectFileError, match="f.vrig: frame rate"):
        load_project(_project(tmp_path, "f.vrig", manifest, base))  # NaN and 1e308 were accepted


def test_project_shape_mismatch_names_the_file(tmp_path):
    manifest, _ = _members(tmp_path)
    with pytest.raises(ProjectFileError, match="s.vrig: curve array shape"):
        load_project(_project(tmp_path, "s.vrig", manifest, _npy(np.zeros((10, 3), np.float32))))


def test_project_member_inflating_past_its_stated_size_is_refused(tmp_path):
    manifest, base = _members(tmp_path)
    path = _project(tmp_path, "lie.vrig", manifest, base + bytes(1 << 21))
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02" , data.index(b"PK\x01\x02") + 4)  # base.npy's central entry
    data[central + 24:central + 28] = (100).to_bytes(4, "little")  # claims 100 bytes uncompressed
    path.write_bytes(bytes(data))
    with pytest.raises(ProjectFileError, match="lie.vrig"):
        load_project(path)


@pytest.mark.parametrize("change, problem", [
    ({"num_frames": 1e999}, "malformed"), ({"num_frames": 10**12, "channels": {}}, "does not fit"),
    ({"version": "2"}, "version"), ({"fps": 0}, "frame rate"), ({"meta": 1.5}, None)])
def test_json_curves_with_hostile_fields(tmp_path, change, problem):
    take = Take.rest(5)
    path = write_take(take, tmp_path / "c.json")
    doc = {**json.loads(path.read_text()), **change}
    path.write_text(json.dumps(doc))
    if problem is None:
        assert read_take(path).num_frames == 5  # a wrongly typed meta is ignored (was TypeError)
    else:
        with pytest.raises(TakeFormatError, match=problem):
            read_take(path)  # were OverflowError, MemoryError, TypeError, ValueError


def test_json_curves_beyond_float32_are_clamped_without_overflow(tmp_path):
    path = write_take(Take.rest(3), tmp_path / "big.json")
    doc = json.loads(path.read_text())
    first = next(iter(doc["channels"]))
    doc["channels"][first] = [1e300, 0.0, -1e300]
    path.write_text(json.dumps(doc))
    with np.errstate(over="raise"):
        assert np.all(np.isfinite(read_take(path).base))  # was a float32 overflow (inf, then a warning)


def test_emotion_key_at_nan_time_is_refused(tmp_path, capsys):
    with pytest.raises(ValueError):
        EmotionKey(float("nan"), "happy", 1.0)
    keys = tmp_path / "keys.csv"
    keys.write_text("nan,happy,1\n")
    wav = tmp_path / "a.wav"
    sf.write(wav, 0.3 * np.sin(np.arange(8000) / 5.0), 16000)
    assert main(["generate", str(wav), "-o", str(tmp_path / "o.json"), "--emotion-keys", str(keys), "--quiet"]) == 2
    assert "keys.csv line 1" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--phones", "--emotion-keys"])
def test_deeply_nested_json_side_files_are_clear_errors(tmp_path, capsys, option):
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    wav = tmp_path / "a.wav"
    sf.write(wav, 0.3 * np.sin(np.arange(8000) / 5.0), 16000)
    assert main(["generate", str(wav), "-o", str(tmp_path / "o.json"), option, str(path), "--quiet"]) == 2
    assert "deep.json" in capsys.readouterr().err  # was RecursionError


def test_phone_file_longer_than_the_audio_is_named(tmp_path, capsys):
    phones = tmp_path / "long.tsv"
    phones.write_text("0\t1e300\tAA\n")
    wav = tmp_path / "a.wav"
    sf.write(wav, 0.3 * np.sin(np.arange(8000) / 5.0), 16000)
    assert main(["generate", str(wav), "-o", str(tmp_path / "o.json"), "--phones", str(phones), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "long.tsv runs to 1e+300 s but the audio is only 0.50 s long" in err


def _short_wav(tmp_path):
    wav = tmp_path / "a.wav"
    sf.write(wav, 0.3 * np.sin(np.arange(16000) / 5.0), 16000)
    return wav


def test_inline_transcript_longer_than_a_file_name_is_not_a_traceback(tmp_path, capsys):
    # Path("word word ...").is_file() raised OSError (file name too long) out of generate.
    wav = _short_wav(tmp_path)
    assert main(["generate", str(wav), "-o", str(tmp_path / "o.json"), "--transcript", "word " * 5000,
                 "--quiet"]) == 2
    assert "too long for one line of dialogue" in capsys.readouterr().err


def test_transcript_file_gets_the_size_check_before_alignment(tmp_path, capsys):
    # A 100 kB --transcript file went to the aligner and took about 11 s to fail.
    wav = _short_wav(tmp_path)
    text = tmp_path / "huge.txt"
    text.write_text("hello there " * 9000)
    assert main(["generate", str(wav), "-o", str(tmp_path / "o.json"), "--transcript", str(text), "--quiet"]) == 2
    assert "huge.txt is 105 KB, too long for one line of dialogue" in capsys.readouterr().err


def test_transcript_far_longer_than_the_audio_is_refused_at_once(tmp_path, capsys):
    wav = _short_wav(tmp_path)  # 1 s
    text = tmp_path / "other.txt"
    text.write_text("hello there " * 100)
    assert main(["generate", str(wav), "-o", str(tmp_path / "o.json"), "--transcript", str(text), "--quiet"]) == 2
    assert "more than 1.00 s of speech can hold" in capsys.readouterr().err
