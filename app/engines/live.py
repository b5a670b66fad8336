"""A live session: audio input -> the streaming neural engine -> Live Link Face packets, optionally recorded.

    session = LiveSession(FileInput("line.wav"), targets=[("127.0.0.1", 11111)], record="live.vrig")
    session.start(); ...; session.controls = session.controls.changed(emotion="happy", intensity=0.6)
    summary = session.stop()      # the recording is saved as a normal project (and its audio beside it)

One worker thread takes the input's blocks from a queue, runs the engine, converts each new frame to packet units and
sends it to every target at once. Each frame's latency is measured from the moment the audio at its instant was
captured (the block's arrival minus the samples after it in the block) to the moment its packet left: block
capture + waiting for the lookahead + inference + send. Nothing is dropped: a frame that misses the deadline is sent
late and counted. Problems (the input device failing, a target that refuses packets, a full disk for the recording)
are reported through ``on_message`` and in :meth:`LiveSession.stats`; the session keeps running where it can, and
whatever was recorded is saved.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.timebase import FPS, SAMPLE_RATE, frames_for_duration
from app.engines.streaming import DEFAULT_HOP, DEFAULT_LOOKAHEAD, LiveControls, StreamingEngine, StreamingError

LATENCY_BUDGET_S = 0.100  # a frame later than this after its audio counts as late
CHECKPOINT_EVERY_S = 30.0  # the recording is saved this often while live, so a crash loses at most this much
MAX_BACKLOG_S = 2.0  # input waiting longer than this is reported (the machine cannot keep up)

MessageCallback = Callable[[str], None]
FrameCallback = Callable[[int, np.ndarray], None]  # (frame index, (180,) rig values)


class LiveError(Exception):
    """A live session cannot start: no engine, no input, bad targets, or a recording path that cannot be used."""


@dataclass
class LiveStats:
    state: str = "idle"  # idle, running, stopped, failed
    frames_sent: int = 0
    frames_late: int = 0  # sent later than LATENCY_BUDGET_S after their audio
    frames_expected: int = 0  # frames the audio heard so far calls for
    latency_ms: list[float] = field(default_factory=list)  # recent frames (the last minute)
    latency_all: list[float] | None = None  # every frame, when the session keeps them (benchmarks)
    level_db: float = -120.0  # input level of the last block (dBFS, peak)
    input_overruns: int = 0
    send_errors: int = 0
    backlog_s: float = 0.0
    messages: list[str] = field(default_factory=list)
    recorded_s: float = 0.0
    record_path: str | None = None

    @property
    def frames_dropped(self) -> int:
        return max(0, self.frames_expected - self.frames_sent)

    def percentile(self, q: float) -> float | None:
        data = self.latency_all if self.latency_all else self.latency_ms
        return float(np.percentile(data, q)) if data else None


class Recorder:
    """Keeps the live audio (written to a WAV as it arrives) and the generated curves; :meth:`save` writes a
    project that references that WAV, atomically, at any time."""

    def __init__(self, path: str | Path, controls: LiveControls, seed: int, source_name: str) -> None:
        import soundfile as sf

        from app.core.project import PROJECT_SUFFIX

        self.path = Path(path)
        if self.path.suffix.lower() != PROJECT_SUFFIX:
            self.path = self.path.with_suffix(PROJECT_SUFFIX)
        self.audio_path = self.path.with_suffix(".wav")
        self.controls, self.seed, self.source_name = controls, seed, source_name
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._wav = sf.SoundFile(str(self.audio_path), "w", samplerate=SAMPLE_RATE, channels=1,
                                     subtype="PCM_16")
        except (OSError, RuntimeError) as exc:
            raise LiveError(f"cannot record to {self.audio_path}: {exc}") from None
        self.samples = 0
        self._frames: list[np.ndarray] = []
        self.frames = 0
        self.error: str | None = None
        self._closed = False

    def add_audio(self, block: np.ndarray) -> None:
        if self.error is not None:
            return
        try:
            self._wav.write(np.clip(block, -1.0, 1.0))
            self.samples += len(block)
        except (OSError, RuntimeError) as exc:
            self.error = f"recording stopped: cannot write {self.audio_path.name}: {exc}"

    def add_frames(self, curves: np.ndarray) -> None:
        self._frames.append(np.asarray(curves, np.float32))
        self.frames += len(curves)

    def save(self) -> Path | None:
        """Write the project (None when nothing was recorded)."""
        from app.core.project import save_project
        from app.core.settings import EmotionKey, GenerationSettings, PerformanceControls, Provenance
        from app.core.take import AudioRef, GenerationMeta, Take
        from app.core.timebase import frames_for_duration
        from app.io.audio import file_sha256

        if not self._frames or self.samples == 0:
            return None
        if not self._closed:
            try:
                self._wav.flush()
            except (OSError, RuntimeError):
                pass
        curves = np.concatenate(self._frames)
        n = min(len(curves), frames_for_duration(self.samples / SAMPLE_RATE))
        c = self.controls
        performance = PerformanceControls(emotion_keys=(EmotionKey(0.0, c.emotion, float(c.intensity)),),
                                          gaze=(float(c.gaze[0]), float(c.gaze[1])), eye_contact=c.eye_contact,
                                          head_distance=c.head_distance, articulation=c.articulation,
                                          seed=int(self.seed))
        meta = GenerationMeta(settings=GenerationSettings(engine="neural", performance=performance),
                              provenance=Provenance(live_input=self.source_name))
        audio = AudioRef(path=str(self.audio_path), sha256=file_sha256(self.audio_path),
                         duration=self.samples / SAMPLE_RATE, sample_rate=SAMPLE_RATE)
        take = Take(curves[:n], fps=FPS, name=self.path.stem, audio=audio, meta=meta)
        return save_project(take, self.path)

    def close(self) -> None:
        self._closed = True
        try:
            self._wav.close()
        except (OSError, RuntimeError):
            pass


class LiveSession:
    """Drive Unreal (or any Live Link Face receiver) from a live input. See the module docstring."""

    def __init__(self, source, *, targets: Sequence[tuple[str, int]] = (), subject: str | None = None,
                 device_id: str | None = None, record: str | Path | None = None,
                 controls: LiveControls | None = None, hop: int = DEFAULT_HOP, lookahead: int = DEFAULT_LOOKAHEAD,
                 seed: int = 0, on_message: MessageCallback | None = None, on_frame: FrameCallback | None = None,
                 keep_latencies: bool = False, checkpoint=None, threads: int | None = 1) -> None:
        from app.core.rig import load_rig
        from app.io.livelink import DEFAULT_SUBJECT, LiveLinkError, LiveLinkSender

        self.source = source
        self.on_message, self.on_frame = on_message, on_frame
        self.rig = load_rig()
        if threads:
            # One hop is a few small matrix products: one thread does it in about half the time of two fighting
            # over a 2-core machine with the audio and the GUI, and leaves a core free.
            import torch

            torch.set_num_threads(int(threads))
        try:
            self.engine = StreamingEngine(hop=hop, lookahead=lookahead, seed=seed, controls=controls,
                                          checkpoint=checkpoint)
        except StreamingError as exc:
            raise LiveError(str(exc)) from None
        self.engine.warm_up()
        self.sender = None
        if targets:
            try:
                self.sender = LiveLinkSender(list(targets), subject=subject or DEFAULT_SUBJECT, device_id=device_id,
                                             on_error=self._message, neutral_on_stop=True)
            except LiveLinkError as exc:
                raise LiveError(str(exc)) from None
        self.recorder = None
        if record is not None:
            self.recorder = Recorder(record, self.engine.controls, seed, getattr(source, "name", "input"))
        self._stats = LiveStats(latency_all=[] if keep_latencies else None,
                                record_path=str(self.recorder.path) if self.recorder else None)
        self._recent = deque(maxlen=int(60 * FPS))
        self._queue: queue.Queue = queue.Queue()
        self._blocks: deque = deque()  # (first sample, last sample + 1, arrival) of blocks not yet fully used
        self._received = 0
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._last_checkpoint = 0.0
        self._cpu0 = 0.0

    # --- control -----------------------------------------------------------------------------------------------
    @property
    def controls(self) -> LiveControls:
        return self.engine.controls

    @controls.setter
    def controls(self, value: LiveControls) -> None:
        self.engine.controls = value
        if self.recorder is not None:
            self.recorder.controls = value

    @property
    def latency_budget_frames(self) -> float:
        return self.engine.latency_frames

    def start(self) -> None:
        from app.io.audio_input import AudioInputError

        self._stats.state = "running"
        self._last_checkpoint = time.monotonic()
        self._thread = threading.Thread(target=self._work, name="live-engine", daemon=True)
        self._thread.start()
        try:
            self.source.start(self._on_block, self._on_end)
        except AudioInputError as exc:
            self._stop.set()
            self._queue.put(None)
            self._thread.join(timeout=5.0)
            self._stats.state = "failed"
            self._close_outputs()
            raise LiveError(str(exc)) from None

    def wait(self, timeout: float | None = None) -> bool:
        """Until the input has ended and every frame is out (a file input); False on timeout."""
        return self._ended.wait(timeout)

    def stop(self) -> LiveStats:
        """Stop the input and the engine, send the neutral pose, save the recording. Safe to call twice."""
        self.source.stop()
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        if self._stats.state == "running":
            self._stats.state = "stopped"
        self._close_outputs()
        return self.stats()

    def stats(self) -> LiveStats:
        with self._lock:
            s = self._stats
            return LiveStats(state=s.state, frames_sent=s.frames_sent, frames_late=s.frames_late,
                             frames_expected=s.frames_expected, latency_ms=list(self._recent),
                             latency_all=None if s.latency_all is None else list(s.latency_all),
                             level_db=s.level_db, input_overruns=int(getattr(self.source, "overruns", 0)),
                             send_errors=s.send_errors, backlog_s=s.backlog_s, messages=list(s.messages),
                             recorded_s=s.recorded_s, record_path=s.record_path)

    # --- input side (the source's thread) ----------------------------------------------------------------------
    def _on_block(self, block: np.ndarray, arrival: float) -> None:
        self._queue.put((np.asarray(block, np.float32), arrival))

    def _on_end(self, message: str | None) -> None:
        if message:
            self._message(message + "; the session goes on without input (the recording so far is kept)")
        self._queue.put("end")

    # --- worker --------------------------------------------------------------------------------------------------
    def _message(self, text: str) -> None:
        with self._lock:
            self._stats.messages.append(text)
        if self.on_message is not None:
            self.on_message(text)

    def _work(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None or (self._stop.is_set() and self._queue.qsize() * 0.005 > MAX_BACKLOG_S):
                    # Stopped: the frames the audio heard so far calls for go out (the rest of the stand-in future
                    # is silence), unless the engine was hopelessly behind.
                    if item is None and self._received:
                        self._emit(self.engine.finish())
                    break
                if item == "end":
                    self._emit(self.engine.finish())
                    self._ended.set()
                    break
                block, arrival = item
                first = self._received
                self._received += len(block)
                self._blocks.append((first, self._received, arrival))
                with self._lock:
                    peak = float(np.max(np.abs(block))) if len(block) else 0.0
                    self._stats.level_db = 20.0 * np.log10(max(peak, 1e-6))
                    self._stats.frames_expected = frames_for_duration(self._received / SAMPLE_RATE)
                    self._stats.backlog_s = self._queue.qsize() * len(block) / SAMPLE_RATE
                if self.recorder is not None:
                    self.recorder.add_audio(block)
                    if self.recorder.error is not None and self._stats.record_path is not None:
                        self._message(self.recorder.error)
                        self._stats.record_path = None
                self._emit(self.engine.push(block))
                if self.recorder is not None and time.monotonic() - self._last_checkpoint > CHECKPOINT_EVERY_S:
                    self._checkpoint()
        except Exception as exc:  # the engine failing must not take the app down; say what happened
            with self._lock:
                self._stats.state = "failed"
            self._message(f"live generation stopped: {type(exc).__name__}: {exc}")
        finally:
            self._ended.set()

    def _capture_time(self, frame: int) -> float:
        """When the audio at frame ``frame``'s instant was captured (monotonic)."""
        s = frame * SAMPLE_RATE / FPS
        while len(self._blocks) > 1 and self._blocks[0][1] <= s:
            self._blocks.popleft()
        first, stop, arrival = self._blocks[0] if self._blocks else (0, 1, time.monotonic())
        if s >= stop:  # a frame after the input ended (finish): its audio is the silence after the last block
            return arrival + (s - stop) / SAMPLE_RATE
        return arrival - (stop - s) / SAMPLE_RATE

    def _emit(self, curves: np.ndarray) -> None:
        if len(curves) == 0:
            return
        from app.io.livelink import to_packet_units

        first = self.engine.frames_done - len(curves)
        packets = to_packet_units(self.rig.to_arkit(curves)) if self.sender is not None else None
        for k in range(len(curves)):
            index = first + k
            if self.sender is not None:
                self.sender.send(packets[k], index)
            sent = time.monotonic()
            latency = (sent - self._capture_time(index)) * 1000.0
            with self._lock:
                self._stats.frames_sent += 1
                self._recent.append(latency)
                if self._stats.latency_all is not None:
                    self._stats.latency_all.append(latency)
                if latency > LATENCY_BUDGET_S * 1000.0:
                    self._stats.frames_late += 1
                if self.sender is not None:
                    self._stats.send_errors = self.sender.status.send_errors
            if self.on_frame is not None:
                self.on_frame(index, curves[k])
        if self.recorder is not None:
            self.recorder.add_frames(curves)
            with self._lock:
                self._stats.recorded_s = self.recorder.frames / FPS

    def _checkpoint(self) -> None:
        self._last_checkpoint = time.monotonic()
        try:
            self.recorder.save()
        except OSError as exc:
            self._message(f"cannot save the recording so far: {exc}")

    def _close_outputs(self) -> None:
        if self.sender is not None:
            try:
                self.sender.send_neutral()
                self.sender.close()
            except OSError:
                pass
            self.sender = None
        if self.recorder is not None:
            self.recorder.close()  # first, so the WAV's header is final when the project records its hash
            try:
                path = self.recorder.save()
            except OSError as exc:
                self._message(f"cannot save the recording: {exc}")
                path = None
            with self._lock:
                self._stats.record_path = str(path) if path else None
            self.recorder = None
