"""Live audio input: a sound-card input device, or an audio file played as if it were a microphone.

Both deliver 16 kHz mono float32 blocks (5 ms) to a callback, ``on_block(samples, arrival)``, where ``arrival`` is the
``time.monotonic()`` at which the block's last sample was available. ``on_end(message)`` is called once when the
input stops by itself: the file ended (``message`` is None) or the device failed (the reason).

    source = FileInput("line.wav")          # real-time paced
    source = DeviceInput(device=3)          # a sounddevice input device index or name
    source.start(on_block, on_end); ...; source.stop()
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.timebase import SAMPLE_RATE

BlockCallback = Callable[[np.ndarray, float], None]
EndCallback = Callable[[str | None], None]
DEFAULT_BLOCK_S = 0.005  # 5 ms blocks: capture adds at most this to the latency


class AudioInputError(Exception):
    """The input cannot be opened or used: no such device, no input devices, a refused rate, an unreadable file."""


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    channels: int
    default_rate: float
    is_default: bool

    def label(self) -> str:
        return f"{self.index}: {self.name} ({self.channels} ch, {self.default_rate:g} Hz)" + (
            " [default]" if self.is_default else "")


def _sounddevice():
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:  # OSError: the PortAudio library is missing
        raise AudioInputError(f"audio input is not available on this machine: {exc}") from None
    return sd


def input_devices() -> list[InputDevice]:
    """The devices with input channels, as sounddevice (PortAudio) lists them; [] when there are none."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        default = sd.default.device[0] if sd.default.device is not None else -1
    except Exception as exc:  # PortAudio raises its own error type when no host API works
        raise AudioInputError(f"cannot list audio devices: {exc}") from None
    out = []
    for i, d in enumerate(devices):
        if int(d.get("max_input_channels", 0)) > 0:
            out.append(InputDevice(i, str(d.get("name", f"device {i}")), int(d["max_input_channels"]),
                                   float(d.get("default_samplerate", SAMPLE_RATE)), i == default))
    return out


class LinearResampler:
    """Block-by-block resampling to 16 kHz, continuous across blocks: from a higher rate a windowed-sinc low-pass
    at 7.2 kHz first (so nothing above 8 kHz folds into the speech band; 0.7 ms of delay at 48 kHz), then linear
    interpolation."""

    TAPS = 63

    def __init__(self, rate: float) -> None:
        self.ratio = float(rate) / SAMPLE_RATE
        self._fir = None
        if self.ratio > 1.0:
            k = np.arange(self.TAPS) - (self.TAPS - 1) / 2
            cutoff = 0.45 / self.ratio  # cycles per input sample
            h = 2 * cutoff * np.sinc(2 * cutoff * k) * np.blackman(self.TAPS)
            self._fir = (h / h.sum()).astype(np.float32)
            self._fir_tail = np.zeros(self.TAPS - 1, np.float32)
        self._pos = 0.0  # position of the next output sample, in input samples from the start of _last
        self._last = np.zeros(0, np.float32)  # input samples from the one before the next output on

    def __call__(self, block: np.ndarray) -> np.ndarray:
        if self.ratio == 1.0:
            return block
        block = np.asarray(block, np.float32)
        if self._fir is not None:
            joined = np.concatenate([self._fir_tail, block])
            self._fir_tail = joined[len(joined) - (self.TAPS - 1):]
            block = np.convolve(joined, self._fir, mode="valid").astype(np.float32)
        x = np.concatenate([self._last, block])
        if len(x) == 0 or self._pos > len(x) - 1:
            self._last = x
            return np.zeros(0, np.float32)
        n = int(np.floor((len(x) - 1 - self._pos) / self.ratio)) + 1
        pos = self._pos + self.ratio * np.arange(n)
        out = np.interp(pos, np.arange(len(x)), x).astype(np.float32)
        nxt = self._pos + self.ratio * n
        keep = min(int(np.floor(nxt)), len(x) - 1)  # the sample at or before the next output position
        self._last, self._pos = x[keep:], nxt - keep
        return out


class FileInput:
    """An audio file (any format the app reads) delivered block by block at real-time pace (``realtime=False``:
    as fast as the consumer takes it, for tests and offline checks). ``loop`` starts again at the end."""

    def __init__(self, path: str | Path, *, block_s: float = DEFAULT_BLOCK_S, realtime: bool = True,
                 loop: bool = False, max_seconds: float | None = None) -> None:
        from app.io.audio import AudioError, load_audio

        self.path = Path(path)
        try:
            kw = {} if max_seconds is None else {"max_seconds": max_seconds}
            clip = load_audio(self.path, **kw)
        except AudioError as exc:
            raise AudioInputError(str(exc)) from None
        self.samples = np.asarray(clip.samples, np.float32)
        if len(self.samples) == 0:
            raise AudioInputError(f"{self.path.name}: the file holds no audio")
        self.block = max(1, int(round(block_s * SAMPLE_RATE)))
        self.realtime, self.loop = bool(realtime), bool(loop)
        self.name = self.path.name
        self.overruns = 0
        self.started_at: float | None = None  # monotonic time of the file's first sample being "spoken"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def start(self, on_block: BlockCallback, on_end: EndCallback | None = None) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(on_block, on_end), name="file-input", daemon=True)
        self._thread.start()

    def _run(self, on_block: BlockCallback, on_end: EndCallback | None) -> None:
        t0 = self.started_at = time.monotonic()
        sent = 0  # samples delivered so far (over loops)
        n = len(self.samples)
        while not self._stop.is_set():
            pos = sent % n
            if pos == 0 and sent and not self.loop:
                break
            block = self.samples[pos:pos + self.block]
            due = t0 + (sent + len(block)) / SAMPLE_RATE  # the block's last sample has "been spoken"
            if self.realtime:
                wait = due - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    break
            on_block(block.copy(), time.monotonic() if not self.realtime else max(due, time.monotonic()))
            sent += len(block)
        if on_end is not None and not self._stop.is_set():
            on_end(None)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)


class DeviceInput:
    """A sounddevice input device (index or name; None = the system default), mono, in ~5 ms blocks. Opens at
    16 kHz when the device takes it, else at the device's own rate with resampling."""

    def __init__(self, device: int | str | None = None, *, block_s: float = DEFAULT_BLOCK_S) -> None:
        self.device = device
        self.block_s = float(block_s)
        self.overruns = 0
        self.name = "default input" if device is None else str(device)
        self.rate: float = SAMPLE_RATE
        self._stream = None
        self._resample: LinearResampler | None = None
        self._ended = threading.Event()
        self._watch: threading.Thread | None = None
        self._stopping = False

    def _pick_rate(self, sd) -> float:
        try:
            sd.check_input_settings(device=self.device, channels=1, samplerate=SAMPLE_RATE, dtype="float32")
            return float(SAMPLE_RATE)
        except Exception:
            pass
        try:
            info = sd.query_devices(self.device, "input")
        except Exception as exc:
            raise AudioInputError(f"no such input device {self.device!r}: {exc}") from None
        rate = float(info.get("default_samplerate") or 0)
        try:
            sd.check_input_settings(device=self.device, channels=1, samplerate=rate, dtype="float32")
        except Exception as exc:
            raise AudioInputError(f"input device {self.name} refuses mono float input at 16 kHz and at its own "
                                  f"rate ({rate:g} Hz): {exc}") from None
        return rate

    def start(self, on_block: BlockCallback, on_end: EndCallback | None = None) -> None:
        sd = _sounddevice()
        if not input_devices():
            raise AudioInputError("no audio input device is available (connect a microphone, or use a file)")
        self.rate = self._pick_rate(sd)
        self._resample = LinearResampler(self.rate)
        try:
            info = sd.query_devices(self.device, "input")
            self.name = str(info.get("name", self.name))
        except Exception:
            pass

        def callback(indata, frames, time_info, status) -> None:
            if status and status.input_overflow:
                self.overruns += 1
            mono = np.asarray(indata, np.float32).mean(axis=1) if indata.ndim == 2 else np.asarray(indata)
            block = self._resample(mono.astype(np.float32))
            if len(block):
                on_block(block, time.monotonic())

        try:
            self._stream = sd.InputStream(device=self.device, channels=1, samplerate=self.rate, dtype="float32",
                                          blocksize=max(1, int(round(self.block_s * self.rate))),
                                          callback=callback, latency="low",
                                          finished_callback=self._ended.set)
            self._stream.start()
        except Exception as exc:
            self._stream = None
            raise AudioInputError(f"cannot open input device {self.name}: {exc}") from None
        self._stopping = False

        def watch() -> None:
            # A device that disappears ends the stream without our asking: say so once.
            while not self._ended.wait(0.25):
                stream = self._stream
                if stream is None or not stream.active:
                    break
            if not self._stopping and on_end is not None:
                on_end(f"the input device {self.name} stopped (disconnected or failed)")

        self._watch = threading.Thread(target=watch, name="input-watch", daemon=True)
        self._watch.start()

    def stop(self) -> None:
        self._stopping = True
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                pass
        self._ended.set()
