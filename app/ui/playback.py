"""Playback: a media clock drives the playhead; the sound card's clock when audio plays, else the system clock.

J/K/L shuttle: L plays forward (again: faster), J backwards, K stops. Audio is heard only at normal forward
speed; other speeds and machines without an audio device play silently (the message says so once).
Scrubbing plays a short grain of audio around the playhead so lip sync can be checked by ear.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from app.core.timebase import SAMPLE_RATE
from app.io.livelink.clocks import AudioClock, AudioClockError, MonotonicClock
from app.ui.timeline import TimeContext

TICK_MS = 8  # well under a frame at 60 fps; the playhead is computed from the clock, so ticks never accumulate
SCRUB_GRAIN_S = 0.06
SHUTTLE_SPEEDS = (1.0, 2.0, 4.0)


class Playback(QObject):
    state_changed = Signal(str)  # "playing" | "paused" | "stopped"
    message = Signal(str)

    def __init__(self, context: TimeContext, parent: QObject | None = None, *, audio_enabled: bool = True):
        super().__init__(parent)
        self.context = context
        self.audio_enabled = audio_enabled
        self.samples: np.ndarray | None = None
        self.sample_rate = SAMPLE_RATE
        self.speed = 1.0
        self.state = "stopped"
        self.audible = False
        self._clock = None
        self._origin_frame = 0
        self._stop_frame = 0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._warned_no_audio = False
        self._last_grain = 0.0
        self._scrub_stream = None
        context.scrub_finished.connect(self._user_jump)
        context.frame_changed.connect(self._on_frame_changed)

    def set_audio(self, samples: np.ndarray | None, sample_rate: int) -> None:
        self.stop()
        self.samples = None if samples is None else np.asarray(samples, np.float32)
        self.sample_rate = int(sample_rate)

    @property
    def is_playing(self) -> bool:
        return self.state == "playing"

    # --- transport ----------------------------------------------------------------------------------------------
    def play(self, speed: float = 1.0) -> None:
        c = self.context
        start, end = c.play_range()
        frame = c.frame
        if speed > 0 and frame >= end:
            frame = start
        if speed < 0 and frame <= start:
            frame = end
        self._close_clock()
        self.speed = speed
        self._origin_frame = frame
        self.audible = False
        if speed == 1.0 and self.samples is not None and self.audio_enabled:
            try:
                self._clock = AudioClock(self.samples, self.sample_rate, start_s=frame / c.fps)
                self.audible = True
            except AudioClockError as exc:
                self._no_audio(str(exc))
        if self._clock is None:
            if speed == 1.0 and self.samples is not None and not self.audio_enabled:
                self._no_audio("audio output is switched off")
            self._clock = MonotonicClock()
        c.set_frame(frame)
        self._set_state("playing")
        self._timer.start()

    def toggle(self) -> None:
        if self.is_playing:
            self.pause()
        else:
            self.play()

    def pause(self) -> None:
        self._timer.stop()
        self._close_clock()
        self.speed = 1.0
        if self.state == "playing":
            self._set_state("paused")

    def stop(self) -> None:
        was = self.state
        self._timer.stop()
        self._close_clock()
        self.speed = 1.0
        self.context.set_frame(self.context.play_range()[0] if was == "stopped" else self._origin_frame)
        self._set_state("stopped")

    def shuttle(self, direction: int) -> None:
        """J (-1), K (0), L (+1): repeated presses in one direction speed up."""
        if direction == 0:
            self.pause()
            return
        if self.is_playing and np.sign(self.speed) == direction:
            i = SHUTTLE_SPEEDS.index(abs(self.speed)) if abs(self.speed) in SHUTTLE_SPEEDS else 0
            speed = SHUTTLE_SPEEDS[min(i + 1, len(SHUTTLE_SPEEDS) - 1)]
        else:
            speed = 1.0
        self.play(direction * speed)
        if abs(speed) != 1.0 or direction < 0:
            self.message.emit(f"Shuttle {direction * speed:+.0f}x (silent)")

    def step(self, frames: int) -> None:
        self.pause()
        self.context.set_frame(self.context.frame + frames)
        self._scrub_grain()

    # --- clock ------------------------------------------------------------------------------------------------------
    def _tick(self) -> None:
        c = self.context
        start, end = c.play_range()
        try:
            elapsed = self._clock.now()
        except AudioClockError as exc:
            self._no_audio(str(exc))
            self._switch_to_system_clock()
            return
        frame = self._origin_frame + elapsed * c.fps * self.speed
        if self.speed > 0 and frame > end:
            if c.loop_enabled:
                self.context.set_frame(start)
                self.play(self.speed)
                return
            c.set_frame(end)
            self.pause()
            return
        if self.speed < 0 and frame < start:
            if c.loop_enabled:
                c.set_frame(end)
                self.play(self.speed)
                return
            c.set_frame(start)
            self.pause()
            return
        c.set_frame(int(frame))

    def _switch_to_system_clock(self) -> None:
        frame = self.context.frame
        self._close_clock()
        self._origin_frame = frame
        self._clock = MonotonicClock()
        self.audible = False

    def _on_frame_changed(self, _frame: int) -> None:
        if self.context.scrubbing:
            self._scrub_grain()

    def _user_jump(self) -> None:
        """A click or drag on the ruler ended: playback continues from there, or a grain is heard."""
        if self.is_playing:
            self.play(self.speed)
        else:
            self._scrub_grain()

    def _close_clock(self) -> None:
        clock, self._clock = self._clock, None
        if clock is not None:
            clock.close()

    def _no_audio(self, reason: str) -> None:
        if not self._warned_no_audio:
            self._warned_no_audio = True
            self.message.emit(f"Playing silently: {reason}")

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    # --- scrubbing ----------------------------------------------------------------------------------------------------
    def _scrub_grain(self) -> None:
        """A few tens of milliseconds of audio at the playhead; throttled, never blocks."""
        if self.is_playing or self.samples is None or not self.audio_enabled:
            return
        now = time.monotonic()
        if now - self._last_grain < SCRUB_GRAIN_S:
            return
        self._last_grain = now
        start = int(self.context.frame / self.context.fps * self.sample_rate)
        grain = self.samples[start:start + int(SCRUB_GRAIN_S * self.sample_rate)]
        if len(grain) == 0:
            return
        try:
            import sounddevice as sd  # noqa: PLC0415 - optional; fails without PortAudio

            sd.play(grain * np.hanning(len(grain)).astype(np.float32), self.sample_rate, blocking=False)
        except Exception as exc:
            self._no_audio(f"no audio device ({exc})")

    def scrub_to(self, frame: int) -> None:
        self.context.set_frame(frame)
        self._scrub_grain()

    def shutdown(self) -> None:
        self._timer.stop()
        self._close_clock()
