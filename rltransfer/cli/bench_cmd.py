"""`rltransfer bench NAME`: run a benchmark and write its results/ file."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from rltransfer.benchmarks import BENCH_MODULES
from rltransfer.cli import build_parser


def register(subparsers: Any) -> None:
    """Add the bench subcommand with one sub-subcommand per benchmark module."""
    parser = subparsers.add_parser(
        "bench",
        help="run a benchmark and write results/",
        description="Run one of rltransfer's benchmarks; each writes a results/ file "
        "headed by its command, seeds, machine and date.",
    )
    commands = parser.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)
    available = []
    for name in BENCH_MODULES:
        importlib.import_module(f"rltransfer.benchmarks.{name}").register(commands)
        available.append(name)
    everything = commands.add_parser(
        "all", help="run every benchmark in turn", description=f"Run {', '.join(available)} with their defaults."
    )
    everything.set_defaults(handler=_run_all, benchmarks=available, parent=parser)


def _run_all(args: argparse.Namespace) -> int:
    parser = build_parser()
    status = 0
    for name in args.benchmarks:
        sub_args = parser.parse_args(["bench", name])
        status = max(status, int(sub_args.handler(sub_args) or 0))
    return status
