"""Generation front door: audio clip + GenerationSettings -> Take, through the engines of app.engines.base.

The two built-in engines live here: the procedural one (rules over phones from forced alignment, a phone file or
the mouth-shape recogniser) and the neural one (models/, through app.engines.neural). Both report what they did in
a typed Provenance.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from app.core.cancel import CancelFn, check
from app.core.settings import GenerationSettings, Provenance
from app.core.take import GenerationMeta, Take
from app.core.timebase import FPS, frames_for_duration
from app.engines.base import EngineCaps, GenerateError, Locked, ProgressFn, engine_names, get_engine

__all__ = ["GenerateError", "GenerationSettings", "NeuralEngine", "ProceduralEngine", "engine_names",
           "generate_take", "mouth_shapes", "phone_alignment", "regenerate", "run_engine", "uses_recogniser"]

# Share of the progress bar each procedural stage takes (alignment dominates).
_ALIGN_SHARE = 0.85
_NEURAL_ALIGN_SHARE = 0.7  # forced alignment takes most of a neural take's time


def generate_take(clip, settings: GenerationSettings, progress: ProgressFn | None = None,
                  cancel: CancelFn | None = None, *, name: str | None = None) -> Take:
    """A new Take for ``clip`` (app.io.audio.AudioClip) made by the engine ``settings.engine``."""
    curves, provenance = run_engine(clip, settings, progress, cancel)
    audio = clip.ref() if clip.path is not None else None
    take_name = name or (Path(clip.path).stem if clip.path else "take")
    return Take(curves, fps=FPS, name=take_name, audio=audio,
                meta=GenerationMeta(settings=settings, provenance=provenance))


def run_engine(clip, settings: GenerationSettings, progress: ProgressFn | None = None,
               cancel: CancelFn | None = None, locked: Locked | None = None) -> tuple[np.ndarray, Provenance]:
    """Run the settings' engine. ``locked`` = (mask, values), both (frames, 180): frames and channels the user
    locked; an engine that can inpaint generates the rest around them (the Take keeps them in any case)."""
    engine = get_engine(settings.engine)
    check(cancel, "generation was cancelled")
    curves, provenance = engine.run(clip, settings, progress, cancel, locked)
    check(cancel, "generation was cancelled")
    if progress:
        progress(1.0)
    return np.asarray(curves, dtype=np.float32), provenance


def regenerate(take: Take, settings: GenerationSettings, clip, progress: ProgressFn | None = None,
               cancel: CancelFn | None = None, history=None) -> Take:
    """New base curves for an existing take; locked ranges keep their values (blended at the edges). With a
    ``history`` (app.core.history.History) the change is one undoable step."""
    locked = None
    if take.locks and frames_for_duration(clip.duration, FPS) == take.num_frames:
        locked = (take.locked_mask(), np.asarray(take.base))
    curves, provenance = run_engine(clip, settings, progress, cancel, locked=locked)
    meta = GenerationMeta(settings=settings, provenance=provenance)
    if history is not None:
        history.regenerate(curves, meta)
    else:
        take.set_base(curves, respect_locks=True)
        take.set_meta(meta)
    return take


# --- front ends shared by the engines -------------------------------------------------------------------------------
def phone_alignment(clip, settings: GenerationSettings, progress: ProgressFn | None = None,
                    cancel: CancelFn | None = None):
    """Phone timings from the settings' phone file or PocketSphinx: forced alignment with a transcript; without
    one, PocketSphinx word recognition (``options.word_recognition``, the old front end, kept to compare).
    Errors become GenerateError with the phonetics message. Audio-only takes normally use :func:`mouth_shapes`."""
    from app.engines.phonetics.segments import PhoneticsError

    inputs = settings.inputs
    try:
        if inputs.phones_file:
            from app.engines.phonetics.phone_files import read_phone_file

            alignment = read_phone_file(inputs.phones_file)
            if alignment.end > clip.duration + 0.5:
                raise GenerateError(f"the phone file runs to {alignment.end:.2f} s but the audio is only "
                                    f"{clip.duration:.2f} s long; is it for another recording?")
            return alignment
        from app.engines.phonetics.pocketsphinx_aligner import align_audio

        return align_audio(clip.samples, clip.sample_rate, inputs.transcript, progress, cancel)
    except PhoneticsError as exc:
        raise GenerateError(str(exc)) from None


def uses_recogniser(settings: GenerationSettings) -> bool:
    """Whether a take is made from the audio alone through the mouth-shape recogniser (no transcript, no phone
    file, and not the old word-recognition front end)."""
    return settings.inputs.audio_only and not settings.options.word_recognition


def mouth_shapes(clip, settings: GenerationSettings, features=None):
    """The mouth-shape readers' reading of the clip (app/engines/phonetics/mouth_shapes.py), with the settings'
    confidence and p/b/m thresholds (the front end's defaults where they are None): the recogniser, averaged with
    the neural engine's encoder head when its checkpoint is installed and has one. ``features``: that encoder's
    features of the clip, when they are computed already."""
    from app.engines.phonetics.mouth_shapes import CLOSURE_THRESHOLD, DEFAULT_THRESHOLD, recognise
    from app.engines.phonetics.segments import PhoneticsError

    o = settings.options
    threshold = DEFAULT_THRESHOLD if o.threshold is None else o.threshold
    closure = CLOSURE_THRESHOLD if o.closure_threshold is None else o.closure_threshold
    try:
        return recognise(clip.samples, clip.sample_rate, threshold, closure_threshold=closure,
                         num_frames=frames_for_duration(clip.duration, FPS), second=_shape_reader(),
                         features=features)
    except PhoneticsError as exc:
        raise GenerateError(str(exc)) from None


def _shape_reader():
    """The neural engine's model when it is installed, loads and has a mouth-shape head; else None (the
    recogniser then reads alone, and the take records so)."""
    from app.engines import neural

    if not neural.DEFAULT_CHECKPOINT.exists():
        return None
    try:
        model = neural.load_model()
    except neural.NeuralEngineError:
        return None
    return model if model.shapes is not None else None


def recognition_notes(shapes) -> tuple[dict, float]:
    """(Provenance fields, seconds the recogniser took) for a take made through the mouth-shape recogniser: how sure
    it was, and where not."""
    s = shapes.summary()
    return {"phones_source": s["phones_source"], "recogniser_threshold": s["recogniser_threshold"],
            "closure_threshold": s["closure_threshold"], "recognised_speech_s": s["recognised_speech_s"],
            "unsure_fraction": s["unsure_fraction"],
            "unsure_spans": tuple((float(a), float(b)) for a, b in s["unsure_spans"]),
            "readers": tuple(s["readers"])}, s["recognise_seconds"]


def _alignment_notes(alignment) -> dict:
    return {"phones_source": alignment.source, "phones": len(alignment.speech_phones()),
            "words": len(alignment.words)}


# --- the procedural engine ------------------------------------------------------------------------------------------
class ProceduralEngine:
    """Rules over phones: visemes with coarticulation, prosody-driven brows, blinks and head motion."""

    name = "procedural"
    caps = EngineCaps(label="Procedural", phones=True, recogniser=True)

    def unavailable(self) -> str | None:
        return None

    def run(self, clip, settings: GenerationSettings, progress: ProgressFn | None, cancel: CancelFn | None,
            locked: Locked | None = None) -> tuple[np.ndarray, Provenance]:
        # Locked ranges are held by the Take (blended at their edges); the rule-based engine needs nothing else.
        from app.engines.procedural.engine import synthesize

        t0 = time.perf_counter()
        sub = (lambda f: progress(_ALIGN_SHARE * min(max(f, 0.0), 1.0))) if progress else None
        notes: dict = {}
        seconds: dict[str, float] = {}
        if uses_recogniser(settings):
            shapes = mouth_shapes(clip, settings)
            alignment = shapes.alignment
            notes, seconds["recognise"] = recognition_notes(shapes)
        else:
            alignment = phone_alignment(clip, settings, sub, cancel)
        t1 = time.perf_counter()
        check(cancel, "generation was cancelled")
        if progress:
            progress(_ALIGN_SHARE)
        curves = synthesize(alignment.phones, clip.samples, clip.sample_rate, settings.performance,
                            num_frames=frames_for_duration(clip.duration, FPS), fps=FPS)
        t2 = time.perf_counter()
        notes.update(_alignment_notes(alignment))
        seconds.update(align=round(t1 - t0, 3), synthesis=round(t2 - t1, 3))
        return curves, Provenance(**notes, seconds=seconds)


# --- the neural engine ----------------------------------------------------------------------------------------------
class NeuralEngine:
    """The trained VASA-Rig model (models/): audio (and phones, when the checkpoint takes them) to rig curves by
    flow matching, with classifier-free guidance and inpainting around locked ranges."""

    name = "neural"
    caps = EngineCaps(label="Neural", sampler=True, phones=True, recogniser=True, inpainting=True, streaming=True)

    def unavailable(self) -> str | None:
        from app.engines.neural import DEFAULT_CHECKPOINT

        if not DEFAULT_CHECKPOINT.exists():
            return "the neural engine's weights are missing from this installation"
        return None

    def run(self, clip, settings: GenerationSettings, progress: ProgressFn | None, cancel: CancelFn | None,
            locked: Locked | None = None) -> tuple[np.ndarray, Provenance]:
        from app.engines import neural

        o = settings.options
        notes: dict = {"steps": o.steps, "guidance": o.guidance, "inpainted": locked is not None}
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        try:
            alignment = track = None
            # A transcript (or phone file) gives the model the clip's phones as well as its audio, when it takes
            # them. Without one, the mouth-shape recogniser reads them from the audio, and frames it is unsure of
            # stay unknown (the model follows the audio alone there).
            # A transcript that does not fit the speech costs the take nothing: the take is made as without one,
            # and the reason is kept (provenance.phones_error) for the CLI and the app to report.
            phone_guidance = None  # the checkpoint's
            if not settings.inputs.audio_only and neural.uses_phones():
                sub = (lambda f: progress(_NEURAL_ALIGN_SHARE * min(max(f, 0.0), 1.0))) if progress else None
                try:
                    alignment = phone_alignment(clip, settings, sub, cancel)
                except GenerateError as exc:
                    notes["phones_error"] = str(exc)
                else:
                    notes.update(phones_source=alignment.source, phones=len(alignment.speech_phones()))
                seconds["align"] = round(time.perf_counter() - t0, 3)
            features = None
            if alignment is None and neural.uses_phones() and (uses_recogniser(settings) or "phones_error" in notes):
                # The engine's encoder features are computed once: its mouth-shape head reads them here, and the
                # motion model reads them again below.
                t_enc = time.perf_counter()
                features = neural.encode(clip)
                seconds["encode"] = round(time.perf_counter() - t_enc, 3)
                shapes = mouth_shapes(clip, settings, features=features)
                track = shapes.track
                recognised, seconds["recognise"] = recognition_notes(shapes)
                notes.update(recognised)
                from models.visemes import RECOGNISED_PHONE_GUIDANCE

                phone_guidance = RECOGNISED_PHONE_GUIDANCE if o.phone_guidance is None else o.phone_guidance
                notes["phone_guidance"] = phone_guidance
            t1 = time.perf_counter()
            rest = progress if progress is None or alignment is None else (
                lambda f: progress(_NEURAL_ALIGN_SHARE + (1 - _NEURAL_ALIGN_SHARE) * f))
            curves = neural.generate_neural(clip, settings.performance, rest, cancel, locked=locked,
                                            steps=o.steps, guidance=o.guidance,
                                            phones=alignment.phones if alignment else None, track=track,
                                            phone_guidance=phone_guidance, features=features)
        except neural.NeuralEngineError as exc:
            raise GenerateError(str(exc)) from None
        seconds["synthesis"] = round(time.perf_counter() - t1, 3)
        return curves, Provenance(**notes, seconds=seconds)
