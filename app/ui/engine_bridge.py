"""What the app asks an engine for, and the one call that runs it (in a worker thread, never the GUI thread).

The app's controls fill a ``GenerationRequest``. ``run_generation`` hands it to ``app.engines.generate`` (the
engine front door: procedural or neural) as GenerateSettings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from app.core.take import EmotionKey, GenerationMeta
from app.io.audio import AudioClip

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


class GenerationCancelled(Exception):
    """The user cancelled; not an error."""


class GenerationError(Exception):
    """The engine could not make curves for this audio; the message says why."""


@dataclass(frozen=True)
class GenerationRequest:
    engine: str = "procedural"
    seed: int = 0
    emotion_keys: tuple[EmotionKey, ...] = (EmotionKey(0.0, "neutral", 0.0),)
    gaze: tuple[float, float] = (0.0, 0.0)
    eye_contact: float = 1.0
    head_distance: float = 60.0
    articulation: float = 1.0
    steps: int = 2  # the neural engine's default (models.pipeline.DEFAULT_STEPS, which imports torch)
    guidance: float = 1.0  # the neural engine's classifier-free guidance on its first step (1: off)
    transcript: str | None = None
    phones_file: str | None = None  # phone timings from another aligner (TextGrid, .lab, ...); beats the transcript
    extra: dict = field(default_factory=dict)

    def meta(self) -> GenerationMeta:
        extra = dict(self.extra)
        extra["steps"] = self.steps
        extra["guidance"] = self.guidance
        if self.phones_file:
            extra["phones_file"] = self.phones_file
        return GenerationMeta(engine=self.engine, seed=self.seed, emotion_keys=self.emotion_keys, gaze=self.gaze,
                              eye_contact=self.eye_contact, head_distance=self.head_distance,
                              articulation=self.articulation, transcript=self.transcript or None, extra=extra)

    @staticmethod
    def from_meta(meta: GenerationMeta) -> GenerationRequest:
        engine = meta.engine if meta.engine in ("procedural", "neural") else "procedural"
        return GenerationRequest(engine=engine, seed=meta.seed, emotion_keys=tuple(meta.emotion_keys),
                                 gaze=tuple(meta.gaze), eye_contact=meta.eye_contact,
                                 head_distance=meta.head_distance, articulation=meta.articulation,
                                 steps=int(meta.extra.get("steps", GenerationRequest.steps)),
                                 guidance=float(meta.extra.get("guidance", GenerationRequest.guidance)),
                                 transcript=meta.transcript,
                                 phones_file=str(meta.extra["phones_file"]) if meta.extra.get("phones_file") else None,
                                 extra={k: v for k, v in meta.extra.items()
                                        if k not in ("steps", "guidance", "phones_file")})


def available_engines() -> dict[str, str | None]:
    """engine name -> None when usable, else the reason it is not."""
    from app.core.paths import models_dir
    from app.engines.generate import engine_names

    engines: dict[str, str | None] = dict.fromkeys(engine_names())
    if "neural" in engines and not (models_dir() / "weights" / "neural.pt").exists():
        engines["neural"] = "the neural engine's weights are missing from this installation"
    return engines


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


def run_generation(clip: AudioClip, request: GenerationRequest, progress: ProgressFn | None = None,
                   cancel: CancelFn | None = None) -> tuple[np.ndarray, GenerationMeta]:
    """(base curves (frames, 180), meta). Raises GenerationCancelled or GenerationError."""
    progress = progress or (lambda _f, _m: None)
    cancel = cancel or (lambda: False)
    try:
        return _run_engine(clip, request, progress, cancel)
    except GenerationCancelled:
        raise
    except Exception as exc:
        if type(exc).__name__ in ("Cancelled", "GenerationCancelled") or cancel():
            raise GenerationCancelled() from None
        if isinstance(exc, GenerationError):
            raise
        raise GenerationError(f"{type(exc).__name__}: {exc}") from exc


def _run_engine(clip, request, progress, cancel):
    from app.engines.generate import GenerateSettings, generate_take

    settings = GenerateSettings(engine=request.engine, transcript=request.transcript or None,
                                phones_file=request.phones_file or None,
                                emotion_keys=tuple(request.emotion_keys), gaze=tuple(request.gaze),
                                eye_contact=request.eye_contact, head_distance=request.head_distance,
                                articulation=request.articulation, seed=request.seed,
                                extra={**request.extra, "steps": request.steps, "guidance": request.guidance})
    take = generate_take(clip, settings, progress=_progress_adapter(progress), cancel=cancel)
    meta = take.meta
    extra = dict(meta.extra)
    extra.setdefault("steps", request.steps)
    extra.setdefault("guidance", request.guidance)
    if request.phones_file:  # kept even when the engine could not use it, so the panel still shows it
        extra.setdefault("phones_file", request.phones_file)
    return np.asarray(take.base, np.float32), dataclasses.replace(meta, extra=extra)


def _progress_adapter(progress: ProgressFn):
    """Engines report ``progress(fraction)`` or ``progress(fraction, message)``; accept both."""
    def relay(fraction, message: str = "") -> None:
        progress(float(fraction), str(message or ""))
    return relay


# --- running in a child process -------------------------------------------------------------------------------------
# PocketSphinx decodes whole chunks while holding the GIL, which froze the GUI thread for seconds on long files even
# with generation in a worker thread. A child process has its own interpreter: the GUI only waits on a pipe. The
# child stays alive between generations, so torch is imported and the neural model loaded once per session (a
# fresh process cost about 4 s per take), and it is warmed up in the background when the window opens.

def _worker_main(conn, cancel_event) -> None:
    """The child's loop: ("warm",) or ("generate", clip, request) in, progress and one answer out per job."""
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if job[0] == "warm":
            conn.send(("done", _warm_up()))
        else:
            _worker_generate(conn, job[1], job[2], cancel_event)


def _worker_generate(conn, clip: AudioClip, request: GenerationRequest, cancel_event) -> None:
    import time  # noqa: PLC0415

    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = now
            conn.send(("progress", float(fraction), message))

    try:
        conn.send(("done", run_generation(clip, request, progress, cancel_event.is_set)))
    except GenerationCancelled:
        conn.send(("cancelled",))
    except Exception as exc:
        import traceback  # noqa: PLC0415

        conn.send(("error", str(exc) or type(exc).__name__, traceback.format_exc()))


def _warm_up() -> str:
    """Imports torch and loads the shipped neural model (when installed); returns the device description."""
    description = device_description()
    try:
        if available_engines().get("neural", "missing") is None:
            from app.engines.neural import load_model  # noqa: PLC0415

            load_model()
    except Exception:  # a broken checkpoint is reported when a take asks for it, with its own message
        pass
    return description


class GenerationWorker:
    """One long-lived child process that runs generations one at a time (thread-safe; call from worker threads).

    A cancelled job stops at its engine's next check; if the child has not answered ``cancel_grace_s`` after the
    cancel (an aligner deep in a long chunk), it is stopped and the next job starts a fresh one. A child that dies
    is replaced on the next call."""

    def __init__(self, cancel_grace_s: float = 3.0) -> None:
        import threading  # noqa: PLC0415

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
        self._proc = ctx.Process(target=_worker_main, args=(child, self._cancel), daemon=True,
                                 name="vasa-rig-generate")
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

    def warm_up(self, timeout_s: float = 120.0) -> str:
        """Starts the child, imports torch and loads the neural model there; returns the device description."""
        with self._lock:
            try:
                return str(self._call(("warm",), None, lambda: False, timeout_s))
            except GenerationError:  # nothing cancels a warm-up; a child that fails it leaves the CPU default
                return "CPU"

    def run(self, clip: AudioClip, request: GenerationRequest, progress: ProgressFn | None = None,
            cancel: CancelFn | None = None):
        """``run_generation`` in the child; same results and exceptions."""
        with self._lock:
            return self._call(("generate", clip, request), progress, cancel or (lambda: False), None)

    def _call(self, job: tuple, progress: ProgressFn | None, cancel: CancelFn, timeout_s: float | None,
              poll_s: float = 0.05):
        import time  # noqa: PLC0415

        if not self.alive:
            self._stop()
            self._start()
        self._cancel.clear()
        try:
            self._conn.send(job)
        except (OSError, ValueError) as exc:
            self._stop()
            raise GenerationError(f"the generation process could not take the job ({exc})") from None
        t0 = time.monotonic()
        cancelled_at = None
        while True:
            if cancelled_at is None and cancel():
                self._cancel.set()
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > self.cancel_grace_s:
                self._stop()
                raise GenerationCancelled()
            if timeout_s is not None and time.monotonic() - t0 > timeout_s:
                self._stop()
                raise GenerationError("the generation process did not answer in time")
            if self._conn.poll(poll_s):
                try:
                    message = self._conn.recv()
                except (EOFError, OSError):
                    code = self._proc.exitcode if self._proc is not None else None
                    self._stop()
                    raise GenerationError(f"the generation process ended unexpectedly (exit code {code})") from None
                kind = message[0]
                if kind == "progress" and progress is not None:
                    progress(message[1], message[2])
                elif kind == "done":
                    return message[1]
                elif kind == "cancelled":
                    raise GenerationCancelled()
                elif kind == "error":
                    raise GenerationError(message[1])
            elif not self._proc.is_alive() and not self._conn.poll(0):
                code = self._proc.exitcode
                self._stop()
                raise GenerationError(f"the generation process stopped (exit code {code})")


_worker: GenerationWorker | None = None


def shared_worker() -> GenerationWorker:
    """The app's one generation process (started on first use)."""
    global _worker
    if _worker is None:
        import atexit  # noqa: PLC0415

        _worker = GenerationWorker()
        atexit.register(_worker.close)
    return _worker


def run_generation_in_process(clip: AudioClip, request: GenerationRequest, progress: ProgressFn | None = None,
                              cancel: CancelFn | None = None):
    """``run_generation`` in the app's long-lived generation process; same results and exceptions. Call from a
    worker thread."""
    return shared_worker().run(clip, request, progress, cancel)


def device_description_in_process(timeout_s: float = 120.0) -> str:
    """``device_description`` from the generation process (importing torch holds the GIL for seconds), which this
    also warms up: torch imported and the neural model loaded before the first take asks for them."""
    return shared_worker().warm_up(timeout_s)
