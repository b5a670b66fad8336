"""Subcommands of the ``vasa-rig`` command line.

Each module in ``COMMAND_MODULES`` defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only when their command runs (``--help`` imports each one to read its arguments, which must
therefore stay cheap: heavy imports belong inside ``run``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Order is the order shown by ``vasa-rig --help``.
COMMAND_MODULES: tuple[str, ...] = (
    "app.commands.generate",
    "app.commands.export",
    "app.commands.info",
    "app.commands.eval",
    "app.commands.render",
    "app.commands.stream",
    "app.commands.listen",
    "app.commands.bench",
    "app.commands.dataset",
    "app.commands.train",
)


def load_commands() -> list[ModuleType]:
    return [importlib.import_module(name) for name in COMMAND_MODULES]


class CommandError(Exception):
    """A user-facing failure: printed as one clear line, exit status 2."""
