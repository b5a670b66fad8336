"""Live Link Face datagrams: the decoder raises LiveLinkPacketError or returns a packet for any bytes, and
``vasa-rig listen`` keeps running through a flood of garbage and counts it as bad."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time

import numpy as np
import pytest

from app.io.livelink import LiveLinkPacket, LiveLinkPacketError, decode_packet, encode_packet


def valid_packets(rng: np.random.Generator, count: int) -> list[bytes]:
    out = []
    for i in range(count):
        device = "".join(chr(int(c)) for c in rng.integers(32, 0x2FF, int(rng.integers(0, 40))))
        values = rng.uniform(-1, 1, 61).tolist()
        out.append(encode_packet(device, f"subject{i}", int(rng.integers(-2**31, 2**31)), float(rng.random()),
                                 60, 1, values))
    return out


def datagrams(rng: np.random.Generator, mutate, count: int) -> list[bytes]:
    seeds = valid_packets(rng, 8)
    out = [b"", b"\x06", bytes(269), b"\x06" + bytes(269), b"\x06" + b"\xff" * 300, b"\x06\x7f\xff\xff\xff" * 80]
    for i in range(count):
        if i % 4 == 0:
            out.append(rng.integers(0, 256, int(rng.integers(0, 600)), dtype=np.uint8).tobytes())
        else:
            data = seeds[i % len(seeds)]
            for _ in range(int(rng.integers(1, 4))):
                data = mutate(data, rng)
            out.append(data)
    return out


def _same_bits_up_to_nan_quieting(a: bytes, b: bytes) -> bool:
    """Byte equality, except that a signalling NaN float comes back quiet: widening a float32 sNaN to a Python
    float sets its quiet bit, so the payload of a NaN value may differ by that one bit after a round trip."""
    if a == b:
        return True
    if len(a) != len(b) or a[:-61 * 4] != b[:-61 * 4]:
        return False
    fa = np.frombuffer(a[-61 * 4:], dtype=">u4")
    fb = np.frombuffer(b[-61 * 4:], dtype=">u4")
    quiet_bit = np.uint32(0x00400000)
    nan_a = np.isnan(fa.view(">f4"))
    return bool(np.all(np.where(nan_a, (fa | quiet_bit) == (fb | quiet_bit), fa == fb)))


def _decode_all(packets: list[bytes], tally) -> tuple[int, int]:
    bad = good = 0
    failures = []
    for data in packets:
        tally["inputs"] += 1
        try:
            packet = decode_packet(data)
        except LiveLinkPacketError as exc:
            assert str(exc) and "\n" not in str(exc)
            bad += 1
            tally["clean"] += 1
            continue
        except BaseException as exc:  # anything else is a defect of the decoder
            tally["crash"] += 1
            failures.append(f"{data[:40]!r}...: {type(exc).__name__}: {exc}")
            continue
        assert isinstance(packet, LiveLinkPacket) and len(packet.values) == 61
        again = encode_packet(packet.device_id, packet.subject, packet.frame_number, packet.sub_frame,
                              packet.fps_num, packet.fps_den, packet.values)
        assert _same_bits_up_to_nan_quieting(again, bytes(data))
        good += 1
        tally["ok"] += 1
    assert not failures, "\n".join(failures[:10])
    return bad, good


def test_decoder_on_mutated_and_random_datagrams(rng, mutate, tally):
    bad, good = _decode_all(datagrams(rng, mutate, 600), tally)
    assert bad > 400  # most damage is caught...
    assert good > 0  # ...and a flipped value byte still gives a packet


@pytest.mark.slow
def test_decoder_on_mutated_and_random_datagrams_long(rng, mutate, tally):
    bad, good = _decode_all(datagrams(rng, mutate, 5000), tally)
    assert bad > 3000 and good > 0


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_listen_keeps_running_and_counts_garbage(rng, mutate, tally):
    """Garbage then good packets to ``vasa-rig listen``: it exits 0 after the good ones, counting every bad one."""
    from app.__main__ import main

    port = _free_udp_port()
    garbage = [d for d in datagrams(rng, mutate, 300) if _is_bad(d)]
    good = valid_packets(rng, 5)
    out, err = io.StringIO(), io.StringIO()
    result = {}

    def listen():
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            result["rc"] = main(["listen", "--port", str(port), "--count", str(len(good)), "--seconds", "20"])

    thread = threading.Thread(target=listen)
    thread.start()
    deadline = time.monotonic() + 10
    while "listening" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i, data in enumerate(garbage):
            s.sendto(data, ("127.0.0.1", port))
            if i % 50 == 0:
                time.sleep(0.01)  # stay within the socket buffer
        time.sleep(0.2)
        for data in good:
            s.sendto(data, ("127.0.0.1", port))
    thread.join(timeout=25)
    assert not thread.is_alive(), "listen hung"
    tally["inputs"] += len(garbage) + len(good)
    tally["clean"] += len(garbage)
    tally["ok"] += len(good)
    assert result.get("rc") == 0, err.getvalue()
    text = out.getvalue()
    assert f"summary: {len(good)} packets" in text
    assert f"{len(garbage)} datagrams were not Live Link Face v6 packets" in text, text[-400:]


def _is_bad(data: bytes) -> bool:
    try:
        decode_packet(data)
    except LiveLinkPacketError:
        return len(data) > 0  # an empty datagram may not arrive as one
    return False
