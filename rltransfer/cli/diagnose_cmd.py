"""`rltransfer diagnose DIR`: where and why each transfer method of a comparison helped or hurt."""

from __future__ import annotations

import argparse
from typing import Any

from rltransfer.cli.common import add_compare_dir_args, check_threshold, compare_dir
from rltransfer.errors import ConfigError
from rltransfer.experiments import diagnose
from rltransfer.experiments.summary import collect_runs, summarize_folder
from rltransfer.registry import lookup


def register(subparsers: Any) -> None:
    """Add the diagnose subcommand."""
    parser = subparsers.add_parser(
        "diagnose",
        help="where and why each transfer helped or hurt, against scratch",
        description="For every transfer method in a `compare` output folder: the stretches of training where it "
        "was ahead of, level with or behind scratch (95% bootstrap CIs over seeds), and the evidence its runs "
        "recorded — jumpstart, the controller's probe of the mapped teacher in the target, and every mode switch "
        "with its reason. Nothing is trained; `compare` and `report` also append this to summary.md.",
    )
    add_compare_dir_args(parser)
    parser.add_argument("--method", default=None, help="only this method (default: every method but scratch)")
    parser.add_argument(
        "--segments", type=int, default=5, metavar="N", help="equal stretches training is cut into (default 5)"
    )
    parser.set_defaults(handler=_diagnose)


def _diagnose(args: argparse.Namespace) -> int:
    folder = compare_dir(args.dir)
    check_threshold(args.threshold)
    if args.segments <= 0:
        raise ConfigError(f"--segments must be positive, got {args.segments}", fix="pass --segments N with N >= 1")
    records, _ = collect_runs(folder)
    if not records:
        raise ConfigError(f"no finished runs in {folder / 'runs'}", fix="run `rltransfer compare ... --out DIR` first")
    envs = summarize_folder(folder, records, threshold=args.threshold)
    if not any("scratch" in env.methods for env in envs):
        raise ConfigError(
            f"no scratch runs in {folder}: a diagnosis compares with scratch",
            fix="re-run compare with scratch in --methods (finished runs are kept)",
        )
    methods = sorted({m for env in envs for m in env.methods if m != "scratch"})
    if args.method is not None:
        lookup(dict.fromkeys(methods), args.method, what="method of this comparison")
    found = diagnose.diagnose(envs, records, segments=args.segments, method=args.method)
    print(diagnose.render(found, segments=args.segments))
    return 0
