"""``vasa-rig render``: render a project's animation on the preview head, as a still (PNG) or a movie (MP4)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app.commands import CommandError

NAME = "render"
HELP = "render a project on the 3D preview head: one frame to a PNG, or the whole take (with audio) to an MP4"
VIEW_CHOICES = ("front", "three-quarter", "side")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("take", metavar="TAKE", help="a take: .vrig project, or .fbx/.csv/.txt/.json curves (no sound)")
    p.add_argument("-o", "--output", required=True, help="output file: .png (one frame) or .mp4 (the take)")
    p.add_argument("--frame", type=int, default=0, help="frame to render into a PNG (default 0)")
    p.add_argument("--view", choices=VIEW_CHOICES, default="front", help="camera preset (default front)")
    p.add_argument("--size", default="640x720", help="image size WIDTHxHEIGHT (default 640x720)")
    p.add_argument("--no-audio", action="store_true", help="leave the audio track out of an MP4")


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CommandError(f"--size must look like 640x720, got {text!r}") from None
    if not (64 <= w <= 4096 and 64 <= h <= 4096):
        raise CommandError(f"--size {text}: each side must be between 64 and 4096 pixels")
    return w, h


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".mp4"):
        raise CommandError(f"output must end in .png or .mp4, got {out.name!r}")
    size = _parse_size(args.size)
    from app.commands import is_take_file, open_take  # noqa: PLC0415 - keeps --help fast
    from app.preview.geometry import HeadGeometryError  # noqa: PLC0415
    from app.preview.render import FaceRenderer, RenderError, save_png, write_movie  # noqa: PLC0415

    if not is_take_file(args.take):
        raise CommandError(f"{Path(args.take).name} is not a take (.vrig, .fbx, .csv, .txt, .json); animate audio "
                           "first with vasa-rig generate")
    take = open_take(args.take)
    curves = take.evaluate()
    if len(curves) == 0:
        raise CommandError(f"{args.take}: the take has no frames")
    try:
        if suffix == ".png":
            if not 0 <= args.frame < len(curves):
                raise CommandError(f"--frame {args.frame} is outside the take (0..{len(curves) - 1})")
            t0 = time.perf_counter()
            with FaceRenderer(size=size, view=args.view) as renderer:
                image = renderer.render(curves[args.frame])
            save_png(image, out)
            print(f"wrote {out} (frame {args.frame}, {args.view}, {time.perf_counter() - t0:.1f} s)")
            return 0
        audio = None
        if take.audio is None and not args.no_audio:
            print(f"note: {Path(args.take).name} carries no audio; writing a silent movie")
        if take.audio is not None and not args.no_audio:
            audio = Path(take.audio.path)
            if not audio.is_file():
                print(f"vasa-rig render: audio {audio} not found; writing the movie without sound", file=sys.stderr)
                audio = None
        t0 = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if done % 60 == 0 or done == total:
                print(f"\r  {done}/{total} frames", end="" if done < total else "\n", flush=True)

        write_movie(curves, out, take.fps, audio, size, args.view, progress=progress)
        took = time.perf_counter() - t0
        print(f"wrote {out} ({len(curves)} frames at {take.fps:g} fps, {took:.1f} s, "
              f"{took / len(curves) * 1000:.0f} ms per frame{', with audio' if audio else ''})")
        return 0
    except (RenderError, HeadGeometryError) as exc:
        raise CommandError(str(exc)) from None
