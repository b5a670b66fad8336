"""``vasa-rig listen``: receive Live Link Face packets and print what arrives, once per second.

Useful to check a stream (ours or the iPhone app's) and the network path before opening Unreal.
"""

from __future__ import annotations

import argparse
import threading
import time

from app.commands import CommandError

NAME = "listen"
HELP = "receive Live Link Face packets on a UDP port and print rate, frame numbers, loss and a few values"
SHOWN_VALUES = ("JawOpen", "EyeBlinkLeft", "HeadYaw")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=11111, help="UDP port to listen on (default 11111, as UE)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; 0.0.0.0 listens on every interface)")
    p.add_argument("--count", type=int, default=None, metavar="K", help="stop after K packets")
    p.add_argument("--seconds", type=float, default=None, metavar="S", help="stop after S seconds")


class _Tally:
    """Per-second and overall figures, fed from the receive thread."""

    def __init__(self) -> None:
        from app.io.livelink import FrameStats  # noqa: PLC0415

        self.lock = threading.Lock()
        self.stats = FrameStats()
        self.total = 0
        self.window = 0
        self.window_first: int | None = None
        self.window_last: int | None = None
        self.last = None
        self.subjects: dict[str, int] = {}
        self.sources: set[str] = set()
        self.first_arrival: float | None = None
        self.last_arrival: float | None = None

    def add(self, received) -> None:
        packet = received.packet
        with self.lock:
            self.stats.add(packet.frame_number)
            self.total += 1
            self.window += 1
            if self.window_first is None:
                self.window_first = packet.frame_number
            self.window_last = packet.frame_number
            self.last = packet
            self.subjects[packet.subject] = self.subjects.get(packet.subject, 0) + 1
            self.sources.add(f"{received.source[0]}:{received.source[1]}")
            if self.first_arrival is None:
                self.first_arrival = received.arrival
            self.last_arrival = received.arrival

    def second_line(self, elapsed: float, interval: float, where: str) -> str:
        with self.lock:
            window, first, last, packet = self.window, self.window_first, self.window_last, self.last
            lost, late = self.stats.lost, self.stats.out_of_order
            self.window, self.window_first, self.window_last = 0, None, None
        rate = window / interval if interval > 0 else 0.0
        if window == 0:
            return f"{elapsed:7.1f} s  {rate:5.1f} pkt/s  (waiting for packets on {where})"
        shown = "  ".join(_format_value(packet, name) for name in SHOWN_VALUES)
        return (f"{elapsed:7.1f} s  {rate:5.1f} pkt/s  frames {first}-{last}  subject {packet.subject} "
                f"({packet.fps_num}/{packet.fps_den} fps)  lost {lost}  out-of-order {late}  {shown}")


def _format_value(packet, name: str) -> str:
    from app.io.livelink.codec import BLENDSHAPE_COUNT, LIVE_LINK_FACE_NAMES, ROTATION_SCALE_DEG  # noqa: PLC0415

    value = packet.value(name)
    if LIVE_LINK_FACE_NAMES.index(name) >= BLENDSHAPE_COUNT:  # rotations: show degrees too
        return f"{name} {value:+.3f} ({value * ROTATION_SCALE_DEG:+.1f} deg)"
    return f"{name} {value:.3f}"


def run(args: argparse.Namespace) -> int:
    from app.io.livelink import LiveLinkReceiver, LiveLinkReceiverError  # noqa: PLC0415

    if not 1 <= args.port <= 65535:
        raise CommandError(f"invalid port {args.port}: use 1-65535")
    if args.count is not None and args.count < 1:
        raise CommandError("--count must be at least 1")
    if args.seconds is not None and args.seconds <= 0:
        raise CommandError("--seconds must be positive")

    tally = _Tally()
    enough = threading.Event()

    def on_packet(received) -> None:
        if args.count is not None and tally.total >= args.count:
            return  # packets that arrive between reaching the count and the receiver stopping are not counted
        tally.add(received)
        if args.count is not None and tally.total >= args.count:
            enough.set()

    try:
        receiver = LiveLinkReceiver(args.port, args.host, on_packet=on_packet, keep=False)
    except LiveLinkReceiverError as exc:
        raise CommandError(str(exc)) from None
    where = f"{args.host}:{receiver.port}"
    print(f"listening for Live Link Face packets on {where} (Ctrl+C to stop)", flush=True)
    started = last_tick = time.monotonic()
    deadline = None if args.seconds is None else started + args.seconds
    try:
        while not enough.is_set():
            now = time.monotonic()
            next_tick = last_tick + 1.0
            wake = next_tick if deadline is None else min(next_tick, deadline)
            if enough.wait(max(0.0, wake - now)):
                break
            now = time.monotonic()
            if now >= next_tick:
                print(tally.second_line(now - started, now - last_tick, where), flush=True)
                last_tick = now
            if deadline is not None and now >= deadline:
                break
    except KeyboardInterrupt:
        print()
    finally:
        receiver.stop()
    _print_summary(tally, time.monotonic() - started, receiver.invalid)
    return 0


def _print_summary(tally: _Tally, elapsed: float, invalid: int) -> None:
    s = tally.stats
    print(f"summary: {tally.total} packets in {elapsed:.1f} s", end="")
    if tally.total > 1 and tally.last_arrival > tally.first_arrival:
        rate = (tally.total - 1) / (tally.last_arrival - tally.first_arrival)
        print(f", {rate:.2f} packets/s while streaming")
    else:
        print()
    if tally.total:
        subjects = ", ".join(f"{name} ({count})" for name, count in sorted(tally.subjects.items()))
        print(f"  frames {s.first}..{s.last}, lost {s.lost}, out of order {s.out_of_order}, "
              f"duplicates {s.duplicates}, jumps (seek/loop) {s.jumps}")
        print(f"  subjects: {subjects}; from {', '.join(sorted(tally.sources))}")
    if invalid:
        print(f"  {invalid} datagrams were not Live Link Face v6 packets")
