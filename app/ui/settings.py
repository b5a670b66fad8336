"""Persistent user settings (QSettings in an ini file) and the app's data folders.

Everything lives under one config folder: ``VASA_RIG_CONFIG_DIR`` when set (tests point it at a temp dir so a
user's settings are never touched), else the platform's app-data location.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

MAX_RECENT = 10
DEFAULT_LIVELINK_TARGETS = "127.0.0.1:11111"


def config_dir() -> Path:
    override = os.environ.get("VASA_RIG_CONFIG_DIR")
    if override:
        path = Path(override)
    else:
        path = Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or Path.home() / ".vasa-rig")
    path.mkdir(parents=True, exist_ok=True)
    return path


class AppSettings:
    """Typed access to the values the app keeps between sessions."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder or config_dir()
        self.qsettings = QSettings(str(self.folder / "settings.ini"), QSettings.IniFormat)

    # --- generic --------------------------------------------------------------------------------------------
    def value(self, key: str, default=None, type_=None):
        if type_ is None:
            return self.qsettings.value(key, default)
        return self.qsettings.value(key, default, type=type_)

    def set(self, key: str, value) -> None:
        self.qsettings.setValue(key, value)

    def sync(self) -> None:
        self.qsettings.sync()

    # --- recent files ---------------------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.qsettings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent(self, path: str | Path) -> list[str]:
        path = str(Path(path).resolve())
        items = [p for p in self.recent_files() if p != path]
        items.insert(0, path)
        self.qsettings.setValue("files/recent", items[:MAX_RECENT])
        return items[:MAX_RECENT]

    def clear_recent(self) -> None:
        self.qsettings.setValue("files/recent", [])

    # --- folders --------------------------------------------------------------------------------------------
    def last_folder(self, kind: str) -> str:
        folder = str(self.qsettings.value(f"folders/{kind}", "") or "")
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    def set_last_folder(self, kind: str, path: str | Path) -> None:
        p = Path(path)
        self.qsettings.setValue(f"folders/{kind}", str(p if p.is_dir() else p.parent))

    # --- live link ------------------------------------------------------------------------------------------
    def livelink_targets(self) -> str:
        return str(self.qsettings.value("livelink/targets", DEFAULT_LIVELINK_TARGETS) or DEFAULT_LIVELINK_TARGETS)

    def set_livelink_targets(self, text: str) -> None:
        self.qsettings.setValue("livelink/targets", text)

    def livelink_subject(self, default: str) -> str:
        return str(self.qsettings.value("livelink/subject", default) or default)

    def set_livelink_subject(self, subject: str) -> None:
        self.qsettings.setValue("livelink/subject", subject)
