"""kill -9 during saves and exports: the destination is always the old complete file or the new complete one, and
the temp file a killed writer leaves is swept by the next save of that destination."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from app.core.atomic import atomic_write_bytes, sweep_stale_temps, temp_files_of
from app.core.project import load_project, save_project
from app.core.take import Take
from app.io.export import read_take, write_take

FORMATS = (".vrig", ".fbx", ".csv", ".txt", ".json")


def versions(frames: int, rng: np.random.Generator) -> tuple[Take, Take]:
    """Two takes of the same length that a reader tells apart by name (.vrig) and by the jaw level."""
    rest = Take.rest(frames)
    jaw = rest.rig.index("CTRL_C_jaw-translateY")
    out = []
    for level in (0.25, 0.75):
        base = np.array(rest.base)
        base[:, jaw] = level + 0.1 * rng.uniform(-1, 1, frames)  # noise: the files do not compress to nothing
        out.append(Take(base, name=f"v{level}", rig=rest.rig))
    return out[0], out[1]


def saver(path, takes) -> None:
    """The child: save the two versions over ``path`` in turn, forever."""
    suffix = os.path.splitext(path)[1]
    i = 0
    while True:
        if suffix == ".vrig" and i % 2:
            save_project(takes[i % 2], path)
        else:
            write_take(takes[i % 2], path)
        i += 1


def check_complete(path, frames: int) -> None:
    """The destination opens as a whole take of either version."""
    take = read_take(path)
    assert take.num_frames == frames, f"{path.name}: {take.num_frames} frames, expected {frames}"
    jaw = take.evaluate()[:, take.rig.index("CTRL_C_jaw-translateY")].mean()
    assert min(abs(jaw - 0.25), abs(jaw - 0.75)) < 0.05, f"{path.name}: jaw level {jaw}"
    if path.suffix == ".vrig":
        assert load_project(path).name in ("v0.25", "v0.75")


def kill_campaign(tmp_path, rng, tally, suffix: str, frames: int, kills: int) -> None:
    old, new = versions(frames, rng)
    dest = tmp_path / f"take{suffix}"
    t0 = time.perf_counter()
    write_take(old, dest)
    save_time = time.perf_counter() - t0
    damaged = []
    for k in range(kills):
        pid = os.fork()
        if pid == 0:  # child: never returns into pytest
            try:
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                saver(dest, (new, old))
            finally:
                os._exit(1)
        time.sleep(float(rng.uniform(0.0, 2.5 * save_time)))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        tally["kills"] += 1
        try:
            check_complete(dest, frames)
        except Exception as exc:
            damaged.append(f"kill {k}: {exc}")
            tally["damaged"] += 1
        # At most the killed writer's own temp file is there: each save sweeps those of earlier kills.
        temps = temp_files_of(dest)
        assert len(temps) <= 1, [p.name for p in temps]
        tally["mid_write"] += len(temps)
    write_take(old, dest)
    left = temp_files_of(dest)
    tally["left_temps"] += len(left)
    assert not damaged, "\n".join(damaged[:5])
    assert not left, f"temp files left after the next save: {[p.name for p in left]}"
    check_complete(dest, frames)


@pytest.mark.parametrize("suffix", FORMATS)
def test_kill_during_save(tmp_path, rng, tally, suffix):
    kill_campaign(tmp_path, rng, tally, suffix, frames=600, kills=10)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", FORMATS)
def test_kill_during_save_long(tmp_path, rng, tally, suffix):
    kill_campaign(tmp_path, rng, tally, suffix, frames=7200, kills=100)


def test_sweep_removes_only_temps_of_dead_writers(tmp_path):
    dest = tmp_path / "take.vrig"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        stale = tmp_path / f".take.vrig.{dead.pid}.abc123.tmp"
        running = tmp_path / f".take.vrig.{alive.pid}.def456.tmp"
        mine = tmp_path / f".take.vrig.{os.getpid()}.ghi789.tmp"
        old_legacy = tmp_path / ".take.vrig.xyz12345.tmp"
        new_legacy = tmp_path / ".take.vrig.qrs67890.tmp"
        other = tmp_path / f".take.vrig.bak.{dead.pid}.abc.tmp"  # another destination's temp file
        for p in (stale, running, mine, old_legacy, new_legacy, other):
            p.write_bytes(b"partial")
        os.utime(old_legacy, (time.time() - 3600, time.time() - 3600))
        assert sweep_stale_temps(dest) == 2
        left = {p.name for p in tmp_path.iterdir()}
        assert stale.name not in left and old_legacy.name not in left
        assert {running.name, mine.name, new_legacy.name, other.name} <= left
        atomic_write_bytes(dest, b"new")  # a save sweeps too, and leaves no temp of its own
        assert dest.read_bytes() == b"new"
        assert {p.name for p in temp_files_of(dest)} == {running.name, mine.name, new_legacy.name}
    finally:
        alive.kill()
        alive.wait()
