"""``vasa-rig export``: write a take as FBX curves, Live Link Face CSV, EmoFace txt or JSON."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from app.commands import CommandError

NAME = "export"
HELP = "export a project (or any take file) to .fbx, .csv (Live Link Face), .txt (EmoFace) or .json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help=".vrig project, or a .fbx/.csv/.txt/.json take to convert")
    p.add_argument("-o", "--output", required=True, help="output file; the extension picks the format")
    p.add_argument("--fps", type=float, help="export frame rate (24, 25, 30, 50, 60 or any); default: the take's")
    p.add_argument("--curves", choices=("metahuman", "faceboard", "arkit"), default="metahuman",
                   help="curve names in FBX/JSON: MetaHuman CTRL_expressions_* (default), raw face-board controls, "
                        "or the 52 ARKit blendshapes")
    p.add_argument("--range", metavar="A:B", help="frames A to B inclusive, at the take's 60 fps (either may be empty)")
    p.add_argument("--key-tolerance", type=float, default=1e-4,
                   help="FBX key reduction: drop keys that linear interpolation reproduces within this (default 1e-4)")
    p.add_argument("--keep-all-keys", action="store_true", help="FBX: one key per frame on every curve")
    p.add_argument("--drop-constant", action="store_true", help="FBX: skip curves that stay at rest for the whole take")
    p.add_argument("--root-name", default="root", help="FBX root joint name (default root)")
    p.add_argument("--head-name", default="head", help="FBX head joint name (default head)")
    p.add_argument("--no-head-joint", action="store_true",
                   help="FBX: leave head pose off the head joint (MetaHuman naming still writes HeadYaw... curves)")
    p.add_argument("--input-fps", type=float, help="frame rate of a .txt/.csv input when it cannot be told")


def parse_range(text: str | None) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    if ":" not in text:
        raise CommandError(f"--range must look like A:B (frames), got {text!r}")
    a, b = text.split(":", 1)
    try:
        return (int(a) if a.strip() else None), (int(b) if b.strip() else None)
    except ValueError:
        raise CommandError(f"--range must hold whole frame numbers, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    from app.core.project import ProjectFileError
    from app.io.export import ExportError, ExportOptions, read_take, write_take
    from app.io.text_formats import TakeFormatError

    start, end = parse_range(args.range)
    try:
        take = read_take(args.input, fps=args.input_fps)
    except (ProjectFileError, TakeFormatError) as exc:
        raise CommandError(str(exc)) from None
    options = ExportOptions(fps=args.fps, curves=args.curves, start_frame=start, end_frame=end,
                            key_tolerance=None if args.keep_all_keys else args.key_tolerance,
                            drop_constant=args.drop_constant, root_name=args.root_name, head_name=args.head_name,
                            head_joint=not args.no_head_joint)
    t0 = time.perf_counter()
    try:
        path = write_take(take, args.output, options)
    except ExportError as exc:
        raise CommandError(str(exc)) from None
    size = Path(path).stat().st_size
    print(f"wrote {path} ({size / 1024:.0f} KiB, {time.perf_counter() - t0:.2f} s)")
    return 0
