"""kill -9 the desktop app while an animator is editing, then start again: the autosave restores everything but the
last few seconds (at most ``AUTOSAVE_AFTER_EDIT_MS`` plus the time one autosave takes)."""

from __future__ import annotations

import importlib.util
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.core.project import save_project
from app.core.take import Take
from app.ui.recovery import AUTOSAVE_AFTER_EDIT_MS, RecoveryStore

CHILD = Path(__file__).with_name("app_editor_child.py")
_spec = importlib.util.spec_from_file_location("app_editor_child", CHILD)
_child = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_child)
CHANNEL, keys_digest = _child.CHANNEL, _child.keys_digest
ROOT = CHILD.parents[2]
# Lost work may span the autosave delay, the save itself and the scheduling of a busy two-core machine.
SLACK_S = 1.5
START_LIMIT_S = 90


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put((time.monotonic(), line.strip()))
    lines.put((time.monotonic(), None))


def kill_mid_edit(tmp_path: Path, rng: np.random.Generator, tally, rounds: int) -> None:
    project = tmp_path / "take.vrig"
    save_project(Take.rest(600, name="kill test"), project)  # 10 s at 60 fps
    for round_ in range(rounds):
        config = tmp_path / f"config{round_}"
        env = dict(os.environ, VASA_RIG_CONFIG_DIR=str(config), VASA_RIG_LOG_DIR=str(tmp_path / "logs"),
                   VASA_RIG_NO_3D="1", QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
        child = subprocess.Popen([sys.executable, str(CHILD), str(project)], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_reader, args=(child.stdout, lines), daemon=True).start()
        edits: list[tuple[str, float]] = []  # (digest, child's clock) after each edit
        try:
            deadline = time.monotonic() + START_LIMIT_S
            while True:
                _, line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
                assert line is not None, f"the app child exited early: {child.stderr.read()[-2000:]}"
                if line.startswith("ready"):
                    break
            # Let the animator work between 1 and 6 s: some kills land before the first autosave, some after.
            work_s = float(rng.uniform(1.0, 6.0))
            stop = time.monotonic() + work_s
            while time.monotonic() < stop:
                try:
                    _, line = lines.get(timeout=0.05)
                except queue.Empty:
                    continue
                if line and line.startswith("edit"):
                    _, _n, digest, t = line.split()
                    edits.append((digest, float(t)))
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
        tally["app_kills"] += 1
        # Edits printed after the kill instant (buffered in the pipe) still count: the child made them.
        while True:
            try:
                _, line = lines.get(timeout=2)
            except queue.Empty:
                break
            if line is None:
                break
            if line.startswith("edit"):
                _, _n, digest, t = line.split()
                edits.append((digest, float(t)))
        assert edits, "the child made no edit before it was killed"

        store = RecoveryStore(config / "recovery")
        found = store.previous_crash()
        last_edit_s = edits[-1][1]
        if found is None:  # nothing autosaved yet: allowed only when every edit was in the last few seconds
            lost_s = last_edit_s - edits[0][1]
            tally["app_nothing_saved"] += 1
        else:
            restored = store.load(found)  # raises if the autosave was damaged
            digest = keys_digest(restored, restored.rig.index(CHANNEL))
            kept = [i for i, (d, _) in enumerate(edits) if d == digest]
            assert kept, "the restored take matches none of the states the animator saw"
            first_lost = kept[-1] + 1
            lost_s = 0.0 if first_lost == len(edits) else last_edit_s - edits[first_lost][1]
            tally["app_restored"] += 1
        tally["app_lost_ms_max"] = max(tally["app_lost_ms_max"], int(lost_s * 1000))
        assert lost_s <= AUTOSAVE_AFTER_EDIT_MS / 1000 + SLACK_S, (
            f"round {round_}: {lost_s:.2f} s of edits lost (killed after {work_s:.1f} s of editing)")


def test_kill_app_mid_edit_restores_all_but_the_last_seconds(tmp_path, rng, tally):
    kill_mid_edit(tmp_path, rng, tally, rounds=2)


@pytest.mark.slow
def test_kill_app_mid_edit_long(tmp_path, rng, tally):
    kill_mid_edit(tmp_path, rng, tally, rounds=20)
