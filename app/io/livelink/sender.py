"""UDP sender that plays frames as Live Link Face packets at a steady frame rate (no Qt; its own thread).

Pacing: frame k of a run is due at media time k / fps, where media time comes from the monotonic clock (or
from the audio playhead when sound plays along), so errors never accumulate: a late frame does not push the
next one. Network errors at run time are reported through ``on_error`` and ``status``; they never reach the
caller's thread.
"""

from __future__ import annotations

import math
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from app.io.livelink.clocks import AudioClock, AudioClockError, MonotonicClock
from app.io.livelink.codec import (
    DEFAULT_PORT,
    VALUE_COUNT,
    LiveLinkError,
    encode_packet,
    fps_fraction,
    neutral_values,
)

DEFAULT_SUBJECT = "VasaRig"
RESOLVE_TIMEOUT_S = 2.0
SPIN_S = 0.0005  # each wait ends in a busy loop this long: sleeps overshoot by ~0.1 ms on a quiet machine
DEFAULT_MAX_LAG_S = 0.25  # further behind than this (machine stalled), skip ahead instead of sending a burst
_LABEL = r"[A-Za-z0-9_][A-Za-z0-9_-]{0,62}"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")

ErrorCallback = Callable[[str], None]
FrameCallback = Callable[[int], None]


class LiveLinkTargetError(LiveLinkError):
    """A destination that is not valid or cannot be resolved."""


def default_device_id() -> str:
    """A UUID-shaped id, stable for this machine (36 characters, like the iPhone app sends)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"vasa-rig.livelink.{socket.gethostname()}"))


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    family: int
    address: tuple  # the socket address packets go to

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_target(text: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"[::1]:11111"`` for IPv6) -> (host, port); a bare host gets the default port."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if not sep or (rest and not rest.startswith(":")):
            raise LiveLinkTargetError(f"invalid target {text!r}: use HOST:PORT or [IPv6]:PORT")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not port_text:
        return host, DEFAULT_PORT
    try:
        return host, int(port_text)
    except ValueError:
        raise LiveLinkTargetError(f"invalid port in target {text!r}: {port_text!r} is not a number") from None


def _check_host_syntax(host: object) -> str:
    if not isinstance(host, str) or not host.strip():
        raise LiveLinkTargetError(f"invalid host {host!r}: expected a host name or IP address")
    host = host.strip()
    if ":" in host:  # IPv6 literal
        try:
            socket.inet_pton(socket.AF_INET6, host)
        except OSError:
            raise LiveLinkTargetError(f"invalid IPv6 address {host!r}") from None
    elif not _HOSTNAME.match(host):
        raise LiveLinkTargetError(f"invalid host name {host!r}")
    return host


def resolve_targets(targets: Sequence[tuple[str, int]], timeout: float = RESOLVE_TIMEOUT_S) -> list[Target]:
    """Check and resolve destinations, all in parallel, waiting at most ``timeout`` seconds in total."""
    if not targets:
        raise LiveLinkTargetError("no destination given")
    checked = []
    for item in targets:
        try:
            host, port = item
        except (TypeError, ValueError):
            raise LiveLinkTargetError(f"invalid target {item!r}: expected (host, port)") from None
        host = _check_host_syntax(host)
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise LiveLinkTargetError(f"invalid port {port!r} for {host}: use 1-65535")
        checked.append((host, port))

    results: dict[int, object] = {}

    def lookup(i: int, host: str, port: int) -> None:
        try:
            results[i] = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except (OSError, UnicodeError) as exc:
            results[i] = exc

    # getaddrinfo has no timeout of its own: run it in daemon threads and stop waiting at the deadline.
    threads = [
        threading.Thread(target=lookup, args=(i, host, port), daemon=True)
        for i, (host, port) in enumerate(checked)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))

    resolved = []
    for i, (host, port) in enumerate(checked):
        result = results.get(i)
        if result is None:
            raise LiveLinkTargetError(f"could not resolve host {host!r} within {timeout:g} s")
        if isinstance(result, Exception):
            reason = getattr(result, "strerror", None) or str(result)
            raise LiveLinkTargetError(f"unknown host {host!r}: {reason}")
        infos = [info for info in result if info[0] in (socket.AF_INET, socket.AF_INET6)]
        if not infos:
            raise LiveLinkTargetError(f"host {host!r} has no IPv4 or IPv6 address")
        infos.sort(key=lambda info: info[0] != socket.AF_INET)  # prefer IPv4, what UE listens on by default
        family, _, _, _, address = infos[0]
        if address[0] in ("0.0.0.0", "::"):
            raise LiveLinkTargetError(f"{host!r} is a listening address, not a destination: use 127.0.0.1")
        resolved.append(Target(host, port, family, tuple(address)))
    return resolved


@dataclass(frozen=True)
class SenderStatus:
    state: str  # "idle", "playing", "finished", "stopped"
    frame: int | None  # take frame index last sent
    frames_sent: int  # frames (not datagrams) sent since construction
    frames_skipped: int  # frames skipped to catch up after a stall
    send_errors: int  # failed datagrams
    last_error: str | None
    audio_sync: bool  # True while the audio playhead drives the frames
    audio_message: str | None  # why audio sync is off, when it was asked for


@dataclass
class _Run:
    frames: np.ndarray
    start_frame: int
    loop: bool
    audio: tuple[np.ndarray, int] | None
    stop: threading.Event
    neutral_on_exit: bool = True


class LiveLinkSender:
    """Streams (N, 61) frames in packet units to one or more UDP destinations.

    ``on_error(message)`` and ``on_frame(index)`` are called from the sender thread: keep them short (a
    GUI should forward them to its own thread). ``frame_offset`` is added to the take frame index to form
    the packet's frame number.
    """

    def __init__(
        self,
        targets: Sequence[tuple[str, int]],
        subject: str = DEFAULT_SUBJECT,
        device_id: str | None = None,
        fps: float = 60.0,
        frame_offset: int = 0,
        on_error: ErrorCallback | None = None,
        on_frame: FrameCallback | None = None,
        neutral_on_stop: bool = True,
        max_lag_s: float | None = DEFAULT_MAX_LAG_S,
        record_timing: bool = False,
        resolve_timeout: float = RESOLVE_TIMEOUT_S,
    ) -> None:
        if not isinstance(subject, str) or not subject:
            raise LiveLinkError("the subject name must be a non-empty string")
        try:
            self.fps_num, self.fps_den = fps_fraction(float(fps))
        except (TypeError, ValueError) as exc:
            raise LiveLinkError(f"invalid frame rate {fps!r}: {exc}") from None
        self.targets = resolve_targets(targets, resolve_timeout)
        self.subject = subject
        self.device_id = device_id or default_device_id()
        self.fps = float(fps)
        self.frame_offset = int(frame_offset)
        self.on_error = on_error
        self.on_frame = on_frame
        self.neutral_on_stop = neutral_on_stop
        self.max_lag_s = max_lag_s
        # With record_timing, (frame index, due media time, media time the send began) per frame: benchmarks.
        self.timing: list[tuple[int, float, float]] | None = [] if record_timing else None
        self._sockets: dict[int, socket.socket] = {}
        for family in {t.family for t in self.targets}:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)  # a full send buffer drops a frame rather than stalling the pacing
            if family == socket.AF_INET:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)  # allow x.x.x.255 destinations
            self._sockets[family] = sock
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._run: _Run | None = None
        self._state = "idle"
        self._frame: int | None = None
        self._frames_sent = 0
        self._frames_skipped = 0
        self._send_errors = 0
        self._last_error: str | None = None
        self._target_errors: dict[Target, str] = {}
        self._audio_sync = False
        self._audio_message: str | None = None
        self._closed = False

    # -- public control --------------------------------------------------------------------------------------

    def play(
        self,
        frames: np.ndarray,
        start_frame: int = 0,
        loop: bool = False,
        audio: tuple[np.ndarray, int] | None = None,
    ) -> None:
        """Start streaming from ``start_frame`` (stops a playback in progress first). Returns at once."""
        data = np.asarray(frames, dtype=np.float32)
        if data.ndim != 2 or data.shape[1] != VALUE_COUNT or len(data) == 0:
            raise ValueError(f"frames must be an array of shape (N>0, {VALUE_COUNT}), got {data.shape}")
        if not np.isfinite(data).all():
            raise ValueError("frames contain NaN or infinite values")
        if not 0 <= int(start_frame) < len(data):
            raise ValueError(f"start frame {start_frame} is outside the take (0..{len(data) - 1})")
        if self._closed:
            raise LiveLinkError("this sender has been closed")
        if audio is not None:
            samples, rate = audio
            audio = (np.asarray(samples, dtype=np.float32), int(rate))
        with self._lock:
            self._halt(send_neutral=False)
            run = _Run(np.ascontiguousarray(data), int(start_frame), bool(loop), audio, threading.Event())
            self._start(run)

    def stop(self) -> None:
        """Stop streaming; sends the neutral pose once (unless ``neutral_on_stop`` is False)."""
        with self._lock:
            was_running = self._halt(send_neutral=self.neutral_on_stop)
            if was_running:
                self._state = "stopped"

    def seek(self, frame: int) -> None:
        """Jump to ``frame``: playback continues from there; when not playing, that frame is sent once."""
        with self._lock:
            run = self._run
            if run is None:
                raise LiveLinkError("nothing to seek in: call play() first")
            frame = int(np.clip(frame, 0, len(run.frames) - 1))
            if self.is_playing:
                self._halt(send_neutral=False)
                self._start(_Run(run.frames, frame, run.loop, run.audio, threading.Event()))
            else:
                self._run = _Run(run.frames, frame, run.loop, run.audio, run.stop)
                self._send_frame(run.frames[frame], frame)

    @property
    def is_playing(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def status(self) -> SenderStatus:
        # No lock: callbacks on the sender thread may ask for it while stop() waits for that thread.
        playing = self.is_playing
        return SenderStatus(
            state="playing" if playing else self._state,
            frame=self._frame,
            frames_sent=self._frames_sent,
            frames_skipped=self._frames_skipped,
            send_errors=self._send_errors,
            last_error=self._last_error,
            audio_sync=self._audio_sync and playing,
            audio_message=self._audio_message,
        )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a non-looping playback ends (following seeks); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            thread = self._thread
            if thread is None:
                return True
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return False
            if self._thread is thread:
                return True

    def send_neutral(self) -> None:
        """Stop playback and send the neutral pose once, so the character in the editor relaxes."""
        with self._lock:
            self._halt(send_neutral=False)
            self._state = "stopped"
            self._send_frame(neutral_values(), (-1 if self._frame is None else self._frame) + 1, neutral=True)

    def send(self, values, index: int) -> None:
        """Send one frame now, outside any playback (live mode): ``values`` (61,) in packet units, ``index`` the
        frame number before ``frame_offset``. Send failures are counted and reported as during playback."""
        data = np.asarray(values, dtype=np.float32)
        if data.shape != (VALUE_COUNT,) or not np.isfinite(data).all():
            raise ValueError(f"a frame must be {VALUE_COUNT} finite values, got shape {data.shape}")
        if self._closed:
            raise LiveLinkError("this sender has been closed")
        with self._lock:
            self._send_frame(data, int(index))

    def close(self) -> None:
        self.stop()
        self._closed = True
        for sock in self._sockets.values():
            sock.close()

    def __enter__(self) -> LiveLinkSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------------------------

    def _start(self, run: _Run) -> None:
        run.neutral_on_exit = self.neutral_on_stop
        self._run = run
        self._state = "playing"
        self._thread = threading.Thread(target=self._play, args=(run,), name="livelink-sender", daemon=True)
        self._thread.start()

    def _halt(self, send_neutral: bool) -> bool:
        """Stop the running thread (if any); returns whether one was running."""
        run, thread = self._run, self._thread
        if run is None or thread is None or not thread.is_alive():
            return False
        run.neutral_on_exit = send_neutral
        run.stop.set()
        if thread is not threading.current_thread():
            thread.join(timeout=5.0)  # wakes from its Event.wait at once; audio shutdown takes a few ms
        return True

    def _report(self, message: str) -> None:
        if self.on_error is not None:
            try:
                self.on_error(message)
            except Exception:  # a faulty callback must not end the stream
                pass

    def _open_clock(self, run: _Run, start_s: float):
        self._audio_sync = False
        if run.audio is None:
            self._audio_message = None
            return MonotonicClock()
        samples, rate = run.audio
        period = len(run.frames) / self.fps if run.loop else None
        try:
            clock = AudioClock(samples, rate, start_s=start_s, loop_period_s=period)
        except AudioClockError as exc:
            self._audio_message = (
                f"audio playback unavailable ({exc}); streaming without sound on the system clock"
            )
            self._report(self._audio_message)
            return MonotonicClock()
        self._audio_sync = True
        self._audio_message = None
        return clock

    def _play(self, run: _Run) -> None:
        frames, count = run.frames, len(run.frames)
        clock = self._open_clock(run, run.start_frame / self.fps)
        k = 0  # frames since the start of this run
        last_index = run.start_frame
        try:
            while not run.stop.is_set():
                due = k / self.fps
                now = self._wait_until(clock, due, run.stop)
                if now is None:
                    break
                if isinstance(now, MonotonicClock):  # the audio clock failed: continue on the system clock
                    self._close_clock(clock)
                    clock, now = now, now.now()
                if self.max_lag_s is not None and now - due > self.max_lag_s:
                    skip = math.floor(now * self.fps) - k
                    k += skip
                    self._frames_skipped += skip
                    due = k / self.fps
                index = run.start_frame + k
                if run.loop:
                    index %= count
                elif index >= count:
                    break
                if self.timing is not None:
                    self.timing.append((index, due, clock.now()))
                self._send_frame(frames[index], index)
                last_index = index
                if self.on_frame is not None:
                    try:
                        self.on_frame(index)
                    except Exception:
                        pass
                k += 1
        except Exception as exc:  # never let the thread die silently
            self._last_error = f"streaming stopped: {exc}"
            self._report(self._last_error)
        finally:
            self._close_clock(clock)
            self._audio_sync = False
            if run.neutral_on_exit:
                self._send_frame(neutral_values(), last_index + 1, neutral=True)
            if not run.stop.is_set():
                self._state = "finished"

    @staticmethod
    def _close_clock(clock) -> None:
        try:
            clock.close()
        except Exception:  # a device that vanished mid-play cannot be closed cleanly; nothing else to do
            pass

    def _wait_until(self, clock, due: float, stop: threading.Event):
        """Sleep until media time ``due``: the media time, or None if stopped, or a new clock on failure."""
        while True:
            try:
                remaining = due - clock.now()
            except AudioClockError as exc:
                self._audio_sync = False
                self._audio_message = f"audio sync lost ({exc}); continuing on the system clock"
                self._report(self._audio_message)
                return MonotonicClock(start_at=due)
            if remaining <= 0:
                return due - remaining
            if not clock.spin_ok or remaining > SPIN_S:
                if stop.wait(remaining - SPIN_S if clock.spin_ok else min(remaining, 0.005)):
                    return None
            # else: spin; the remaining fraction of a millisecond is below the sleep overshoot

    def _send_datagram(self, sock: socket.socket, data: bytes, address: tuple) -> None:
        sock.sendto(data, address)

    def _send_frame(self, values, index: int, neutral: bool = False) -> None:
        packet = encode_packet(
            self.device_id, self.subject, index + self.frame_offset, 0.0, self.fps_num, self.fps_den, values
        )
        for target in self.targets:
            try:
                self._send_datagram(self._sockets[target.family], packet, target.address)
            except OSError as exc:
                self._send_errors += 1
                if isinstance(exc, BlockingIOError):
                    message = f"send to {target} dropped a frame (send buffer full)"
                else:
                    message = f"cannot send to {target}: {exc.strerror or exc}"
                self._last_error = message
                # Report each distinct failure once per target, not sixty times a second.
                if self._target_errors.get(target) != message:
                    self._target_errors[target] = message
                    self._report(message)
            else:
                if target in self._target_errors:
                    del self._target_errors[target]
                    self._report(f"sending to {target} works again")
        if not neutral:
            self._frames_sent += 1
            self._frame = index
