"""The open document: a Take, its undo History, its audio and its file, relayed to Qt signals.

Widgets never change the Take directly: they push commands on ``history`` (undoable) and redraw when
``take_changed`` fires. ``take_replaced`` means a different Take object (file opened, new audio).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.core.history import History
from app.core.take import GenerationMeta, Take
from app.io.audio import AudioClip

MAX_TAKES = 24


@dataclass
class TakeVariant:
    """One generation result kept for comparison in the takes list."""

    label: str
    base: np.ndarray
    meta: GenerationMeta


class Document(QObject):
    take_replaced = Signal()
    clip_changed = Signal()  # the open take's audio arrived (read in the background after the take opened)
    take_changed = Signal()
    history_changed = Signal()
    path_changed = Signal()
    variants_changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.take: Take | None = None
        self.history: History | None = None
        self.clip: AudioClip | None = None
        self.path: Path | None = None
        self.variants: list[TakeVariant] = []
        self._never_saved = False
        self._variant_counter = 0

    # --- state ----------------------------------------------------------------------------------------------
    @property
    def has_take(self) -> bool:
        return self.take is not None

    @property
    def is_dirty(self) -> bool:
        if self.take is None or self.history is None:
            return False
        return self._never_saved or not self.history.is_clean

    @property
    def display_name(self) -> str:
        if self.path is not None:
            return self.path.name
        return self.take.name if self.take is not None else "untitled"

    # --- changing ---------------------------------------------------------------------------------------------
    def set_take(self, take: Take | None, clip: AudioClip | None = None, path: Path | None = None, *,
                 saved: bool = False) -> None:
        if self.take is not None:
            self.take.remove_listener(self._on_take)
        self.take = take
        self.clip = clip
        self.path = Path(path) if path else None
        self._never_saved = take is not None and not saved
        self.variants = []
        self.history = None
        if take is not None:
            take.add_listener(self._on_take)
            self.history = History(take)
            self.history.listeners.append(self._on_history)
        self.take_replaced.emit()
        self.history_changed.emit()
        self.path_changed.emit()
        self.variants_changed.emit()

    def attach_clip(self, clip: AudioClip | None) -> None:
        """The open take's audio, once it has been read; the take, its history and edits stay as they are."""
        self.clip = clip
        self.clip_changed.emit()

    def mark_saved(self, path: Path) -> None:
        self.path = Path(path)
        self._never_saved = False
        if self.history is not None:
            self.history.mark_clean()
        self.path_changed.emit()
        self.history_changed.emit()

    def add_variant(self, base: np.ndarray, meta: GenerationMeta) -> TakeVariant:
        self._variant_counter += 1
        # The takes list adds how it was made.
        label = f"Take {self._variant_counter}  ·  seed {meta.settings.performance.seed}"
        variant = TakeVariant(label, np.asarray(base, np.float32), meta)
        self.variants.append(variant)
        del self.variants[:-MAX_TAKES]
        self.variants_changed.emit()
        return variant

    def apply_generation(self, base: np.ndarray, meta: GenerationMeta, label: str = "Generate") -> None:
        """New engine curves for the open take: one undoable step that keeps locked ranges."""
        if self.history is None:
            raise RuntimeError("no take is open")
        self.history.regenerate(base, meta, label=label)

    # --- relays -----------------------------------------------------------------------------------------------
    def _on_take(self, _take: Take) -> None:
        self.take_changed.emit()

    def _on_history(self, _history: History) -> None:
        self.history_changed.emit()
