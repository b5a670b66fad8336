"""``vasa-rig listen`` and ``vasa-rig stream`` end to end over loopback (127.0.0.1 only)."""

from __future__ import annotations

import argparse
import socket
import threading

import numpy as np
import pytest

from app.commands import CommandError, listen, stream
from app.io.livelink import LiveLinkReceiver, LiveLinkSender, to_packet_units

WAIT_S = 20.0


def parse(module, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listen_in_thread(count: int) -> tuple[int, threading.Thread, dict[str, object]]:
    """``vasa-rig listen --count COUNT`` on a free port in a thread: (port, thread, result with "rc")."""
    port = free_port()
    result: dict[str, object] = {}
    argv = ["--port", str(port), "--count", str(count), "--seconds", str(WAIT_S)]
    thread = threading.Thread(target=lambda: result.update(rc=listen.run(parse(listen, argv))))
    thread.start()
    return port, thread, result


def test_listen_counts_packets_and_prints_values(capsys):
    port, thread, result = listen_in_thread(40)
    frames = np.zeros((40, 61), np.float32)
    frames[:, 17] = np.linspace(0, 1, 40)  # JawOpen
    frames[:, 52] = 0.1  # HeadYaw, 18 degrees
    # The listener may not be bound yet when the first frames go out: resend until it has seen enough.
    with LiveLinkSender([("127.0.0.1", port)], subject="Probe", fps=200.0, neutral_on_stop=False) as sender:
        while thread.is_alive():
            sender.play(frames)
            sender.wait(WAIT_S)
            thread.join(0.5)
    assert result["rc"] == 0
    out = capsys.readouterr().out
    assert f"listening for Live Link Face packets on 127.0.0.1:{port}" in out
    assert "summary: 40 packets" in out
    assert "subjects: Probe (40)" in out
    assert "lost 0, out of order 0" in out


def test_listen_stops_counting_at_count_under_a_burst(capsys):
    """Packets that arrive after the count is reached, before the receiver has stopped, are not counted."""
    from app.io.livelink import encode_packet

    port, thread, result = listen_in_thread(3)
    burst = [encode_packet("dev", "Burst", k, 0.0, 60, 1, [0.0] * 61) for k in range(200)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        while thread.is_alive():
            for packet in burst:
                s.sendto(packet, ("127.0.0.1", port))
            thread.join(0.2)
    assert result["rc"] == 0
    out = capsys.readouterr().out
    assert "summary: 3 packets" in out and "subjects: Burst (3)" in out


def test_listen_prints_per_second_lines_while_waiting(capsys):
    assert listen.run(parse(listen, ["--port", str(free_port()), "--seconds", "1.3"])) == 0
    out = capsys.readouterr().out
    assert "waiting for packets" in out and "summary: 0 packets" in out


def test_listen_value_line_format():
    from app.io.livelink import decode_packet, encode_packet
    from app.io.livelink.receiver import ReceivedPacket

    values = [0.0] * 61
    values[17], values[0], values[52] = 0.5, 0.25, -0.1
    tally = listen._Tally()
    for frame in (100, 101, 103):
        packet = decode_packet(encode_packet("d", "Face", frame, 0.0, 60, 1, values))
        tally.add(ReceivedPacket(packet, 1.0 + frame / 60, ("127.0.0.1", 5000)))
    line = tally.second_line(1.0, 1.0, "127.0.0.1:11111")
    assert "3.0 pkt/s" in line and "frames 100-103" in line and "subject Face (60/1 fps)" in line
    assert "lost 1" in line and "JawOpen 0.500" in line and "EyeBlinkLeft 0.250" in line
    assert "HeadYaw -0.100 (-18.0 deg)" in line


def test_listen_port_in_use_is_a_command_error():
    with LiveLinkReceiver(0) as busy:
        with pytest.raises(CommandError, match="cannot listen"):
            listen.run(parse(listen, ["--port", str(busy.port), "--seconds", "1"]))
    with pytest.raises(CommandError, match="invalid port"):
        listen.run(parse(listen, ["--port", "0"]))


@pytest.fixture
def project(tmp_path):
    from app.core.project import save_project
    from app.core.rig import load_rig
    from app.core.take import Take

    rig = load_rig()
    base = np.tile(rig.rest, (30, 1)).astype(np.float32)
    base[:, rig.index("CTRL_C_jaw-translateY")] = np.linspace(0, 0.8, 30)
    base[:, rig.index("head_yaw")] = np.linspace(-20, 20, 30)
    take = Take(base, name="probe", rig=rig)
    path = save_project(take, tmp_path / "probe.vrig")
    return path, to_packet_units(rig.to_arkit(take.evaluate()))


def test_stream_project_sends_every_frame_then_neutral(project, capsys):
    path, expected = project
    with LiveLinkReceiver(0) as receiver:
        argv = [str(path), "--target", f"127.0.0.1:{receiver.port}", "--subject", "Hero"]
        rc = stream.run(parse(stream, argv))
        assert rc == 0
        assert receiver.wait_for(31, WAIT_S)
        packets = receiver.packets()
    assert [p.packet.frame_number for p in packets] == list(range(31))
    got = np.array([p.packet.values for p in packets[:30]], dtype=np.float32)
    assert np.array_equal(got, expected)
    assert got[-1, 17] > got[0, 17] and got[0, 52] == pytest.approx(-20 / 180, abs=1e-6)
    assert {p.packet.subject for p in packets} == {"Hero"} and not any(packets[-1].packet.values)
    out = capsys.readouterr().out
    assert "streaming 'probe' (30 frames at 60 fps)" in out and "stopped: 30 frames sent" in out


def test_stream_resamples_to_the_requested_rate(project):
    path, _ = project
    with LiveLinkReceiver(0) as receiver:
        assert stream.run(parse(stream, [str(path), "--port", str(receiver.port), "--fps", "120"])) == 0
        assert receiver.wait_for(60, WAIT_S)
        packets = receiver.packets()
    assert len(packets) == 59 + 1 and packets[0].packet.fps_num == 120  # 29/60 s at 120 fps, then neutral


def test_stream_play_audio_without_sound_card_still_streams(project, monkeypatch, capsys, tmp_path):
    import sys

    from app.io.audio import write_wav

    monkeypatch.setitem(sys.modules, "sounddevice", None)
    path, expected = project
    wav = tmp_path / "line.wav"
    write_wav(wav, (0.1 * np.sin(np.arange(8000) * 0.05)).astype(np.float32))
    from app.core.project import load_project, save_project
    from app.io.audio import load_audio

    take = load_project(path)
    take.audio = load_audio(wav).ref()
    save_project(take, path)
    with LiveLinkReceiver(0) as receiver:
        assert stream.run(parse(stream, [str(path), "--port", str(receiver.port), "--play-audio"])) == 0
        assert receiver.wait_for(31, WAIT_S)
    out = capsys.readouterr().out
    assert "audio playback unavailable" in out and "stopped: 30 frames sent" in out


def test_stream_errors_are_clear(project, tmp_path):
    path, _ = project
    with pytest.raises(CommandError, match="invalid host name"):
        stream.run(parse(stream, [str(path), "--host", "bad host"]))
    with pytest.raises(CommandError, match="not a number"):
        stream.run(parse(stream, [str(path), "--target", "localhost:x"]))
    with pytest.raises(CommandError, match="not found"):
        stream.run(parse(stream, [str(tmp_path / "missing.vrig")]))
    with pytest.raises(CommandError, match="outside the take"):
        stream.run(parse(stream, [str(path), "--start", "5"]))
    with pytest.raises(CommandError, match="out of range"):
        stream.run(parse(stream, [str(path), "--fps", "0"]))


def test_stream_audio_animates_it_first(tmp_path, capsys):
    from pathlib import Path

    clip = Path(__file__).parents[1] / "engines" / "data" / "asterisk-all-circuits-busy-now.wav"
    port = free_port()
    with LiveLinkReceiver(port) as receiver:
        assert stream.run(parse(stream, [str(clip), "--port", str(port), "--fps", "120"])) == 0
        receiver.wait_for(100, timeout=WAIT_S)
        packets = receiver.packets()
    assert "animating asterisk-all-circuits-busy-now.wav" in capsys.readouterr().out
    jaw = [p.packet.value("JawOpen") for p in packets]
    assert len(packets) >= 100 and max(jaw) > 0.1  # the mouth moves with the speech
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CommandError, match="notes.txt, line 1: expected 174"):
        stream.run(parse(stream, [str(tmp_path / "notes.txt")]))


@pytest.mark.parametrize("suffix", [".fbx", ".csv", ".txt", ".json"])
def test_stream_takes_every_take_format_the_exporter_writes(project, suffix, capsys):
    """A take exported to any format streams like the project it came from (no audio: a note, then no sound)."""
    from app.io.export import ExportOptions, read_take, write_take

    path, expected = project
    out = write_take(read_take(path), path.with_suffix(suffix), ExportOptions(curves="faceboard", key_tolerance=None))
    with LiveLinkReceiver(0) as receiver:
        assert stream.run(parse(stream, [str(out), "--port", str(receiver.port), "--play-audio"])) == 0
        assert receiver.wait_for(31, WAIT_S)
        packets = receiver.packets()
    got = np.array([p.packet.values for p in packets[:30]], dtype=np.float32)
    assert got.shape == expected.shape
    # The jaw survives every format (the Live Link CSV holds ARKit values, the others the controls), the head yaw
    # every format but the EmoFace text, which has the 174 controls only.
    cols = [17] if suffix == ".txt" else [17, 52]
    np.testing.assert_allclose(got[:, cols], expected[:, cols], atol=0.02)
    text = capsys.readouterr().out
    assert "the take has no audio; streaming without sound" in text and "stopped: 30 frames sent" in text


def test_stream_refuses_a_broken_take_file_by_name(tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_text("Timecode,BlendShapeCount\nnot,a take\n")
    with pytest.raises(CommandError, match="broken.csv"):
        stream.run(parse(stream, [str(bad)]))
