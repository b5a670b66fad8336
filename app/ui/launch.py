"""Start the desktop app: ``launch([])`` opens the example take (first run) or a restored one; ``launch([path])``
opens that file."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from app import __version__
from app.core.paths import log_dir, resources_dir
from app.ui.log_panel import log
from app.ui.main_window import APP_TITLE, MainWindow
from app.ui.settings import AppSettings
from app.ui.theme import apply_theme


def write_crash_report(details: str) -> Path:
    """A file in the user's log folder with the traceback and versions; returns its path."""
    import datetime
    import platform

    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = folder / f"crash-{stamp}.log"
    path.write_text(f"VASA-Rig Studio {__version__} on {platform.platform()}, Python {platform.python_version()}"
                    f"{' (frozen)' if getattr(sys, 'frozen', False) else ''}\n\n{details}", encoding="utf-8")
    return path


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    app.setApplicationName("VASA-Rig Studio")
    app.setOrganizationName("VASA-Rig")
    app.setApplicationVersion(__version__)
    icon = resources_dir() / "icons" / "vasa-rig.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    apply_theme(app)
    return app


def open_initial(window: MainWindow, path: str | None) -> None:
    """What the window shows first: a restored crash, the given file, or the example take."""
    restored = window.files.offer_recovery()
    window.recovery.begin_session()
    if path:
        window.files.open_path(path, confirmed=True)
    elif not restored:
        window.files.open_example()


def _install_excepthook(window: MainWindow) -> None:
    """Unexpected errors go to a crash report in the user's log folder and a dialog that names it, instead of
    killing the session silently; the take is autosaved."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "vasa-rig.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)

    def hook(exc_type, exc, tb):
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        report = write_crash_report(details)
        log.error("Unexpected error: %s\n%s", exc, details)
        window.autosave_now()
        window.show_error("Unexpected error", f"{exc_type.__name__}: {exc}\n\nYour work is autosaved. A crash "
                          f"report was written to {report}.", details)

    sys.excepthook = hook


def launch(argv: list[str]) -> int:
    if len(argv) > 1:
        print("vasa-rig: give at most one file to open", file=sys.stderr)
        return 2
    path = argv[0] if argv else None
    if path and not Path(path).exists():
        print(f"vasa-rig: file not found: {path}", file=sys.stderr)
        return 2
    app = create_app()
    settings = AppSettings()
    window = MainWindow(settings, audio_enabled=not os.environ.get("VASA_RIG_NO_AUDIO"))
    _install_excepthook(window)
    window.show()
    QTimer.singleShot(0, lambda: open_initial(window, path))
    smoke_ms = os.environ.get("VASA_RIG_SMOKE_EXIT_MS")
    if smoke_ms:  # packaging smoke test: open, show the take, and leave without the unsaved-changes prompt
        QTimer.singleShot(int(smoke_ms), lambda: (window.shutdown(), app.exit(0)))
    try:
        return int(app.exec())
    except Exception as exc:  # pragma: no cover - last resort
        QMessageBox.critical(None, APP_TITLE, str(exc))
        return 1
