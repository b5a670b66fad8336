"""Live mode: the streaming engine, audio inputs, a LiveSession driven by a file into a UDP receiver on 127.0.0.1,
recording into a project, and the `vasa-rig live` command."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.core.timebase import frames_for_duration

DATA = Path(__file__).parent / "data"
SPEECH = DATA / "asterisk-agent-pass.wav"


@pytest.fixture(scope="module")
def engine():
    from app.engines.streaming import StreamingEngine

    return StreamingEngine(seed=3)


@pytest.fixture(scope="module")
def speech():
    from app.io.audio import load_audio

    return load_audio(SPEECH).samples


def _stream(engine, samples, block: int, change_at: int | None = None, controls=None):
    engine.reset()
    parts = []
    for i in range(0, len(samples), block):
        if change_at is not None and i >= change_at and controls is not None:
            engine.controls, controls = controls, None
        parts.append(engine.push(samples[i:i + block]))
    parts.append(engine.finish())
    return np.concatenate(parts)


def test_streaming_engine_makes_every_frame_whatever_the_block_size(engine, speech):
    a = _stream(engine, speech, 160)
    b = _stream(engine, speech, 997)
    assert a.shape == (frames_for_duration(len(speech) / 16000), 180)
    assert np.isfinite(a).all()
    np.testing.assert_allclose(a, b, atol=1e-5)  # the hops, not the blocks, decide the result
    assert np.ptp(a, axis=0).max() > 0.2


def test_streaming_engine_follows_the_speech(engine, speech):
    from app.core.rig import load_rig

    rig = load_rig()
    jaw = _stream(engine, speech, 160)[:, rig.index("CTRL_C_jaw-translateY")]
    silence = _stream(engine, np.zeros_like(speech), 160)[:, rig.index("CTRL_C_jaw-translateY")]
    assert np.ptp(jaw) > 3 * max(np.ptp(silence), 0.01)  # the jaw moves with speech, rests in silence


def test_controls_change_while_live(engine, speech):
    from app.engines.streaming import LiveControls

    half = len(speech) // 2
    plain = _stream(engine, speech, 160)
    happy = _stream(engine, speech, 160, change_at=half, controls=LiveControls(emotion="happy", intensity=1.0))
    first = frames_for_duration(half / 16000) - 6  # frames made before the change reached the engine
    np.testing.assert_allclose(happy[:first], plain[:first], atol=1e-5)
    assert np.abs(happy[first + 12:] - plain[first + 12:]).max() > 0.05
    with pytest.raises(ValueError, match="intensity"):
        LiveControls(intensity=2.0)
    with pytest.raises(ValueError, match="unknown emotion"):
        LiveControls(emotion="smug")


def test_bad_engine_settings_are_refused():
    from app.engines.streaming import StreamingEngine, StreamingError

    with pytest.raises(StreamingError, match="hop"):
        StreamingEngine(hop=0)


def test_resampler_is_continuous_across_blocks():
    from app.io.audio_input import LinearResampler

    t = np.arange(48000) / 48000
    x = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    whole = LinearResampler(48000)(x)
    r = LinearResampler(48000)
    parts = np.concatenate([r(x[i:i + 441]) for i in range(0, len(x), 441)])
    n = min(len(whole), len(parts))
    assert abs(n - 16000) <= 2
    np.testing.assert_allclose(parts[:n], whole[:n], atol=1e-6)
    delay = (LinearResampler.TAPS - 1) / 2 / 48000  # the anti-alias filter's
    expect = np.sin(2 * np.pi * 440 * (np.arange(n) / 16000 - delay))
    assert np.abs(parts[100:n] - expect[100:]).max() < 0.01
    # A tone above the 8 kHz limit of 16 kHz audio is filtered out, not folded into the speech band.
    high = np.sin(2 * np.pi * 12000 * t).astype(np.float32)
    assert np.sqrt(np.mean(LinearResampler(48000)(high)[100:] ** 2)) < 0.01


def test_file_input_paces_in_real_time():
    import time

    from app.io.audio_input import FileInput

    source = FileInput(SPEECH)
    got, ended = [], threading.Event()
    t0 = time.monotonic()
    source.start(lambda block, arrival: got.append((len(block), arrival)), lambda msg: ended.set())
    assert ended.wait(source.duration + 5)
    wall = time.monotonic() - t0
    assert sum(n for n, _ in got) == len(source.samples)
    assert wall >= source.duration * 0.95  # not faster than speech
    assert all(n == 80 for n, _ in got[:-1])  # 5 ms blocks


def test_empty_or_unreadable_file_input_says_so(tmp_path):
    from app.io.audio_input import AudioInputError, FileInput

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(AudioInputError):
        FileInput(bad)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioInputError):
        FileInput(empty)


def test_no_input_device_gives_a_clear_error(monkeypatch):
    import app.io.audio_input as ai
    from app.engines.live import LiveError, LiveSession

    monkeypatch.setattr(ai, "input_devices", lambda: [])
    with pytest.raises(ai.AudioInputError, match="no audio input device"):
        ai.DeviceInput().start(lambda b, t: None)
    session = LiveSession(ai.DeviceInput())
    with pytest.raises(LiveError, match="no audio input device"):
        session.start()
    assert session.stats().state == "failed"


def test_live_session_to_a_local_receiver_with_recording(tmp_path):
    from app.core.project import load_project
    from app.engines.live import LiveSession
    from app.io.audio_input import FileInput
    from app.io.livelink import LiveLinkReceiver

    receiver = LiveLinkReceiver(0)
    frames = []
    try:
        source = FileInput(SPEECH)
        session = LiveSession(source, targets=[("127.0.0.1", receiver.port)], subject="Face",
                              record=tmp_path / "rec" / "live.vrig", keep_latencies=True,
                              on_frame=lambda i, curves: frames.append(i))
        session.start()
        assert session.wait(source.duration + 20)
        stats = session.stop()
        expected = frames_for_duration(source.duration)
        assert receiver.wait_for(expected, 5.0)
        packets = receiver.packets()
    finally:
        receiver.stop()
    assert stats.frames_sent == expected and stats.frames_dropped == 0
    assert frames == list(range(expected))
    numbers = [p.packet.frame_number for p in packets]
    assert numbers[:expected] == list(range(expected))  # then the neutral pose on stop
    assert {p.packet.subject for p in packets} == {"Face"}
    assert len(stats.latency_all) == expected and min(stats.latency_all) > 0
    jaw = np.array([p.packet.value("JawOpen") for p in packets[:expected]])
    assert jaw.max() > 0.2  # the jaw opens on the speech
    take = load_project(stats.record_path)
    assert take.num_frames == expected and take.audio is not None
    assert abs(take.audio.duration - source.duration) < 0.01
    assert take.meta.engine == "neural" and take.meta.provenance.live_input is not None
    recorded, rate = sf.read(take.audio.path, dtype="float32")
    assert rate == 16000 and len(recorded) == len(source.samples)


def test_unreachable_target_and_failing_input_keep_the_session_and_recording(tmp_path):
    from app.core.project import load_project
    from app.engines.live import LiveSession

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    class Vanishing:
        """An input device that delivers a second of audio, then disconnects."""

        name = "USB mic"
        overruns = 2

        def __init__(self):
            from app.io.audio import load_audio

            self.samples = load_audio(SPEECH).samples[:16000]

        def start(self, on_block, on_end):
            def run():
                for i in range(0, len(self.samples), 160):
                    on_block(self.samples[i:i + 160], __import__("time").monotonic())
                on_end("the input device USB mic stopped (disconnected or failed)")

            threading.Thread(target=run, daemon=True).start()

        def stop(self):
            pass

    messages = []
    session = LiveSession(Vanishing(), targets=[("127.0.0.1", port)], record=tmp_path / "kept.vrig",
                          on_message=messages.append)
    session.start()
    assert session.wait(20)
    stats = session.stop()
    assert stats.state == "stopped" and stats.frames_sent == frames_for_duration(1.0) == stats.frames_expected
    assert any("USB mic stopped" in m for m in messages)
    assert stats.input_overruns == 2
    take = load_project(stats.record_path)
    assert take.num_frames == frames_for_duration(1.0)


def test_recording_to_a_folder_that_cannot_be_made_is_refused(tmp_path):
    from app.engines.live import LiveError, LiveSession
    from app.io.audio_input import FileInput

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LiveError, match="cannot record"):
        LiveSession(FileInput(SPEECH), record=blocker / "sub" / "live.vrig")


def test_live_command_records_and_reports(tmp_path, capsys):
    from app.__main__ import main
    from app.core.project import load_project

    out = tmp_path / "cli.vrig"
    assert main(["live", "--file", str(SPEECH), "--no-send", "--record", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "latency p50" in text and "0 dropped" in text and f"into {out}" in text
    assert load_project(out).num_frames == frames_for_duration(sf.info(str(SPEECH)).duration)


def test_live_command_bad_input_is_one_clear_line(tmp_path, capsys):
    from app.__main__ import main

    assert main(["live", "--file", str(tmp_path / "missing.wav"), "--no-send"]) == 2
    assert main(["live", "--file", str(SPEECH), "--no-send", "--intensity", "3"]) == 2
    assert main(["live", "--file", str(SPEECH), "--target", "nohost:notaport"]) == 2
    err = capsys.readouterr().err
    assert "intensity must be within 0..1" in err
    assert main(["live", "--list-devices"]) == 0


def test_blinks_and_head_motion_go_on_in_silence(engine):
    from app.core.rig import load_rig
    from app.engines import metrics as M

    rig = load_rig()
    quiet = (np.random.default_rng(0).standard_normal(16000 * 30) * 1e-4).astype(np.float32)
    out = _stream(engine, quiet, 80)
    per_minute = M.blink_count(out) / (len(out) / 60 / 60)
    assert 8 <= per_minute <= 30  # natural blinking, not a staring face
    head = [i for i, n in enumerate(rig.channel_names) if rig.region(n) == "head"]
    assert out[:, head].std(axis=0).mean() > 0.2  # the head keeps moving (degrees)
    mouth = [i for i, n in enumerate(rig.channel_names) if rig.region(n) in ("mouth", "jaw")]
    assert out[:, mouth].std(axis=0).mean() < 0.02  # and the mouth rests


class _FakeSoundDevice:
    """Enough of sounddevice for DeviceInput: one 48 kHz input device that refuses 16 kHz (or every rate), whose
    stream delivers a few blocks (one flagged as an overrun) and then stops as if unplugged."""

    def __init__(self, rates=(48000.0,)):
        self.rates = rates
        self.default = type("D", (), {"device": (0, 1)})()
        self.opened_at = None

    def query_devices(self, device=None, kind=None):
        info = {"name": "Desk mic", "max_input_channels": 2, "default_samplerate": 48000.0}
        return [info, {"name": "Speakers", "max_input_channels": 0}] if device is None and kind is None else info

    def check_input_settings(self, device=None, channels=1, samplerate=16000, dtype="float32"):
        if samplerate not in self.rates:
            raise ValueError(f"Invalid sample rate {samplerate}")

    def InputStream(self, device, channels, samplerate, dtype, blocksize, callback, latency,  # noqa: N802
                    finished_callback):
        fake = self
        fake.opened_at = samplerate

        class Stream:
            active = True

            def start(self):
                def run():
                    flags = type("S", (), {"input_overflow": False})()
                    over = type("S", (), {"input_overflow": True})()
                    t = np.arange(blocksize * 20) / samplerate
                    x = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)[:, None]
                    for i in range(20):
                        callback(x[i * blocksize:(i + 1) * blocksize], blocksize, None, over if i == 5 else flags)
                    self.active = False
                    finished_callback()

                threading.Thread(target=run, daemon=True).start()

            def stop(self):
                pass

            def close(self):
                pass

        return Stream()


def test_device_input_resamples_counts_overruns_and_reports_a_vanished_device(monkeypatch):
    import app.io.audio_input as ai

    fake = _FakeSoundDevice()
    monkeypatch.setattr(ai, "_sounddevice", lambda: fake)
    assert [d.name for d in ai.input_devices()] == ["Desk mic"]
    got, ended = [], threading.Event()
    source = ai.DeviceInput(0)
    source.start(lambda block, arrival: got.append(block), lambda msg: (got.append(msg), ended.set()))
    assert ended.wait(5)
    assert fake.opened_at == 48000.0  # 16 kHz refused: opened at the device's own rate
    audio = np.concatenate([b for b in got if isinstance(b, np.ndarray)])
    assert abs(len(audio) - 20 * 240 / 3) <= 40  # 48 kHz blocks of 5 ms, resampled to 16 kHz
    assert source.overruns == 1
    assert "Desk mic stopped" in got[-1]
    source.stop()


def test_device_refusing_every_rate_is_one_clear_error(monkeypatch):
    import app.io.audio_input as ai

    monkeypatch.setattr(ai, "_sounddevice", lambda: _FakeSoundDevice(rates=()))
    with pytest.raises(ai.AudioInputError, match="refuses mono float input at 16 kHz and at its own rate"):
        ai.DeviceInput(0).start(lambda b, t: None)


def test_incremental_encoders_give_the_frames_of_whole_window_encoding(engine, speech):
    """The live engine keeps what its encoders computed and encodes only what new audio changed; the frames it
    sends are those of encoding every hop's whole window."""
    engine.incremental = False
    try:
        whole = _stream(engine, speech, 160)
    finally:
        engine.incremental = True
    kept = _stream(engine, speech, 160)
    np.testing.assert_allclose(kept, whole, atol=2e-4)


def test_live_head_stays_near_its_rest_pose(engine, speech):
    """With a join every two frames the model's head wanders (tens of degrees over a minute); what is sent keeps the
    head's motion with the speech but not the wander."""
    from app.core.rig import load_rig

    rig = load_rig()
    curves = _stream(engine, np.tile(speech, 6), 160)
    for name in ("head_yaw", "head_pitch", "head_roll"):
        head = curves[:, rig.index(name)] - rig.rest[rig.index(name)]
        assert abs(head.mean()) < 2.0 and head.std() < 3.0, name  # degrees
        assert head.std() > 0.2, name  # still moving


def test_live_head_keeps_the_pose_an_emotion_holds(engine, speech):
    """Sad holds the head lower offline (about 4 degrees of pitch); the live head keeps that, not the rest pose."""
    from app.core.rig import load_rig
    from app.engines.streaming import LiveControls

    pitch = load_rig().index("head_pitch")
    sad_offset = float(engine._emotion_heads[2, list(engine._head_cols).index(pitch)])
    assert sad_offset > 2.0  # the model's own sad pose, measured when the engine starts
    looped = np.tile(speech, 3)
    neutral = _stream(engine, looped, 160)[:, pitch].mean()
    engine.controls = LiveControls(emotion="sad", intensity=1.0)
    try:
        sad = _stream(engine, looped, 160)[:, pitch].mean()
    finally:
        engine.controls = LiveControls()
    assert sad - neutral > 0.6 * sad_offset
