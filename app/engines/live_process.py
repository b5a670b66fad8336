"""A live session in a child process, for the desktop app.

In the GUI process the live engine would share the interpreter with the 3D preview and the editors: rendering a
frame holds the interpreter for tens of milliseconds, and live frames would queue up behind it (measured under a
software renderer: latency grew to seconds). So the app runs the whole session (input, engine, Live Link sender,
recording) in a child process, as it does generation, and the child sends back what the app shows: the newest
frame about 30 times a second for the preview, the figures ten times a second, and messages.

:class:`LiveProcess` offers what the app uses of :class:`app.engines.live.LiveSession`: ``start``, ``stop``,
``stats``, ``wait``, ``controls``. Starting does not block: the child reports ``started`` or an error (no device,
a file it cannot read, a recording folder it cannot write) a moment later, and :attr:`state` says which.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from app.engines.live import LiveStats
from app.engines.streaming import DEFAULT_LOOKAHEAD, LiveControls

FRAME_EVERY_S = 0.033
STATS_EVERY_S = 0.1
STOP_TIMEOUT_S = 20.0


@dataclass
class LiveSpec:
    """Everything the child needs to open the session (picklable)."""

    source: tuple  # ("file", path) or ("device", index or name or None)
    targets: list = field(default_factory=list)
    subject: str | None = None
    record: str | None = None
    controls: LiveControls | None = None
    seed: int = 0
    lookahead: int = DEFAULT_LOOKAHEAD


def _child(conn, spec: LiveSpec) -> None:
    import time

    from app.engines.live import LiveError, LiveSession
    from app.io.audio_input import AudioInputError, DeviceInput, FileInput

    lock = threading.Lock()

    def send(message) -> None:
        with lock:
            try:
                conn.send(message)
            except (OSError, ValueError, BrokenPipeError):
                pass

    latest: list = [None]

    def on_frame(index, curves) -> None:
        latest[0] = (index, curves)

    try:
        kind, what = spec.source
        source = FileInput(what) if kind == "file" else DeviceInput(what)
        session = LiveSession(source, targets=spec.targets, subject=spec.subject, record=spec.record,
                              controls=spec.controls, seed=spec.seed, lookahead=spec.lookahead,
                              on_message=lambda text: send(("message", text)), on_frame=on_frame)
        session.start()
    except (LiveError, AudioInputError, ValueError, OSError) as exc:
        send(("error", str(exc)))
        return
    send(("started", getattr(source, "name", "input")))
    shown, last_stats, ended = -1, 0.0, False
    try:
        while True:
            if conn.poll(FRAME_EVERY_S):
                try:
                    command = conn.recv()
                except (EOFError, OSError):
                    break  # the app went away: stop and save
                if command is None or command[0] == "stop":
                    break
                if command[0] == "controls":
                    session.controls = command[1]
            frame = latest[0]
            if frame is not None and frame[0] != shown:
                shown = frame[0]
                send(("frame", frame[0], frame[1]))
            now = time.monotonic()
            if now - last_stats >= STATS_EVERY_S:
                last_stats = now
                send(("stats", session.stats()))
            if not ended and session.wait(0):
                ended = True
                send(("ended",))
    finally:
        send(("stopped", session.stop()))


class LiveProcess:
    """See the module docstring. Callbacks run on a reader thread: relay them to the GUI thread."""

    def __init__(self, spec: LiveSpec, *, on_message: Callable[[str], None] | None = None,
                 on_frame: Callable[[int, object], None] | None = None) -> None:
        self.spec = spec
        self.on_message, self.on_frame = on_message, on_frame
        self.state = "idle"  # idle, starting, running, stopped, failed
        self.error: str | None = None
        self.source_name: str | None = None
        self._controls = spec.controls or LiveControls()
        self._stats = LiveStats(state="starting")
        self._ended = threading.Event()
        self._stopped = threading.Event()
        self._final: LiveStats | None = None
        self._proc = None
        self._conn = None
        self._send_lock = threading.Lock()

    def start(self) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(target=_child, args=(child, self.spec), daemon=True, name="vasa-rig-live")
        self.state = "starting"
        self._proc.start()
        child.close()
        threading.Thread(target=self._read, name="live-reader", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            kind = message[0]
            if kind == "frame" and self.on_frame is not None:
                self.on_frame(message[1], message[2])
            elif kind == "stats":
                self._stats = message[1]
            elif kind == "message" and self.on_message is not None:
                self.on_message(message[1])
            elif kind == "started":
                self.state, self.source_name = "running", message[1]
            elif kind == "ended":
                self._ended.set()
            elif kind == "error":
                self.state, self.error = "failed", message[1]
                self._ended.set()
                break
            elif kind == "stopped":
                self._final = message[1]
                break
        if self.state in ("starting", "running") and self._final is None:
            self.state, self.error = "failed", self.error or "the live process ended unexpectedly"
            self._ended.set()
        self._stopped.set()

    @property
    def controls(self) -> LiveControls:
        return self._controls

    @controls.setter
    def controls(self, value: LiveControls) -> None:
        self._controls = value
        self._send(("controls", value))

    def _send(self, message) -> None:
        with self._send_lock:
            if self._conn is None:
                return
            try:
                self._conn.send(message)
            except (OSError, ValueError):
                pass

    def stats(self) -> LiveStats:
        return self._final if self._final is not None else self._stats

    def wait(self, timeout: float | None = None) -> bool:
        """True once the input has ended by itself (a file) or the session failed."""
        return self._ended.wait(timeout)

    def stop(self) -> LiveStats:
        """Stop the session (the child sends the neutral pose and saves the recording); returns the last figures."""
        if self._proc is None:
            return self.stats()
        self._send(("stop",))
        self._stopped.wait(STOP_TIMEOUT_S)
        proc, self._proc = self._proc, None
        proc.join(timeout=5.0)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5.0)
        with self._send_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        if self.state == "running":
            self.state = "stopped"
        stats = self.stats()
        if self.state == "failed" and self.error:
            stats.messages.append(self.error)
        return stats
