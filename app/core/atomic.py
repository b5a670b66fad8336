"""Atomic file writes: a reader sees the old file or the new one, never half of either.

The new file is written to ``.<name>.<pid>.<random>.tmp`` beside the destination. A writer killed before the rename
(kill -9, power loss) leaves that temp file behind; the next write of the same destination removes the temp files
of writers that no longer run (and, for names without a process id, any older than ``STALE_TEMP_SECONDS``).
``atomic_write`` gives the writer a file object (``np.save``, ``torch.save`` and PIL take one); ``atomic_path`` gives
a temp path for writers that only take a file name (ffmpeg, or a writer that picks the format from the extension):
``.<name>.<pid>.<random>.tmp<suffix>``, with the destination's suffix.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

STALE_TEMP_SECONDS = 600.0
# After ".<name>.": "<pid>.<random>.tmp", "<pid>.<random>.tmp.<ext>" (atomic_path) or an older "<random>.tmp".
_TEMP_TAIL = re.compile(r"^(?:(\d+)\.)?[^.]+\.tmp(?:\.[^.]+)?$")


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Write to a temporary file beside ``path``; on success fsync it and rename it over ``path``."""
    path, directory, fd, tmp = _temp_beside(path, ".tmp")

    def write():
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())

    yield from _replace_when_done(write(), tmp, path, directory)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temp path beside ``path`` with the same suffix, for a writer that takes a file name; when the block ends
    without an error the file is fsynced and renamed over ``path``, otherwise removed."""
    path, directory, fd, tmp = _temp_beside(path, ".tmp" + Path(path).suffix)
    os.close(fd)

    def write():
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())

    yield from _replace_when_done(write(), tmp, path, directory)


def _replace_when_done(writing, tmp: str, path: Path, directory: Path):
    """Run ``writing`` (a generator yielding what the caller writes to) and rename ``tmp`` over ``path`` when it
    ends; on any error (the caller's included) remove ``tmp`` and re-raise."""
    try:
        yield from writing
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _temp_beside(path: str | os.PathLike, suffix: str) -> tuple[Path, Path, int, str]:
    """Sweep ``path``'s stale temps and make a new one beside it, with a plain file's permissions."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"folder does not exist: {directory}")
    sweep_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=suffix, dir=directory)
    try:
        # mkstemp creates the file private (0600); give it the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return path, directory, fd, tmp


def temp_files_of(path: str | os.PathLike) -> list[Path]:
    """The temp files ``atomic_write`` makes (or left) for ``path``."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    prefix = f".{path.name}."
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [directory / n for n in names if n.startswith(prefix) and _TEMP_TAIL.match(n[len(prefix):])]


def sweep_stale_temps(path: str | os.PathLike) -> int:
    """Remove temp files of ``path`` left by writers that were killed; returns how many were removed."""
    removed = 0
    prefix_len = len(Path(path).name) + 2
    for tmp in temp_files_of(path):
        m = _TEMP_TAIL.match(tmp.name[prefix_len:])
        if m and m.group(1) and os.name == "posix":
            stale = int(m.group(1)) != os.getpid() and not pid_alive(int(m.group(1)))
        else:  # no process id in the name, or no safe way to ask about one (os.kill ends processes on Windows)
            try:
                stale = time.time() - tmp.stat().st_mtime > STALE_TEMP_SECONDS
            except OSError:
                continue
        if stale:
            try:
                tmp.unlink()
                removed += 1
            except OSError:
                pass
    return removed


def pid_alive(pid: int, *, unknown: bool = True) -> bool:
    """Whether a process with this id runs (one of another user's counts); ``unknown`` is the answer when the
    platform cannot tell (True: keep what it may still own)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return unknown
    return True


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
