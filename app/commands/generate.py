"""``vasa-rig generate``: animate a dialogue recording and write a project or an export file."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app.commands import CommandError

NAME = "generate"
HELP = "animate a recording: audio in, MetaHuman face curves out (.vrig, .fbx, .csv, .txt or .json)"
PROGRESS_MIN_SECONDS = 8.0  # shorter clips finish before a progress bar would help
TRANSCRIPT_CHARS_PER_SECOND = 40  # fast speech is about 15-20 characters a second; twice that is no line of dialogue


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="speech recording (WAV, FLAC, OGG, ...)")
    p.add_argument("-o", "--output", required=True,
                   help="output file; the extension picks the format: .vrig project, .fbx, .csv (Live Link Face), "
                        ".txt (EmoFace), .json")
    p.add_argument("--transcript", metavar="TEXT|FILE",
                   help="what is said (text, or a text file): forced alignment, the most exact lip sync; without "
                        "it the mouth shapes are recognised from the audio alone")
    p.add_argument("--phones", metavar="FILE", help="phone timings from another aligner (.tsv, .json, .TextGrid, "
                                                    ".lab) instead of PocketSphinx")
    emotion = p.add_mutually_exclusive_group()
    emotion.add_argument("--emotion", metavar="NAME[:INTENSITY]",
                         help="one emotion for the whole take, e.g. happy:0.8 (intensity 0..1, default 1)")
    emotion.add_argument("--emotion-keys", metavar="FILE",
                         help="emotion over time: CSV or JSON rows of time (s), emotion, intensity")
    p.add_argument("--gaze", metavar="YAW,PITCH", default="0,0", help="gaze direction in degrees (default 0,0)")
    p.add_argument("--eye-contact", type=float, default=1.0, metavar="X",
                   help="0..1: how much the eyes stay on the gaze target (default 1)")
    p.add_argument("--head-distance", type=float, default=60.0, metavar="CM",
                   help="distance of the head from the camera in cm (default 60)")
    p.add_argument("--articulation", type=float, default=1.0, metavar="X",
                   help="mouth motion strength 0..2 (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same performance (default 0)")
    p.add_argument("--fps", type=float, default=None, help="frame rate of exported curves (default 60)")
    p.add_argument("--engine", default="procedural", help="animation engine (default procedural)")
    p.add_argument("--steps", type=int, help="neural engine: sampling steps (default 2; fewer is faster)")
    p.add_argument("--guidance", type=float,
                   help="neural engine: classifier-free guidance on the audio and emotion, first step only "
                        "(default 1 = off; 1.5 tracks the audio more closely and moves the face more, at about "
                        "0.75x the speed)")
    p.add_argument("--confidence", type=float, metavar="P",
                   help="without a transcript: frames whose recognised mouth shape is less probable than P (0..1, "
                        "default 0.5) follow the audio alone instead of committing to a shape")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def run(args: argparse.Namespace) -> int:
    from app.core.take import EmotionKey
    from app.engines.generate import GenerateError, generate_take
    from app.io.audio import AudioError, load_audio
    from app.io.export import EXPORT_SUFFIXES, ExportError, write_take

    out = Path(args.output)
    if out.suffix.lower() not in EXPORT_SUFFIXES:
        raise CommandError(f"cannot write {out.name}: the output must end in one of {', '.join(EXPORT_SUFFIXES)}")
    if not out.parent.resolve().is_dir():
        raise CommandError(f"output folder does not exist: {out.parent}")
    transcript = read_transcript(args.transcript) if args.transcript is not None else None
    phones_end = read_phones_end(args.phones) if args.phones is not None else None
    if args.emotion_keys is not None:
        keys = read_emotion_keys(args.emotion_keys)
    elif args.emotion is not None:
        keys = (parse_emotion(args.emotion),)
    else:
        keys = (EmotionKey(0.0, "neutral", 0.0),)
    settings = settings_from_args(args, keys, transcript=transcript, phones_file=args.phones)
    try:
        clip = load_audio(args.input)
    except AudioError as exc:
        raise CommandError(str(exc)) from None
    if phones_end is not None and phones_end > clip.duration + 0.5:
        raise CommandError(f"{Path(args.phones).name} runs to {_seconds(phones_end)} but the audio is only "
                           f"{_seconds(clip.duration)} long; is it for another recording?")
    if transcript is not None:
        check_transcript_fits(transcript, clip.duration)
    bar = ProgressBar(sys.stderr, enabled=not args.quiet and clip.duration >= PROGRESS_MIN_SECONDS)
    t0 = time.perf_counter()
    try:
        take = generate_take(clip, settings, progress=bar.update)
    except GenerateError as exc:
        raise CommandError(str(exc)) from None
    finally:
        bar.close()
    try:
        write_take(take, out, fps=args.fps)
    except ExportError as exc:
        raise CommandError(str(exc)) from None
    if not args.quiet:
        p = take.meta.provenance
        parts = [f"{take.meta.engine} engine"]
        if p.steps is not None:
            parts.append(f"{p.steps} sampling steps")
        if p.phones_source == "recognised":
            parts.append(f"mouth shapes recognised from the audio ({p.unsure_fraction or 0:.0%} of the "
                         "speech unsure)")
        elif p.phones is not None:
            parts.append(f"{p.phones} phones ({p.phones_source or 'aligned'})")
        how = ", ".join(parts)
        if p.phones_error:
            print(f"warning: the transcript was not used ({p.phones_error}); the take follows the audio alone",
                  file=sys.stderr)
        print(f"wrote {out}: {take.num_frames} frames at {take.fps:g} fps ({clip.duration:.2f} s of audio); "
              f"{how} in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    return 0


def settings_from_args(args: argparse.Namespace, emotion_keys, *, transcript: str | None = None,
                       phones_file: str | None = None):
    """GenerationSettings from the performance and engine options that generate and batch share; a value out of
    its range (app.core.settings.RANGES) is a CommandError naming it."""
    from app.core.settings import (
        EngineOptions,
        GenerationInputs,
        GenerationSettings,
        PerformanceControls,
        SettingsError,
    )

    options = {k: v for k, v in (("steps", args.steps), ("guidance", args.guidance), ("threshold", args.confidence))
               if v is not None}
    try:
        return GenerationSettings(
            engine=args.engine,
            performance=PerformanceControls(emotion_keys=tuple(emotion_keys), gaze=parse_gaze(args.gaze),
                                            eye_contact=args.eye_contact, head_distance=args.head_distance,
                                            articulation=args.articulation, seed=args.seed),
            options=EngineOptions(**options),
            inputs=GenerationInputs(transcript=transcript, phones_file=phones_file))
    except SettingsError as exc:
        raise CommandError(str(exc)) from None


class ProgressBar:
    """A plain-text progress bar: redrawn in place on a terminal, a line per quarter otherwise (logs)."""

    WIDTH = 30

    def __init__(self, stream, enabled: bool = True):
        self.stream = stream
        self.enabled = enabled
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last = -1

    def update(self, fraction: float) -> None:
        if not self.enabled:
            return
        pct = int(round(100 * min(max(fraction, 0.0), 1.0)))
        step = pct if self.tty else pct // 25 * 25
        if step == self._last:
            return
        self._last = step
        filled = self.WIDTH * step // 100
        text = f"generating [{'#' * filled}{'.' * (self.WIDTH - filled)}] {step:3d}%"
        self.stream.write(("\r" + text) if self.tty else text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self._last >= 0:
            self.stream.write("\n")
            self.stream.flush()


def read_transcript(value: str) -> str:
    """The transcript text: the file's contents when ``value`` names a file, else ``value`` itself. A value
    that looks like a file path (a .txt name, or a path with folders and no spaces) must exist. Files get the same
    checks as a transcript found beside the audio (size, encoding, mostly letters)."""
    from app.io.sidecars import MAX_TRANSCRIPT_CHARS, transcript_text

    path = Path(value)
    looks_like_path = (path.suffix.lower() in (".txt", ".lab", ".text") or ("/" in value or "\\" in value)) \
        and " " not in value.strip()
    try:
        is_file = path.is_file()
    except OSError:  # text longer than a file name can be (ENAMETOOLONG): it is the transcript itself
        is_file = False
    if is_file:
        try:
            return transcript_text(path)
        except ValueError as exc:
            raise CommandError(f"transcript file {path} {exc}") from None
    if looks_like_path:
        raise CommandError(f"transcript file not found: {value}")
    text = value.strip()
    if not text:
        raise CommandError("the transcript is empty")
    if len(text) > MAX_TRANSCRIPT_CHARS:
        raise CommandError(f"the transcript has {len(text)} characters, too long for one line of dialogue")
    return text


def check_transcript_fits(transcript: str, duration: float) -> None:
    """A transcript far longer than anyone could say in ``duration`` seconds belongs to another recording."""
    limit = int(TRANSCRIPT_CHARS_PER_SECOND * duration) + 200
    if len(transcript) > limit:
        raise CommandError(f"the transcript has {len(transcript)} characters, more than {_seconds(duration)} of "
                           f"speech can hold (at most about {limit}); is it for another recording?")


def read_phones_end(path_text: str) -> float:
    """Check a phone file before any audio is read; returns where its last phone ends (seconds)."""
    from app.engines.phonetics.phone_files import read_phone_file
    from app.engines.phonetics.segments import PhoneticsError

    path = Path(path_text)
    if not path.is_file():
        raise CommandError(f"phone file not found: {path}")
    try:
        return float(read_phone_file(path).end)
    except PhoneticsError as exc:
        raise CommandError(str(exc)) from None
    except RecursionError:
        raise CommandError(f"{path.name} is not a phone file (nested too deeply)") from None


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 1e6 else f"{value:.3g} s"


def parse_emotion(text: str, time_s: float = 0.0):
    from app.core.take import EMOTIONS, EmotionKey

    name, _, intensity = text.partition(":")
    name = name.strip().lower()
    if name not in EMOTIONS:
        raise CommandError(f"unknown emotion {name!r}; choose one of {', '.join(EMOTIONS)}")
    try:
        value = float(intensity) if intensity.strip() else 1.0
    except ValueError:
        raise CommandError(f"emotion intensity must be a number 0..1, got {intensity!r}") from None
    try:
        return EmotionKey(float(time_s), name, value)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def read_emotion_keys(path_text: str) -> tuple:
    """Keys from CSV (time,emotion,intensity; a header row is optional) or JSON (a list of objects with those
    fields, or {"keys": [...]})."""
    import csv
    import io
    import json

    path = Path(path_text)
    if not path.is_file():
        raise CommandError(f"emotion keys file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read emotion keys file {path}: {exc}") from None
    rows: list[tuple[str, object, object, object]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path.name} is not valid JSON: {exc}") from None
        except RecursionError:
            raise CommandError(f"{path.name} is not an emotion keys file (nested too deeply)") from None
        items = data.get("keys") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise CommandError(f"{path.name}: expected a list of {{time, emotion, intensity}} objects")
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise CommandError(f"{path.name}: key {i + 1} is not an object")
            rows.append((f"key {i + 1}", item.get("time"), item.get("emotion"), item.get("intensity", 1.0)))
    else:
        for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            cells = [c.strip() for c in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if lineno == 1 and cells[0].lower() == "time":
                continue
            if len(cells) < 2:
                raise CommandError(f"{path.name} line {lineno}: expected time,emotion,intensity")
            rows.append((f"line {lineno}", cells[0], cells[1], cells[2] if len(cells) > 2 else 1.0))
    keys = []
    for where, t, emotion, intensity in rows:
        try:
            t_val = float(t)
        except (TypeError, ValueError, OverflowError):
            raise CommandError(f"{path.name} {where}: time must be a number of seconds, got {t!r}") from None
        if not isinstance(emotion, str):
            raise CommandError(f"{path.name} {where}: missing emotion name")
        try:
            keys.append(parse_emotion(f"{emotion}:{intensity}", t_val))
        except CommandError as exc:
            raise CommandError(f"{path.name} {where}: {exc}") from None
    if not keys:
        raise CommandError(f"{path.name} contains no emotion keys")
    return tuple(sorted(keys, key=lambda k: k.time))


def parse_gaze(text: str) -> tuple[float, float]:
    parts = text.replace(" ", "").split(",")
    try:
        yaw, pitch = (float(x) for x in parts)
    except ValueError:
        raise CommandError(f"--gaze takes YAW,PITCH in degrees (e.g. 10,-5), got {text!r}") from None
    from app.core.settings import RANGES

    y, p = RANGES["gaze_yaw"], RANGES["gaze_pitch"]
    if not (y.lo <= yaw <= y.hi and p.lo <= pitch <= p.hi):
        raise CommandError(f"gaze {yaw:g},{pitch:g} is outside the eyes' reach (yaw {y.lo:g}..{y.hi:g}, "
                           f"pitch {p.lo:g}..{p.hi:g})")
    return yaw, pitch
