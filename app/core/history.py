"""Undo/redo for Take edits, without Qt.

A command holds the old and the new value of what it changes, so undo is exact. ``History.group`` bundles several
commands (a multi-channel paste, the channels one mouse drag moved) into one step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from app.core.keys import Keys
from app.core.take import GenerationMeta, Lock, Take


class Command:
    label = "edit"

    def apply(self, take: Take) -> None:
        raise NotImplementedError

    def revert(self, take: Take) -> None:
        raise NotImplementedError


@dataclass
class SetKeys(Command):
    channel: int
    old: Keys
    new: Keys
    label: str = "Edit keys"

    def apply(self, take: Take) -> None:
        take.set_keys(self.channel, self.new)

    def revert(self, take: Take) -> None:
        take.set_keys(self.channel, self.old)


@dataclass
class SetLocks(Command):
    old: list[Lock]
    new: list[Lock]
    label: str = "Change locks"

    def apply(self, take: Take) -> None:
        take.set_locks(self.new)

    def revert(self, take: Take) -> None:
        take.set_locks(self.old)


@dataclass
class SetBase(Command):
    """Regeneration: new engine curves and the settings that made them."""

    old_base: np.ndarray
    new_base: np.ndarray
    old_meta: GenerationMeta
    new_meta: GenerationMeta
    label: str = "Generate"

    def apply(self, take: Take) -> None:
        take.set_base(self.new_base, respect_locks=False)
        take.set_meta(self.new_meta)

    def revert(self, take: Take) -> None:
        take.set_base(self.old_base, respect_locks=False)
        take.set_meta(self.old_meta)


@dataclass
class Group(Command):
    commands: list[Command] = field(default_factory=list)
    label: str = "edit"

    def apply(self, take: Take) -> None:
        for c in self.commands:
            c.apply(take)

    def revert(self, take: Take) -> None:
        for c in reversed(self.commands):
            c.revert(take)


class History:
    def __init__(self, take: Take, limit: int = 500):
        self.take = take
        self.limit = limit
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._group: Group | None = None
        self._clean_index: int | None = 0
        self.listeners: list[Callable[[History], None]] = []

    # --- state ----------------------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None

    @property
    def is_clean(self) -> bool:
        """True when the take equals its last saved state."""
        return self._clean_index == len(self._undo)

    def mark_clean(self) -> None:
        self._clean_index = len(self._undo)
        self._notify()

    # --- operations -----------------------------------------------------------------------------------------
    def push(self, command: Command) -> None:
        """Apply ``command`` and record it."""
        command.apply(self.take)
        if self._group is not None:
            self._group.commands.append(command)
            return
        self._record(command)

    def _record(self, command: Command) -> None:
        if self._clean_index is not None and self._clean_index > len(self._undo):
            self._clean_index = None  # the saved state was on the redo branch this command discards
        self._undo.append(command)
        if len(self._undo) > self.limit:
            del self._undo[0]
            if self._clean_index is not None:
                self._clean_index = self._clean_index - 1 if self._clean_index > 0 else None
        self._redo.clear()
        self._notify()

    @contextmanager
    def group(self, label: str) -> Iterator[None]:
        """Everything pushed inside the block is one undo step."""
        if self._group is not None:  # nested groups fold into the outer one
            yield
            return
        self._group = Group(label=label)
        try:
            yield
        except BaseException:
            group, self._group = self._group, None
            group.revert(self.take)
            raise
        group, self._group = self._group, None
        if group.commands:
            self._record(group)

    def undo(self) -> bool:
        if not self._undo:
            return False
        cmd = self._undo.pop()
        cmd.revert(self.take)
        self._redo.append(cmd)
        self._notify()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        cmd = self._redo.pop()
        cmd.apply(self.take)
        self._undo.append(cmd)
        self._notify()
        return True

    def _notify(self) -> None:
        for cb in list(self.listeners):
            cb(self)

    # --- convenience constructors ------------------------------------------------------------------------------
    def set_keys(self, channel: int, new: Keys, label: str = "Edit keys") -> None:
        self.push(SetKeys(channel, self.take.keys(channel), new, label=label))

    def set_locks(self, new: list[Lock], label: str = "Change locks") -> None:
        self.push(SetLocks(self.take.locks, list(new), label=label))

    def regenerate(self, new_base: np.ndarray, new_meta: GenerationMeta, label: str = "Generate") -> None:
        """Replace base curves, keeping locked ranges (blended at their edges)."""
        from app.core.take import blend_locked

        base = blend_locked(self.take.base, new_base, self.take.locks) if self.take.locks else new_base
        self.push(SetBase(self.take.base, np.asarray(base, np.float32), self.take.meta, new_meta, label=label))
