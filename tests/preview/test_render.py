"""Offscreen rendering: images change where the face moves; contact sheets and the render command write files."""

import argparse

import numpy as np
import pytest

from app.commands import CommandError
from app.preview.render import FaceRenderer, contact_sheet, render_frames

SIZE = (200, 224)


@pytest.fixture(scope="module")
def renderer(model):
    with FaceRenderer(model, SIZE, "front") as r:
        yield r


def _frame(model, **values):
    v = model.rest_values()
    for k, x in values.items():
        v[model.index(k)] = x
    return v


def test_mouth_area_changes_between_closed_and_open_frames(renderer, model):
    closed = renderer.render(model.rest_values()).astype(int)
    opened = renderer.render(_frame(model, **{"CTRL_C_jaw-translateY": 0.7})).astype(int)
    assert closed.shape == (SIZE[1], SIZE[0], 3)
    assert closed.std() > 10                                     # a real picture, not a blank frame
    changed = np.abs(opened - closed).sum(axis=2) > 40
    rows = np.flatnonzero(changed.any(axis=1))
    assert changed.sum() > 300
    # the change sits in the lower part of the face; the forehead and eyes stay the same
    assert rows.min() > SIZE[1] * 0.45
    again = renderer.render(model.rest_values()).astype(int)
    assert np.abs(again - closed).max() <= 2                     # re-posing in place leaves no trace


def test_render_frames_returns_one_image_per_frame(model):
    frames = np.stack([model.rest_values(), _frame(model, **{"CTRL_L_eye_blink-translateY": 1.0})])
    images = render_frames(frames, (120, 136), "three-quarter", model=model)
    assert images.shape == (2, 136, 120, 3) and images.dtype == np.uint8
    assert np.abs(images[0].astype(int) - images[1]).sum() > 0


def test_contact_sheet_writes_a_labelled_grid(tmp_path, model):
    poses = [("neutral", model.rest_values()), ("open", _frame(model, **{"CTRL_C_jaw-translateY": 0.6})),
             ("smile", _frame(model, **{"CTRL_L_mouth_cornerPull-translateY": 1.0}))]
    out = tmp_path / "sheet.png"
    image = contact_sheet(poses, out, columns=2, cell_size=(100, 110), model=model)
    assert out.is_file() and out.stat().st_size > 1000
    assert image.shape[1] == 200 and image.shape[0] == 2 * (110 + 26)


def _project(tmp_path, model, audio=False):
    from app.core.project import save_project
    from app.core.take import Take

    frames = np.zeros((8, 180), np.float32)
    frames[:, model.index("CTRL_C_jaw-translateY")] = np.linspace(0, 0.6, 8)
    ref = None
    if audio:
        import soundfile as sf

        from app.io.audio import load_audio

        wav = tmp_path / "line.wav"
        sf.write(wav, (0.1 * np.sin(np.linspace(0, 400, 16000 // 6))).astype(np.float32), 16000)
        ref = load_audio(wav).ref()
    return save_project(Take(frames, audio=ref), tmp_path / "take.vrig")


def _run(argv):
    from app.commands import render

    parser = argparse.ArgumentParser()
    render.add_arguments(parser)
    return render.run(parser.parse_args(argv))


def test_render_command_writes_a_png(tmp_path, model):
    project = _project(tmp_path, model)
    out = tmp_path / "frame.png"
    assert _run([str(project), "-o", str(out), "--frame", "7", "--size", "160x180", "--view", "side"]) == 0
    from PIL import Image

    assert Image.open(out).size == (160, 180)
    with pytest.raises(CommandError, match="outside the take"):
        _run([str(project), "-o", str(out), "--frame", "99"])
    with pytest.raises(CommandError, match=".png or .mp4"):
        _run([str(project), "-o", str(tmp_path / "x.gif")])
    with pytest.raises(CommandError, match="not found"):
        _run([str(tmp_path / "missing.vrig"), "-o", str(out)])


def test_render_command_writes_a_movie_with_sound(tmp_path, model):
    pytest.importorskip("imageio_ffmpeg")
    project = _project(tmp_path, model, audio=True)
    out = tmp_path / "take.mp4"
    assert _run([str(project), "-o", str(out), "--size", "160x176"]) == 0
    data = out.read_bytes()
    assert data[4:8] == b"ftyp" and len(data) > 2000
    assert b"mp4a" in data                                        # the audio track went in
