"""``vasa-rig info``: describe an audio file, a project file, or the rig."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.commands import CommandError

NAME = "info"
HELP = "describe an audio file or project (duration, rate, channels, take contents), or the rig with --rig"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", help="audio file, or a take (.vrig project, .fbx/.csv/.txt/.json curves)")
    p.add_argument("--rig", action="store_true", help="list the rig's channels with region, side and range")


def run(args: argparse.Namespace) -> int:
    if args.rig:
        return _print_rig()
    if not args.path:
        raise CommandError("give an audio file or project, or --rig")
    path = Path(args.path)
    from app.commands import is_take_file

    if is_take_file(path):
        return _print_project(path)
    return _print_audio(path)


def _print_rig() -> int:
    from app.core.rig import load_rig

    rig = load_rig()
    print(f"{rig.num_channels} channels ({len(rig.control_names)} face-board controls + head pose); "
          f"{len(rig.ue_curve_names)} CTRL_expressions curves; {len(rig.arkit_names)} Live Link Face values")
    for c in rig.channels:
        print(f"{c.index:3d}  {c.name:44s} {c.region:9s} {c.side}  [{c.min:g}, {c.max:g}] rest {c.rest:g} {c.unit}")
    return 0


def _print_audio(path: Path) -> int:
    from app.io.audio import AudioError, load_audio, probe_audio

    try:
        rate, channels, frames = probe_audio(path)
        clip = load_audio(path)
    except AudioError as exc:
        raise CommandError(str(exc)) from None
    peak = float(abs(clip.samples).max())
    print(f"{path.name}: {frames / rate:.3f} s, {rate} Hz, {channels} channel(s); "
          f"loaded as {clip.sample_rate} Hz mono, peak {peak:.3f}, sha256 {clip.sha256[:16]}")
    return 0


def _print_project(path: Path) -> int:
    from app.commands import open_take

    take = open_take(path)
    m = take.meta
    print(f"{path.name}: take '{take.name}', {take.num_frames} frames at {take.fps:g} fps ({take.duration:.2f} s)")
    print(f"  audio: {take.audio.path if take.audio else 'none'}")
    if m.engine == "import":
        src = m.provenance.source_file or path.name
        fps = m.provenance.source_fps or take.fps
        print(f"  curves imported from {Path(src).name} (at {fps:g} fps); no "
              "generation settings")
        return 0
    p = m.settings.performance
    emotions = ", ".join(f"{k.emotion}:{k.intensity:g}@{k.time:g}s" for k in p.emotion_keys)
    print(f"  engine {m.engine_label()}, seed {p.seed}, emotion {emotions}, gaze {p.gaze}, "
          f"head distance {p.head_distance:g}")
    print(f"  edited channels: {len(take.edits)}, locks: {len(take.locks)}")
    return 0
