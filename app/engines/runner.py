"""Long work in one child process: generation, Transcribe, reading audio.

PocketSphinx decodes whole chunks while holding the GIL, and importing torch holds it for seconds, which froze the
GUI thread even with the work in a worker thread. A child process has its own interpreter: the caller only waits on
a pipe. The child stays alive between jobs, so torch is imported and the neural model loaded once per session (a
fresh process cost about 4 s per take), and it is warmed up in the background when the window opens.

Jobs and messages are small typed values. A job's ``execute(progress, cancel)`` runs in the child; the runner sends
back ``Progress`` messages and one ``Done``, ``Failed`` or ``WasCancelled``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.core.cancel import CancelFn, Cancelled
from app.core.settings import GenerationSettings
from app.core.take import GenerationMeta
from app.engines.base import GenerateError
from app.io.audio import AudioClip

ProgressFn = Callable[[float, str], None]  # fraction 0..1, what is being done


# --- messages (child -> caller) -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    fraction: float
    message: str = ""


@dataclass(frozen=True)
class Done:
    result: object


@dataclass(frozen=True)
class Failed:
    message: str
    details: str = ""  # the child's traceback, for the log


@dataclass(frozen=True)
class WasCancelled:
    pass


# --- jobs (caller -> child) -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Generate:
    """Base curves and meta for ``clip`` with ``settings``: ``run_generation`` in the child."""

    clip: AudioClip
    settings: GenerationSettings

    def execute(self, progress: ProgressFn, cancel: CancelFn) -> tuple[np.ndarray, GenerationMeta]:
        return run_generation(self.clip, self.settings, progress, cancel)


@dataclass(frozen=True)
class TranscribeResult:
    text: str
    words: int


@dataclass(frozen=True)
class Transcribe:
    """The words PocketSphinx recognises in ``clip``, for the user to check in the transcript box."""

    clip: AudioClip

    def execute(self, progress: ProgressFn, cancel: CancelFn) -> TranscribeResult:
        from app.engines.phonetics.pocketsphinx_aligner import align_audio

        alignment = align_audio(self.clip.samples, self.clip.sample_rate, None,
                                lambda f: progress(f, "Transcribing"), cancel)
        words = [w.word for w in alignment.words]
        return TranscribeResult(" ".join(words), len(words))


@dataclass(frozen=True)
class LoadAudio:
    """A recording read, checked and converted to the engines' rate (app.io.audio.load_audio); with
    ``sidecars``, also the transcript and phone files found beside it (app.io.sidecars.find_sidecars)."""

    path: str
    sidecars: bool = False

    def execute(self, progress: ProgressFn, cancel: CancelFn):
        from app.io.audio import load_audio

        clip = load_audio(self.path)
        if not self.sidecars:
            return clip
        from app.io.sidecars import find_sidecars

        return clip, find_sidecars(self.path)


@dataclass(frozen=True)
class WarmUp:
    """Imports torch and loads the shipped neural model (when installed); the result is the device description."""

    def execute(self, progress: ProgressFn, cancel: CancelFn) -> str:
        from app.engines.base import get_engine

        description = device_description()
        try:
            if get_engine("neural").unavailable() is None:
                from app.engines.neural import load_model

                load_model()
        except Exception:  # a broken checkpoint is reported when a take asks for it, with its own message
            pass
        return description


# --- in process -----------------------------------------------------------------------------------------------------
def run_generation(clip: AudioClip, settings: GenerationSettings, progress: ProgressFn | None = None,
                   cancel: CancelFn | None = None) -> tuple[np.ndarray, GenerationMeta]:
    """(base curves (frames, 180), meta) in this process. Raises Cancelled or GenerateError (an unexpected
    exception becomes a GenerateError naming its type)."""
    from app.engines.generate import generate_take

    relay = progress or (lambda _f, _m: None)
    cancel = cancel or (lambda: False)
    try:
        take = generate_take(clip, settings, progress=lambda f, m="": relay(float(f), str(m or "")), cancel=cancel)
    except (Cancelled, GenerateError):
        raise
    except Exception as exc:
        if cancel():
            raise Cancelled("generation was cancelled") from None
        raise GenerateError(f"{type(exc).__name__}: {exc}") from exc
    return np.asarray(take.base, np.float32), take.meta


def device_description() -> str:
    """'GPU: name' when torch sees CUDA, else 'CPU'. Imports torch: call it off the GUI thread."""
    try:
        import torch  # noqa: PLC0415 - heavy; only the device probe needs it
    except Exception:
        return "CPU"
    try:
        if torch.cuda.is_available():
            return f"GPU: {torch.cuda.get_device_name(0)}"
    except Exception:
        pass
    return "CPU"


# --- the child process ----------------------------------------------------------------------------------------------
def _child_main(conn, cancel_event) -> None:
    """The child's loop: one job in, progress and one answer out, until None or a closed pipe."""
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        _execute(conn, job, cancel_event)


def _execute(conn, job, cancel_event) -> None:
    last = [0.0]

    def progress(fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if now - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = now
            conn.send(Progress(float(fraction), str(message)))

    try:
        result = job.execute(progress, cancel_event.is_set)
    except Cancelled:
        conn.send(WasCancelled())
        return
    except Exception as exc:
        import traceback  # noqa: PLC0415

        conn.send(Failed(str(exc) or type(exc).__name__, traceback.format_exc()))
        return
    conn.send(Done(result))


class JobFailed(Exception):
    """A job raised in the child (or the child could not run it); the message is for the user."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class ProcessRunner:
    """One long-lived child process that runs jobs one at a time (thread-safe; call from worker threads).

    A cancelled job stops at its next check; if the child has not answered ``cancel_grace_s`` after the cancel
    (an aligner deep in a long chunk), it is stopped and the next job starts a fresh one. A child that dies is
    replaced on the next call."""

    def __init__(self, cancel_grace_s: float = 3.0) -> None:
        self.cancel_grace_s = cancel_grace_s
        self._lock = threading.Lock()
        self._proc = None
        self._conn = None
        self._cancel = None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    def _start(self) -> None:
        import multiprocessing as mp  # noqa: PLC0415

        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=True)
        self._cancel = ctx.Event()
        self._proc = ctx.Process(target=_child_main, args=(child, self._cancel), daemon=True,
                                 name="vasa-rig-worker")
        self._proc.start()
        child.close()

    def _stop(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = self._cancel = None
        if conn is not None:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
            conn.close()
        if proc is not None:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)

    def close(self) -> None:
        with self._lock:
            self._stop()

    def run(self, job, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
            timeout_s: float | None = None):
        """``job.execute`` in the child: its result, or Cancelled, or JobFailed with the child's message."""
        with self._lock:
            return self._call(job, progress, cancel or (lambda: False), timeout_s)

    def _call(self, job, progress: ProgressFn | None, cancel: CancelFn, timeout_s: float | None,
              poll_s: float = 0.05):
        if not self.alive:
            self._stop()
            self._start()
        self._cancel.clear()
        try:
            self._conn.send(job)
        except (OSError, ValueError) as exc:
            self._stop()
            raise JobFailed(f"the worker process could not take the job ({exc})") from None
        t0 = time.monotonic()
        cancelled_at = None
        while True:
            if cancelled_at is None and cancel():
                self._cancel.set()
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > self.cancel_grace_s:
                self._stop()
                raise Cancelled("the job was cancelled")
            if timeout_s is not None and time.monotonic() - t0 > timeout_s:
                self._stop()
                raise JobFailed("the worker process did not answer in time")
            if self._conn.poll(poll_s):
                try:
                    message = self._conn.recv()
                except (EOFError, OSError):
                    code = self._proc.exitcode if self._proc is not None else None
                    self._stop()
                    raise JobFailed(f"the worker process ended unexpectedly (exit code {code})") from None
                if isinstance(message, Progress):
                    if progress is not None:
                        progress(message.fraction, message.message)
                elif isinstance(message, Done):
                    return message.result
                elif isinstance(message, WasCancelled):
                    raise Cancelled("the job was cancelled")
                elif isinstance(message, Failed):
                    raise JobFailed(message.message, message.details)
            elif not self._proc.is_alive() and not self._conn.poll(0):
                code = self._proc.exitcode
                self._stop()
                raise JobFailed(f"the worker process stopped (exit code {code})")


_shared: ProcessRunner | None = None


def shared_runner() -> ProcessRunner:
    """The application's one worker process (started on first use)."""
    global _shared
    if _shared is None:
        import atexit  # noqa: PLC0415

        _shared = ProcessRunner()
        atexit.register(_shared.close)
    return _shared
