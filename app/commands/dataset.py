"""``vasa-rig dataset build|info|import``: the neural engine's training corpus (models/data)."""

from __future__ import annotations

import argparse
import sys
import time

from app.commands import CommandError

NAME = "dataset"
HELP = "build, inspect or extend a training corpus (synthetic voices, real speech, own captures)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="dataset_command", required=True)
    b = sub.add_parser("build", help="synthesise and render a new corpus into an empty folder")
    b.add_argument("--minutes", type=float, required=True, help="minutes of synthetic labelled speech")
    b.add_argument("--out", required=True, help="output folder (must not hold a dataset yet)")
    b.add_argument("--sources", help="comma-separated: espeak,flite,piper,asterisk,pocketsphinx,tuxpaint,fillets,"
                                     "codec2 (default: all)")
    b.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same corpus")
    b.add_argument("--unlabelled-minutes", type=float, help="cap on unlabelled real speech (default: all of it)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    i = sub.add_parser("info", help="hours per source, voices, phone coverage, emotion balance")
    i.add_argument("dir", help="dataset folder")
    i.add_argument("--json", action="store_true", help="print the figures as JSON")
    m = sub.add_parser("import", help="add an own capture (Live Link Face CSV or EmoFace txt + WAV)")
    m.add_argument("curves", help="Live Link Face take .csv or EmoFace .txt")
    m.add_argument("wav", help="the audio recorded with it")
    m.add_argument("--out", required=True, help="dataset folder (created when missing)")
    m.add_argument("--speaker", default="actor", help="speaker id (keep one per person)")
    m.add_argument("--emotion", default="neutral", help="emotion of the performance (one of the 8)")
    m.add_argument("--intensity", type=float, default=0.0, help="emotion intensity 0..1")
    m.add_argument("--transcript", help="what is said (aligned with PocketSphinx for phone timings)")
    m.add_argument("--split", default="train", choices=("train", "val_real"))
    m.add_argument("--fps", type=float, help="frame rate of the curves when it cannot be told from the file")


def _progress_bar():
    start = time.perf_counter()
    last = [0.0]

    def show(fraction: float, message: str) -> None:
        now = time.perf_counter()
        if now - last[0] < 0.5 and fraction < 1.0:
            return
        last[0] = now
        width = 30
        filled = int(round(fraction * width))
        eta = (now - start) * (1 - fraction) / fraction if fraction > 0.001 else 0.0
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction:6.1%}  {message[:40]:<40} "
                         f"eta {eta / 60:5.1f} min")
        if fraction >= 1.0:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def run(args: argparse.Namespace) -> int:
    from models.data import DatasetError

    try:
        if args.dataset_command == "build":
            return _build(args)
        if args.dataset_command == "info":
            return _info(args)
        return _import(args)
    except DatasetError as exc:
        raise CommandError(str(exc)) from None


def _build(args) -> int:
    from pathlib import Path

    from models.data.build import DEFAULT_SOURCES, BuildOptions, build
    from models.data.info import format_summary, summarise

    sources = tuple(s.strip() for s in args.sources.split(",") if s.strip()) if args.sources else DEFAULT_SOURCES
    options = BuildOptions(out=Path(args.out), minutes=args.minutes, sources=sources, seed=args.seed,
                           unlabelled_minutes=args.unlabelled_minutes,
                           progress=None if args.quiet else _progress_bar())
    build(options)
    for line in options.report[:20]:
        print(f"skipped: {line}", file=sys.stderr)
    if len(options.report) > 20:
        print(f"... and {len(options.report) - 20} more (listed in manifest.json build.report)", file=sys.stderr)
    print(format_summary(summarise(args.out)))
    return 0


def _info(args) -> int:
    import json

    from models.data.info import format_summary, summarise

    info = summarise(args.dir)
    print(json.dumps(info, indent=1) if args.json else format_summary(info))
    return 0


def _import(args) -> int:
    from models.data.captures import import_capture

    entry = import_capture(args.curves, args.wav, args.out, speaker=args.speaker, emotion=args.emotion,
                           intensity=args.intensity, split=args.split, transcript=args.transcript, fps=args.fps)
    print(f"added {entry['id']} ({entry['duration']:.2f} s) to {args.out}")
    return 0
