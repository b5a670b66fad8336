"""A Live Link Face listener: collects decoded packets with arrival times, and frame-sequence statistics.

Used by the tests, by ``vasa-rig listen`` (users checking their network) and by the streaming benchmark.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.io.livelink.codec import LiveLinkError, LiveLinkPacket, LiveLinkPacketError, decode_packet

_MAX_DATAGRAM = 65536
_POLL_S = 0.1  # how often the receive loop looks at the stop flag
# A frame-number step larger than this (either way) is a seek or a loop restart, not loss or reordering.
JUMP_FRAMES = 600
_MAX_MISSING_TRACKED = 10000


class LiveLinkReceiverError(LiveLinkError):
    """The listening socket could not be opened (port in use, bad address)."""


@dataclass(frozen=True)
class ReceivedPacket:
    packet: LiveLinkPacket
    arrival: float  # time.monotonic() when it was read
    source: tuple[str, int]


@dataclass
class FrameStats:
    """Running statistics of a stream of frame numbers: lost, out of order, duplicates, jumps (seek/loop)."""

    received: int = 0
    lost: int = 0
    out_of_order: int = 0
    duplicates: int = 0
    jumps: int = 0
    first: int | None = None
    last: int | None = None  # highest frame number of the current run
    _missing: set[int] = field(default_factory=set, repr=False)

    def add(self, frame: int) -> None:
        self.received += 1
        if self.last is None:
            self.first = self.last = frame
            return
        step = frame - self.last
        if step == 1:
            self.last = frame
        elif 1 < step <= JUMP_FRAMES:
            # Frames in between are lost unless they turn up late (then they count as out of order instead).
            self.lost += step - 1
            if len(self._missing) + step - 1 <= _MAX_MISSING_TRACKED:
                self._missing.update(range(self.last + 1, frame))
            self.last = frame
        elif -JUMP_FRAMES <= step <= 0:
            if frame in self._missing:
                self._missing.discard(frame)
                self.lost -= 1
                self.out_of_order += 1
            else:
                self.duplicates += 1
        else:
            self.jumps += 1
            self._missing.clear()
            self.last = frame


def summarize_frames(frames: list[int]) -> FrameStats:
    stats = FrameStats()
    for frame in frames:
        stats.add(frame)
    return stats


class LiveLinkReceiver:
    """Listens on a UDP port in a thread and keeps every decodable packet (and a count of the rest).

    ``port=0`` picks a free port (see ``.port``). ``on_packet`` is called from the receive thread.
    """

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        on_packet: Callable[[ReceivedPacket], None] | None = None,
        keep: bool = True,
    ) -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise LiveLinkReceiverError(f"invalid port {port!r}: use 1-65535 (or 0 for any free port)")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            # A large buffer so bursts are not dropped while the reading thread waits for the GIL.
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise LiveLinkReceiverError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        self._sock.settimeout(_POLL_S)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._on_packet = on_packet
        self._keep = keep
        self._packets: list[ReceivedPacket] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stop = threading.Event()
        self.invalid = 0  # datagrams that were not Live Link Face v6 packets
        self.last_error: str | None = None
        self.count = 0
        self._thread = threading.Thread(target=self._run, name=f"livelink-recv-{self.port}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self._sock.recvfrom(_MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    break
                self.last_error = str(exc)
                time.sleep(_POLL_S)
                continue
            arrival = time.monotonic()
            try:
                packet = decode_packet(data)
            except LiveLinkPacketError as exc:
                with self._lock:
                    self.invalid += 1
                    self.last_error = str(exc)
                continue
            received = ReceivedPacket(packet, arrival, (source[0], source[1]))
            with self._arrived:
                self.count += 1
                if self._keep:
                    self._packets.append(received)
                self._arrived.notify_all()
            if self._on_packet is not None:
                self._on_packet(received)

    def packets(self) -> list[ReceivedPacket]:
        """A snapshot of the packets kept so far."""
        with self._lock:
            return list(self._packets)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` packets have arrived in total; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while self.count < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._arrived.wait(remaining)
            return True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * _POLL_S + 1.0)
        self._sock.close()

    def __enter__(self) -> LiveLinkReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
