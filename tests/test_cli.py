import subprocess
import sys

import numpy as np
import soundfile as sf

from app.__main__ import build_parser, main
from app.core.project import save_project
from app.core.take import Take


def test_help_lists_only_real_commands(capsys):
    parser = build_parser()
    try:
        parser.parse_args(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "info" in out
    from app.commands import load_commands

    for module in load_commands():
        assert callable(module.run) and module.NAME in out


def test_console_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "app", "--help"], capture_output=True, text=True, check=True)
    assert "usage: vasa-rig" in out.stdout


def test_info_on_audio_project_and_errors(tmp_path, capsys):
    wav = tmp_path / "a.wav"
    sf.write(wav, 0.3 * np.sin(np.arange(24000) / 10.0), 48000)
    assert main(["info", str(wav)]) == 0
    assert "0.500 s, 48000 Hz, 1 channel" in capsys.readouterr().out
    proj = save_project(Take.rest(30, name="hello"), tmp_path / "p.vrig")
    assert main(["info", str(proj)]) == 0
    assert "take 'hello', 30 frames" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "missing.wav")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "bad.vrig").write_bytes(b"junk")
    assert main(["info", str(tmp_path / "bad.vrig")]) == 2
    assert "not a valid archive" in capsys.readouterr().err
    assert main(["info", "--rig"]) == 0
    assert "CTRL_C_jaw-translateY" in capsys.readouterr().out


def test_info_and_render_open_every_take_format(tmp_path, capsys):
    from app.io.export import ExportOptions, write_take

    rest = Take.rest(12, name="formats")
    base = np.array(rest.base)
    base[:, rest.rig.index("CTRL_C_jaw-translateY")] = 0.6
    take = Take(base, name="formats", rig=rest.rig)
    proj = save_project(take, tmp_path / "formats.vrig")
    paths = [proj] + [write_take(take, tmp_path / f"formats{s}", ExportOptions(curves="faceboard"))
                      for s in (".fbx", ".csv", ".txt", ".json")]
    for path in paths:
        assert main(["info", str(path)]) == 0, path
        out = capsys.readouterr().out
        assert "12 frames at 60 fps" in out
        if path.suffix != ".vrig":
            assert f"curves imported from {path.name}" in out
    png = tmp_path / "f.png"
    assert main(["render", str(paths[2]), "-o", str(png), "--frame", "5", "--size", "160x180"]) == 0
    assert png.stat().st_size > 1000
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(1600), 16000)
    assert main(["render", str(wav), "-o", str(png)]) == 2
    assert "is not a take" in capsys.readouterr().err
