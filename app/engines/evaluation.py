"""Quantitative evaluation of engines on speech clips: the figures of quality_metrics.md, per clip and pooled,
ground-truth comparison, and a report (markdown + JSON + plots).

Qt-free; plots are drawn with matplotlib's Agg backend.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.rig import NUM_CONTROLS, RigSpec, load_rig
from app.core.timebase import FPS
from app.engines import metrics as M

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3", ".opus")
PHONE_SUFFIXES = (".TextGrid", ".textgrid", ".lab", ".tsv", ".json", ".phn")
UPPER_FACE = ("eyes", "eyebrows", "nose")
MAX_GT_LAG = 15


class EvaluationError(Exception):
    """The evaluation cannot run as asked (no clips, unreadable labels, unknown engine)."""


@dataclass
class GroundTruthFigures:
    """Comparison of generated curves with reference curves over the controls that move in the reference."""

    channels: int
    rmse: float  # mean over channels of the root-mean-square error
    correlation: float  # mean over channels of the correlation at each channel's best lag
    mean_lag: float  # mean best lag in frames (positive = generated late)
    frd: float  # upper-face rig deviation against the reference (see docs/metrics.md)
    per_region_rmse: dict[str, float] = field(default_factory=dict)


@dataclass
class ClipResult:
    clip: str
    engine: str
    duration: float
    seconds: float  # engine run time
    phones_source: str
    figures: M.ClipFigures
    ground_truth: GroundTruthFigures | None = None

    @property
    def realtime_factor(self) -> float:
        return self.duration / self.seconds if self.seconds > 0 else float("inf")


def peak_correlation(fig: M.ClipFigures | np.ndarray) -> float | None:
    c = fig.correlations if isinstance(fig, M.ClipFigures) else fig
    return None if np.all(np.isnan(c)) else float(np.nanmax(c))


def frd(region_sd: dict[str, float], reference: dict[str, float]) -> float:
    """Upper-face rig deviation: mean over eyes, eyebrows and nose of (reference SD - generated SD).
    Negative when the generated upper face moves more than the reference, as in the paper's table."""
    return float(np.mean([reference[r] - region_sd[r] for r in UPPER_FACE]))


def compare_ground_truth(curves: np.ndarray, reference: np.ndarray, rig: RigSpec | None = None) -> GroundTruthFigures:
    """Per-channel error and correlation after the best lag (within +/- 15 frames), over the face-board controls
    that move in the reference."""
    rig = rig or load_rig()
    n = min(len(curves), len(reference))
    gen = np.asarray(curves[:n, :NUM_CONTROLS], np.float64)
    ref = np.asarray(reference[:n, :NUM_CONTROLS], np.float64)
    moving = np.flatnonzero(ref.std(axis=0) > 1e-4)
    if len(moving) == 0 or n < 4:
        raise EvaluationError("the ground truth holds no motion to compare with")
    rmse = np.sqrt(np.mean((gen[:, moving] - ref[:, moving]) ** 2, axis=0))
    corrs, lags = [], []
    for c in moving:
        cc = M.lag_correlations(ref[:, c], gen[:, c], MAX_GT_LAG)
        if np.all(np.isnan(cc)):
            corrs.append(0.0)
            lags.append(0)
        else:
            corrs.append(float(np.nanmax(cc)))
            lags.append(int(np.nanargmax(cc)) - MAX_GT_LAG)
    regions: dict[str, list[float]] = {}
    for c, e in zip(moving, rmse, strict=True):
        region = M.region_of(rig.control_names[c])
        if region:
            regions.setdefault(region, []).append(float(e))
    return GroundTruthFigures(channels=len(moving), rmse=float(rmse.mean()), correlation=float(np.mean(corrs)),
                              mean_lag=float(np.mean(lags)),
                              frd=frd(M.region_sd(gen, rig), M.region_sd(ref, rig)),
                              per_region_rmse={r: float(np.mean(v)) for r, v in regions.items()})


# --- inputs ------------------------------------------------------------------------------------------------------

def find_clips(inputs: Sequence[str | Path]) -> list[Path]:
    clips: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            clips += sorted(q for q in p.rglob("*") if q.suffix.lower() in AUDIO_SUFFIXES)
        elif p.exists():
            clips.append(p)
        else:
            raise EvaluationError(f"not found: {p}")
    if not clips:
        raise EvaluationError("no audio clips found in " + ", ".join(map(str, inputs)))
    return clips


def read_transcripts(path: str | Path | None) -> dict[str, str]:
    """Transcripts by clip name (file stem): a folder of STEM.txt files, or one text file (optionally .gz) with
    lines ``STEM: text``, ``STEM<TAB>text`` or ``STEM text`` (the Asterisk prompt lists use the first form)."""
    if path is None:
        return {}
    p = Path(path)
    if p.is_dir():
        return {q.stem: q.read_text(encoding="utf-8", errors="replace").strip() for q in p.glob("*.txt")}
    if not p.exists():
        raise EvaluationError(f"transcripts not found: {p}")
    raw = gzip.open(p, "rt", encoding="utf-8", errors="replace").read() if p.suffix == ".gz" else \
        p.read_text(encoding="utf-8", errors="replace")
    out: dict[str, str] = {}
    for line in raw.splitlines():
        line = line.strip()
        if not line or line.startswith(";") or line.startswith("#"):
            continue
        for sep in (":", "\t", " "):
            if sep in line:
                stem, text = line.split(sep, 1)
                stem = stem.strip().split("/")[-1]
                if stem and text.strip():
                    out[stem] = text.strip()
                break
    return out


def find_sidecar(folder: Path | None, stem: str, suffixes: Sequence[str]) -> Path | None:
    if folder is None:
        return None
    if folder.is_file():
        return folder
    for s in suffixes:
        q = folder / f"{stem}{s}"
        if q.exists():
            return q
    return None


# --- running ---------------------------------------------------------------------------------------------------

def evaluate_clips(clips: Sequence[Path], engines: Sequence[str], *, transcripts: dict[str, str] | None = None,
                   phones_dir: Path | None = None, gt_dir: Path | None = None, seed: int = 0,
                   plots_dir: Path | None = None, modes: Sequence[str] = ("audio", "transcript"),
                   log: Callable[[str], None] = lambda s: None) -> list[ClipResult]:
    """Each engine on each clip, once per mode: ``audio`` (the audio alone: the engines' own front end) and
    ``transcript`` (given the clip's transcript or phone file, where it has one; reported as ENGINE +transcript).
    The figures are read against the transcript's alignment or the phone file; a clip with neither is measured
    against PocketSphinx's word recognition, which is itself a guess."""
    unknown = set(modes) - {"audio", "transcript"}
    if unknown or not modes:
        raise EvaluationError(f"modes are 'audio' and 'transcript', got {', '.join(sorted(unknown)) or 'none'}")
    from app.core.settings import GenerationInputs, GenerationSettings, PerformanceControls
    from app.engines.generate import GenerateError, run_engine
    from app.engines.phonetics import PhoneticsError, align_audio, read_phone_file
    from app.io.audio import AudioError, load_audio
    from app.io.export import read_take

    rig = load_rig()
    transcripts = transcripts or {}
    results: list[ClipResult] = []
    if "neural" in engines:
        # Load the model before any clip is timed: the speed column measures generation, not the one-off load.
        from app.engines.neural import NeuralEngineError, load_model

        try:
            load_model()
        except NeuralEngineError as exc:
            raise EvaluationError(f"neural failed to load: {exc}") from None
    for k, path in enumerate(clips, start=1):
        stem = path.stem
        try:
            clip = load_audio(path)
        except AudioError as exc:
            log(f"[{k}/{len(clips)}] {path.name}: skipped ({exc})")
            continue
        text = transcripts.get(stem)
        phone_file = find_sidecar(phones_dir, stem, PHONE_SUFFIXES)
        try:
            if phone_file is not None:
                phones, source = read_phone_file(phone_file).phones, f"file {phone_file.name}"
            else:
                phones = align_audio(clip.samples, clip.sample_rate, transcript=text).phones
                source = "forced alignment" if text else "recognition"
        except PhoneticsError as exc:
            log(f"[{k}/{len(clips)}] {path.name}: skipped, no phone timing ({exc})")
            continue
        gt_file = find_sidecar(gt_dir, stem, (".txt", ".csv", ".json", ".fbx"))
        reference = read_take(gt_file).evaluate() if gt_file is not None else None
        curves_by_engine = {}
        told = text is not None or phone_file is not None
        for engine, mode in ((e, m) for e in engines for m in modes if m == "audio" or told):
            if mode == "audio":
                settings = GenerationSettings(engine=engine, performance=PerformanceControls(seed=seed))
                label = engine
            else:
                settings = GenerationSettings(engine=engine, performance=PerformanceControls(seed=seed),
                                              inputs=GenerationInputs(transcript=text, phones_file=phone_file))
                label = f"{engine} +transcript"
            t0 = time.perf_counter()
            try:
                curves, _ = run_engine(clip, settings)
            except GenerateError as exc:
                raise EvaluationError(f"{engine} failed on {path.name}: {exc}") from None
            seconds = time.perf_counter() - t0
            fig = M.evaluate(curves, phones, clip.samples, clip.sample_rate, FPS, rig)
            gt = compare_ground_truth(curves, reference, rig) if reference is not None else None
            results.append(ClipResult(stem, label, clip.duration, seconds, source, fig, gt))
            curves_by_engine[label] = curves
            log(f"[{k}/{len(clips)}] {path.name} {label}: {clip.duration:.1f} s in {seconds:.2f} s, "
                f"closure {fig.closed}/{fig.bilabials}, lag {fig.lag}")
        if plots_dir is not None:
            plot_clip(plots_dir / f"{stem}.png", stem, clip.samples, clip.sample_rate, curves_by_engine, phones,
                      reference, rig)
    if not results:
        raise EvaluationError("no clip could be evaluated")
    return results


# --- reporting -------------------------------------------------------------------------------------------------

def _fmt(v, digits=3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def summary(results: Sequence[ClipResult]) -> dict:
    """Pooled figures per engine, with the targets of quality_metrics.md."""
    out: dict[str, dict] = {}
    for engine in dict.fromkeys(r.engine for r in results):
        rs = [r for r in results if r.engine == engine]
        pooled = M.pool([r.figures for r in rs])
        corr = np.nanmean([peak_correlation(r.figures) or np.nan for r in rs])
        entry = {
            "clips": pooled.clips, "minutes": pooled.minutes,
            "bilabial_closure": pooled.closure, "bilabials": pooled.bilabials,
            "open_vowel_aperture": pooled.aperture, "lag_frames": pooled.lag,
            "peak_correlation": float(corr) if np.isfinite(corr) else None,
            "region_sd": pooled.region_sd, "jitter": pooled.jitter, "blinks_per_min": pooled.blinks_per_min,
            "frd_vs_captured": frd(pooled.region_sd, M.CAPTURED_REGION_SD),
            "realtime_factor": sum(r.duration for r in rs) / max(sum(r.seconds for r in rs), 1e-9),
            "checks": pooled.checks(),
        }
        gts = [r.ground_truth for r in rs if r.ground_truth is not None]
        if gts:
            entry["ground_truth"] = {"rmse": float(np.mean([g.rmse for g in gts])),
                                     "correlation": float(np.mean([g.correlation for g in gts])),
                                     "mean_lag": float(np.mean([g.mean_lag for g in gts])),
                                     "frd": float(np.mean([g.frd for g in gts]))}
        out[engine] = entry
    return out


def write_report(results: Sequence[ClipResult], out_dir: Path, title: str = "Evaluation") -> tuple[Path, Path]:
    from app.core.atomic import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    pooled = summary(results)
    lines = [f"# {title}", "",
             f"{len({r.clip for r in results})} clips, engines: {', '.join(pooled)}. Definitions: docs/metrics.md.",
             "", "## Pooled figures", "",
             "| figure | target | " + " | ".join(pooled) + " |", "|---|---|" + "---|" * len(pooled)]
    rows = [
        ("bilabial closure", "1.0", lambda e: f"{_fmt(e['bilabial_closure'])} ({e['bilabials']} p/b/m)"),
        ("open-vowel aperture", ">= 2.5", lambda e: _fmt(e["open_vowel_aperture"], 2)),
        ("lag (frames, + = mouth late)", "0 +/- 1", lambda e: _fmt(e["lag_frames"])),
        ("peak envelope-opening correlation", "(timing only)", lambda e: _fmt(e["peak_correlation"])),
        *[(f"{r} SD", f"{M.CAPTURED_REGION_SD[r]:.3f} captured", (lambda rr: lambda e: _fmt(e["region_sd"][rr]))(r))
          for r in M.METRIC_REGIONS],
        ("FRD vs captured speech", "< 0 = livelier", lambda e: _fmt(e["frd_vs_captured"], 4)),
        ("jitter", f"<= {1.5 * M.CAPTURED_JITTER:.4f}", lambda e: _fmt(e["jitter"], 4)),
        ("blinks per minute", "10-25", lambda e: _fmt(e["blinks_per_min"], 1)),
        ("speed (x real time)", "", lambda e: _fmt(e["realtime_factor"], 1)),
    ]
    for label, target, get in rows:
        lines.append(f"| {label} | {target} | " + " | ".join(get(e) for e in pooled.values()) + " |")
    lines += ["", "Targets met: " + "; ".join(
        f"{eng}: {sum(e['checks'].values())}/{len(e['checks'])} ("
        + ", ".join(k for k, ok in e["checks"].items() if not ok) + (" missed)" if not all(e["checks"].values())
                                                                       else "all)")
        for eng, e in pooled.items())]
    if any("ground_truth" in e for e in pooled.values()):
        lines += ["", "## Against ground truth", "", "| engine | RMSE | correlation at best lag | mean lag | FRD |",
                  "|---|---|---|---|---|"]
        for eng, e in pooled.items():
            g = e.get("ground_truth")
            if g:
                lines.append(f"| {eng} | {g['rmse']:.4f} | {g['correlation']:.3f} | {g['mean_lag']:.1f} | "
                             f"{g['frd']:.4f} |")
    lines += ["", "## Per clip", "", "| clip | engine | s | phones | closure | aperture | lag | mouth SD | "
              "upper-face SD (eyes/brows/nose) | blinks | x RT |", "|---" * 11 + "|"]
    for r in results:
        f = r.figures
        sd = f.region_sd
        lines.append(f"| {r.clip} | {r.engine} | {r.duration:.1f} | {r.phones_source} | {f.closed}/{f.bilabials} | "
                     f"{_fmt(f.aperture, 2)} | {_fmt(f.lag)} | {sd['mouth']:.3f} | "
                     f"{sd['eyes']:.3f}/{sd['eyebrows']:.3f}/{sd['nose']:.3f} | {f.blinks:.0f} | "
                     f"{r.realtime_factor:.0f} |")
    md = out_dir / "report.md"
    atomic_write_text(md, "\n".join(lines) + "\n")
    doc = {"summary": pooled, "clips": [{
        "clip": r.clip, "engine": r.engine, "duration": r.duration, "seconds": r.seconds,
        "phones_source": r.phones_source, "closed": r.figures.closed, "bilabials": r.figures.bilabials,
        "aperture": r.figures.aperture, "lag": r.figures.lag, "peak_correlation": peak_correlation(r.figures),
        "region_sd": r.figures.region_sd, "jitter": r.figures.jitter, "blinks": r.figures.blinks,
        "ground_truth": None if r.ground_truth is None else r.ground_truth.__dict__} for r in results]}
    js = out_dir / "report.json"
    atomic_write_text(js, json.dumps(doc, indent=1, default=_json_default))
    return md, js


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def plot_clip(path: Path, title: str, samples: np.ndarray, sample_rate: int, curves: dict[str, np.ndarray],
              phones, reference: np.ndarray | None, rig: RigSpec) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    panels = [("mouth opening", lambda c: M.mouth_opening(c, rig)),
              ("jaw open", lambda c: c[:, rig.index("CTRL_C_jaw-translateY")]),
              ("blink (L)", lambda c: c[:, rig.index("CTRL_L_eye_blink-translateY")]),
              ("brow raise in (L)", lambda c: c[:, rig.index("CTRL_L_brow_raiseIn-translateY")]),
              ("head yaw / pitch (deg)", lambda c: c[:, NUM_CONTROLS:NUM_CONTROLS + 2])]
    fig, axes = plt.subplots(len(panels) + 1, 1, figsize=(12, 2 * (len(panels) + 1)), sharex=True)
    n = max(len(c) for c in curves.values())
    t = np.arange(n) / FPS
    env = M.audio_envelope(samples, sample_rate, n)
    axes[0].plot(np.arange(len(samples)) / sample_rate, samples, color="0.6", lw=0.5)
    ax2 = axes[0].twinx()
    ax2.plot(t, env, color="tab:orange", lw=1)
    axes[0].set_ylabel("audio")
    ax2.set_ylabel("envelope dB")
    for p in phones:
        if p.phone in M.BILABIAL_PHONES:
            for ax in axes:
                ax.axvspan(p.start, p.end, color="tab:red", alpha=0.12, lw=0)
    for ax, (label, get) in zip(axes[1:], panels, strict=True):
        for engine, c in curves.items():
            ax.plot(np.arange(len(c)) / FPS, get(c), lw=1.2, label=engine)
        if reference is not None:
            ax.plot(np.arange(len(reference)) / FPS, get(reference), lw=1, color="k", ls="--", label="ground truth")
        ax.set_ylabel(label, fontsize=8)
    axes[1].legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("seconds (red bands: p/b/m)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
