"""Engines behind one small interface.

An engine turns an audio clip and ``GenerationSettings`` into base curves (frames, 180) and a ``Provenance``. Each
declares what it supports in ``EngineCaps``, so callers (the controls panel, the command line, batch) ask the engine
instead of comparing names. Engines are registered by name as "module:Class" and imported on first use, so the
command line starts without torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from app.core.cancel import CancelFn
from app.core.settings import GenerationSettings, Provenance

ProgressFn = Callable[[float], None]
Locked = tuple[np.ndarray, np.ndarray]  # (mask, values), both (frames, 180)


class GenerateError(Exception):
    """Generation cannot run as asked (unknown engine, bad settings, unusable phones or transcript)."""


@dataclass(frozen=True)
class EngineCaps:
    """What an engine reads and can do."""

    label: str
    sampler: bool = False  # reads options.steps and options.guidance
    phones: bool = False  # follows the phones of a transcript or phone file
    recogniser: bool = False  # audio only: reads options.threshold and options.closure_threshold
    inpainting: bool = False  # generates around locked ranges (others leave them to the take's blending)
    streaming: bool = False  # has a live, block-by-block mode (app.engines.streaming)


class Engine(Protocol):
    name: str
    caps: EngineCaps

    def unavailable(self) -> str | None:
        """None when the engine can run in this installation, else why not (for the app's engine list)."""

    def run(self, clip, settings: GenerationSettings, progress: ProgressFn | None, cancel: CancelFn | None,
            locked: Locked | None = None) -> tuple[np.ndarray, Provenance]:
        """Base curves (frames, 180) float32 for ``clip`` (app.io.audio.AudioClip) and what was done. Raises
        GenerateError with a message for the user, or app.core.cancel.Cancelled."""


ENGINES: dict[str, str] = {"procedural": "app.engines.generate:ProceduralEngine",
                           "neural": "app.engines.generate:NeuralEngine"}
"""name -> "module:Class"; the app lists them in this order."""
_LOADED: dict[str, Engine] = {}


def engine_names() -> list[str]:
    return list(ENGINES)


def get_engine(name: str) -> Engine:
    """The engine called ``name``; GenerateError names the ones there are."""
    if name not in ENGINES:
        raise GenerateError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")
    if name not in _LOADED:
        module, _, attr = ENGINES[name].partition(":")
        _LOADED[name] = getattr(importlib.import_module(module), attr)()
    return _LOADED[name]


def settings_to_regenerate(meta) -> GenerationSettings:
    """The settings that regenerate a take (app.core.take.GenerationMeta): its own, with the default engine for a
    take no engine made (a rest take, imported curves)."""
    settings = meta.settings
    if settings.engine not in ENGINES:
        settings = replace(settings, engine=next(iter(ENGINES)))
    return settings


def available_engines() -> dict[str, str | None]:
    """engine name -> None when usable, else the reason it is not."""
    return {name: get_engine(name).unavailable() for name in ENGINES}
