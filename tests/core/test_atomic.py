"""Atomic saves by path (for writers that take a file name) and by file object."""

import os

import numpy as np
import pytest

from app.core.atomic import atomic_path, atomic_write, sweep_stale_temps, temp_files_of


def test_atomic_path_keeps_the_suffix_and_renames_on_success(tmp_path):
    dest = tmp_path / "clip.mp4"
    dest.write_bytes(b"old")
    with atomic_path(dest) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".tmp.mp4") and tmp.name.startswith(".clip.mp4.")
        assert tmp in temp_files_of(dest)
        assert dest.read_bytes() == b"old"  # readers see the old file until the block ends
        tmp.write_bytes(b"new")
    assert dest.read_bytes() == b"new" and temp_files_of(dest) == []


def test_atomic_path_leaves_the_old_file_when_the_writer_fails(tmp_path):
    dest = tmp_path / "plot.png"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(dest) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("writer failed")
    assert dest.read_bytes() == b"old" and temp_files_of(dest) == []


def test_atomic_path_gives_a_plain_file_s_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "a.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o644


def test_a_killed_path_writer_s_temp_is_swept(tmp_path):
    dest = tmp_path / "state.pt"
    dead = tmp_path / f".state.pt.{2**22 + 12345}.abc123.tmp.pt"  # a process id no running process has
    dead.write_bytes(b"partial")
    assert temp_files_of(dest) == [dead]
    assert sweep_stale_temps(dest) == 1 and not dead.exists()


def test_numpy_saves_through_a_file_object_without_renaming(tmp_path):
    dest = tmp_path / "shard.npz"
    with atomic_write(dest) as fh:
        np.savez(fh, a=np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["shard.npz"]  # no ".npz" appended, no temp left
    assert list(np.load(dest)["a"]) == [0, 1, 2]


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_path(tmp_path / "nope" / "x.png"):
            pass
