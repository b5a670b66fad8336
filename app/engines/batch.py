"""Batch generation: many dialogue lines in one run, resumable, one failure never stopping the rest.

    lines = plan_lines(Path("dialogue/"))           # a folder (walked), a .csv with columns, or a list of paths
    summary = run_batch(lines, out_dir, BatchOptions(base=GenerationSettings(), suffix=".fbx", workers=2))

Each line's output keeps the line's place under the input folder (``dialogue/act1/l04.wav`` ->
``OUT/act1/l04.fbx``); a transcript or phone file beside the audio is picked up as the app does
(app/io/sidecars.py). ``OUT/batch_manifest.json`` records per line the input's SHA-256, a hash of everything that
decides the output (settings, engine, the shipped model weights, the output format), the output, the status and
its figures. A rerun skips lines whose input and settings are unchanged and whose output is still there.

Lines run in worker processes (``workers``, models loaded once per worker); a line that fails is recorded with a
one-line reason and the batch goes on; a worker that dies (killed, out of memory) fails the lines it held and a new
one takes over. Outputs are written atomically: each is whole or absent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.core.atomic import atomic_write_text
from app.core.settings import GenerationSettings

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64", ".caf")
MANIFEST_NAME = "batch_manifest.json"
MANIFEST_FORMAT = "vasa-rig-batch"
MANIFEST_VERSION = 1
MANIFEST_SAVE_EVERY_S = 2.0
LIST_SUFFIXES = (".csv", ".txt", ".lst")
CSV_AUDIO_COLUMNS = ("audio", "file", "path", "wav")
_WEIGHTS = ("models/weights/neural.pt", "models/weights/visemes.pt")


class BatchError(ValueError):
    """The batch cannot start (unreadable input list, bad column, output folder problem): one clear line."""


@dataclass(frozen=True)
class BatchLine:
    audio: Path
    name: str  # output path relative to the output folder, without the suffix ("act1/l04")
    transcript: str | None = None
    phones: str | None = None
    emotion: str | None = None  # "happy:0.8", from a list's emotion column
    seed: int | None = None
    notes: tuple[str, ...] = ()  # sidecar files passed over, and why


@dataclass(frozen=True)
class BatchOptions:
    base: GenerationSettings = field(default_factory=GenerationSettings)
    suffix: str = ".vrig"
    fps: float | None = None
    workers: int = 1
    threads: int | None = None  # torch threads per worker; None = the CPU cores shared out between the workers
    ray: str | None = None  # run on a Ray cluster: "local" (start one here), "auto" or an address
    force: bool = False  # redo lines the manifest says are done


@dataclass
class BatchSummary:
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    interrupted: bool = False
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (line, reason)

    @property
    def lines_per_second(self) -> float:
        return self.done / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def realtime_factor(self) -> float:
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0


# --- planning ---------------------------------------------------------------------------------------------------
def plan_lines(source: Path) -> list[BatchLine]:
    """The lines of a folder (every audio file under it, in sorted order), a CSV list (an ``audio`` column and
    optional ``transcript``, ``emotion``, ``seed``, ``output`` columns; paths relative to the CSV) or a plain list
    (one audio path per line, ``#`` comments)."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        return [_with_sidecars(BatchLine(p, p.relative_to(source).with_suffix("").as_posix())) for p in files]
    if not source.is_file():
        raise BatchError(f"not found: {source}")
    if source.suffix.lower() not in LIST_SUFFIXES:
        raise BatchError(f"{source.name}: give a folder of recordings, a .csv list or a .txt list of paths")
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"cannot read {source.name}: {exc}") from None
    if source.suffix.lower() == ".csv":
        return _plan_csv(text, source)
    lines = []
    for raw in text.splitlines():
        entry = raw.strip()
        if entry and not entry.startswith("#"):
            lines.append(_with_sidecars(BatchLine(_resolve(entry, source), _name_for(entry, source))))
    if not lines:
        raise BatchError(f"{source.name} lists no recordings")
    return lines


def _resolve(entry: str, listing: Path) -> Path:
    path = Path(entry).expanduser()
    return path if path.is_absolute() else listing.parent / path


def _name_for(entry: str, listing: Path) -> str:
    """Output name of a listed path: its place under the list's folder, or its bare name for a path outside it."""
    path = _resolve(entry, listing)
    try:
        rel = path.resolve().relative_to(listing.parent.resolve())
    except ValueError:
        rel = Path(path.name)
    return rel.with_suffix("").as_posix()


def _plan_csv(text: str, source: Path) -> list[BatchLine]:
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower(): c for c in (reader.fieldnames or []) if c}
    audio_col = next((columns[c] for c in CSV_AUDIO_COLUMNS if c in columns), None)
    if audio_col is None:
        raise BatchError(f"{source.name}: no audio column (name one of {', '.join(CSV_AUDIO_COLUMNS)})")

    def cell(row: dict, name: str) -> str | None:
        value = row.get(columns.get(name, ""), None)
        return value.strip() if isinstance(value, str) and value.strip() else None

    lines = []
    for number, row in enumerate(reader, 2):
        entry = cell(row, audio_col.strip().lower())
        if entry is None:
            continue
        seed = cell(row, "seed")
        try:
            seed_value = int(seed) if seed is not None else None
        except ValueError:
            raise BatchError(f"{source.name}, line {number}: seed must be a whole number, got {seed!r}") from None
        output = cell(row, "output")
        name = Path(output).with_suffix("").as_posix() if output else _name_for(entry, source)
        if output and (Path(output).is_absolute() or ".." in Path(output).parts):
            raise BatchError(f"{source.name}, line {number}: output {output!r} must stay inside the output folder")
        line = BatchLine(_resolve(entry, source), name, transcript=cell(row, "transcript"),
                         emotion=cell(row, "emotion"), seed=seed_value)
        lines.append(line if line.transcript else _with_sidecars(line))
    if not lines:
        raise BatchError(f"{source.name} lists no recordings")
    return lines


def _with_sidecars(line: BatchLine) -> BatchLine:
    from app.io.sidecars import find_sidecars

    if not line.audio.is_file():
        return line
    found = find_sidecars(line.audio)
    return replace(line, transcript=line.transcript or found.transcript,
                   phones=str(found.phones_path) if found.phones_path and not line.transcript else None,
                   notes=tuple(found.skipped))


# --- settings and hashes -----------------------------------------------------------------------------------------
def line_settings(line: BatchLine, base: GenerationSettings) -> GenerationSettings:
    """The base settings with what the line itself says (transcript, phone file, emotion, seed)."""
    from app.core.settings import EMOTIONS, EmotionKey

    inputs: dict = {}
    if line.transcript:
        inputs["transcript"] = line.transcript
    if line.phones:
        inputs["phones_file"] = line.phones
    changes: dict = {}
    if line.seed is not None:
        changes["seed"] = line.seed
    if line.emotion:
        name, _, value = line.emotion.partition(":")
        name = name.strip().lower()
        if name not in EMOTIONS:
            raise ValueError(f"unknown emotion {name!r}; choose one of {', '.join(EMOTIONS)}")
        intensity = float(value) if value.strip() else 1.0
        if not 0.0 <= intensity <= 1.0:
            raise ValueError(f"emotion intensity must be 0..1, got {intensity:g}")
        changes["emotion_keys"] = (EmotionKey(0.0, name, intensity),)
    return base.with_performance(**changes).with_inputs(**inputs)


_model_version_cache: str | None = None


def model_version() -> str:
    """Short hash of the package version and the shipped weights: outputs made with other weights are redone."""
    global _model_version_cache
    if _model_version_cache is None:
        from app import __version__

        root = Path(__file__).resolve().parents[2]
        h = hashlib.sha256(str(__version__).encode())
        for rel in _WEIGHTS:
            path = root / rel
            h.update(file_sha256(path).encode() if path.is_file() else b"-")
        _model_version_cache = h.hexdigest()[:16]
    return _model_version_cache


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def settings_hash(settings: GenerationSettings, options: BatchOptions) -> str:
    doc = settings.to_json()
    phones_file = settings.inputs.phones_file
    if phones_file and Path(phones_file).is_file():
        doc["phones_sha256"] = file_sha256(Path(phones_file))
    doc.update(suffix=options.suffix, fps=options.fps, model=model_version())
    text = json.dumps(doc, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- manifest ----------------------------------------------------------------------------------------------------
def read_manifest(out_dir: Path) -> dict[str, dict]:
    """{line name: entry} of an earlier run; a missing or unreadable manifest is an empty one (every line is
    redone, nothing is lost)."""
    path = out_dir / MANIFEST_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT or not isinstance(doc.get("lines"), dict):
        return {}
    return {k: v for k, v in doc["lines"].items() if isinstance(v, dict)}


def write_manifest(out_dir: Path, entries: dict[str, dict], options: BatchOptions) -> None:
    doc = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "engine": options.base.engine,
           "model": model_version(), "format_suffix": options.suffix, "lines": dict(sorted(entries.items()))}
    atomic_write_text(out_dir / MANIFEST_NAME, json.dumps(doc, indent=1))


# --- one line (runs in a worker) ---------------------------------------------------------------------------------
# oneDNN keeps the kernels it built for each input shape (1,024 by default); every line has its own length, so a
# long batch grew a worker by about 60 MB per 350 lines until the cache filled. A small cache keeps the worker flat
# (measured: 337 -> 338 MB over the last 100 of 400 lines of random lengths, against 386 -> 398 MB).
WORKER_ONEDNN_CACHE = "16"


def _init_worker(threads: int) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", WORKER_ONEDNN_CACHE)  # read when torch starts
    limit_threads(threads)


def limit_threads(threads: int) -> None:
    """Hold this worker to ``threads`` cores: torch's pool and numpy's BLAS. BLAS starts its own threads, one per
    core, whatever torch is told; with two workers on two cores each line then ran a second thread against the other
    worker (measured: one worker alone used 14.4 s of CPU in 12.7 s of work). It is loaded before a worker starts
    (in the fork server, or by Ray), so its environment variables come too late; threadpoolctl sets it in place."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = max(1, int(threads))
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads, user_api="blas")


def run_line(job: dict) -> dict:
    """Generate and write one line; never raises: a failure is an entry with status "failed" and its reason."""
    import resource

    from app.engines.generate import generate_take
    from app.io.audio import load_audio
    from app.io.export import write_take

    t0 = time.perf_counter()
    entry = {"status": "failed"}
    try:
        clip = load_audio(job["audio"])
        take = generate_take(clip, job["settings"], name=Path(job["audio"]).stem)
        Path(job["output"]).parent.mkdir(parents=True, exist_ok=True)
        write_take(take, job["output"], fps=job["fps"])
        p = take.meta.provenance
        entry = {"status": "done", "audio_seconds": round(clip.duration, 3), "phones_source": p.phones_source}
        if p.unsure_fraction is not None:
            entry["unsure_fraction"] = p.unsure_fraction
        if p.phones_error:
            entry["warning"] = f"transcript not used: {p.phones_error}"
    except Exception as exc:  # noqa: BLE001 - any failure of one line is reported, never raised into the batch
        entry["error"] = _one_line(exc)
    entry["seconds"] = round(time.perf_counter() - t0, 3)
    entry["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    rss = resident_mb()
    if rss is not None:
        entry["rss_mb"] = rss
    entry["worker"] = os.getpid()
    return entry


def resident_mb() -> float | None:
    """This process's resident memory now in MB (Linux; None elsewhere), to see whether it stays flat."""
    try:
        with open("/proc/self/status") as f:
            for row in f:
                if row.startswith("VmRSS:"):
                    return round(int(row.split()[1]) / 1024.0, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# --- the batch ---------------------------------------------------------------------------------------------------
ProgressFn = Callable[[BatchSummary, int], None]  # (summary so far, lines finished so far)


def run_batch(lines: Iterable[BatchLine], out_dir: Path, options: BatchOptions,
              progress: ProgressFn | None = None) -> BatchSummary:
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"cannot create the output folder {out_dir}: {exc.strerror or exc}") from None
    lines = list(lines)
    entries = read_manifest(out_dir)
    summary = BatchSummary(total=len(lines))
    jobs, seen = [], {}
    for line in lines:
        key = line.name
        output = out_dir / (line.name + options.suffix)
        base_entry = {"input": str(line.audio), "output": str(output)}
        if line.notes:
            base_entry["notes"] = list(line.notes)
        if key in seen:
            entries_fail = {**base_entry, "status": "failed",
                            "error": f"duplicate output name {line.name}{options.suffix} (also from {seen[key]})"}
            summary.failed += 1
            summary.failures.append((str(line.audio), entries_fail["error"]))
            continue  # the first line of that name keeps its manifest entry
        seen[key] = line.audio.name
        try:
            settings = line_settings(line, options.base)
            digest = file_sha256(line.audio)
            config = settings_hash(settings, options)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            entries[key] = {**base_entry, "status": "failed", "error": f"{line.audio.name}: {reason}"}
            summary.failed += 1
            summary.failures.append((str(line.audio), entries[key]["error"]))
            continue
        old = entries.get(key, {})
        if (not options.force and old.get("status") == "done" and old.get("input_sha256") == digest
                and old.get("settings_hash") == config and output.is_file()):
            summary.skipped += 1
            continue
        base_entry.update(input_sha256=digest, settings_hash=config, engine=settings.engine,
                          model=model_version())
        jobs.append((key, base_entry, {"audio": str(line.audio), "settings": settings, "output": str(output),
                                       "fps": options.fps}))
    if progress:
        progress(summary, summary.skipped + summary.failed)
    t0 = time.perf_counter()
    runner = _run_jobs_ray if options.ray else _run_jobs
    try:
        runner(jobs, entries, out_dir, options, summary, progress, t0)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        summary.wall_seconds = time.perf_counter() - t0
        try:
            write_manifest(out_dir, entries, options)
        except OSError as exc:  # a full disk, say: the outputs written are whole; a rerun redoes the rest
            raise BatchError(f"cannot write {out_dir / MANIFEST_NAME}: {exc.strerror or exc}; the outputs "
                             "written so far are whole, and a rerun redoes the lines it does not record") from None
    return summary


WORKER_DIED = "the worker process stopped (killed or out of memory)"


class _Tally:
    """Books finished lines into the manifest entries and the summary; saves the manifest now and then."""

    def __init__(self, entries, out_dir, options, summary, progress, t0):
        self.entries, self.out_dir, self.options = entries, out_dir, options
        self.summary, self.progress, self.t0 = summary, progress, t0
        self.finished = summary.skipped + summary.failed
        self.last_save = time.perf_counter()

    def add(self, key: str, base: dict, result: dict) -> None:
        entry = {**base, **result}
        self.entries[key] = entry
        self.finished += 1
        if entry["status"] == "done":
            self.summary.done += 1
            self.summary.audio_seconds += float(entry.get("audio_seconds", 0.0))
        else:
            self.summary.failed += 1
            self.summary.failures.append((base["input"], entry.get("error", "failed")))

    def tick(self) -> None:
        self.summary.wall_seconds = time.perf_counter() - self.t0
        if self.progress:
            self.progress(self.summary, self.finished)
        if time.perf_counter() - self.last_save >= MANIFEST_SAVE_EVERY_S:
            try:
                write_manifest(self.out_dir, self.entries, self.options)
            except OSError:
                pass  # tried again at the next save and at the end, where a lasting failure is reported
            self.last_save = time.perf_counter()


_ray_threads: int | None = None  # what this Ray worker process was held to, once


def _ray_line(job: dict, threads: int) -> dict:
    """run_line inside a Ray worker (a long-lived process: the models load once in each, and its threads are set
    on its first line; threadpoolctl's scan of the loaded libraries costs about 1 ms, not worth paying per line)."""
    global _ray_threads
    if _ray_threads != threads:
        os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", WORKER_ONEDNN_CACHE)
        limit_threads(threads)
        _ray_threads = threads
    return run_line(job)


RAY_CONNECT_TIMEOUT_S = 5.0


def _check_reachable(address: str) -> None:
    """Fail fast on a Ray address nothing answers at (Ray itself retries for minutes)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else "ray://" + address)
    host, port = parts.hostname, parts.port
    if not host or not port:
        raise BatchError(f"--ray {address}: give HOST:PORT, ray://HOST:PORT, auto or local")
    try:
        with socket.create_connection((host, port), timeout=RAY_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise BatchError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def _run_jobs_ray(jobs, entries, out_dir, options, summary, progress, t0) -> None:
    """The same lines on a Ray cluster: one task per line (one CPU each), at most two per worker queued."""
    try:
        import ray
    except ImportError:
        raise BatchError("--ray needs the ray package: pip install 'vasa-rig-studio[cluster]'") from None
    started = not ray.is_initialized()
    if started and options.ray not in ("local", "auto"):
        _check_reachable(options.ray)
    if started:
        try:
            if options.ray == "local":
                ray.init(num_cpus=max(1, int(options.workers)), include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=options.ray, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - any failure to reach the cluster is one clear line
            raise BatchError(f"cannot reach the Ray cluster at {options.ray}: {_one_line(exc)}") from None
    tally = _Tally(entries, out_dir, options, summary, progress, t0)
    remote = ray.remote(num_cpus=1, max_retries=1)(_ray_line)
    slots = max(1, 2 * int(ray.cluster_resources().get("CPU", options.workers)))
    threads = options.threads or 1
    pending = list(reversed(jobs))
    in_flight: dict = {}
    try:
        while pending or in_flight:
            while pending and len(in_flight) < slots:
                key, base, job = pending.pop()
                in_flight[remote.remote(job, threads)] = (key, base)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                key, base = in_flight.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a lost worker or node fails the line, not the batch
                    result = {"status": "failed", "error": f"{WORKER_DIED}: {_one_line(exc)}"}
                tally.add(key, base, result)
            tally.tick()
    except KeyboardInterrupt:
        for ref in in_flight:
            ray.cancel(ref)
        raise
    finally:
        if started:
            ray.shutdown()


# Imported once in a fork server that starts the workers: each worker then begins with torch, the engines and what
# a line reads and writes with already in place (on a 2-core machine 2.4 s for torch and the app, then 1.6 s more on a
# worker's first line, mostly scipy.signal for resampling, paid again by every worker of a fresh pool). The engines
# and the exporters import these lazily, so they are named here.
WORKER_PRELOAD = ["torch", "scipy.signal", "scipy.ndimage", "soundfile", "app.engines.generate", "app.engines.batch",
                  "app.io.audio", "app.io.export", "app.io.fbx", "app.engines.neural", "app.engines.procedural",
                  "app.engines.phonetics.mouth_shapes", "models.pipeline"]


def _worker_context(multiprocessing):
    """A fork server with the engines preloaded where the platform has one (Linux, macOS), else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", WORKER_ONEDNN_CACHE)  # inherited by the server
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_PRELOAD)
    return context


def _retry(key: str, base: dict, job: dict, pending: list) -> bool:
    """Put a line lost with its worker back in the queue once; False when it was already retried."""
    if job.get("retried"):
        return False
    pending.append((key, base, {**job, "retried": True}))
    return True


def _run_jobs(jobs, entries, out_dir, options, summary, progress, t0) -> None:
    import multiprocessing

    workers = max(1, int(options.workers))
    threads = options.threads or max(1, (os.cpu_count() or 1) // workers)
    pending = list(reversed(jobs))  # popped from the end: original order
    tally = _Tally(entries, out_dir, options, summary, progress, t0)
    context = _worker_context(multiprocessing)
    while pending:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                                 initargs=(threads,)) as pool:
            in_flight: dict[Future, tuple] = {}
            try:
                while pending or in_flight:
                    while pending and len(in_flight) < 2 * workers:
                        future = pool.submit(run_line, pending[-1][2])  # raises on a broken pool: stays queued
                        in_flight[future] = pending.pop()
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        key, base, job = in_flight.pop(future)
                        try:
                            result = future.result()
                        except BrokenProcessPool:
                            if _retry(key, base, job, pending):
                                continue
                            result = {"status": "failed", "error": WORKER_DIED}
                        tally.add(key, base, result)
                    tally.tick()
            except BrokenProcessPool:
                # A worker died: the lines it may have held go round once more in a fresh pool, then fail.
                for key, base, job in in_flight.values():
                    if not _retry(key, base, job, pending):
                        tally.add(key, base, {"status": "failed", "error": WORKER_DIED})
                continue
            except KeyboardInterrupt:
                for future in in_flight:
                    future.cancel()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
