"""``vasa-rig batch``: animate every line of a folder or list, resumable, with a manifest."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from app.commands import CommandError

NAME = "batch"
HELP = "animate many dialogue lines: a folder (walked, layout kept) or a .csv/.txt list; reruns skip finished lines"
FORMATS = ("vrig", "fbx", "csv", "txt", "json")
EXIT_SOME_FAILED = 1
EXIT_INTERRUPTED = 130


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="IN_DIR|LIST",
                   help="a folder of recordings, or a .csv (columns audio, and optionally transcript, emotion, seed, "
                        "output) or .txt list of audio paths")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output folder (made if missing)")
    p.add_argument("--format", choices=FORMATS, default="vrig", help="output format (default vrig)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: the number of CPU cores, at most 8)")
    p.add_argument("--force", action="store_true", help="redo lines the manifest records as done")
    p.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="run the lines on a Ray cluster: an address (ray://host:10001 or host:6379), auto (the "
                        "cluster this machine belongs to) or local (start one here with --workers CPUs); needs the "
                        "cluster extra, and this package installed on every node")
    p.add_argument("--engine", default="procedural", help="animation engine (default procedural)")
    p.add_argument("--emotion", metavar="NAME[:INTENSITY]", help="emotion of every line without its own")
    p.add_argument("--gaze", metavar="YAW,PITCH", default="0,0", help="gaze direction in degrees (default 0,0)")
    p.add_argument("--eye-contact", type=float, default=1.0, metavar="X", help="0..1 (default 1)")
    p.add_argument("--head-distance", type=float, default=60.0, metavar="CM", help="cm (default 60)")
    p.add_argument("--articulation", type=float, default=1.0, metavar="X", help="0..2 (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of every line without its own (default 0)")
    p.add_argument("--fps", type=float, default=None, help="frame rate of exported curves (default 60)")
    p.add_argument("--steps", type=int, help="neural engine: sampling steps")
    p.add_argument("--guidance", type=float, help="neural engine: classifier-free guidance (0..5)")
    p.add_argument("--confidence", type=float, metavar="P", help="recogniser confidence threshold 0..1")
    p.add_argument("--quiet", action="store_true", help="no progress line")


def batch_settings(args: argparse.Namespace):
    from app.commands.generate import parse_emotion, settings_from_args
    from app.core.settings import NEUTRAL
    from app.engines.base import engine_names

    if args.engine not in engine_names():
        raise CommandError(f"unknown engine {args.engine!r}; choose one of {', '.join(engine_names())}")
    if args.fps is not None and not 1.0 <= args.fps <= 1000.0:
        raise CommandError(f"--fps {args.fps:g} is out of range (1-1000)")
    keys = (parse_emotion(args.emotion),) if args.emotion else NEUTRAL
    return settings_from_args(args, keys)


class BatchProgress:
    """One status line: lines finished of total, rate, real-time factor, failures and time left."""

    def __init__(self, stream, enabled: bool = True):
        self.stream = stream
        self.enabled = enabled
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_print = 0.0

    def __call__(self, summary, finished: int) -> None:
        if not self.enabled or summary.total == 0:
            return
        now = time.monotonic()
        last = finished >= summary.total
        if not last and now - self._last_print < (0.2 if self.tty else 10.0):
            return
        self._last_print = now
        rate = summary.lines_per_second
        left = summary.total - finished
        eta = f"{int(left / rate // 60)}:{int(left / rate % 60):02d}" if rate > 0 and left else "-"
        text = (f"batch {finished}/{summary.total} lines ({summary.skipped} unchanged, {summary.failed} failed), "
                f"{rate:.2f} lines/s, {summary.realtime_factor:.0f}x real time, ETA {eta}")
        self.stream.write(("\r" + text.ljust(100)) if self.tty else text + "\n")
        if last and self.tty:
            self.stream.write("\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from app.engines.batch import MANIFEST_NAME, BatchError, BatchOptions, plan_lines, run_batch

    settings = batch_settings(args)
    workers = args.workers if args.workers is not None else min(os.cpu_count() or 1, 8)
    if not 1 <= workers <= 256:
        raise CommandError(f"--workers must be between 1 and 256, got {workers}")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CommandError(f"{out} is a file; the output must be a folder")
    try:
        lines = plan_lines(Path(args.input))
    except BatchError as exc:
        raise CommandError(str(exc)) from None
    if not lines:
        raise CommandError(f"no recordings found in {args.input}")
    options = BatchOptions(base=settings, suffix="." + args.format, fps=args.fps, workers=workers, force=args.force,
                           ray=args.ray)
    if not args.quiet:
        where = f"on Ray ({args.ray})" if args.ray else f"{workers} worker(s)"
        print(f"{len(lines)} lines, {where}, {settings.engine} engine, .{args.format} into {out}", file=sys.stderr)
    try:
        summary = run_batch(lines, out, options, progress=BatchProgress(sys.stderr, enabled=not args.quiet))
    except BatchError as exc:
        raise CommandError(str(exc)) from None
    print(f"{summary.total} lines: {summary.done} done, {summary.skipped} unchanged, {summary.failed} failed"
          f"{', interrupted' if summary.interrupted else ''} in {summary.wall_seconds:.1f} s "
          f"({summary.lines_per_second:.2f} lines/s, {summary.realtime_factor:.0f}x real time); "
          f"manifest {out / MANIFEST_NAME}")
    for where, why in summary.failures[:20]:
        print(f"  failed: {where}: {why}", file=sys.stderr)
    if len(summary.failures) > 20:
        print(f"  ... and {len(summary.failures) - 20} more (see the manifest)", file=sys.stderr)
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if summary.failed else 0
