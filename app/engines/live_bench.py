"""The live path measured end to end: a file played in real time as the microphone, through a LiveSession, to a Live
Link receiver on 127.0.0.1 in the same process.

Both ends are timestamped on one clock: the instant each frame's audio was "spoken" (the file input's start plus
the frame's time) and the instant its packet was read by the receiver. The session's own figure stops at the send;
the receiver's adds the trip through the loopback socket and the receiving thread.
"""

from __future__ import annotations

import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.timebase import FPS


@dataclass
class LiveBenchResult:
    seconds: float
    frames_expected: int
    frames_sent: int
    frames_received: int
    frames_late: int  # at the receiver, later than the budget
    lost: int  # sent but never received, or out of order
    latency_ms: np.ndarray  # per received frame: audio spoken -> packet received
    send_latency_ms: np.ndarray  # per frame: audio spoken -> packet sent (the session's own figure)
    cpu_cores: float  # process CPU time / wall time while live
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (seconds into the run, resident MB)
    peak_rss_mb: float = 0.0
    input_overruns: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        return max(0, self.frames_expected - self.frames_sent)

    def percentile(self, q: float, which: str = "received") -> float:
        data = self.latency_ms if which == "received" else self.send_latency_ms
        return float(np.percentile(data, q)) if len(data) else float("nan")


def _rss_mb() -> float:
    from app.engines.batch import resident_mb

    now = resident_mb()
    return now if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_live_bench(audio: str | Path, seconds: float, *, record: str | Path | None = None, seed: int = 0,
                   lookahead: int | None = None, progress=None) -> LiveBenchResult:
    """Play ``audio`` (looped) for ``seconds`` as the live input; see the module docstring."""
    from app.engines.live import LATENCY_BUDGET_S, LiveSession
    from app.io.audio_input import FileInput
    from app.io.livelink import LiveLinkReceiver
    from app.io.livelink.receiver import summarize_frames

    received: list[tuple[int, float]] = []
    lock = threading.Lock()

    def on_packet(p) -> None:
        with lock:
            received.append((p.packet.frame_number, p.arrival))

    receiver = LiveLinkReceiver(0, on_packet=on_packet, keep=False)
    source = FileInput(audio, loop=True)
    try:
        kw = {} if lookahead is None else {"lookahead": lookahead}
        session = LiveSession(source, targets=[("127.0.0.1", receiver.port)], record=record, seed=seed,
                              keep_latencies=True, **kw)
        rss = [(0.0, _rss_mb())]
        cpu0, t0 = time.process_time(), time.monotonic()
        session.start()
        next_sample = 10.0
        while (elapsed := time.monotonic() - t0) < seconds:
            time.sleep(min(0.5, max(0.01, seconds - elapsed)))
            if elapsed >= next_sample:
                rss.append((elapsed, _rss_mb()))
                next_sample += 10.0
                if progress is not None:
                    s = session.stats()
                    progress(f"{elapsed:5.0f} s: {s.frames_sent} frames, p95 {s.percentile(95) or 0:.0f} ms, "
                             f"{rss[-1][1]:.0f} MB")
        stats = session.stop()
        wall = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        rss.append((wall, _rss_mb()))
        receiver.wait_for(stats.frames_sent, 1.0)
    finally:
        receiver.stop()
    start = source.started_at or t0
    with lock:
        rows = [(f, a) for f, a in received if f < stats.frames_sent]  # the neutral pose on stop is not a frame
    frames = [f for f, _ in rows]
    lat = np.array([(a - (start + f / FPS)) * 1000.0 for f, a in rows], np.float64)
    order = summarize_frames(frames)
    return LiveBenchResult(
        seconds=wall, frames_expected=stats.frames_expected, frames_sent=stats.frames_sent,
        frames_received=len(rows), frames_late=int(np.sum(lat > LATENCY_BUDGET_S * 1000.0)),
        lost=int(stats.frames_sent - len(set(frames)) + order.out_of_order), latency_ms=lat,
        send_latency_ms=np.asarray(stats.latency_all or [], np.float64), cpu_cores=cpu / wall if wall else 0.0,
        rss_mb=rss, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        input_overruns=stats.input_overruns, messages=list(stats.messages))

