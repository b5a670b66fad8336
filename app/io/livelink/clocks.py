"""Media clocks for the Live Link sender: the system's monotonic clock, or the playhead of audio being played.

Both answer ``now()``: media seconds since playback started. With audio, the sound card decides how fast time
passes (its crystal drifts against the system clock, and output starts only after the device latency), so
frames follow what is actually heard.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

# If the sound card has not asked for samples this long after start (or stops asking), its clock is not used.
AUDIO_START_TIMEOUT_S = 1.5
AUDIO_STALL_S = 0.5


class AudioClockError(Exception):
    """Audio output could not be opened, or stopped delivering: the caller falls back to the system clock."""


class MonotonicClock:
    """Media time from ``time.monotonic()``; precise enough to finish each wait with a short spin."""

    spin_ok = True

    def __init__(self, start_at: float = 0.0) -> None:
        self._t0 = time.monotonic() - start_at

    def now(self) -> float:
        return time.monotonic() - self._t0

    def close(self) -> None:
        pass


class AudioClock:
    """Plays mono audio through ``sounddevice`` and reports the playhead as the media time.

    ``start_s`` is where in the audio playback begins; with ``loop_period_s`` the sound wraps around at that
    period (the take's duration), padded with silence or cut so that it lines up with the looping frames.
    The playhead is anchored at each audio callback: sample counter + (time until that buffer reaches the
    DAC), then extrapolated on the monotonic clock between callbacks.
    """

    spin_ok = False  # the playhead moves in callback-sized steps of sound-card time; spinning gains nothing

    def __init__(
        self,
        samples: np.ndarray,
        sample_rate: int,
        start_s: float = 0.0,
        loop_period_s: float | None = None,
        sounddevice: Any = None,
    ) -> None:
        audio = np.asarray(samples, dtype=np.float32)
        if audio.ndim == 2:
            audio = audio.mean(axis=1)  # playback is mono: the face has one voice
        if audio.ndim != 1 or sample_rate <= 0:
            raise AudioClockError(f"unsupported audio: shape {audio.shape}, rate {sample_rate}")
        if sounddevice is None:
            try:
                import sounddevice  # noqa: PLC0415 - optional, and its import fails without PortAudio
            except Exception as exc:  # ImportError, or OSError when the PortAudio library is missing
                raise AudioClockError(f"sounddevice is not available ({exc})") from exc
        self._sd = sounddevice
        self._lock = threading.Lock()
        # (monotonic time at which the counted sample is heard, sample count)
        self._anchor: tuple[float, int] | None = None
        self._last_callback = 0.0
        self._emitted = 0
        self._last_now = 0.0
        self._stream = None
        self._open(audio, int(sample_rate), start_s, loop_period_s)
        self._started = time.monotonic()

    def _open(self, audio: np.ndarray, rate: int, start_s: float, loop_period_s: float | None) -> None:
        try:
            self._start_stream(audio, rate, start_s, loop_period_s)
            return
        except Exception as first:  # the device may refuse 16 kHz: retry at its own default rate
            try:
                device_rate = int(self._sd.query_devices(kind="output")["default_samplerate"])
            except Exception:
                raise AudioClockError(f"no audio output device ({first})") from first
            if device_rate <= 0 or device_rate == rate:
                raise AudioClockError(f"cannot open audio output ({first})") from first
        from app.io.audio import resample_audio  # noqa: PLC0415 - only this fallback needs scipy

        try:
            self._start_stream(resample_audio(audio, rate, device_rate), device_rate, start_s, loop_period_s)
        except Exception as exc:
            raise AudioClockError(f"cannot open audio output ({exc})") from exc

    def _start_stream(
        self, audio: np.ndarray, rate: int, start_s: float, loop_period_s: float | None
    ) -> None:
        self.sample_rate = rate
        self._audio = audio
        self._start_sample = int(round(start_s * rate))
        # Loop period in samples; may be fractional (take duration times rate).
        self._period = None if loop_period_s is None else loop_period_s * rate
        self._emitted = 0
        self._anchor = None
        stream = self._sd.OutputStream(
            samplerate=rate, channels=1, dtype="float32", callback=self._callback, latency="low"
        )
        try:
            stream.start()
        except Exception:
            stream.close()
            raise
        self._stream = stream

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # Runs on the audio thread: only index arithmetic and a copy, no allocation-heavy work, no blocking.
        clock_now = time.monotonic()
        with self._lock:
            first = self._emitted
            self._emitted += frames
        media = self._start_sample + first + np.arange(frames)
        if self._period is not None:
            media = np.floor(np.mod(media, self._period)).astype(np.int64)
        valid = (media >= 0) & (media < len(self._audio))
        out = np.zeros(frames, dtype=np.float32)
        out[valid] = self._audio[media[valid]]
        outdata[:, 0] = out
        try:
            ahead = float(time_info.outputBufferDacTime) - float(time_info.currentTime)
        except (AttributeError, TypeError, ValueError):
            ahead = -1.0
        if not 0.0 <= ahead < 1.0:  # some host APIs report zeros: assume the nominal latency
            ahead = float(getattr(self._stream, "latency", 0.0) or 0.0)
        with self._lock:
            self._anchor = (clock_now + ahead, first)
            self._last_callback = clock_now

    def now(self) -> float:
        """Seconds of audio heard so far (never decreasing); ``AudioClockError`` if the device stalled."""
        mono = time.monotonic()
        with self._lock:
            anchor, last_callback = self._anchor, self._last_callback
        if anchor is None:
            if mono - self._started > AUDIO_START_TIMEOUT_S:
                raise AudioClockError("the audio device did not start playing")
            return 0.0
        if mono - last_callback > AUDIO_STALL_S:
            raise AudioClockError("the audio device stopped playing")
        anchor_time, anchor_sample = anchor
        playhead = (anchor_sample + (mono - anchor_time) * self.sample_rate) / self.sample_rate
        # Before the first buffer is heard the playhead is negative; jitter between anchors must not go back.
        self._last_now = max(self._last_now, playhead, 0.0)
        return self._last_now

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
            finally:
                stream.close()
