"""`python -m benchmarks NAME`: run one benchmark (or `all`) and write its results/ file."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from benchmarks import BENCH_MODULES, PROGRAM
from rltransfer.cli import OneLineParser, run_command
from rltransfer.errors import RLTransferError

ALL_ARGUMENTS = {"suite": ("suite", "aggregate")}
"""What `all` runs of a benchmark whose default is not one command: the suite's targets are each their own
unit (`suite run TARGET`, each a long run), so `all` only re-aggregates the target files there are."""


def build_parser() -> argparse.ArgumentParser:
    """One subcommand per benchmark module, and `all`."""
    parser = OneLineParser(
        prog=PROGRAM,
        description="Run one of rltransfer's benchmarks; each writes a results/ file headed by its command, "
        "seeds, machine and date.",
    )
    commands = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for name in BENCH_MODULES:
        importlib.import_module(f"benchmarks.{name}").register(commands)
    everything = commands.add_parser(
        "all",
        help="run every benchmark in turn",
        description=f"Run {', '.join(BENCH_MODULES)} with their defaults; for suite, only `suite aggregate` "
        "(run its targets with `suite run TARGET`).",
    )
    everything.set_defaults(handler=_run_all)
    return parser


def _run_all(args: argparse.Namespace) -> int:
    parser = build_parser()
    status = 0
    for name in BENCH_MODULES:
        sub_args = parser.parse_args(list(ALL_ARGUMENTS.get(name, (name,))))
        try:
            status = max(status, int(sub_args.handler(sub_args) or 0))
        except RLTransferError as exc:  # one benchmark's bad state does not stop the others
            print(f"{PROGRAM} {name}: error: {exc.line()}", file=sys.stderr)
            status = max(status, exc.exit_code)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m benchmarks`."""
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
