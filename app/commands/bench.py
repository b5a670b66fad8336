"""``vasa-rig bench [SECTION ...]``: measure speed and animation quality on real speech installed on this machine.

Sections are functions registered in ``SECTIONS`` (name -> (help, function(args) -> list of table rows)); new
benches (export, Live Link, preview) add themselves there. Real speech with known transcripts comes from Debian
packages (reference/speech_sources.md): the Asterisk English prompts (asterisk-core-sounds-en-wav with the
transcripts of asterisk-core-sounds-en) and pocketsphinx-testdata (other speakers).
"""

from __future__ import annotations

import argparse
import gzip
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.commands import CommandError
from app.core.timebase import SAMPLE_RATE
from app.engines.streaming import DEFAULT_LOOKAHEAD

NAME = "bench"
HELP = "measure speed (real-time factor) and lip-sync / liveliness figures on real speech"

ASTERISK_DIR = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
SPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
# Raw 16 kHz 16-bit recordings in pocketsphinx-testdata with their words (from the package's test expectations).
SPHINX_RAW = {"goforward.raw": "go forward ten meters", "tidigits/dhd.2934z.raw": "two nine three four zero"}
SPEED_LENGTHS_S = (10.0, 60.0)
GAP_S = 0.35  # silence between concatenated prompts


@dataclass
class Row:
    label: str
    value: str
    target: str = ""
    ok: bool | None = None


Section = Callable[[argparse.Namespace], list[Row]]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sections", nargs="*", metavar="SECTION",
                   help=f"what to measure: {', '.join(SECTIONS)} (default: all)")
    p.add_argument("--clips", type=int, default=30, help="clips per held-out set in the quality bench (default 30)")
    p.add_argument("--seed", type=int, default=0, help="performance seed (default 0)")
    p.add_argument("--lines", type=int, default=200, help="real-speech lines in the batch bench (default 200)")
    p.add_argument("--live-seconds", type=float, default=60.0,
                   help="how long the live bench runs (default 60; the issue's figure is 600)")
    p.add_argument("--live-lookahead", type=int, default=DEFAULT_LOOKAHEAD, metavar="FRAMES",
                   help=f"lookahead of the live engine in the live benches (default {DEFAULT_LOOKAHEAD}, as "
                        "`vasa-rig live`)")
    p.add_argument("--word-recognition", action="store_true",
                   help="also time PocketSphinx word recognition, the old (slow) audio-only front end")


def run(args: argparse.Namespace) -> int:
    names = args.sections or list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise CommandError(f"unknown bench section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    failed = False
    for name in names:
        help_text, fn = SECTIONS[name]
        print(f"== {name}: {help_text}")
        rows = fn(args)
        print_table(rows)
        failed |= any(r.ok is False for r in rows)
        print()
    return 1 if failed else 0


def print_table(rows: list[Row]) -> None:
    w0 = max([len(r.label) for r in rows] + [6])
    w1 = max([len(r.value) for r in rows] + [5])
    w2 = max([len(r.target) for r in rows] + [6])
    print(f"{'figure':<{w0}}  {'value':>{w1}}  {'target':<{w2}}  ok")
    for r in rows:
        mark = "" if r.ok is None else ("yes" if r.ok else "NO")
        print(f"{r.label:<{w0}}  {r.value:>{w1}}  {r.target:<{w2}}  {mark}")


# --- real speech ------------------------------------------------------------------------------------------------
@dataclass
class SpeechItem:
    voice: str
    path: Path
    transcript: str


def asterisk_items() -> list[SpeechItem]:
    if not ASTERISK_TRANSCRIPTS.is_file() or not ASTERISK_DIR.is_dir():
        return []
    voice = ASTERISK_DIR.resolve().name  # en -> the installed voice's folder, e.g. en_US_f_Allison
    items = []
    with gzip.open(ASTERISK_TRANSCRIPTS, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = (s.strip() for s in line.split(":", 1))
            if not text or text.startswith("[") or name.startswith("silence/"):
                continue
            path = ASTERISK_DIR / f"{name}.wav"
            if path.is_file():
                items.append(SpeechItem(voice, path, text))
    return items


def sphinx_items() -> list[SpeechItem]:
    items = []
    lib = SPHINX_DATA / "librivox"
    if (lib / "transcription").is_file():
        for line in (lib / "transcription").read_text().splitlines():
            if "(" not in line:
                continue
            text, fid = line.rsplit("(", 1)
            path = lib / f"{fid.strip().rstrip(')')}.wav"
            words = text.replace("<s>", " ").replace("</s>", " ").split()
            if path.is_file() and words:
                items.append(SpeechItem("librivox", path, " ".join(words)))
    for rel, text in SPHINX_RAW.items():
        if (SPHINX_DATA / rel).is_file():
            items.append(SpeechItem(f"sphinx-{Path(rel).stem.split('.')[0]}", SPHINX_DATA / rel, text))
    return items


def load_item(item: SpeechItem):
    import numpy as np

    from app.io.audio import AudioClip, file_sha256, load_audio, prepare_samples

    if item.path.suffix == ".raw":  # headerless 16 kHz 16-bit little-endian mono
        pcm = np.fromfile(item.path, dtype="<i2").astype(np.float32) / 32768.0
        samples = prepare_samples(pcm, SAMPLE_RATE, label=item.path.name)
        return AudioClip(samples, SAMPLE_RATE, str(item.path), SAMPLE_RATE, 1, file_sha256(item.path))
    return load_audio(item.path)


def quality_items(n_asterisk: int) -> list[SpeechItem]:
    prompts = [i for i in asterisk_items() if len(i.transcript.split()) >= 4]
    random.Random(1).shuffle(prompts)  # spread over the prompt sets, the same selection every run
    return prompts[:n_asterisk] + sphinx_items()


# --- sections ---------------------------------------------------------------------------------------------------
def speech_clip(prompts: list[SpeechItem], length: float):
    """About ``length`` seconds of real speech: Asterisk prompts joined with short pauses; also their texts."""
    import numpy as np

    from app.io.audio import AudioClip

    parts, texts, total = [], [], 0.0
    for item in sorted(prompts, key=lambda i: i.path.name):
        if total >= length - 0.5:
            break
        clip = load_item(item)
        if total + clip.duration > length + 4.0:
            continue
        parts += [clip.samples, np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)]
        texts.append(item.transcript)
        total += clip.duration + GAP_S
    return AudioClip(np.concatenate(parts), SAMPLE_RATE, None, SAMPLE_RATE, 1, ""), texts


def _prompts() -> list[SpeechItem]:
    prompts = asterisk_items()
    if not prompts:
        raise CommandError("no Asterisk prompts installed (Debian asterisk-core-sounds-en-wav and "
                           "asterisk-core-sounds-en)")
    return prompts


def bench_speed(args: argparse.Namespace) -> list[Row]:
    """Each engine's whole run (front end included) on ~10 s and ~60 s of real speech: from the audio alone (the
    mouth-shape recogniser) and with the transcript (PocketSphinx forced alignment)."""
    from app.core.settings import EngineOptions, GenerationInputs, GenerationSettings, PerformanceControls
    from app.engines.generate import run_engine
    from models.speed import timings

    prompts = _prompts()
    rows: list[Row] = []
    targets = {("procedural", "audio only"): 30, ("neural", "audio only"): 100}
    for length in SPEED_LENGTHS_S:
        clip, texts = speech_clip(prompts, length)
        duration = clip.duration
        runs = [("audio only", {}), ("transcript", {"inputs": GenerationInputs(transcript=" ".join(texts))})]
        if getattr(args, "word_recognition", False):
            runs.append(("word recognition", {"options": EngineOptions(word_recognition=True)}))
        for engine in ("procedural", "neural"):
            for label, kw in runs:
                if engine == "neural" and label == "word recognition":
                    continue
                settings = GenerationSettings(engine=engine, performance=PerformanceControls(seed=args.seed), **kw)
                repeats = 3 if label == "audio only" else 1  # after a warm-up that loads the models
                dt, _best = timings(lambda st=settings, c=clip: run_engine(c, st), repeats)
                target = targets.get((engine, label))
                rows.append(Row(f"{duration:4.0f} s {engine}, {label}" + (f", median of {repeats}" if repeats > 1
                                                                           else ""),
                                f"{dt:.2f} s ({duration / dt:.1f}x)", f">= {target}x" if target else "",
                                duration / dt >= target if target else None))
    return rows


HELD_OUT_SETS = (  # (label, speaker in models.data.real_speech, channel)
    ("unseen English reader (LibriVox)", "pocketsphinx:librivox", None),
    ("telephone line (LibriVox via 300-3400 Hz, mu-law)", "pocketsphinx:librivox", "telephone"),
    ("Italian telephone prompts (Carlo, 8 kHz)", "asterisk:Carlo", None),
    ("acted Dutch game dialogue (Fillets, font_big)", "fillets:nl:font_big", None),
    ("English narrators (Tux Paint)", "tuxpaint:en", None),
)


def held_out_clips(speaker: str, limit: int):
    """Up to ``limit`` clips (audio, reference phones) of a speaker held out of all training, with phones from
    its transcript's forced alignment; clips whose alignment fails are left out."""
    from app.engines.phonetics import PhoneticsError
    from models.data.real_speech import REAL_SOURCES, align_clip, find_clips, load_clip

    source = speaker.split(":")[0]
    if source not in REAL_SOURCES:
        return []
    out = []
    for clip in find_clips((source,)):
        if clip.speaker != speaker or not clip.transcript:
            continue
        samples = load_clip(clip)
        if samples is None or len(samples) < SAMPLE_RATE:
            continue
        try:
            phones = align_clip(samples, clip.transcript, clip.language)
        except PhoneticsError:
            continue
        out.append((Path(clip.path).name, samples, phones))
        if len(out) >= limit:
            break
    return out


def bench_quality(args: argparse.Namespace) -> list[Row]:
    """Both engines on held-out speakers (never in any training data), from the audio alone and with the
    transcript's phones, per set and pooled over the sets."""
    import tempfile

    import torch

    from app.core.settings import GenerationInputs, GenerationSettings, PerformanceControls
    from app.engines import metrics as M
    from app.engines.generate import run_engine
    from app.engines.phonetics import Alignment, write_phone_file
    from app.io.audio import AudioClip
    from models.train_visemes import telephone

    figs: dict[tuple[str, str, str], list] = {}
    sets_found = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, speaker, channel in HELD_OUT_SETS:
            clips = held_out_clips(speaker, args.clips)
            if not clips:
                continue
            sets_found.append(label)
            for k, (_name, samples, phones) in enumerate(clips):
                heard = samples if channel is None else telephone(torch.from_numpy(samples)[None])[0].numpy()
                clip = AudioClip(heard.astype("float32"), SAMPLE_RATE, None, SAMPLE_RATE, 1, "")
                phone_file = Path(tmp) / f"{k}.tsv"
                write_phone_file(Alignment(phones=list(phones), source="forced"), phone_file)
                for engine in ("procedural", "neural"):
                    for mode, inputs in (("audio only", GenerationInputs()),
                                         ("transcript", GenerationInputs(phones_file=str(phone_file)))):
                        settings = GenerationSettings(engine=engine, performance=PerformanceControls(seed=args.seed),
                                                      inputs=inputs)
                        curves, _ = run_engine(clip, settings)
                        figs.setdefault((label, engine, mode), []).append(
                            M.evaluate(curves, phones, samples, SAMPLE_RATE))
    if not figs:
        raise CommandError("no held-out real speech installed (pocketsphinx-testdata; for more sets "
                           "asterisk-core-sounds-it-wav + asterisk-core-sounds-it, fillets-ng-data-nl, "
                           "tuxpaint-stamps-default)")
    rows = []
    for label in sets_found:
        for engine in ("procedural", "neural"):
            a = M.pool(figs[(label, engine, "audio only")])
            t = M.pool(figs[(label, engine, "transcript")])
            rows.append(Row(f"[{label}] {engine}, {a.clips} clips, {a.bilabials} p/b/m",
                            f"audio only: closure {_fmt(a.closure, '.2f')} aperture {_fmt(a.aperture, '.2f')} "
                            f"lag {a.lag} | transcript: closure {_fmt(t.closure, '.2f')} "
                            f"aperture {_fmt(t.aperture, '.2f')}",
                            ">= 0.90 closure", None if a.closure is None else a.closure >= 0.9))
    for engine in ("procedural", "neural"):
        for mode in ("audio only", "transcript"):
            pooled = M.pool([f for (lab, e, m), fs in figs.items() if e == engine and m == mode for f in fs])
            rows.append(Row(f"== {engine}, {mode}, pooled over {len(sets_found)} sets", ""))
            rows += quality_rows(pooled)
    return rows


def quality_rows(p) -> list[Row]:
    """The quality_metrics.md table for pooled figures."""
    from app.engines import metrics as M

    checks = p.checks()
    lo, hi = M.TARGET_SD_RATIO
    rows = [
        Row(f"pooled: {p.clips} clips, {p.minutes:.1f} min", ""),
        Row("bilabial closure", f"{_fmt(p.closure, '.3f')} ({p.closed}/{p.bilabials})", "1.0",
            checks["bilabial closure"]),
        Row("open-vowel aperture", _fmt(p.aperture, ".2f"), f">= {M.TARGET_APERTURE}", checks["open-vowel aperture"]),
        Row("lag (frames, + = mouth late)", str(p.lag), f"0 +/- {M.TARGET_LAG}", checks["lag"]),
    ]
    for region in M.METRIC_REGIONS:
        sd, ref = p.region_sd[region], M.CAPTURED_REGION_SD[region]
        if region == "mouth":
            target, ok = f">= {M.TARGET_MOUTH_SD}", checks["mouth SD"]
        elif region in ("eyes", "eyebrows", "nose"):
            target, ok = f"{lo * ref:.3f}-{hi * ref:.3f}", checks[f"{region} SD"]
        else:
            target, ok = f"(captured {ref})", None
        rows.append(Row(f"{region} SD", f"{sd:.3f} ({sd / ref:.2f}x)", target, ok))
    rows.append(Row("jitter", f"{p.jitter:.4f} ({p.jitter / M.CAPTURED_JITTER:.2f}x)",
                    f"<= {M.TARGET_JITTER_RATIO * M.CAPTURED_JITTER:.4f}", checks["jitter"]))
    lo_b, hi_b = M.TARGET_BLINKS_PER_MIN
    rows.append(Row("blinks per minute", _fmt(p.blinks_per_min, ".1f"), f"{lo_b:g}-{hi_b:g}", checks["blink rate"]))
    return rows


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def bench_neural(args: argparse.Namespace) -> list[Row]:
    from app.core.settings import DEFAULT_STEPS, EngineOptions, GenerationSettings, PerformanceControls
    from app.engines.generate import run_engine
    from models.speed import timings

    clip, _ = speech_clip(_prompts(), 60.0)
    rows = []
    for steps in sorted({DEFAULT_STEPS, 1}, reverse=True):
        settings = GenerationSettings(engine="neural", performance=PerformanceControls(seed=args.seed),
                                      options=EngineOptions(steps=steps))
        # After a warm-up (model load); one run swings by a third with whatever else the machine does.
        dt, _best = timings(lambda s=settings: run_engine(clip, s), 5)
        default = " (default)" if steps == DEFAULT_STEPS else ""
        rows.append(Row(f"{clip.duration:.0f} s, {steps} step(s){default}, median of 5",
                        f"{dt:.2f} s ({clip.duration / dt:.0f}x)",
                        ">= 100x" if default else "", clip.duration / dt >= 100 if default else None))
    return rows


def _bench_take(seconds: float = 60.0):
    """A take of ``seconds`` with every control moving (smooth random motion), for the output benches."""
    import numpy as np
    from scipy.ndimage import gaussian_filter1d

    from app.core.rig import load_rig
    from app.core.take import Take
    from app.core.timebase import frames_for_duration

    rig = load_rig()
    rng = np.random.default_rng(0)
    n = frames_for_duration(seconds)
    walk = gaussian_filter1d(rng.normal(0, 1, (n, rig.num_channels)), 6, axis=0).astype(np.float32)
    curves = rig.rest + walk * 0.5 * (rig.maxs - rig.mins) / 2
    return Take(rig.clamp(curves), name="bench")


def bench_export(args: argparse.Namespace) -> list[Row]:
    import tempfile

    from app.io.export import write_take

    take = _bench_take(60.0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, name, options in (("FBX MetaHuman curves, key tolerance 1e-4", "a.fbx", {}),
                                     ("FBX MetaHuman curves, every key", "b.fbx", {"key_tolerance": None}),
                                     ("FBX ARKit names", "c.fbx", {"curves": "arkit"}),
                                     ("Live Link Face CSV", "d.csv", {}), ("EmoFace txt", "e.txt", {}),
                                     ("JSON face-board", "f.json", {"curves": "faceboard"})):
            path = Path(tmp) / name
            t0 = time.perf_counter()
            write_take(take, path, **options)
            dt = time.perf_counter() - t0
            rows.append(Row(f"60 s take: {label}", f"{dt:.2f} s, {path.stat().st_size / 1e6:.1f} MB"))
    return rows


def bench_preview(args: argparse.Namespace) -> list[Row]:
    import numpy as np

    from app.preview.model import HeadModel
    from app.preview.render import render_frames

    take = _bench_take(10.0)
    values = take.evaluate()
    t0 = time.perf_counter()
    model = HeadModel.load()
    load = time.perf_counter() - t0
    for v in values[:20]:
        model.evaluate(v)  # warm up
    times = []
    for v in values:
        t0 = time.perf_counter()
        model.evaluate(v)
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1000
    t0 = time.perf_counter()
    render_frames(values[:1], (640, 720))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    render_frames(values[:10], (640, 720))
    per_frame = (time.perf_counter() - t0) / 10
    return [Row("head model load", f"{load:.2f} s"),
            Row(f"frame evaluation, full rig ({len(ms)} frames)",
                f"median {np.median(ms):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms", "< 2 ms",
                bool(np.median(ms) < 2.0)),
            Row("offscreen render 640x720, first frame (with start-up)", f"{first:.2f} s"),
            Row("offscreen render 640x720, per frame", f"{per_frame * 1000:.0f} ms")]


def bench_livelink(args: argparse.Namespace) -> list[Row]:
    from app.io.livelink.bench import bench_stream

    result = bench_stream(10.0, fps=60.0)
    lost = result.lost + result.out_of_order + result.wrong_values
    return [Row(line, "") for line in result.lines()] + [
        Row("frames lost, out of order or wrong", str(lost), "0", lost == 0)]


def bench_batch(args: argparse.Namespace) -> list[Row]:
    """``vasa-rig batch`` on real speech lines (Asterisk prompts) with one worker and with two: lines/s, real-time
    factor, peak memory per worker and how it moves from a worker's first lines to its last."""
    import csv
    import tempfile

    from app.core.settings import GenerationSettings, PerformanceControls
    from app.engines.batch import BatchOptions, plan_lines, read_manifest, run_batch

    ordered = sorted(_prompts(), key=lambda i: str(i.path))
    prompts = [ordered[i % len(ordered)] for i in range(max(1, args.lines))]  # cycled past the last prompt
    rows: list[Row] = []
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "lines.csv"
        with open(listing, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["audio", "output"])
            for i, item in enumerate(prompts):
                w.writerow([str(item.path), f"{i:04d}_{item.path.stem}"])
        lines = plan_lines(listing)
        for workers, threads in ((1, None), (1, 1), (2, 1)):
            label = f"{workers} worker(s), {threads or 'all'} thread(s) each"
            out = Path(tmp) / f"out{workers}_{threads}"
            base = GenerationSettings(performance=PerformanceControls(seed=args.seed))
            options = BatchOptions(base=base, suffix=".json", workers=workers,
                                   threads=threads)
            summary = run_batch(lines, out, options)
            entries = [e for e in read_manifest(out).values() if e.get("status") == "done"]
            per_worker: dict[int, list[dict]] = {}
            for e in sorted(entries, key=lambda e: e["output"]):
                per_worker.setdefault(int(e["worker"]), []).append(e)
            peak = max((float(e["peak_rss_mb"]) for e in entries), default=0.0)
            rss = [[float(v[k].get("rss_mb", 0)) for k in (min(len(v) - 1, 4), len(v) // 2, len(v) - 1)]
                   for v in per_worker.values()]
            rates[(workers, threads)] = summary.lines_per_second
            rows += [Row(f"{label}: {summary.done} of {summary.total} lines "
                         f"({summary.audio_seconds / 60:.1f} min of speech), {summary.failed} failed",
                         f"{summary.wall_seconds:.1f} s, {summary.lines_per_second:.1f} lines/s, "
                         f"{summary.realtime_factor:.0f}x real time"),
                     Row(f"{label}: memory per worker (peak; resident after its 5th, middle and last line)",
                         f"{peak:.0f} MB; " + ", ".join(" / ".join(f"{x:.0f}" for x in r) + " MB" for r in rss))]
    for base in ((1, None), (1, 1)):
        if rates.get(base):
            ratio = rates[(2, 1)] / rates[base]
            rows.append(Row(f"2 workers against {base[0]} worker with {base[1] or 'all'} thread(s) (lines/s)",
                            f"{ratio:.2f}x", ">= 1.7x", ratio >= 1.7))
    return rows


def bench_live(args: argparse.Namespace) -> list[Row]:
    """Real speech (Asterisk prompts, looped) played in real time as the microphone, through the live path to a
    Live Link receiver on 127.0.0.1: latency from the audio being spoken to the packet being received."""
    import tempfile

    import soundfile as sf

    from app.engines.live_bench import run_live_bench

    seconds = float(args.live_seconds)
    if seconds <= 0:
        raise CommandError("--live-seconds must be positive")
    clip, _texts = speech_clip(_prompts(), 60.0)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        sf.write(str(wav), clip.samples, SAMPLE_RATE, subtype="PCM_16")
        r = run_live_bench(wav, seconds, seed=args.seed, lookahead=args.live_lookahead,
                           progress=lambda line: print("  " + line, flush=True))
    p50, p95, worst = (r.percentile(q) for q in (50, 95, 100))
    s50, s95 = r.percentile(50, "sent"), r.percentile(95, "sent")
    rss = [m for _t, m in r.rss_mb]
    settled = rss[min(1, len(rss) - 1)]  # after the first 10 s (allocator warm-up)
    growth = rss[-1] - settled
    return [
        Row(f"live for {r.seconds:.0f} s (speech {clip.duration:.0f} s, looped), lookahead {args.live_lookahead} "
            "frames",
            f"{r.frames_sent} frames sent, {r.frames_received} received"),
        Row("latency audio -> packet received: p50 / p95 / max", f"{p50:.0f} / {p95:.0f} / {worst:.0f} ms",
            "p95 <= 100 ms", p95 <= 100.0),
        Row("latency audio -> packet sent (session figure): p50 / p95", f"{s50:.0f} / {s95:.0f} ms"),
        Row("frames late (> 100 ms)", str(r.frames_late)),
        Row("frames dropped (audio heard, no frame sent)", str(r.dropped), "0", r.dropped == 0),
        Row("frames lost or out of order at the receiver", str(r.lost), "0", r.lost == 0),
        Row("CPU used (process CPU time / wall time)", f"{r.cpu_cores:.2f} cores", "< 1 core", r.cpu_cores < 1.0),
        Row("memory resident: start / after 10 s / end", " / ".join(f"{m:.0f}" for m in
                                                                    (rss[0], settled, rss[-1])) + " MB",
            "flat (< 20 MB growth after 10 s)", growth < 20.0),
        Row("input overruns; messages", f"{r.input_overruns}; {'; '.join(r.messages) or 'none'}"),
    ]


def bench_live_quality(args: argparse.Namespace) -> list[Row]:
    """The live path's lip sync against the offline neural engine (audio only) on the held-out sets of the quality
    bench: the same clips, channels and figures, the live engine fed in 10 ms blocks as a microphone would."""
    import numpy as np
    import torch

    from app.core.settings import GenerationSettings, PerformanceControls
    from app.engines import metrics as M
    from app.engines.generate import run_engine
    from app.engines.streaming import StreamingEngine
    from app.io.audio import AudioClip
    from models.train_visemes import telephone

    live = StreamingEngine(seed=args.seed, lookahead=args.live_lookahead)
    figs: dict[tuple[str, str], list] = {}
    sets_found = []
    for label, speaker, channel in HELD_OUT_SETS:
        clips = held_out_clips(speaker, args.clips)
        if not clips:
            continue
        sets_found.append(label)
        for _name, samples, phones in clips:
            heard = samples if channel is None else telephone(torch.from_numpy(samples)[None])[0].numpy()
            heard = heard.astype("float32")
            offline, _ = run_engine(AudioClip(heard, SAMPLE_RATE, None, SAMPLE_RATE, 1, ""),
                                    GenerationSettings(engine="neural",
                                                       performance=PerformanceControls(seed=args.seed)))
            live.reset()
            parts = [live.push(heard[i:i + 160]) for i in range(0, len(heard), 160)] + [live.finish()]
            streamed = np.concatenate(parts)[:len(offline)]
            figs.setdefault((label, "offline"), []).append(M.evaluate(offline, phones, samples, SAMPLE_RATE))
            figs.setdefault((label, "live"), []).append(M.evaluate(streamed, phones, samples, SAMPLE_RATE))
    if not figs:
        raise CommandError("no held-out real speech installed (see the quality bench)")
    rows = [Row(f"live engine: hop {live.hop} frames, lookahead {live.lookahead} frames", "")]
    for label in sets_found:
        o, v = M.pool(figs[(label, "offline")]), M.pool(figs[(label, "live")])
        rows.append(Row(f"[{label}] {v.clips} clips, {v.bilabials} p/b/m",
                        f"offline: closure {_fmt(o.closure, '.2f')} aperture {_fmt(o.aperture, '.2f')} | live: "
                        f"closure {_fmt(v.closure, '.2f')} aperture {_fmt(v.aperture, '.2f')} lag {v.lag}"))
    pooled = {mode: M.pool([f for (_lab, m), fs in figs.items() if m == mode for f in fs])
              for mode in ("offline", "live")}
    gap = None
    if pooled["offline"].closure is not None and pooled["live"].closure is not None:
        gap = pooled["offline"].closure - pooled["live"].closure
    rows.append(Row("pooled closure: offline - live", _fmt(gap, ".3f"), "<= 0.05", None if gap is None
                    else gap <= 0.05))
    for mode in ("offline", "live"):
        rows.append(Row(f"== neural {mode}, audio only, pooled over {len(sets_found)} sets", ""))
        rows += quality_rows(pooled[mode])
    return rows


SECTIONS: dict[str, tuple[str, Section]] = {
    "speed": ("real-time factor on ~10 s and ~60 s of real speech (Asterisk prompts)", bench_speed),
    "quality": ("lip sync and liveliness (quality_metrics.md) of both engines on held-out real voices, "
                "audio only and with the transcript", bench_quality),
    "neural": ("neural engine real-time factor on ~60 s of real speech, CPU", bench_neural),
    "export": ("writing a 60 s take in each output format", bench_export),
    "preview": ("3D preview: frame evaluation and offscreen rendering", bench_preview),
    "livelink": ("10 s of Live Link Face streaming at 60 fps to a local receiver", bench_livelink),
    "batch": ("vasa-rig batch on real speech lines, one worker and two", bench_batch),
    "live": ("live mode: real speech played in real time through the live path to a local Live Link receiver",
             bench_live),
    "live-quality": ("lip sync of the live path against the offline neural engine on held-out real voices",
                     bench_live_quality),
}
