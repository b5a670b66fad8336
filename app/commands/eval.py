"""``vasa-rig eval``: lip-sync and liveliness figures for engines on a folder of speech clips."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.commands import CommandError

NAME = "eval"
HELP = "measure lip sync and liveliness of the engines on speech clips; writes report.md, report.json and plots"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="DIR_OR_FILES", help="audio files or folders of them")
    p.add_argument("-o", "--out", required=True, help="report folder")
    p.add_argument("--engines", default="procedural", help="comma-separated engines (e.g. procedural,neural)")
    p.add_argument("--transcripts", help="folder of STEM.txt, or a file of 'STEM: text' lines (may be .gz)")
    p.add_argument("--phones", help="phone labels: a folder of STEM.TextGrid/.lab/.tsv/.json, or one file")
    p.add_argument("--gt", help="ground-truth curves: a folder of STEM.txt (EmoFace) / STEM.csv (Live Link Face)")
    p.add_argument("--modes", default="audio,transcript",
                   help="audio (the audio alone) and/or transcript (given each clip's transcript or phone file, "
                        "reported as ENGINE +transcript); default both")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="evaluate at most N clips (in name order)")
    p.add_argument("--no-plots", action="store_true", help="skip the per-clip PNG plots")


def run(args: argparse.Namespace) -> int:
    from app.engines.evaluation import (
        EvaluationError,
        evaluate_clips,
        find_clips,
        read_transcripts,
        write_report,
    )

    out = Path(args.out)
    try:
        clips = find_clips(args.inputs)
        if args.limit:
            clips = clips[: args.limit]
        transcripts = read_transcripts(args.transcripts)
        engines = [e.strip() for e in args.engines.split(",") if e.strip()]
        results = evaluate_clips(clips, engines, transcripts=transcripts,
                                 phones_dir=Path(args.phones) if args.phones else None,
                                 gt_dir=Path(args.gt) if args.gt else None, seed=args.seed,
                                 modes=[m.strip() for m in args.modes.split(",") if m.strip()],
                                 plots_dir=None if args.no_plots else out / "plots",
                                 log=lambda s: print(s, file=sys.stderr))
        md, js = write_report(results, out, title=f"Evaluation of {', '.join(engines)}")
    except EvaluationError as exc:
        raise CommandError(str(exc)) from None
    print(md.read_text())
    print(f"report: {md}  data: {js}")
    return 0
