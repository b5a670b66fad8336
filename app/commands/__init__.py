"""Subcommands of the ``vasa-rig`` command line.

Each module in ``COMMAND_MODULES`` defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only when their command runs (``--help`` imports each one to read its arguments, which must
therefore stay cheap: heavy imports belong inside ``run``).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

# Order is the order shown by ``vasa-rig --help``.
COMMAND_MODULES: tuple[str, ...] = (
    "app.commands.generate",
    "app.commands.batch",
    "app.commands.export",
    "app.commands.info",
    "app.commands.eval",
    "app.commands.render",
    "app.commands.stream",
    "app.commands.live",
    "app.commands.listen",
    "app.commands.bench",
    "app.commands.dataset",
    "app.commands.train",
)


def load_commands() -> list[ModuleType]:
    return [importlib.import_module(name) for name in COMMAND_MODULES]


class CommandError(Exception):
    """A user-facing failure: printed as one clear line, exit status 2."""


def is_take_file(path) -> bool:
    """Whether ``path`` names a take in a format we write or import (.vrig, .fbx, .csv, .txt, .json)."""
    from app.io.export import EXPORT_SUFFIXES

    return Path(path).suffix.lower() in EXPORT_SUFFIXES


def open_take(path):
    """Any take file we write or import, as a Take at 60 fps (imported curves become its base curves, with no
    audio); a missing or unreadable file is a CommandError naming it."""
    from app.core.project import ProjectFileError
    from app.io.export import read_take
    from app.io.text_formats import TakeFormatError

    path = Path(path)
    if not path.is_file():
        raise CommandError(f"file not found: {path}")
    try:
        return read_take(path)
    except (ProjectFileError, TakeFormatError) as exc:
        raise CommandError(str(exc)) from None
