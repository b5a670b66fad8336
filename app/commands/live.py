"""``vasa-rig live``: animate a live voice (an input device, or a file played as if it were one) and drive Unreal
Engine over Live Link Face as it speaks; optionally record the session into a project."""

from __future__ import annotations

import argparse
import threading
import time

from app.commands import CommandError
from app.engines.streaming import DEFAULT_LOOKAHEAD

NAME = "live"
HELP = "live mode: microphone (or a file played in real time) in, Live Link Face packets out, optional recording"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--device", default=None, metavar="N|NAME",
                     help="input device index or name as --list-devices shows it (default: the system default)")
    src.add_argument("--file", default=None, metavar="AUDIO",
                     help="play this audio file in real time as the input (tests and demos)")
    p.add_argument("--list-devices", action="store_true", help="list the audio input devices and exit")
    p.add_argument("--loop", action="store_true", help="with --file: start the file again at its end")
    p.add_argument("--host", default=None, help="destination host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="destination UDP port (default 11111)")
    p.add_argument("--target", action="append", default=[], metavar="HOST:PORT",
                   help="a destination; repeat for several (with --host/--port too, that one is added)")
    p.add_argument("--no-send", action="store_true", help="send no packets (record or measure only)")
    p.add_argument("--subject", default="VasaRig", help="Live Link subject name in Unreal (default VasaRig)")
    p.add_argument("--record", default=None, metavar="OUT.vrig",
                   help="record the session (audio and curves) into a project; saved every 30 s and on stop")
    p.add_argument("--emotion", default="neutral", help="emotion (default neutral)")
    p.add_argument("--intensity", type=float, default=0.0, help="emotion intensity 0..1 (default 0)")
    p.add_argument("--gaze", type=float, nargs=2, default=(0.0, 0.0), metavar=("YAW", "PITCH"),
                   help="gaze direction in degrees (default 0 0)")
    p.add_argument("--eye-contact", type=float, default=1.0, help="0..1: how steadily the eyes hold the gaze")
    p.add_argument("--head-distance", type=float, default=60.0, help="head distance in cm (default 60)")
    p.add_argument("--seed", type=int, default=0, help="performance seed (default 0)")
    p.add_argument("--lookahead", type=int, default=DEFAULT_LOOKAHEAD, metavar="FRAMES",
                   help=f"frames of audio each frame waits for, 0-30 (default {DEFAULT_LOOKAHEAD}: about 85 ms typical "
                        "and under 100 ms at p95 from voice to packet on a 2-core machine; each frame more is 17 ms "
                        "later)")
    p.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stop after this long")
    p.add_argument("--quiet", action="store_true", help="no status line each second")


def _device(text: str | None):
    if text is None:
        return None
    return int(text) if text.strip().lstrip("-").isdigit() else text


def _controls(args: argparse.Namespace):
    from app.engines.streaming import LiveControls

    try:
        return LiveControls(emotion=args.emotion, intensity=args.intensity, gaze=tuple(args.gaze),
                            eye_contact=args.eye_contact, head_distance=args.head_distance)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def list_devices() -> int:
    from app.io.audio_input import AudioInputError, input_devices

    try:
        devices = input_devices()
    except AudioInputError as exc:
        raise CommandError(str(exc)) from None
    if not devices:
        print("no audio input devices (use --file AUDIO to play a file as the input)")
        return 0
    for d in devices:
        print(d.label())
    return 0


def make_source(args: argparse.Namespace):
    from app.io.audio_input import AudioInputError, DeviceInput, FileInput

    if args.file is not None:
        try:
            return FileInput(args.file, loop=args.loop)
        except AudioInputError as exc:
            raise CommandError(str(exc)) from None
    if args.loop:
        raise CommandError("--loop needs --file")
    return DeviceInput(_device(args.device))


def run(args: argparse.Namespace) -> int:
    if args.list_devices:
        return list_devices()
    from app.commands.stream import _flush, _targets
    from app.engines.live import LiveError, LiveSession

    if not 0 <= args.lookahead <= 30:
        raise CommandError(f"--lookahead {args.lookahead} is out of range (0-30 frames)")
    if args.duration is not None and args.duration <= 0:
        raise CommandError("--duration must be positive")
    targets = [] if args.no_send else _targets(args)
    source = make_source(args)
    messages: list[str] = []
    lock = threading.Lock()

    def on_message(text: str) -> None:  # called from the worker threads: printed by the main loop
        with lock:
            messages.append(text)

    try:
        session = LiveSession(source, targets=targets, subject=args.subject, record=args.record,
                              controls=_controls(args), seed=args.seed, lookahead=args.lookahead,
                              on_message=on_message)
    except LiveError as exc:
        raise CommandError(str(exc)) from None
    where = ", ".join(f"{h}:{p}" for h, p in targets) or "nowhere (--no-send)"
    print(f"live from {getattr(source, 'name', 'input')} to {where} as subject '{args.subject}'; latency "
          f"{session.latency_budget_frames / 60 * 1000:.0f} ms of lookahead + processing"
          + (f"; recording to {session.stats().record_path}" if args.record else "") + " (Ctrl+C to stop)",
          flush=True)
    try:
        session.start()
    except LiveError as exc:
        raise CommandError(str(exc)) from None
    t0 = time.monotonic()
    try:
        while not session.wait(timeout=1.0):
            _flush(messages, lock)
            if not args.quiet:
                print("  " + status_line(session.stats()), flush=True)
            if args.duration is not None and time.monotonic() - t0 >= args.duration:
                break
    except KeyboardInterrupt:
        print()
    stats = session.stop()
    _flush(messages, lock)
    print("stopped: " + status_line(stats))
    p95 = stats.percentile(95)
    print(f"latency p50 {_ms(stats.percentile(50))}, p95 {_ms(p95)}; {stats.frames_late} late (> 100 ms), "
          f"{stats.frames_dropped} dropped, {stats.input_overruns} input overruns, {stats.send_errors} send errors")
    if stats.record_path:
        print(f"recorded {stats.recorded_s:.1f} s into {stats.record_path}")
    return 0 if stats.state != "failed" else 1


def status_line(stats) -> str:
    return (f"{stats.frames_sent} frames sent, level {stats.level_db:5.1f} dBFS, latency p50 "
            f"{_ms(stats.percentile(50))} p95 {_ms(stats.percentile(95))}, {stats.frames_late} late"
            + (f", backlog {stats.backlog_s:.2f} s" if stats.backlog_s > 0.05 else "")
            + (f", {stats.input_overruns} input overruns" if stats.input_overruns else ""))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"

