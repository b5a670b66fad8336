"""``vasa-rig stream``: play a take to Unreal Engine as Live Link Face packets, optionally with sound."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from app.commands import CommandError

NAME = "stream"
HELP = "stream a take (.vrig, .fbx, .csv, .txt, .json) or an audio file to Unreal Engine over Live Link Face (UDP)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="TAKE|AUDIO",
                   help="a take (.vrig project, or .fbx/.csv/.txt/.json curves), or an audio file to animate first")
    p.add_argument("--host", default=None, help="destination host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="destination UDP port (default 11111)")
    p.add_argument("--target", action="append", default=[], metavar="HOST:PORT",
                   help="a destination; repeat for several (with --host/--port too, that one is added)")
    p.add_argument("--subject", default="VasaRig", help="Live Link subject name in Unreal (default VasaRig)")
    p.add_argument("--device-id", default=None, help="device id in the packets (default: fixed per machine)")
    p.add_argument("--play-audio", action="store_true", help="play the take's audio; frames follow the sound")
    p.add_argument("--loop", action="store_true", help="loop until Ctrl+C")
    p.add_argument("--fps", type=float, default=None, help="packet rate (default: the take's rate, 60)")
    p.add_argument("--start", type=float, default=0.0, metavar="SECONDS", help="start this far into the take")


def _targets(args: argparse.Namespace) -> list[tuple[str, int]]:
    from app.io.livelink import DEFAULT_PORT, LiveLinkTargetError, parse_target  # noqa: PLC0415

    targets = []
    try:
        for text in args.target:
            targets.append(parse_target(text))
    except LiveLinkTargetError as exc:
        raise CommandError(str(exc)) from None
    if args.host is not None or args.port is not None or not targets:
        targets.append((args.host or "127.0.0.1", DEFAULT_PORT if args.port is None else args.port))
    return targets


def _load_take(path: Path):
    from app.commands import is_take_file, open_take  # noqa: PLC0415

    if is_take_file(path):
        return open_take(path)
    if not path.exists():
        raise CommandError(f"file not found: {path}")
    return _take_from_audio(path)


def _take_from_audio(path: Path):
    """Animate an audio file with the default engine first."""
    from app.core.settings import GenerationSettings  # noqa: PLC0415
    from app.engines.generate import GenerateError, generate_take  # noqa: PLC0415
    from app.engines.phonetics import PhoneticsError  # noqa: PLC0415
    from app.io.audio import AudioError, load_audio  # noqa: PLC0415

    try:
        clip = load_audio(path)
    except AudioError as exc:
        raise CommandError(f"{path.name} is neither a take (.vrig, .fbx, .csv, .txt, .json) nor readable audio: "
                           f"{exc}") from None
    print(f"animating {path.name} ({clip.duration:.1f} s) with the procedural engine ...")
    try:
        return generate_take(clip, GenerationSettings())
    except (GenerateError, PhoneticsError) as exc:
        raise CommandError(str(exc)) from None


def _load_audio(take) -> tuple | None:
    from app.io.audio import AudioError, load_audio  # noqa: PLC0415

    if take.audio is None:
        print("note: the take has no audio; streaming without sound")
        return None
    try:
        clip = load_audio(take.audio.path)
    except AudioError as exc:
        print(f"note: cannot load the take's audio ({exc}); streaming without sound")
        return None
    return clip.samples, clip.sample_rate


def run(args: argparse.Namespace) -> int:
    from app.core.timebase import resample_curves  # noqa: PLC0415
    from app.io.livelink import LiveLinkError, LiveLinkSender, to_packet_units  # noqa: PLC0415

    if args.fps is not None and not 1.0 <= args.fps <= 1000.0:
        raise CommandError(f"--fps {args.fps:g} is out of range (1-1000)")
    targets = _targets(args)
    take = _load_take(Path(args.input))
    curves = take.evaluate()
    fps = take.fps if args.fps is None else float(args.fps)
    if abs(fps - take.fps) > 1e-9:
        curves = resample_curves(curves, take.fps, fps)
    frames = to_packet_units(take.rig.to_arkit(curves))
    start = int(round(args.start * fps))
    if not 0 <= start < len(frames):
        raise CommandError(f"--start {args.start:g} s is outside the take ({len(frames) / fps:.2f} s)")
    audio = _load_audio(take) if args.play_audio else None

    messages: list[str] = []
    lock = threading.Lock()

    def on_error(message: str) -> None:  # called on the sender thread: printed by the main loop
        with lock:
            messages.append(message)

    try:
        sender = LiveLinkSender(targets, subject=args.subject, device_id=args.device_id, fps=fps,
                                on_error=on_error)  # fmt: skip
    except LiveLinkError as exc:
        raise CommandError(str(exc)) from None
    where = ", ".join(str(t) for t in sender.targets)
    print(f"streaming '{take.name}' ({len(frames)} frames at {fps:g} fps) as subject '{args.subject}' "
          f"to {where}{' with audio' if audio is not None else ''}{', looping' if args.loop else ''} "
          "(Ctrl+C to stop)")
    try:
        sender.play(frames, start_frame=start, loop=args.loop, audio=audio)
        while not sender.wait(timeout=1.0):
            _flush(messages, lock)
            status = sender.status
            clock = "audio clock" if status.audio_sync else "system clock"
            print(f"  frame {status.frame}  sent {status.frames_sent}  errors {status.send_errors}  "
                  f"({clock})", flush=True)
    except KeyboardInterrupt:
        print()
    finally:
        sender.close()  # sends the neutral pose
    _flush(messages, lock)
    status = sender.status
    print(f"stopped: {status.frames_sent} frames sent, {status.send_errors} send errors, "
          f"{status.frames_skipped} frames skipped; neutral pose sent")
    return 0


def _flush(messages: list[str], lock: threading.Lock) -> None:
    with lock:
        pending, messages[:] = list(messages), []
    for message in pending:
        print(f"note: {message}", flush=True)
