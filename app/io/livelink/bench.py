"""Streaming benchmark: play synthetic frames to a receiver on 127.0.0.1 and measure delivery and pacing.

    python -m app.io.livelink.bench --seconds 600 --fps 60
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from app.io.livelink.codec import BLENDSHAPE_COUNT, VALUE_COUNT
from app.io.livelink.receiver import LiveLinkReceiver, summarize_frames
from app.io.livelink.sender import LiveLinkSender


@dataclass(frozen=True)
class BenchResult:
    seconds: float
    fps: float
    frames_sent: int
    frames_received: int
    lost: int
    out_of_order: int
    duplicates: int
    wrong_values: int  # packets whose values differ from the frame that was sent
    interval_p50_ms: float  # between consecutive arrivals at the receiver
    interval_p99_ms: float
    interval_max_ms: float
    send_late_p50_ms: float  # how long after its due time each send began
    send_late_p99_ms: float
    send_late_max_ms: float
    drift_ms: float  # last arrival - first arrival - (last frame - first frame) / fps
    frames_skipped: int

    def lines(self) -> list[str]:
        return [
            f"streamed {self.seconds:g} s at {self.fps:g} fps to 127.0.0.1",
            f"frames sent {self.frames_sent}, received {self.frames_received}, lost {self.lost}, "
            f"out of order {self.out_of_order}, duplicates {self.duplicates}, "
            f"wrong values {self.wrong_values}, "
            f"skipped by sender {self.frames_skipped}",
            f"inter-packet interval p50 {self.interval_p50_ms:.3f} ms, p99 {self.interval_p99_ms:.3f} ms, "
            f"max {self.interval_max_ms:.3f} ms (ideal {1000 / self.fps:.3f} ms)",
            f"send lateness p50 {self.send_late_p50_ms:.3f} ms, p99 {self.send_late_p99_ms:.3f} ms, "
            f"max {self.send_late_max_ms:.3f} ms",
            f"drift at the end {self.drift_ms:+.3f} ms",
        ]


def synthetic_frames(count: int, fps: float) -> np.ndarray:
    """Smooth, distinct values per channel (packet units), so that wrong or shifted frames are detectable."""
    t = np.arange(count)[:, None] / fps
    phase = np.arange(VALUE_COUNT)[None, :] * 0.37
    frames = 0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t + phase)
    frames[:, BLENDSHAPE_COUNT:] = 0.3 * np.sin(2 * np.pi * 0.2 * t + phase[:, BLENDSHAPE_COUNT:])
    return frames.astype(np.float32)


def bench_stream(
    seconds: float, fps: float = 60.0, progress: Callable[[str], None] | None = None
) -> BenchResult:
    count = max(2, int(round(seconds * fps)))
    frames = synthetic_frames(count, fps)
    with LiveLinkReceiver(0) as receiver:
        sender = LiveLinkSender([("127.0.0.1", receiver.port)], fps=fps, record_timing=True,
                                neutral_on_stop=False, max_lag_s=None)  # fmt: skip
        try:
            sender.play(frames)
            started = time.monotonic()
            while not sender.wait(timeout=1.0):
                if progress is not None:
                    status = sender.status
                    progress(f"{time.monotonic() - started:6.0f} s  sent {status.frames_sent}  "
                             f"received {receiver.count}")  # fmt: skip
            receiver.wait_for(count, timeout=2.0)
        finally:
            sender.close()
        packets = receiver.packets()
        timing = list(sender.timing or [])
        skipped = sender.status.frames_skipped
    numbers = [p.packet.frame_number for p in packets]
    stats = summarize_frames(numbers)
    wrong = sum(
        1 for p in packets
        if not 0 <= p.packet.frame_number < count
        or not np.array_equal(np.asarray(p.packet.values, dtype=np.float32), frames[p.packet.frame_number])
    )  # fmt: skip
    arrivals = np.array([p.arrival for p in packets])
    intervals = np.diff(arrivals) * 1000 if len(arrivals) > 1 else np.zeros(1)
    late = np.array([(sent - due) * 1000 for _, due, sent in timing]) if timing else np.zeros(1)
    if len(packets) > 1:
        ideal = (packets[-1].packet.frame_number - packets[0].packet.frame_number) / fps
        drift = (arrivals[-1] - arrivals[0] - ideal) * 1000
    else:
        drift = float("nan")
    return BenchResult(
        seconds=count / fps, fps=fps, frames_sent=len(timing), frames_received=len(packets), lost=stats.lost,
        out_of_order=stats.out_of_order, duplicates=stats.duplicates, wrong_values=wrong,
        interval_p50_ms=float(np.percentile(intervals, 50)),
        interval_p99_ms=float(np.percentile(intervals, 99)),
        interval_max_ms=float(intervals.max()), send_late_p50_ms=float(np.percentile(late, 50)),
        send_late_p99_ms=float(np.percentile(late, 99)), send_late_max_ms=float(late.max()),
        drift_ms=float(drift), frames_skipped=skipped,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = bench_stream(args.seconds, args.fps, progress=lambda line: print(line, flush=True))
    if args.json:
        import json  # noqa: PLC0415

        print(json.dumps(asdict(result), indent=2))
    for line in result.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
