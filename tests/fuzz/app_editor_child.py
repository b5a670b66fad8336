"""The child of the app kill test: a real MainWindow opens a take and keeps editing it, one key every
``EDIT_EVERY_MS``, printing ``edit N DIGEST T`` after each edit (DIGEST: ``keys_digest`` of the edited channel,
T: monotonic time).

Run as ``python tests/fuzz/app_editor_child.py TAKE.vrig``, with ``VASA_RIG_CONFIG_DIR`` set; the parent kills it.
"""

from __future__ import annotations

import hashlib
import sys
import time

import numpy as np

EDIT_EVERY_MS = 150
CHANNEL = "CTRL_C_jaw-translateY"


def keys_digest(take, channel: int) -> str:
    """The channel's keys (frames, offsets, modes) as a short hash: what a restored take must reproduce exactly."""
    keys = take.keys(channel)
    parts = (np.asarray(keys.frames, np.float64), np.asarray(keys.values, np.float32), np.asarray(keys.modes, np.int8))
    return hashlib.sha256(b"".join(p.tobytes() for p in parts)).hexdigest()[:16]


def main(project: str) -> None:
    from PySide6.QtCore import QTimer

    from app.ui.launch import create_app
    from app.ui.main_window import MainWindow
    from app.ui.settings import AppSettings

    app = create_app()
    window = MainWindow(AppSettings(), audio_enabled=False, preview_3d=False)
    window.show()
    assert window.files.open_path(project, confirmed=True)
    window.recovery.begin_session()  # what launch does once the window is up
    take = window.document.take
    editor = window.editor_for_region("jaw")
    channel = take.rig.index(CHANNEL)
    editor.set_active_channel(channel)
    state = {"n": 0}

    def edit() -> None:
        n = state["n"]
        frame = 5 + (7 * n) % (take.num_frames - 10)
        editor.add_key(frame, 0.1 + 0.8 * ((n * 37) % 100) / 100)
        state["n"] = n + 1
        print(f"edit {n} {keys_digest(window.document.take, channel)} {time.monotonic():.4f}", flush=True)

    timer = QTimer()
    timer.setInterval(EDIT_EVERY_MS)
    timer.timeout.connect(edit)
    timer.start()
    print(f"ready {time.monotonic():.4f}", flush=True)
    app.exec()


if __name__ == "__main__":
    main(sys.argv[1])
