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
    transcript: str | None = None
    extra: dict = field(default_factory=dict)

    def meta(self) -> GenerationMeta:
        extra = dict(self.extra)
        extra["steps"] = self.steps
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
                                 transcript=meta.transcript,
                                 extra={k: v for k, v in meta.extra.items() if k != "steps"})


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
                                emotion_keys=tuple(request.emotion_keys), gaze=tuple(request.gaze),
                                eye_contact=request.eye_contact, head_distance=request.head_distance,
                                articulation=request.articulation, seed=request.seed,
                                extra={**request.extra, "steps": request.steps})
    take = generate_take(clip, settings, progress=_progress_adapter(progress), cancel=cancel)
    meta = take.meta
    extra = dict(meta.extra)
    extra.setdefault("steps", request.steps)
    return np.asarray(take.base, np.float32), dataclasses.replace(meta, extra=extra)


def _progress_adapter(progress: ProgressFn):
    """Engines report ``progress(fraction)`` or ``progress(fraction, message)``; accept both."""
    def relay(fraction, message: str = "") -> None:
        progress(float(fraction), str(message or ""))
    return relay


# --- running in a child process -------------------------------------------------------------------------------------
# PocketSphinx decodes whole chunks while holding the GIL, which froze the GUI thread for seconds on long files even
# with generation in a worker thread. A child process has its own interpreter: the GUI only waits on a pipe.

def _child_main(conn, clip: AudioClip, request: GenerationRequest, cancel_event) -> None:
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        import time  # noqa: PLC0415

        now = time.monotonic()
        if now - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = now
            conn.send(("progress", float(fraction), message))

    try:
        result = run_generation(clip, request, progress, cancel_event.is_set)
        conn.send(("done", result))
    except GenerationCancelled:
        conn.send(("cancelled",))
    except Exception as exc:
        import traceback  # noqa: PLC0415

        conn.send(("error", str(exc) or type(exc).__name__, traceback.format_exc()))
    finally:
        conn.close()


def run_generation_in_process(clip: AudioClip, request: GenerationRequest, progress: ProgressFn | None = None,
                              cancel: CancelFn | None = None, poll_s: float = 0.05):
    """``run_generation`` in a spawned child process; same results and exceptions. Call from a worker thread."""
    import multiprocessing as mp  # noqa: PLC0415

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    cancel_event = ctx.Event()
    proc = ctx.Process(target=_child_main, args=(child, clip, request, cancel_event), daemon=True,
                       name="vasa-rig-generate")
    proc.start()
    child.close()
    try:
        while True:
            if cancel is not None and cancel():
                cancel_event.set()
            if parent.poll(poll_s):
                try:
                    message = parent.recv()
                except EOFError:
                    raise GenerationError("the generation process ended unexpectedly") from None
                kind = message[0]
                if kind == "progress" and progress is not None:
                    progress(message[1], message[2])
                elif kind == "done":
                    return message[1]
                elif kind == "cancelled":
                    raise GenerationCancelled()
                elif kind == "error":
                    raise GenerationError(message[1])
            elif not proc.is_alive() and not parent.poll(0):
                raise GenerationError(f"the generation process stopped (exit code {proc.exitcode})")
    finally:
        parent.close()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()


def _device_child(conn) -> None:
    try:
        conn.send(device_description())
    finally:
        conn.close()


def device_description_in_process(timeout_s: float = 60.0) -> str:
    """``device_description`` from a child process: importing torch holds the GIL for seconds."""
    import multiprocessing as mp  # noqa: PLC0415

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_device_child, args=(child,), daemon=True, name="vasa-rig-device-probe")
    proc.start()
    child.close()
    try:
        return parent.recv() if parent.poll(timeout_s) else "CPU (device probe timed out)"
    except EOFError:
        return "CPU"
    finally:
        parent.close()
        proc.join(timeout=5)
