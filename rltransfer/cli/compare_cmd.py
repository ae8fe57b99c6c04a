"""`rltransfer compare`: a grid of targets × methods × seeds, resumable, on local processes or Ray."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rltransfer.cli.common import add_env_args, add_zoo_arg, parse_transfer_options
from rltransfer.errors import ConfigError
from rltransfer.experiments import GridSpec, parse_list, run_grid
from rltransfer.experiments.provenance import command_line
from rltransfer.experiments.summary import summary_body
from rltransfer.make import parse_env_kwargs
from rltransfer.transfer.methods import METHODS
from rltransfer.zoo.hyperparams import load_hyperparams_file

MAX_SEEDS = 1000
"""Most seeds per method of one comparison."""


def register(subparsers: Any) -> None:
    """Add the compare subcommand."""
    parser = subparsers.add_parser(
        "compare",
        help="compare transfer methods against scratch over seeds",
        description="Train every target × method × seed into OUT/runs/<env>/<method>/seed<k>/, then write "
        "summary.md/.csv/.json (jumpstart, asymptote, AUC, time to threshold, transfer ratio with 95% "
        "bootstrap CIs and IQM), learning_curves.png and OUT/tb for `tensorboard --logdir OUT/tb`. "
        "Re-running the same command skips finished runs.",
    )
    add_env_args(parser)
    parser.add_argument(
        "--methods",
        default="scratch,auto",
        metavar="LIST",
        help=f"comma-separated methods among {', '.join(METHODS)} (default: scratch,auto)",
    )
    parser.add_argument("--teacher", default="auto", metavar="NAME|auto", help="teacher name or folder (default auto)")
    parser.add_argument("--algo", default="ppo", help="SB3 algorithm of the students (default ppo)")
    parser.add_argument("--seeds", type=int, default=5, metavar="N", help="seeds 0..N-1 per method (default 5)")
    parser.add_argument("--steps", type=int, default=50_000, metavar="N", help="environment steps per run")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (re-use it to resume)")
    parser.add_argument("--workers", type=int, default=None, metavar="K", help="parallel runs (default: CPU cores)")
    parser.add_argument("--backend", default="local", metavar="local|ray", help="where runs execute (default local)")
    parser.add_argument("--ray-address", default=None, metavar="ADDR", help="existing Ray cluster (default: local)")
    parser.add_argument(
        "--threshold", type=float, default=None, metavar="X", help="return threshold (default: env spec's)"
    )
    parser.add_argument("--n-envs", type=int, default=None, metavar="N", help="training envs per run")
    parser.add_argument(
        "--hyperparams",
        default=None,
        metavar="YAML",
        help="n_envs, policy_kwargs and algorithm hyperparameters overriding those of record (as in `train`)",
    )
    parser.add_argument(
        "--transfer",
        default=None,
        metavar="JSON",
        help="transfer options for every method that uses the teacher, as in `train` (e.g. an ablation: "
        "'{\"critic_warmup\": false}')",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_zoo_arg(parser)
    parser.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace) -> int:
    if not 0 < args.seeds <= MAX_SEEDS:
        raise ConfigError(f"--seeds must be in [1, {MAX_SEEDS}], got {args.seeds}", fix="pass --seeds N, e.g. 5")
    overrides = load_hyperparams_file(args.hyperparams) if args.hyperparams else {}
    n_envs = args.n_envs if args.n_envs is not None else overrides.get("n_envs")
    spec = GridSpec(
        env_ids=parse_list(args.env, what="env"),
        methods=parse_list(args.methods, what="methods"),
        seeds=tuple(range(args.seeds)),
        total_timesteps=args.steps,
        algo=args.algo.lower(),
        teacher=args.teacher,
        zoo=args.zoo,
        env_kwargs=parse_env_kwargs(args.env_kwargs),
        threshold=args.threshold,
        n_envs=int(n_envs) if n_envs is not None else None,
        hyperparams=dict(overrides.get("hyperparams", {})),
        policy_kwargs=dict(overrides.get("policy_kwargs") or {}),
        transfer=parse_transfer_options(args.transfer),
    )
    report = run_grid(
        spec,
        args.out,
        backend=args.backend,
        workers=args.workers,
        ray_address=args.ray_address,
        progress=not args.no_progress,
        command=command_line(),
    )
    print(
        f"{report.total} runs: {report.done} trained, {report.skipped} already finished, "
        f"{len(report.failed)} failed ({report.wall_seconds:.0f} s)"
    )
    if report.files:
        print(summary_body((report.out / "summary.md").read_text(encoding="utf-8")))
        print(f"wrote {report.out}/summary.md, summary.csv, summary.json, learning_curves.png and tb/")
        print(f"  tensorboard --logdir {report.out}/tb")
    if report.failed:
        for outcome in report.failed:
            print(f"rltransfer: error: run {outcome.key} failed: {outcome.error}", file=sys.stderr)
        print("re-run the same command to retry the failed runs (finished runs are kept)", file=sys.stderr)
        return 2 if all(o.user_error for o in report.failed) else 1
    return 0
