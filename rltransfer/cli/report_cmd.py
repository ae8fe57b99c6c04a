"""`rltransfer report DIR`: re-render a comparison's tables, plot and TensorBoard folder from its runs."""

from __future__ import annotations

import argparse
from typing import Any

from rltransfer.cli.common import add_compare_dir_args, check_threshold, compare_dir
from rltransfer.errors import ConfigError
from rltransfer.experiments import render_report


def register(subparsers: Any) -> None:
    """Add the report subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="re-render a comparison's tables and plots",
        description="Recompute the metrics of every finished run under DIR/runs and rewrite summary.md, "
        "summary.csv, summary.json, learning_curves.png and DIR/tb. Nothing is trained.",
    )
    add_compare_dir_args(parser)
    parser.add_argument("--bins", type=int, default=None, metavar="N", help="points of the learning curves")
    parser.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    folder = compare_dir(args.dir)
    if args.bins is not None and args.bins <= 0:
        raise ConfigError(f"--bins must be positive, got {args.bins}", fix="pass --bins N with N >= 1")
    files = render_report(folder, threshold=check_threshold(args.threshold), bins=args.bins)
    print("wrote " + ", ".join(str(path) for path in files))
    print((folder / "summary.md").read_text(encoding="utf-8"))
    return 0
