"""Autosave and crash recovery.

While the app runs, a session marker (our process id) sits in the recovery folder; a clean exit removes it. The open
take is saved there ``AUTOSAVE_AFTER_EDIT_MS`` after the first edit it has not saved yet (longer for a take whose
save takes over 100 ms, so saving stays near 5% of the editing time), and every ``AUTOSAVE_MS`` while it has unsaved
changes. At start, a marker whose process is gone plus an autosaved take means the last session ended uncleanly:
the app offers to restore it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from app.core.atomic import atomic_write_text, pid_alive
from app.core.project import load_project, save_project
from app.core.take import Take

AUTOSAVE_MS = 60_000
AUTOSAVE_AFTER_EDIT_MS = 2_000
MARKER = "session.json"
AUTOSAVE = "autosave.vrig"


@dataclass
class Recoverable:
    project: Path
    original_path: str | None
    audio_path: str | None


class RecoveryStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def marker(self) -> Path:
        return self.folder / MARKER

    @property
    def autosave_path(self) -> Path:
        return self.folder / AUTOSAVE

    def previous_crash(self) -> Recoverable | None:
        """The take an unclean exit left behind, if any (never one of a session still running)."""
        if not self.marker.exists() or not self.autosave_path.exists():
            return None
        try:
            info = json.loads(self.marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = {}
        pid = int(info.get("pid", -1)) if isinstance(info, dict) else -1
        if pid != os.getpid() and pid_alive(pid, unknown=False):
            return None  # another instance is running: its autosave is not ours to take
        return Recoverable(self.autosave_path, info.get("original_path"), info.get("audio_path"))

    def begin_session(self) -> None:
        self._write_marker(None, None)

    def _write_marker(self, original: str | None, audio: str | None) -> None:
        atomic_write_text(self.marker, json.dumps({"pid": os.getpid(), "original_path": original,
                                                   "audio_path": audio}))

    def autosave(self, take: Take, original_path: Path | None) -> Path:
        save_project(take, self.autosave_path)
        self._write_marker(str(original_path) if original_path else None,
                           take.audio.path if take.audio else None)
        return self.autosave_path

    def load(self, recoverable: Recoverable) -> Take:
        return load_project(recoverable.project)

    def discard(self) -> None:
        for path in (self.autosave_path,):
            try:
                path.unlink()
            except FileNotFoundError:
                pass

    def end_session(self) -> None:
        """Clean exit: nothing to recover next time."""
        self.discard()
        try:
            self.marker.unlink()
        except FileNotFoundError:
            pass
