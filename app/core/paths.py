"""Where the application's data lives (source tree, installed package or frozen build)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    override = os.environ.get("VASA_RIG_RESOURCES")
    if override:
        return Path(override)
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def models_dir() -> Path:
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "models"
    return Path(__file__).resolve().parents[2] / "models"


def log_dir() -> Path:
    """The user's log folder for this app (crash reports and the session log)."""
    override = os.environ.get("VASA_RIG_LOG_DIR")
    if override:
        return Path(override)
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "VASA-Rig" / "Logs"
    if sys.platform == "darwin":
        return home / "Library" / "Logs" / "VASA-Rig"
    return Path(os.environ.get("XDG_STATE_HOME", home / ".local" / "state")) / "vasa-rig" / "logs"
