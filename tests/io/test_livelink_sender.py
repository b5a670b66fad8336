"""Live Link sender and receiver over loopback (127.0.0.1 only), without any sound card."""

from __future__ import annotations

import errno
import sys
import threading
import time
import types

import numpy as np
import pytest

from app.io.livelink import (
    LiveLinkError,
    LiveLinkReceiver,
    LiveLinkReceiverError,
    LiveLinkSender,
    LiveLinkTargetError,
    default_device_id,
    parse_target,
    resolve_targets,
)
from app.io.livelink.clocks import AudioClock
from app.io.livelink.receiver import summarize_frames

WAIT_S = 20.0  # generous upper bound for arrival on a busy machine; tests never assert on timing


def ramp_frames(count: int) -> np.ndarray:
    """Distinct values per frame and channel, all in packet range."""
    k = np.arange(count, dtype=np.float64)[:, None]
    c = np.arange(61, dtype=np.float64)[None, :]
    frames = ((k * 61 + c) % 997) / 997.0
    frames[:, 52:] = frames[:, 52:] * 2 - 1
    return frames.astype(np.float32)


def numbers(receiver: LiveLinkReceiver) -> list[int]:
    return [p.packet.frame_number for p in receiver.packets()]


def assert_complete(receiver: LiveLinkReceiver, frames: np.ndarray, first: int = 0, offset: int = 0) -> None:
    packets = receiver.packets()
    count = len(frames) - first
    got = [p.packet.frame_number for p in packets[:count]]
    assert got == list(range(first + offset, len(frames) + offset))
    for p in packets[:count]:
        values = np.asarray(p.packet.values, dtype=np.float32)
        assert np.array_equal(values, frames[p.packet.frame_number - offset])


def print_pacing(label: str, receiver: LiveLinkReceiver, fps: float) -> None:
    arrivals = np.array([p.arrival for p in receiver.packets()])
    if len(arrivals) > 2:
        ms = np.diff(arrivals) * 1000
        print(f"\n{label}: {len(arrivals)} packets, interval p50 {np.percentile(ms, 50):.3f} ms "
              f"p99 {np.percentile(ms, 99):.3f} ms (ideal {1000 / fps:.3f} ms)")  # fmt: skip


@pytest.fixture
def receiver():
    with LiveLinkReceiver(0) as r:
        yield r


def test_loopback_60fps_every_frame_in_order(receiver):
    frames = ramp_frames(150)
    errors: list[str] = []
    sender = LiveLinkSender([("127.0.0.1", receiver.port)], subject="Hero", fps=60.0, on_error=errors.append)
    with sender:
        sender.play(frames)
        assert sender.is_playing
        assert sender.wait(WAIT_S)
        assert receiver.wait_for(len(frames) + 1, WAIT_S)
        status = sender.status
    assert_complete(receiver, frames)
    packets = receiver.packets()
    assert len(packets) == len(frames) + 1
    first = packets[0].packet
    assert (first.subject, first.fps_num, first.fps_den, first.sub_frame) == ("Hero", 60, 1, 0.0)
    assert first.device_id == default_device_id() and len(first.device_id) == 36
    neutral = packets[-1].packet  # playback ended: the face returns to rest
    assert neutral.frame_number == len(frames) and not any(neutral.values)
    assert status.state == "finished" and status.frames_sent == len(frames) and status.send_errors == 0
    assert errors == []
    print_pacing("60 fps", receiver, 60.0)


@pytest.mark.slow
def test_loopback_60fps_few_hundred_frames(receiver):
    frames = ramp_frames(400)
    with LiveLinkSender([("localhost", receiver.port)], record_timing=True) as sender:
        sender.play(frames)
        assert sender.wait(WAIT_S + 10)
        late = np.array([(sent - due) * 1000 for _, due, sent in sender.timing])
    assert receiver.wait_for(len(frames) + 1, WAIT_S)
    assert_complete(receiver, frames)
    print_pacing("60 fps, 400 frames", receiver, 60.0)
    print(f"send lateness p50 {np.percentile(late, 50):.3f} ms p99 {np.percentile(late, 99):.3f} ms")


def test_loopback_fast_rate_with_offset_and_start(receiver):
    frames = ramp_frames(500)
    with LiveLinkSender([("127.0.0.1", receiver.port)], fps=1000.0, frame_offset=10_000,
                        max_lag_s=None) as sender:  # fmt: skip
        sender.play(frames, start_frame=100)
        assert sender.wait(WAIT_S)
    assert receiver.wait_for(401, WAIT_S)
    assert_complete(receiver, frames, first=100, offset=10_000)
    assert receiver.packets()[0].packet.fps_num == 1000
    stats = summarize_frames(numbers(receiver)[:400])
    assert (stats.lost, stats.out_of_order, stats.duplicates) == (0, 0, 0)
    print_pacing("1000 fps", receiver, 1000.0)


def test_several_targets_each_get_every_frame():
    frames = ramp_frames(60)
    with LiveLinkReceiver(0) as a, LiveLinkReceiver(0) as b:
        with LiveLinkSender([("127.0.0.1", a.port), ("localhost", b.port)], fps=500.0, max_lag_s=None) as s:
            s.play(frames)
            assert s.wait(WAIT_S)
        for r in (a, b):
            assert r.wait_for(61, WAIT_S)
            assert_complete(r, frames)


def test_loop_wraps_and_stop_sends_neutral(receiver):
    frames = ramp_frames(20)
    sender = LiveLinkSender([("127.0.0.1", receiver.port)], fps=500.0, max_lag_s=None)
    sender.play(frames, loop=True)
    assert receiver.wait_for(55, WAIT_S)
    assert sender.is_playing
    sender.stop()
    assert not sender.is_playing and sender.status.state == "stopped"
    time.sleep(0.2)  # let the last datagram land
    got = numbers(receiver)
    played, neutral = got[:-1], receiver.packets()[-1].packet
    assert played == [i % 20 for i in range(len(played))]
    assert not any(neutral.values) and neutral.frame_number == played[-1] + 1
    sender.close()


def test_send_neutral_after_a_pause_without_neutral(receiver):
    frames = ramp_frames(20)
    sender = LiveLinkSender([("127.0.0.1", receiver.port)], fps=500.0, max_lag_s=None, neutral_on_stop=False)
    sender.play(frames, loop=True)
    assert receiver.wait_for(30, WAIT_S)
    sender.stop()  # a pause: the pose is held, nothing neutral is sent
    time.sleep(0.2)
    assert any(receiver.packets()[-1].packet.values)
    sender.send_neutral()  # the stream is stopped for good: the face relaxes
    time.sleep(0.2)
    last = receiver.packets()[-1].packet
    assert not any(last.values) and last.frame_number == numbers(receiver)[-2] + 1
    sender.close()


def test_neutral_can_be_disabled(receiver):
    frames = ramp_frames(10)
    with LiveLinkSender([("127.0.0.1", receiver.port)], fps=500.0, neutral_on_stop=False) as sender:
        sender.play(frames)
        assert sender.wait(WAIT_S)
    assert receiver.wait_for(10, WAIT_S)
    time.sleep(0.2)
    assert numbers(receiver) == list(range(10))


def test_seek_while_playing_and_when_stopped(receiver):
    frames = ramp_frames(1000)
    sender = LiveLinkSender([("127.0.0.1", receiver.port)], fps=100.0, neutral_on_stop=False, max_lag_s=None)
    sender.play(frames)
    assert receiver.wait_for(5, WAIT_S)
    sender.seek(950)
    assert sender.wait(WAIT_S)
    assert receiver.wait_for(55, WAIT_S)  # at least the 5 before the seek and the 50 after it
    time.sleep(0.2)
    got = numbers(receiver)
    cut = got.index(950)
    assert got[:cut] == list(range(cut)) and got[cut:] == list(range(950, 1000))
    sender.seek(3)  # not playing: that frame goes out once, e.g. for scrubbing
    assert receiver.wait_for(len(got) + 1, WAIT_S)
    last = receiver.packets()[-1].packet
    assert last.frame_number == 3 and np.array_equal(np.asarray(last.values, np.float32), frames[3])
    assert not sender.is_playing
    sender.close()


def test_on_frame_reports_each_index_in_order(receiver):
    seen: list[int] = []
    with LiveLinkSender([("127.0.0.1", receiver.port)], fps=400.0, on_frame=seen.append) as sender:
        sender.play(ramp_frames(40), start_frame=5)
        assert sender.wait(WAIT_S)
    assert seen == list(range(5, 40))


def test_callbacks_may_read_status_while_stopping(receiver):
    seen: list[str] = []
    holder: dict[str, LiveLinkSender] = {}

    def on_frame(index: int) -> None:
        seen.append(holder["sender"].status.state)  # from the sender thread, possibly during stop()

    sender = LiveLinkSender([("127.0.0.1", receiver.port)], fps=1000.0, on_frame=on_frame)
    holder["sender"] = sender
    sender.play(ramp_frames(50), loop=True)
    assert receiver.wait_for(20, WAIT_S)
    sender.stop()
    assert not sender.is_playing and sender.status.state == "stopped"
    assert seen and set(seen) == {"playing"}
    sender.close()


def test_play_validates_frames(receiver):
    with LiveLinkSender([("127.0.0.1", receiver.port)]) as sender:
        with pytest.raises(ValueError, match="shape"):
            sender.play(np.zeros((10, 52)))
        with pytest.raises(ValueError, match="shape"):
            sender.play(np.zeros((0, 61)))
        bad = np.zeros((10, 61))
        bad[3, 3] = np.inf
        with pytest.raises(ValueError, match="infinite"):
            sender.play(bad)
        with pytest.raises(ValueError, match="outside"):
            sender.play(np.zeros((10, 61)), start_frame=10)
        with pytest.raises(LiveLinkError, match="play"):
            sender.seek(2)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (("", 11111), "invalid host"),
        (("bad host!", 11111), "invalid host name"),
        (("127.0.0.1", 0), "invalid port"),
        (("127.0.0.1", 70000), "invalid port"),
        (("127.0.0.1", "11111"), "invalid port"),
        (("0.0.0.0", 11111), "listening address"),
        (("::1::2", 11111), "invalid IPv6"),
        (("127.0.0.1",), "expected \\(host, port\\)"),
    ],
)
def test_invalid_targets_raise_clear_errors(target, message):
    with pytest.raises(LiveLinkTargetError, match=message):
        LiveLinkSender([target])


def test_unresolvable_host_raises_without_hanging():
    # ".invalid" never resolves (RFC 2606); with no DNS the lookup times out instead: both are clear errors.
    started = time.monotonic()
    with pytest.raises(LiveLinkTargetError, match="no-such-host.invalid"):
        resolve_targets([("no-such-host.invalid", 11111)], timeout=1.0)
    print(f"\nunresolvable host rejected after {time.monotonic() - started:.2f} s")


def test_no_targets_and_bad_settings():
    with pytest.raises(LiveLinkTargetError, match="no destination"):
        LiveLinkSender([])
    with pytest.raises(LiveLinkError, match="frame rate"):
        LiveLinkSender([("127.0.0.1", 11111)], fps=0)
    with pytest.raises(LiveLinkError, match="subject"):
        LiveLinkSender([("127.0.0.1", 11111)], subject="")


def test_parse_target():
    assert parse_target("127.0.0.1:12000") == ("127.0.0.1", 12000)
    assert parse_target("localhost") == ("localhost", 11111)
    assert parse_target("[::1]:9000") == ("::1", 9000)
    with pytest.raises(LiveLinkTargetError, match="not a number"):
        parse_target("localhost:abc")


def test_send_errors_are_reported_not_raised(receiver):
    frames = ramp_frames(60)
    errors: list[str] = []
    sender = LiveLinkSender([("127.0.0.1", receiver.port)], fps=600.0, on_error=errors.append, max_lag_s=None)
    real_send = sender._send_datagram
    failures = {"left": 10}

    def flaky_send(sock, data, address):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise OSError(errno.ENETUNREACH, "Network is unreachable")
        real_send(sock, data, address)

    sender._send_datagram = flaky_send
    sender.play(frames)
    assert sender.wait(WAIT_S)
    status = sender.status
    assert status.send_errors == 10 and "Network is unreachable" in status.last_error
    assert status.frames_sent == 60 and status.state == "finished"
    # One message when it breaks, one when it recovers: not one per frame.
    assert len(errors) == 2 and "unreachable" in errors[0] and "works again" in errors[1]
    assert receiver.wait_for(51, WAIT_S)
    assert numbers(receiver)[:50] == list(range(10, 60))
    sender.close()


def test_faulty_callback_does_not_stop_the_stream(receiver):
    def explode(_):
        raise RuntimeError("callback bug")

    with LiveLinkSender([("127.0.0.1", receiver.port)], fps=500.0, on_frame=explode) as sender:
        sender.play(ramp_frames(30))
        assert sender.wait(WAIT_S)
    assert receiver.wait_for(31, WAIT_S)


def test_receiver_counts_invalid_datagrams_and_port_conflicts(receiver):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"\x05hello", ("127.0.0.1", receiver.port))
    deadline = time.monotonic() + WAIT_S
    while receiver.invalid == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert receiver.invalid == 1 and "version 5" in receiver.last_error
    with pytest.raises(LiveLinkReceiverError, match=f"cannot listen on 127.0.0.1:{receiver.port}"):
        LiveLinkReceiver(receiver.port)


def test_frame_stats_lost_reordered_duplicates_jumps():
    stats = summarize_frames([0, 1, 2, 5, 3, 6, 6, 7, 5000, 5001, 0, 1])
    assert stats.lost == 1  # frame 4
    assert stats.out_of_order == 1  # frame 3 arrived after 5
    assert stats.duplicates == 1  # 6 twice
    assert stats.jumps == 2  # seek forward, then a loop restart
    assert stats.received == 12


# -- audio ----------------------------------------------------------------------------------------------


def test_without_sounddevice_audio_sync_is_off_and_playback_continues(receiver, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails, as without PortAudio
    messages: list[str] = []
    frames = ramp_frames(40)
    with LiveLinkSender([("127.0.0.1", receiver.port)], fps=400.0, on_error=messages.append) as sender:
        sender.play(frames, audio=(np.zeros(16000, np.float32), 16000))
        assert sender.wait(WAIT_S)
        status = sender.status
    assert receiver.wait_for(41, WAIT_S)
    assert_complete(receiver, frames)
    assert not status.audio_sync and "audio playback unavailable" in status.audio_message
    assert len(messages) == 1 and "without sound" in messages[0]


class _PortAudioError(Exception):
    pass


def _no_device_module() -> types.ModuleType:
    module = types.ModuleType("sounddevice")
    module.PortAudioError = _PortAudioError

    def refuse(*args, **kwargs):
        raise _PortAudioError("Error querying device -1")

    module.OutputStream = refuse
    module.query_devices = refuse
    return module


def test_without_audio_device_audio_sync_is_off(receiver, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", _no_device_module())
    messages: list[str] = []
    frames = ramp_frames(30)
    with LiveLinkSender([("127.0.0.1", receiver.port)], fps=300.0, on_error=messages.append) as sender:
        sender.play(frames, audio=(np.zeros(8000, np.float32), 16000), loop=False)
        assert sender.wait(WAIT_S)
    assert receiver.wait_for(31, WAIT_S)
    assert_complete(receiver, frames)
    assert len(messages) == 1 and "Error querying device -1" in messages[0]


class _FakeTime:
    def __init__(self, now: float) -> None:
        self.currentTime = now
        self.outputBufferDacTime = now


class FakeOutputStream:
    """A sound card that consumes samples ``speed`` times faster than real time, from its own thread."""

    speed = 2.0
    block = 256
    instances: list[FakeOutputStream] = []

    def __init__(self, samplerate, channels, dtype, callback, latency=None):
        self.rate, self.callback, self.latency = samplerate, callback, 0.0
        self.played: list[np.ndarray] = []
        self.log: list[tuple[float, int]] = []  # (monotonic time, samples consumed so far)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        FakeOutputStream.instances.append(self)

    def _run(self):
        consumed, t0 = 0, time.monotonic()
        while not self._stop.is_set():
            out = np.zeros((self.block, 1), np.float32)
            now = time.monotonic()
            self.callback(out, self.block, _FakeTime(now), None)
            self.played.append(out[:, 0].copy())
            consumed += self.block
            self.log.append((now, consumed - self.block))
            self._stop.wait(max(0.0, t0 + consumed / (self.rate * self.speed) - time.monotonic()))

    def start(self):
        self._thread.start()

    def abort(self):
        self._stop.set()
        self._thread.join(2.0)

    def close(self):
        pass


def test_audio_clock_is_master(receiver, monkeypatch):
    module = types.ModuleType("sounddevice")
    module.OutputStream = FakeOutputStream
    monkeypatch.setitem(sys.modules, "sounddevice", module)
    FakeOutputStream.instances.clear()
    rate, fps = 16000, 60.0
    audio = np.sin(np.arange(rate * 2) * 0.01).astype(np.float32)
    frames = ramp_frames(90)
    messages: list[str] = []
    with LiveLinkSender([("127.0.0.1", receiver.port)], fps=fps, record_timing=True, max_lag_s=None,
                        on_error=messages.append) as sender:  # fmt: skip
        sender.play(frames, audio=(audio, rate))
        assert sender.wait(WAIT_S)
        timing = list(sender.timing)
    assert receiver.wait_for(91, WAIT_S)
    assert_complete(receiver, frames)
    assert messages == []  # no fallback to the system clock
    stream = FakeOutputStream.instances[0]
    # Where was the (fast) sound card when the last frame went out? Its playhead, not the wall clock, paces.
    sent_at = receiver.packets()[89].arrival
    log = np.array(stream.log)
    audio_pos = np.interp(sent_at, log[:, 0], log[:, 1]) / rate
    wall = sent_at - receiver.packets()[0].arrival
    print(f"\nlast frame due at {89 / fps:.3f} s of audio; audio position {audio_pos:.3f} s, "
          f"wall {wall:.3f} s")
    assert abs(audio_pos - 89 / fps) < 0.1
    assert [index for index, _, _ in timing] == list(range(90))
    played = np.concatenate(stream.played)
    assert np.array_equal(played[: len(audio)][:rate], audio[:rate])  # the sound itself went out unchanged


def test_audio_clock_wraps_sound_with_the_loop():
    module = types.ModuleType("sounddevice")

    class Silent:
        def __init__(self, samplerate, channels, dtype, callback, latency=None):
            self.latency = 0.0

        def start(self):
            pass

        def abort(self):
            pass

        def close(self):
            pass

    module.OutputStream = Silent
    audio = np.arange(1, 101, dtype=np.float32)  # 100 samples at 100 Hz = 1 s
    clock = AudioClock(audio, 100, start_s=0.5, loop_period_s=0.8, sounddevice=module)
    out = np.zeros((60, 1), np.float32)
    clock._callback(out, 60, _FakeTime(time.monotonic()), None)
    # Starts at sample 50, wraps at the 0.8 s period (sample 80) back to 0; later audio is not heard.
    expected = np.concatenate([audio[50:80], audio[0:30]])
    assert np.array_equal(out[:, 0], expected)
    clock.close()
