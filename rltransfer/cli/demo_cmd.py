"""`rltransfer demo`: the main job on built-in defaults — rank, transfer, compare, point at TensorBoard.

The demo runs the same commands a user would (`rank`, then `compare`), so what it shows is what the
toolkit does, not a special path.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rltransfer.cli import main

DEFAULT_TARGET = "rltransfer/CartPole-Permuted-v0"


def register(subparsers: Any) -> None:
    """Add the demo subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="rank the zoo for a target, train with transfer and from scratch, compare",
        description="The main job on built-in defaults: rank the zoo's teachers for a target task without "
        "training, train a student with the transfer controller from the best-ranked teacher (through the "
        "mapping selection found) and one from scratch, print the comparison and the TensorBoard command.",
    )
    parser.add_argument("--env", default=DEFAULT_TARGET, metavar="ID", help=f"target task (default {DEFAULT_TARGET})")
    parser.add_argument("--algo", default="ppo", help="student algorithm (default ppo)")
    parser.add_argument("--steps", type=int, default=30_000, help="env steps per student (default 30000)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per method (default 1)")
    parser.add_argument("--methods", default="scratch,auto", help="methods to compare (default scratch,auto)")
    parser.add_argument("--out", default="runs/demo", metavar="DIR", help="output folder (default runs/demo)")
    parser.add_argument("--zoo", default=None, metavar="DIR", help="teacher zoo (default: the shipped agents/)")
    parser.add_argument("--workers", type=int, default=None, help="parallel runs (default: CPU count)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Rank, then compare, then say where to look."""
    zoo = ["--zoo", args.zoo] if args.zoo else []
    print(f"== 1/2  Ranking the zoo for {args.env} (cheap probes, no gradient step)\n", flush=True)
    status = main(["rank", "--env", args.env, *zoo])
    if status:
        return status
    print(
        f"\n== 2/2  Training {args.methods} with {args.algo} for {args.steps} steps, {args.seeds} seed(s)\n", flush=True
    )
    compare = [
        "compare",
        "--env",
        args.env,
        "--methods",
        args.methods,
        "--teacher",
        "auto",
        "--algo",
        args.algo,
        "--seeds",
        str(args.seeds),
        "--steps",
        str(args.steps),
        "--out",
        args.out,
        *zoo,
    ]
    if args.workers:
        compare += ["--workers", str(args.workers)]
    status = main(compare)
    if status:
        return status
    out = Path(args.out)  # compare has printed the tables and the diagnosis
    print(f"\nSummary table: {out / 'summary.md'}   learning curves: {out / 'learning_curves.png'}")
    print(f"Transfer decisions (mode switches with reasons): {out}/runs/*/auto/seed*/decisions.jsonl")
    print(f"TensorBoard:  tensorboard --logdir {out / 'tb'}")
    return 0
