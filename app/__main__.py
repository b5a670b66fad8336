"""Entry point: ``vasa-rig`` opens the app; ``vasa-rig COMMAND ...`` runs a command-line tool."""

from __future__ import annotations

import argparse
import sys

from app import __version__
from app.commands import CommandError, load_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vasa-rig",
        description="Turn recorded dialogue into MetaHuman facial animation. "
        "Run without a command to open the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"vasa-rig {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in load_commands():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def launch_gui(argv: list[str]) -> int:
    try:
        from app.ui.launch import launch  # noqa: PLC0415 - the GUI is optional at import time
    except ImportError as exc:
        print(f"vasa-rig: the desktop app is not available in this installation ({exc}).", file=sys.stderr)
        print("Use `vasa-rig --help` for the command-line tools.", file=sys.stderr)
        return 2
    return launch(argv)


def main(argv: list[str] | None = None) -> int:
    if getattr(sys, "frozen", False):
        import multiprocessing

        multiprocessing.freeze_support()  # the app runs generation in child processes
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or (len(argv) == 1 and not argv[0].startswith("-") and argv[0] not in parser_commands(parser)):
        # No command, or a single file to open: the desktop app.
        return launch_gui(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except CommandError as exc:
        print(f"vasa-rig {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vasa-rig: interrupted", file=sys.stderr)
        return 130


def parser_commands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


if __name__ == "__main__":
    sys.exit(main())
