"""The `rltransfer` command: one subcommand per module in COMMAND_MODULES.

Every RLTransferError becomes one line on stderr and its exit code (2 for bad input), never a
traceback; Ctrl-C exits 130 after the command has saved what it can.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from rltransfer import __version__
from rltransfer.errors import RLTransferError

COMMAND_MODULES = ("envs", "zoo", "rank", "train", "compare", "report", "diagnose", "distill", "data", "demo")
"""Modules of rltransfer.cli, each with register(subparsers) adding one subcommand."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line naming the fix, as every other error is."""

    def error(self, message: str) -> NoReturn:
        """Print `rltransfer: error: <problem> — see '<prog> --help'` and exit 2 (argparse's code)."""
        _error(f"{message} — see '{self.prog} --help'")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand."""
    parser = OneLineParser(
        prog="rltransfer",
        description="Reuse trained policies to make a new RL task learn faster: rank teachers, "
        "train with transfer, compare against scratch, distil and deploy.",
    )
    parser.add_argument("--version", action="version", version=f"rltransfer {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"rltransfer.cli.{name}_cmd").register(subparsers)
    return parser


def _error(message: str) -> None:
    print(f"rltransfer: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `rltransfer` console script."""
    return run_command(build_parser(), argv)


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run its handler under the one error policy (also `python -m benchmarks`'s)."""
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except RLTransferError as exc:
        _error(exc.line())
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted — finished results are kept; re-run the same command to continue")
        return 130
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            _error("disk full — free some space and run again (finished results are kept)")
        else:
            _error(f"{exc.strerror or exc}: {exc.filename or ''} — check the path and permissions")
        return 2


if __name__ == "__main__":
    sys.exit(main())
