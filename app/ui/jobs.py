"""Long work off the GUI thread: a thin QThread around a plain function, and the generation controller.

The engine reports progress through a plain callback and checks ``cancel()`` between chunks; the job relays the
callback as a queued Qt signal, so the GUI thread only ever receives small messages. Results, errors and
cancellations come back as signals too.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from app.core.cancel import Cancelled
from app.core.settings import GenerationSettings
from app.engines.runner import Generate, run_generation, shared_runner
from app.io.audio import AudioClip

DEBOUNCE_MS = 350
PROGRESS_INTERVAL_S = 0.05  # at most 20 progress messages a second: the GUI thread has better things to do


def _run_in_worker(clip: AudioClip, settings: GenerationSettings, progress, cancel):
    return shared_runner().run(Generate(clip, settings), progress, cancel)


class FunctionJob(QThread):
    """Runs ``fn(progress, cancel)`` in its own thread."""

    progressed = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(str, str)  # message, details
    cancelled = Signal()

    def __init__(self, fn: Callable, parent: QObject | None = None):
        super().__init__(parent)
        self._fn = fn
        self._cancel = threading.Event()
        self._last_progress = 0.0

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def _progress(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL_S or fraction >= 1.0:
            self._last_progress = now
            self.progressed.emit(float(fraction), message)

    def run(self) -> None:  # worker thread
        try:
            result = self._fn(self._progress, self._cancel.is_set)
        except Cancelled:
            self.cancelled.emit()
            return
        except Exception as exc:
            if self._cancel.is_set():
                self.cancelled.emit()
            else:
                self.failed.emit(str(exc) or type(exc).__name__, traceback.format_exc())
            return
        if self._cancel.is_set():
            self.cancelled.emit()
        else:
            self.succeeded.emit(result)


class GenerationController(QObject):
    """Debounced, cancellable generation: a newer request cancels the running one and replaces queued ones.

    ``finished(result, tag)`` carries ``(base, meta)`` and the caller's tag (what to do with the result).
    """

    started = Signal()
    progressed = Signal(float, str)
    finished = Signal(object, object)
    failed = Signal(str, str)
    cancelled = Signal()
    idle = Signal()

    def __init__(self, parent: QObject | None = None, debounce_ms: int = DEBOUNCE_MS, in_process: bool = True):
        super().__init__(parent)
        # In the worker process by default: the aligner holds the GIL for whole chunks (see app.engines.runner).
        self.runner = _run_in_worker if in_process else run_generation
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._start_pending)
        self._pending: tuple[AudioClip, GenerationSettings, object] | None = None
        self._job: FunctionJob | None = None
        self.last_duration_s: float | None = None
        self._t0 = 0.0

    @property
    def busy(self) -> bool:
        return self._job is not None or self._pending is not None

    def request(self, clip: AudioClip, settings: GenerationSettings, tag: object = None, *,
                immediate: bool = False) -> None:
        self._pending = (clip, settings, tag)
        if self._job is not None:
            self._job.cancel()  # its result is dropped; the pending request starts when it stops
        if immediate:
            self._timer.stop()
            self._start_pending()
        else:
            self._timer.start()

    def cancel(self) -> None:
        self._timer.stop()
        had = self._pending is not None or self._job is not None
        self._pending = None
        if self._job is not None:
            self._job.cancel()
        elif had:
            self.cancelled.emit()
            self.idle.emit()

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until the current job ends (tests and shutdown only)."""
        job = self._job
        return job.wait(timeout_ms) if job is not None else True

    def shutdown(self) -> None:
        self._pending = None
        self._timer.stop()
        for job in [self._job]:
            if job is not None:
                job.cancel()
                job.wait(10000)

    def _start_pending(self) -> None:
        if self._pending is None or self._job is not None:
            return  # a running job is being cancelled; _job_ended starts the pending one
        clip, settings, tag = self._pending
        self._pending = None
        runner = self.runner
        job = FunctionJob(lambda progress, cancel: runner(clip, settings, progress, cancel), self)
        job.progressed.connect(self.progressed)
        job.succeeded.connect(lambda result, j=job: self._on_success(j, result, tag))
        job.failed.connect(lambda msg, details, j=job: self._on_failure(j, msg, details))
        job.cancelled.connect(lambda j=job: self._on_cancelled(j))
        job.finished.connect(lambda j=job: self._job_ended(j))
        self._job = job
        self._t0 = time.monotonic()
        self.started.emit()
        job.start()

    def _on_success(self, job: FunctionJob, result, tag) -> None:
        if job is self._job and not job.is_cancelled:
            self.last_duration_s = time.monotonic() - self._t0
            self.finished.emit(result, tag)

    def _on_failure(self, job: FunctionJob, message: str, details: str) -> None:
        if job is self._job:
            self.failed.emit(message, details)

    def _on_cancelled(self, job: FunctionJob) -> None:
        if job is self._job and self._pending is None:
            self.cancelled.emit()

    def _job_ended(self, job: FunctionJob) -> None:
        if job is self._job:
            self._job = None
        job.deleteLater()
        if self._pending is not None:
            self._start_pending()
        elif self._job is None:
            self.idle.emit()
