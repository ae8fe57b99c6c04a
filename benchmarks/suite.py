"""`python -m benchmarks suite run|aggregate|throughput`: the benchmark suite, one target at a time.

    python -m benchmarks suite run TARGET [TARGET ...] [--seeds 5]  # → results/suite/<target>.md, .json
    python -m benchmarks suite aggregate                 # → results/suite.md, suite.json, benefit_matrix.json
    python -m benchmarks suite run --quick --work DIR    # 3 targets, 1 seed, tiny budgets (CI), into DIR

Set-up (once, not under --quick): a teacher trained with plain SB3 is imported into the zoo
(benchmarks/suite_setup.py). Each target is its own unit, so the suite is built up target by target
(each run can go to the background); finished runs in --work are reused. The aggregate trains nothing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from benchmarks import throughput
from benchmarks.suite_aggregate import aggregate
from benchmarks.suite_rliable import REPS
from benchmarks.suite_run import run_target
from benchmarks.suite_setup import ensure_user_teacher
from benchmarks.suite_targets import METHOD_ORDER, QUICK_TARGETS, TARGETS, SuiteTarget, select_targets
from rltransfer.errors import ConfigError

__all__ = ["TARGETS", "SuiteTarget", "register", "select_targets"]

DEFAULT_SEEDS, BENEFIT_SEEDS = 5, 3
"""Seeds per method of a target's grid, and per teacher of its benefit matrix."""
MAX_SEEDS = 100
"""Most seeds --seeds may ask for (each one is a run per method)."""


def register(subparsers: Any) -> None:
    """Add `python -m benchmarks suite` and its actions."""
    parser = subparsers.add_parser(
        "suite",
        help="the benchmark suite: `suite run TARGET`, then `suite aggregate`",
        description=__doc__.splitlines()[0],
    )
    actions = parser.add_subparsers(dest="suite_action", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="run targets' grids and benefit matrices → results/suite/<target>.md, .json",
        description=f"Per target: methods {', '.join(METHOD_ORDER)} × --seeds from the target's teacher, and "
        "`representation` from every other compatible zoo teacher × --benefit-seeds; writes results/suite/<target>.md "
        f"and .json. Targets: {', '.join(t.name for t in TARGETS)}.",
    )
    run.add_argument(
        "targets", nargs="*", metavar="TARGET", help=f"target names (--quick: default {', '.join(QUICK_TARGETS)})"
    )
    run.add_argument("--seeds", type=int, default=None, help=f"seeds per method (default {DEFAULT_SEEDS}; --quick 1)")
    run.add_argument(
        "--benefit-seeds",
        type=int,
        default=None,
        help=f"seeds per benefit-matrix teacher (default {BENEFIT_SEEDS}; --quick 1)",
    )
    run.add_argument(
        "--quick", action="store_true", help="tiny budgets, 1 seed, one benefit teacher: tests the structure"
    )
    run.add_argument(
        "--work", default=None, help="run folders, reused when finished (default runs/suite; --quick runs/suite-quick)"
    )
    run.add_argument(
        "--results", default=None, help="results root: writes <it>/suite/<target>.* (default results; --quick: --work)"
    )
    run.add_argument("--zoo", default=None, help="teacher zoo (default: agents/)")
    run.add_argument("--workers", type=int, default=None, help="parallel runs (default: CPU cores)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.set_defaults(handler=_run)
    summary = actions.add_parser(
        "aggregate",
        help="results/suite/*.json → results/suite.md, suite.json, benefit_matrix.json (no training)",
        description="Aggregate the per-target files across targets with rliable: IQM of normalised scores, probability "
        "of improvement over scratch, performance profiles (stratified-bootstrap CIs, plots in suite/plots/), and the "
        "median steps-to-threshold ratio to scratch.",
    )
    summary.add_argument("--results", default="results", help="results root holding suite/*.json (default results)")
    summary.add_argument("--reps", type=int, default=REPS, help=f"bootstrap replications (default {REPS})")
    summary.set_defaults(handler=_aggregate)
    timing = actions.add_parser(
        "throughput", help="grid throughput, 1 vs k workers → results/throughput.md", description=throughput.__doc__
    )
    throughput.add_arguments(timing)
    timing.set_defaults(handler=throughput.run)


def _count(value: int | None, default: int, option: str) -> int:
    count = default if value is None else value
    if not 1 <= count <= MAX_SEEDS:
        raise ConfigError(f"{option} must be in [1, {MAX_SEEDS}], got {count}", fix=f"pass e.g. {option} {default}")
    return count


def _run(args: argparse.Namespace) -> int:
    """`suite run`: each named target in turn, its files written as soon as its runs finish."""
    if not args.targets and not args.quick:
        raise ConfigError("no target named", fix=f"name one or more of: {', '.join(t.name for t in TARGETS)}")
    targets = select_targets(args.targets or QUICK_TARGETS)
    seeds = _count(args.seeds, 1 if args.quick else DEFAULT_SEEDS, "--seeds")
    benefit_seeds = _count(args.benefit_seeds, 1 if args.quick else BENEFIT_SEEDS, "--benefit-seeds")
    work = Path(args.work or ("runs/suite-quick" if args.quick else "runs/suite"))
    results = Path(args.results or (work if args.quick else "results"))
    zoo = str(Path(args.zoo).resolve()) if args.zoo else None
    workers = args.workers or os.cpu_count() or 1
    if not args.quick:
        ensure_user_teacher(zoo)  # the set-up: a plain-SB3 teacher imported into the zoo, as a user's own model
    failed = 0
    for target in targets:
        files, failures = run_target(
            target,
            seeds=seeds,
            benefit_seeds=benefit_seeds,
            quick=args.quick,
            work=work,
            results=results,
            zoo=zoo,
            workers=workers,
            progress=not args.no_progress,
        )
        failed += failures
        print(f"wrote {', '.join(str(f) for f in files)} ({failures} failed runs)")
    return 1 if failed else 0


def _aggregate(args: argparse.Namespace) -> int:
    """`suite aggregate`: the across-target files from the per-target ones."""
    if args.reps < 10:
        raise ConfigError(f"--reps must be at least 10, got {args.reps}", fix=f"pass e.g. --reps {REPS}")
    files = aggregate(Path(args.results), reps=args.reps)
    print(f"wrote {', '.join(str(f) for f in files)}")
    return 0
