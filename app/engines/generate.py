"""Engine-independent generation: audio clip + settings -> Take. Engines are looked up by name; each is a
function ``(clip, settings, progress, cancel) -> (curves (frames, 180), extra metadata dict)``.

The procedural engine is registered here; other engines (the neural one) register with :func:`register_engine`
or are added to ``_BUILTIN`` so they load lazily on first use.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.take import EmotionKey, GenerationMeta, Take
from app.core.timebase import FPS, frames_for_duration

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]
EngineFn = Callable[..., tuple[np.ndarray, dict]]

# name -> "module:function", imported when first used so the command line stays fast to start.
_BUILTIN: dict[str, str] = {"procedural": "app.engines.generate:_run_procedural",
                             "neural": "app.engines.generate:_run_neural"}
_REGISTERED: dict[str, EngineFn] = {}

# Share of the progress bar each procedural stage takes (alignment dominates).
_ALIGN_SHARE = 0.85
_NEURAL_ALIGN_SHARE = 0.7  # forced alignment takes most of a neural take's time


class GenerateError(Exception):
    """Generation cannot run as asked (unknown engine, bad settings, unusable phones or transcript)."""


class GenerationCancelled(GenerateError):  # noqa: N818 - a state rather than a failure
    """The caller's cancel() returned True."""


@dataclass(frozen=True)
class GenerateSettings:
    engine: str = "procedural"
    transcript: str | None = None
    emotion_keys: tuple[EmotionKey, ...] = (EmotionKey(0.0, "neutral", 0.0),)
    gaze: tuple[float, float] = (0.0, 0.0)  # yaw, pitch in degrees
    eye_contact: float = 1.0
    head_distance: float = 60.0  # cm
    articulation: float = 1.0
    seed: int = 0
    phones_file: str | None = None
    extra: dict = field(default_factory=dict)  # engine-specific options

    def meta(self, extra: dict | None = None) -> GenerationMeta:
        return GenerationMeta(engine=self.engine, seed=int(self.seed), emotion_keys=tuple(self.emotion_keys),
                              gaze=(float(self.gaze[0]), float(self.gaze[1])), eye_contact=float(self.eye_contact),
                              head_distance=float(self.head_distance), articulation=float(self.articulation),
                              transcript=self.transcript, extra=dict(extra or {}))

    @classmethod
    def from_meta(cls, meta: GenerationMeta, **changes) -> GenerateSettings:
        """Settings that regenerate a take as its metadata describes (with ``changes`` applied)."""
        base = dict(engine=meta.engine if meta.engine != "none" else "procedural", transcript=meta.transcript,
                    emotion_keys=tuple(meta.emotion_keys), gaze=tuple(meta.gaze), eye_contact=meta.eye_contact,
                    head_distance=meta.head_distance, articulation=meta.articulation, seed=meta.seed,
                    phones_file=meta.extra.get("phones_file"))
        base.update(changes)
        return cls(**base)


def register_engine(name: str, fn: EngineFn) -> None:
    _REGISTERED[name] = fn


def engine_names() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTERED))


def _engine(name: str) -> EngineFn:
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in _BUILTIN:
        raise GenerateError(f"unknown engine {name!r}; available: {', '.join(engine_names())}")
    module, _, attr = _BUILTIN[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def _check(cancel: CancelFn | None) -> None:
    if cancel is not None and cancel():
        raise GenerationCancelled("generation was cancelled")


def generate_take(clip, settings: GenerateSettings, progress: ProgressFn | None = None,
                  cancel: CancelFn | None = None, *, name: str | None = None) -> Take:
    """A new Take for ``clip`` (app.io.audio.AudioClip) made by the engine ``settings.engine``."""
    curves, extra = run_engine(clip, settings, progress, cancel)
    audio = clip.ref() if clip.path is not None else None
    take_name = name or (Path(clip.path).stem if clip.path else "take")
    return Take(curves, fps=FPS, name=take_name, audio=audio, meta=settings.meta(extra))


def run_engine(clip, settings: GenerateSettings, progress: ProgressFn | None = None,
               cancel: CancelFn | None = None, locked: tuple[np.ndarray, np.ndarray] | None = None,
               ) -> tuple[np.ndarray, dict]:
    """Run the settings' engine. ``locked`` = (mask, values), both (frames, 180): frames and channels the user
    locked; an engine that can inpaint generates the rest around them (the Take keeps them in any case)."""
    fn = _engine(settings.engine)
    _check(cancel)
    curves, extra = fn(clip, settings, progress, cancel, locked=locked)
    _check(cancel)
    if progress:
        progress(1.0)
    return np.asarray(curves, dtype=np.float32), extra


def regenerate(take: Take, settings: GenerateSettings, clip, progress: ProgressFn | None = None,
               cancel: CancelFn | None = None, history=None) -> Take:
    """New base curves for an existing take; locked ranges keep their values (blended at the edges). With a
    ``history`` (app.core.history.History) the change is one undoable step."""
    locked = None
    if take.locks and frames_for_duration(clip.duration, FPS) == take.num_frames:
        locked = (take.locked_mask(), np.asarray(take.base))
    curves, extra = run_engine(clip, settings, progress, cancel, locked=locked)
    meta = settings.meta(extra)
    if history is not None:
        history.regenerate(curves, meta)
    else:
        take.set_base(curves, respect_locks=True)
        take.set_meta(meta)
    return take


# --- the procedural engine ----------------------------------------------------------------------------------
def phone_alignment(clip, settings: GenerateSettings, progress: ProgressFn | None = None,
                    cancel: CancelFn | None = None):
    """Phone timings from the settings' phone file or PocketSphinx: forced alignment with a transcript; without
    one, PocketSphinx word recognition (``extra["recogniser"] == "words"``, the old front end, kept to compare).
    Errors become GenerateError with the phonetics message. Audio-only takes normally use
    :func:`mouth_shapes` instead."""
    from app.engines.phonetics.segments import Cancelled, PhoneticsError

    try:
        if settings.phones_file:
            from app.engines.phonetics.phone_files import read_phone_file

            alignment = read_phone_file(settings.phones_file)
            if alignment.end > clip.duration + 0.5:
                raise GenerateError(f"the phone file runs to {alignment.end:.2f} s but the audio is only "
                                    f"{clip.duration:.2f} s long; is it for another recording?")
            return alignment
        from app.engines.phonetics.pocketsphinx_aligner import align_audio

        return align_audio(clip.samples, clip.sample_rate, settings.transcript, progress, cancel)
    except Cancelled as exc:
        raise GenerationCancelled(str(exc)) from None
    except PhoneticsError as exc:
        raise GenerateError(str(exc)) from None


def uses_recogniser(settings: GenerateSettings) -> bool:
    """Whether a take is made from the audio alone through the mouth-shape recogniser (no transcript, no phone
    file, and not the old word-recognition front end)."""
    return not (settings.transcript or settings.phones_file) and settings.extra.get("recogniser") != "words"


def mouth_shapes(clip, settings: GenerateSettings):
    """The mouth-shape recogniser's reading of the clip (app/engines/phonetics/mouth_shapes.py), with the
    settings' confidence threshold (``extra["threshold"]``) and p/b/m threshold (``extra["closure_threshold"]``)."""
    from app.engines.phonetics.mouth_shapes import CLOSURE_THRESHOLD, DEFAULT_THRESHOLD, recognise
    from app.engines.phonetics.segments import PhoneticsError

    threshold = float(settings.extra.get("threshold", DEFAULT_THRESHOLD))
    closure = float(settings.extra.get("closure_threshold", CLOSURE_THRESHOLD))
    try:
        return recognise(clip.samples, clip.sample_rate, threshold, closure_threshold=closure,
                         num_frames=frames_for_duration(clip.duration, FPS))
    except PhoneticsError as exc:
        raise GenerateError(str(exc)) from None


def _run_procedural(clip, settings: GenerateSettings, progress: ProgressFn | None,
                    cancel: CancelFn | None, locked=None) -> tuple[np.ndarray, dict]:
    # Locked ranges are held by the Take (blended at their edges); the rule-based engine needs nothing else.
    from app.engines.procedural.engine import PerformanceControls, synthesize

    try:
        controls = PerformanceControls(emotion_keys=tuple(settings.emotion_keys), gaze=tuple(settings.gaze),
                                       eye_contact=settings.eye_contact, head_distance=settings.head_distance,
                                       articulation=settings.articulation, seed=settings.seed)
    except ValueError as exc:
        raise GenerateError(str(exc)) from None
    t0 = time.perf_counter()
    sub = (lambda f: progress(_ALIGN_SHARE * min(max(f, 0.0), 1.0))) if progress else None
    extra: dict = {}
    if uses_recogniser(settings):
        shapes = mouth_shapes(clip, settings)
        alignment = shapes.alignment
        extra.update(shapes.summary())
    else:
        alignment = phone_alignment(clip, settings, sub, cancel)
    t1 = time.perf_counter()
    _check(cancel)
    if progress:
        progress(_ALIGN_SHARE)
    curves = synthesize(alignment.phones, clip.samples, clip.sample_rate, controls,
                        num_frames=frames_for_duration(clip.duration, FPS), fps=FPS)
    t2 = time.perf_counter()
    extra.update({"phones_source": alignment.source, "phones": len(alignment.speech_phones()),
                  "words": len(alignment.words), "align_seconds": round(t1 - t0, 3),
                  "synthesis_seconds": round(t2 - t1, 3)})
    if settings.phones_file:
        extra["phones_file"] = str(settings.phones_file)
    return curves, extra


# --- the neural engine ------------------------------------------------------------------------------------
def _run_neural(clip, settings: GenerateSettings, progress: ProgressFn | None, cancel: CancelFn | None,
                locked=None) -> tuple[np.ndarray, dict]:
    from app.engines import neural
    from models.pipeline import DEFAULT_GUIDANCE, DEFAULT_STEPS

    steps = int(settings.extra.get("steps") or DEFAULT_STEPS)
    guidance = float(settings.extra.get("guidance", DEFAULT_GUIDANCE))  # 0 is a valid value (unconditional)
    extra: dict = {"steps": steps, "guidance": guidance, "inpainted": locked is not None}
    t0 = time.perf_counter()
    try:
        alignment = track = None
        # A transcript (or phone file) gives the model the clip's phones as well as its audio, when it takes
        # them. Without one, the mouth-shape recogniser reads them from the audio, and frames it is unsure of
        # stay unknown (the model follows the audio alone there).
        # A transcript that does not fit the speech costs the take nothing: the take is made as without one, and
        # the reason is kept (extra["phones_error"]) for the CLI and the app to report.
        phone_guidance = None  # the checkpoint's
        if (settings.transcript or settings.phones_file) and neural.uses_phones():
            sub = (lambda f: progress(_NEURAL_ALIGN_SHARE * min(max(f, 0.0), 1.0))) if progress else None
            try:
                alignment = phone_alignment(clip, settings, sub, cancel)
            except GenerateError as exc:
                extra["phones_error"] = str(exc)
            else:
                extra.update(phones_source=alignment.source, phones=len(alignment.speech_phones()))
                if settings.phones_file:
                    extra["phones_file"] = str(settings.phones_file)
            extra["align_seconds"] = round(time.perf_counter() - t0, 3)
        if alignment is None and neural.uses_phones() and (uses_recogniser(settings) or "phones_error" in extra):
            shapes = mouth_shapes(clip, settings)
            track = shapes.track
            extra.update(shapes.summary())
            from models.visemes import RECOGNISED_PHONE_GUIDANCE

            phone_guidance = float(settings.extra.get("phone_guidance", RECOGNISED_PHONE_GUIDANCE))
            extra["phone_guidance"] = phone_guidance
        t1 = time.perf_counter()
        rest = progress if progress is None or alignment is None else (
            lambda f: progress(_NEURAL_ALIGN_SHARE + (1 - _NEURAL_ALIGN_SHARE) * f))
        curves = neural.generate_neural(clip, settings, rest, cancel, locked=locked, steps=steps,
                                        guidance=guidance, phones=alignment.phones if alignment else None,
                                        track=track, phone_guidance=phone_guidance)
    except neural.GenerationCancelled as exc:
        raise GenerationCancelled(str(exc)) from None
    except neural.NeuralEngineError as exc:
        raise GenerateError(str(exc)) from None
    extra["synthesis_seconds"] = round(time.perf_counter() - t1, 3)
    return curves, extra
