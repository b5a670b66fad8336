"""generate_take / regenerate and `vasa-rig generate` end to end on a real short recording."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from app.commands import CommandError
from app.commands import generate as gen_cmd
from app.core.cancel import Cancelled
from app.core.project import load_project
from app.core.take import EmotionKey, Lock
from app.engines.generate import (
    GenerateError,
    GenerationSettings,
    engine_names,
    generate_take,
    regenerate,
)

CLIP = Path("/usr/share/asterisk/sounds/en/agent-pass.wav")
TEXT = "Please enter your password followed by the pound key."
needs_clip = pytest.mark.skipif(not CLIP.is_file(), reason="asterisk-core-sounds-en-wav is not installed")


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    gen_cmd.add_arguments(parser)
    return gen_cmd.run(parser.parse_args(list(argv)))


@pytest.fixture(scope="module")
def clip():
    if not CLIP.is_file():
        pytest.skip("asterisk-core-sounds-en-wav is not installed")
    from app.io.audio import load_audio

    return load_audio(CLIP)


@pytest.fixture(scope="module")
def phones_file(clip, tmp_path_factory):
    """The clip's forced alignment, saved once so later runs can skip PocketSphinx via --phones."""
    from app.engines.phonetics.phone_files import write_phone_file
    from app.engines.phonetics.pocketsphinx_aligner import align_audio

    path = tmp_path_factory.mktemp("phones") / "agent-pass.tsv"
    write_phone_file(align_audio(clip.samples, clip.sample_rate, TEXT), path)
    return path


def test_generate_take_with_transcript(clip):
    seen = []
    take = generate_take(clip, GenerationSettings.of(transcript=TEXT, seed=3,
                                                emotion_keys=(EmotionKey(0, "happy", 0.7),)), progress=seen.append)
    assert take.base.shape == (int(clip.duration * 60) + 1, 180)
    assert take.audio is not None and take.audio.sha256 == clip.sha256
    assert take.meta.engine == "procedural" and take.meta.settings.performance.seed == 3
    assert take.meta.settings.inputs.transcript == TEXT
    assert take.meta.settings.performance.emotion_keys[0].emotion == "happy"
    assert take.meta.provenance.phones_source == "forced" and take.meta.provenance.phones > 20
    assert seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:], strict=False))


def test_neural_engine_follows_the_transcripts_phones(clip, phones_file):
    """With a transcript (or phone file) the shipped model also gets the aligned phones: the lips meet on the
    clip's p/b/m, where on audio alone a voice it has not heard can leave them apart."""
    from app.engines import metrics as M
    from app.engines.phonetics.phone_files import read_phone_file

    alignment = read_phone_file(phones_file)
    seen = []
    heard = generate_take(clip, GenerationSettings.of(engine="neural", seed=3))
    told = generate_take(clip, GenerationSettings.of(engine="neural", seed=3, transcript=TEXT), progress=seen.append)
    # No transcript: the mouth-shape recogniser reads the phones from the audio, and the take says how sure it was.
    assert heard.meta.provenance.phones_source == "recognised" and 0 <= heard.meta.provenance.unsure_fraction <= 1
    assert told.meta.provenance.phones_source == "forced" and told.meta.provenance.phones > 20
    assert seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:], strict=False))
    assert np.abs(told.base - heard.base).max() > 0.05
    figures = M.evaluate(told.evaluate(), alignment.phones, clip.samples, clip.sample_rate)
    assert figures.bilabials >= 3 and figures.closed == figures.bilabials
    # A phone file does the same without PocketSphinx.
    filed = generate_take(clip, GenerationSettings.of(engine="neural", seed=3, phones_file=str(phones_file)))
    assert filed.meta.settings.inputs.phones_file == str(phones_file)
    np.testing.assert_allclose(filed.base, told.base, atol=1e-5)


def test_unknown_engine_and_cancel(clip):
    assert "procedural" in engine_names()
    with pytest.raises(GenerateError, match="unknown engine 'nonesuch'"):
        generate_take(clip, GenerationSettings.of(engine="nonesuch"))
    with pytest.raises(Cancelled):
        generate_take(clip, GenerationSettings.of(transcript=TEXT), cancel=lambda: True)


def test_bad_settings_are_refused_before_any_engine_runs(phones_file):
    from app.core.settings import SettingsError

    with pytest.raises(SettingsError, match="eye contact"):
        GenerationSettings.of(phones_file=str(phones_file), eye_contact=3.0)


def test_regenerate_keeps_locks_and_updates_meta(clip, phones_file):
    take = generate_take(clip, GenerationSettings.of(phones_file=str(phones_file), seed=1))
    take.set_locks([Lock(20, 60)])
    held = take.base[20:60].copy()
    regenerate(take, GenerationSettings.of(phones_file=str(phones_file), seed=2,
                                      emotion_keys=(EmotionKey(0, "angry", 1.0),)), clip)
    np.testing.assert_array_equal(take.base[20:60], held)
    p = take.meta.settings.performance
    assert p.seed == 2 and p.emotion_keys[0].emotion == "angry"
    brow = take.rig.index("CTRL_L_brow_down-translateY")
    assert take.base[100:, brow].mean() > 0.4


@needs_clip
def test_cli_writes_a_project_with_transcript_file(tmp_path, clip):
    text = tmp_path / "words.txt"
    text.write_text(TEXT + "\n")
    out = tmp_path / "take.vrig"
    assert cli(str(CLIP), "-o", str(out), "--transcript", str(text), "--emotion", "sad:0.6", "--gaze", "10,-5",
               "--seed", "7", "--quiet") == 0
    take = load_project(out)
    assert take.num_frames == int(clip.duration * 60) + 1
    p = take.meta.settings.performance
    assert p.seed == 7 and p.gaze == (10.0, -5.0) and take.meta.settings.inputs.transcript == TEXT
    assert take.meta.settings.performance.emotion_keys[0] == EmotionKey(0.0, "sad", 0.6)


@needs_clip
@pytest.mark.parametrize("suffix", [".json", ".csv", ".txt"])
def test_cli_export_formats(tmp_path, phones_file, suffix):
    out = tmp_path / f"take{suffix}"
    assert cli(str(CLIP), "-o", str(out), "--phones", str(phones_file), "--fps", "30", "--quiet") == 0
    text = out.read_text()
    if suffix == ".json":
        doc = json.loads(text)
        assert doc["fps"] == 30 and doc["num_frames"] == pytest.approx(3.29 * 30, abs=2)
    elif suffix == ".csv":
        assert text.startswith("Timecode,BlendShapeCount,EyeBlinkLeft")
    else:
        rows = text.strip().splitlines()
        assert len(rows[0].split(",")) == 174 and len(rows) == pytest.approx(3.29 * 30, abs=2)


@needs_clip
def test_cli_emotion_keys_files(tmp_path, phones_file):
    csv_keys = tmp_path / "keys.csv"
    csv_keys.write_text("time,emotion,intensity\n0,neutral,0\n2.0,happy,0.9\n")
    json_keys = tmp_path / "keys.json"
    json_keys.write_text(json.dumps({"keys": [{"time": 0, "emotion": "surprised", "intensity": 1}]}))
    for keys in (csv_keys, json_keys):
        out = tmp_path / f"{keys.stem}{keys.suffix}.vrig"
        assert cli(str(CLIP), "-o", str(out), "--phones", str(phones_file), "--emotion-keys", str(keys),
                   "--quiet") == 0
    keyed = load_project(tmp_path / "keys.csv.vrig").meta.settings.performance
    assert [k.emotion for k in keyed.emotion_keys] == ["neutral", "happy"]
    bad = tmp_path / "bad.csv"
    bad.write_text("0,elated,0.5\n")
    with pytest.raises(CommandError, match="line 1: unknown emotion 'elated'"):
        cli(str(CLIP), "-o", str(tmp_path / "x.vrig"), "--emotion-keys", str(bad))


@needs_clip
def test_cli_clear_errors(tmp_path):
    out = str(tmp_path / "x.vrig")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not a recording")
    with pytest.raises(CommandError, match="cannot read notes.wav as audio"):
        cli(str(not_audio), "-o", out)
    with pytest.raises(CommandError, match="transcript file not found"):
        cli(str(CLIP), "-o", out, "--transcript", str(tmp_path / "missing.txt"))
    with pytest.raises(CommandError, match="unknown emotion 'joyful'"):
        cli(str(CLIP), "-o", out, "--emotion", "joyful:0.5")
    with pytest.raises(CommandError, match="YAW,PITCH"):
        cli(str(CLIP), "-o", out, "--gaze", "left")
    with pytest.raises(CommandError, match="must end in one of"):
        cli(str(CLIP), "-o", str(tmp_path / "x.mp4"))
    with pytest.raises(CommandError, match="does not match the speech"):
        cli(str(CLIP), "-o", out, "--transcript", "The weather in Paris is lovely today and tomorrow as well")


@needs_clip
def test_neural_take_survives_a_transcript_that_does_not_fit(tmp_path, capsys):
    out = tmp_path / "n.vrig"
    assert cli(str(CLIP), "-o", str(out), "--engine", "neural", "--seed", "3", "--transcript",
               "The weather in Paris is lovely today and tomorrow as well") == 0
    take = load_project(out)
    assert "does not match the speech" in take.meta.provenance.phones_error and take.meta.provenance.phones is None
    assert "the transcript was not used" in capsys.readouterr().err
    plain = tmp_path / "p.vrig"
    assert cli(str(CLIP), "-o", str(plain), "--engine", "neural", "--seed", "3", "--quiet") == 0
    np.testing.assert_allclose(take.base, load_project(plain).base, atol=1e-5)  # the audio alone, as without one


def test_progress_bar_lines():
    import io

    stream = io.StringIO()
    bar = gen_cmd.ProgressBar(stream)
    for f in (0.0, 0.1, 0.3, 0.6, 0.99, 1.0):
        bar.update(f)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("0%") and lines[-1].endswith("100%") and len(lines) == 5


def test_bench_sections_for_outputs_print_figures(capsys):
    from app.__main__ import main

    assert main(["bench", "export", "livelink"]) == 0
    out = capsys.readouterr().out
    assert "60 s take: FBX MetaHuman curves" in out and "MB" in out
    assert "frames sent 600, received 600, lost 0" in out
    assert main(["bench", "nonsense"]) == 2


@needs_clip
def test_cli_neural_guidance(tmp_path):
    plain, guided = tmp_path / "plain.vrig", tmp_path / "guided.vrig"
    assert cli(str(CLIP), "-o", str(plain), "--engine", "neural", "--seed", "3", "--quiet") == 0
    assert cli(str(CLIP), "-o", str(guided), "--engine", "neural", "--seed", "3", "--guidance", "1.5",
               "--quiet") == 0
    a, b = load_project(plain), load_project(guided)
    assert a.meta.provenance.guidance == 1.0 and b.meta.provenance.guidance == 1.5
    assert np.isfinite(b.base).all() and not np.allclose(a.base, b.base)
    # Guidance pushes away from the unconditional motion: the mouth moves more.
    mouth = [i for i, name in enumerate(a.rig.channel_names) if "mouth" in name.lower() or "jaw" in name.lower()]
    assert b.base[:, mouth].std(0).mean() > a.base[:, mouth].std(0).mean()
    zero = tmp_path / "zero.vrig"  # 0 is allowed (no conditioning on the first step) and must not become the default
    assert cli(str(CLIP), "-o", str(zero), "--engine", "neural", "--seed", "3", "--guidance", "0", "--quiet") == 0
    assert load_project(zero).meta.provenance.guidance == 0.0
    with pytest.raises(CommandError, match="guidance must be within 0..5"):
        cli(str(CLIP), "-o", str(tmp_path / "x.vrig"), "--engine", "neural", "--guidance", "9")
