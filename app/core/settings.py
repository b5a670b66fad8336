"""The one description of a generation: what the director asked for, what the engine was told, what it was given.

``GenerationSettings`` is what every caller builds (the app's controls, ``vasa-rig generate`` and ``batch``, the
benches) and what every engine reads; a take keeps it, with a ``Provenance`` of what the engine actually did, as its
``GenerationMeta`` (app.core.take), and a project file stores both (app.core.project). Ranges live here, once:
validation, the app's sliders and the command line's checks all read ``RANGES``.

Adding a performance control means: a field and a range here, a widget in the controls panel, a flag on the command
line, and the engines that use it. Saving, loading, regenerating and the take list follow from this module.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

EMOTIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised", "contempt")


class SettingsError(ValueError):
    """A setting is out of its range or of the wrong kind; the message names it."""


@dataclass(frozen=True)
class Range:
    """A control's closed range, its default, and how to show it."""

    lo: float
    hi: float
    default: float
    label: str
    unit: str = ""

    def check(self, value: float) -> float:
        """``value`` as a float, or SettingsError naming the control (NaN is refused)."""
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{self.label} must be a number, got {value!r}") from None
        if not self.lo <= v <= self.hi:
            unit = f" {self.unit}" if self.unit else ""
            raise SettingsError(f"{self.label} must be within {self.lo:g}..{self.hi:g}{unit}, got {v:g}")
        return v

    def clamp(self, value: float) -> float:
        v = float(value)
        return self.default if math.isnan(v) else min(max(v, self.lo), self.hi)


RANGES: dict[str, Range] = {
    "intensity": Range(0.0, 1.0, 1.0, "emotion intensity"),
    "gaze_yaw": Range(-45.0, 45.0, 0.0, "gaze yaw", "°"),
    "gaze_pitch": Range(-30.0, 30.0, 0.0, "gaze pitch", "°"),
    "eye_contact": Range(0.0, 1.0, 1.0, "eye contact"),
    "head_distance": Range(20.0, 300.0, 60.0, "head distance", "cm"),
    "articulation": Range(0.0, 2.0, 1.0, "articulation"),
    "steps": Range(1, 64, 2, "sampling steps"),
    "guidance": Range(0.0, 5.0, 1.0, "guidance"),
    "phone_guidance": Range(0.0, 5.0, 1.0, "phone guidance"),
    "threshold": Range(0.0, 1.0, 0.5, "recogniser confidence"),
    "closure_threshold": Range(0.0, 1.0, 0.15, "p/b/m threshold"),
}
DEFAULT_STEPS = int(RANGES["steps"].default)
"""The neural engine's sampling steps when none are asked for (models.pipeline.DEFAULT_STEPS is the same)."""
DEFAULT_GUIDANCE = RANGES["guidance"].default
"""Classifier-free guidance on the first step; 1 is off (models.pipeline.DEFAULT_GUIDANCE is the same)."""


@dataclass(frozen=True)
class EmotionKey:
    time: float
    emotion: str
    intensity: float

    def __post_init__(self) -> None:
        if self.emotion not in EMOTIONS:
            raise SettingsError(f"unknown emotion {self.emotion!r}; choose one of {', '.join(EMOTIONS)}")
        if not 0.0 <= self.intensity <= 1.0:
            raise SettingsError(f"emotion intensity must be within 0..1, got {self.intensity}")
        if not 0 <= self.time < math.inf:  # also refuses NaN
            raise SettingsError(f"emotion key time must be a finite number of seconds from 0, got {self.time}")


NEUTRAL = (EmotionKey(0.0, "neutral", 0.0),)


@dataclass(frozen=True)
class PerformanceControls:
    """The director's controls, validated once here for every engine and caller."""

    emotion_keys: tuple[EmotionKey, ...] = NEUTRAL
    gaze: tuple[float, float] = (0.0, 0.0)  # yaw, pitch in degrees
    eye_contact: float = 1.0  # 0..1: 1 holds the gaze target
    head_distance: float = 60.0  # cm from the camera
    articulation: float = 1.0  # gain on mouth motion
    seed: int = 0

    def __post_init__(self) -> None:
        keys = tuple(self.emotion_keys)
        if not keys:
            raise SettingsError("at least one emotion key is needed")
        if not all(isinstance(k, EmotionKey) for k in keys):
            raise SettingsError("emotion keys must be EmotionKey values")
        try:
            yaw, pitch = self.gaze
        except (TypeError, ValueError):
            raise SettingsError(f"gaze must be (yaw, pitch) in degrees, got {self.gaze!r}") from None
        object.__setattr__(self, "emotion_keys", keys)
        object.__setattr__(self, "gaze", (RANGES["gaze_yaw"].check(yaw), RANGES["gaze_pitch"].check(pitch)))
        for name in ("eye_contact", "head_distance", "articulation"):
            object.__setattr__(self, name, RANGES[name].check(getattr(self, name)))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            try:
                seed = int(self.seed)
            except (TypeError, ValueError):
                raise SettingsError(f"seed must be a whole number, got {self.seed!r}") from None
            if seed != self.seed:
                raise SettingsError(f"seed must be a whole number, got {self.seed!r}")
            object.__setattr__(self, "seed", seed)

    def key_index_at(self, seconds: float) -> int:
        """Index of the emotion key in effect at ``seconds``: the last one at or before it (the first before any)."""
        index = 0
        for i, key in enumerate(self.emotion_keys):
            if key.time <= seconds + 1e-9:
                index = i
        return index

    def key_at(self, seconds: float) -> EmotionKey:
        """The emotion key in effect at ``seconds``."""
        return self.emotion_keys[self.key_index_at(seconds)]


@dataclass(frozen=True)
class EngineOptions:
    """How an engine runs; each engine declares which of these it reads (app.engines.base.EngineCaps).
    None means the engine's own default (which the take's provenance then records)."""

    steps: int = DEFAULT_STEPS  # sampler: steps of the flow-matching solver
    guidance: float = DEFAULT_GUIDANCE  # sampler: classifier-free guidance on the first step
    threshold: float | None = None  # recogniser: confidence below which a frame stays unknown
    closure_threshold: float | None = None  # recogniser: p/b/m probability that closes the lips
    phone_guidance: float | None = None  # sampler with recognised phones: how strongly they are followed
    word_recognition: bool = False  # audio only: PocketSphinx word recognition instead of the mouth-shape recogniser

    def __post_init__(self) -> None:
        steps = self.steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= RANGES["steps"].hi:
            raise SettingsError(f"sampling steps must be a whole number within 1..{RANGES['steps'].hi:g}, "
                                f"got {steps!r}")
        object.__setattr__(self, "guidance", RANGES["guidance"].check(self.guidance))
        for name in ("threshold", "closure_threshold", "phone_guidance"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, RANGES[name].check(value))
        object.__setattr__(self, "word_recognition", bool(self.word_recognition))


@dataclass(frozen=True)
class GenerationInputs:
    """What the engine is given besides the audio."""

    transcript: str | None = None  # what is said: forced alignment, the most exact lip sync
    phones_file: str | None = None  # phone timings from another aligner; beats the transcript

    def __post_init__(self) -> None:
        object.__setattr__(self, "transcript", (self.transcript or "").strip() or None)
        object.__setattr__(self, "phones_file", str(self.phones_file) if self.phones_file else None)

    @property
    def audio_only(self) -> bool:
        return self.transcript is None and self.phones_file is None


@dataclass(frozen=True)
class GenerationSettings:
    """Everything that decides a take's base curves, besides its audio."""

    engine: str = "procedural"
    performance: PerformanceControls = field(default_factory=PerformanceControls)
    options: EngineOptions = field(default_factory=EngineOptions)
    inputs: GenerationInputs = field(default_factory=GenerationInputs)

    def __post_init__(self) -> None:
        if not isinstance(self.engine, str) or not self.engine:
            raise SettingsError(f"engine must be a name, got {self.engine!r}")

    @classmethod
    def of(cls, engine: str = "procedural", **values) -> GenerationSettings:
        """Settings from flat keywords, each routed to its section by name (``seed=3, steps=1, transcript=...``);
        an unknown name is a TypeError."""
        sections = {}
        for section_cls, name in ((PerformanceControls, "performance"), (EngineOptions, "options"),
                                  (GenerationInputs, "inputs")):
            names = {f.name for f in fields(section_cls)}
            sections[name] = section_cls(**{k: values.pop(k) for k in list(values) if k in names})
        if values:
            raise TypeError(f"unknown generation settings: {', '.join(sorted(values))}")
        return cls(engine=engine, **sections)

    def with_performance(self, **changes) -> GenerationSettings:
        return replace(self, performance=replace(self.performance, **changes))

    def with_options(self, **changes) -> GenerationSettings:
        return replace(self, options=replace(self.options, **changes))

    def with_inputs(self, **changes) -> GenerationSettings:
        return replace(self, inputs=replace(self.inputs, **changes))

    def to_json(self) -> dict:
        performance = {f.name: getattr(self.performance, f.name) for f in fields(PerformanceControls)}
        performance["emotion_keys"] = [[k.time, k.emotion, k.intensity] for k in self.performance.emotion_keys]
        performance["gaze"] = list(self.performance.gaze)
        return {"engine": self.engine, "performance": performance, "options": asdict(self.options),
                "inputs": asdict(self.inputs)}

    @classmethod
    def from_json(cls, data: dict) -> GenerationSettings:
        """Settings from ``to_json``'s dict; a control it lacks takes its default, SettingsError names what is
        wrong. Unknown names are refused (a file from a newer version states its schema version, which the
        project loader checks first)."""
        if not isinstance(data, dict):
            raise SettingsError("generation settings must be an object")
        try:
            perf = _known(_section(data, "performance"), PerformanceControls, "performance controls")
            perf["emotion_keys"] = tuple(EmotionKey(float(t), str(e), float(i))
                                         for t, e, i in perf.get("emotion_keys", ())) or NEUTRAL
            if "gaze" in perf:
                perf["gaze"] = tuple(perf["gaze"])
            performance = PerformanceControls(**perf)
            options = EngineOptions(**_known(_section(data, "options"), EngineOptions, "options"))
            inputs = GenerationInputs(**_known(_section(data, "inputs"), GenerationInputs, "inputs"))
        except SettingsError:
            raise
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"generation settings are damaged ({exc})") from None
        return cls(engine=str(data.get("engine", "procedural")), performance=performance, options=options,
                   inputs=inputs)


@dataclass(frozen=True)
class Provenance:
    """What the engine did for a take: where its phones came from, how sure the recogniser was, what it cost.
    Every field is optional: an engine fills what applies to it."""

    phones_source: str | None = None  # "aligned", "file", "recognised", "words"
    phones: int | None = None  # speech phones followed
    words: int | None = None
    phones_error: str | None = None  # why the transcript or phone file was not used
    steps: int | None = None  # sampler steps and guidance actually used
    guidance: float | None = None
    phone_guidance: float | None = None
    inpainted: bool = False  # generated around locked ranges
    recogniser_threshold: float | None = None
    closure_threshold: float | None = None
    recognised_speech_s: float | None = None
    unsure_fraction: float | None = None  # share of the speech the recogniser was unsure of
    unsure_spans: tuple[tuple[float, float], ...] = ()
    readers: tuple[str, ...] = ()  # the mouth-shape readers whose probabilities were averaged
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> seconds (align, recognise, synthesis)
    source_file: str | None = None  # imported curves: the file and its frame rate
    source_fps: float | None = None
    source_format: str | None = None  # e.g. "fbx (metahuman curves)", "live-link-face-csv"
    live_input: str | None = None  # a recorded live session: the input device or file

    def to_json(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == () or value == {} or (f.name == "inpainted" and not value):
                continue
            out[f.name] = ([list(s) for s in value] if f.name == "unsure_spans"
                           else list(value) if f.name == "readers" else value)
        return out

    @classmethod
    def from_json(cls, data: dict) -> Provenance:
        if not isinstance(data, dict):
            raise SettingsError("a take's provenance must be an object")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}  # older or newer notes are dropped, not fatal
        try:
            if "unsure_spans" in values:
                values["unsure_spans"] = tuple((float(a), float(b)) for a, b in values["unsure_spans"])
            if "readers" in values:
                values["readers"] = tuple(str(r) for r in values["readers"])
            if "seconds" in values:
                values["seconds"] = {str(k): float(v) for k, v in dict(values["seconds"]).items()}
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"a take's provenance is damaged ({exc})") from None
        return cls(**values)


def _section(data: dict, name: str) -> dict:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise SettingsError(f"generation settings: {name} must be an object")
    return section


def _known(section: dict, cls, name: str) -> dict:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise SettingsError(f"generation settings: unknown {name} {', '.join(map(repr, unknown))}")
    return dict(section)
