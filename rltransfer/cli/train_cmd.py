"""`rltransfer train`: train a student with transfer from a teacher into a run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rltransfer.cli.common import add_env_args, add_zoo_arg, mapping_option, parse_transfer_options
from rltransfer.errors import ConfigError, OutputError
from rltransfer.experiments.provenance import command_line
from rltransfer.make import check_env_id, parse_env_kwargs
from rltransfer.registry import lookup
from rltransfer.training import (
    CHECKPOINT_DIR,
    STUDENT_DIR,
    TrainConfig,
    check_target,
    exclusive_run_folder,
    has_checkpoint,
    read_error,
    run_folder_state,
    train_student,
)
from rltransfer.transfer.teacher import check_teacher
from rltransfer.zoo.hyperparams import load_hyperparams_file

MODE_TO_METHOD = {"auto": "auto", "representation": "representation", "instance": "instance", "none": "scratch"}


def register(subparsers: Any) -> None:
    """Add the train subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train a student with transfer from a teacher",
        description="Train a student with an SB3 algorithm while the transfer controller moves a teacher's "
        "knowledge into it (representation or instance transfer, switched automatically, off when it stops "
        "helping). Writes config.json, command.txt, episodes.csv, decisions.jsonl, tb/ and the final student "
        "(a zoo teacher) into --out. Ctrl-C saves a checkpoint; --resume continues it. A run that failed "
        "before its first checkpoint is simply run again; --overwrite replaces a finished or interrupted one.",
    )
    add_env_args(parser)
    parser.add_argument("--algo", required=True, help="ppo, a2c, dqn, sac or td3")
    parser.add_argument("--teacher", default=None, metavar="NAME|auto", help="zoo name or folder, or auto (ranking)")
    parser.add_argument(
        "--mode",
        default=None,
        metavar="MODE",
        help="auto (default with a teacher), representation, instance or none",
    )
    parser.add_argument(
        "--method",
        default=None,
        metavar="METHOD",
        help="instead of --mode: scratch, finetune, kickstart, jsrl, instance, representation or auto",
    )
    parser.add_argument("--steps", type=int, default=50_000, help="environment steps (default 50000)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--n-envs", type=int, default=None, help="parallel envs (default: hyperparams of record)")
    parser.add_argument("--hyperparams", default=None, metavar="YAML", help="algorithm hyperparameters to override")
    parser.add_argument(
        "--mapping",
        default=None,
        metavar="YAML|identity",
        help="teacher↔student mapping (Mapping.to_dict), or 'identity' to override selection",
    )
    parser.add_argument(
        "--transfer", default=None, metavar="JSON", help='transfer options, e.g. \'{"weight": 0.5, "window": 2000}\''
    )
    add_zoo_arg(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="run folder")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the run that --out holds (finished or interrupted)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=_train)


def _method(args: argparse.Namespace) -> str:
    if args.method and args.mode:
        raise ConfigError("--mode and --method both given", fix="give one of them")
    if args.method:
        return str(args.method).lower()
    if args.mode:
        return lookup(MODE_TO_METHOD, args.mode, what="mode")
    return "auto" if args.teacher else "scratch"


def build_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the arguments describe (validated)."""
    check_env_id(args.env)
    method = _method(args)
    if method != "scratch" and not args.teacher:
        raise ConfigError(f'method "{method}" needs a teacher', fix="pass --teacher NAME (or --teacher auto)")
    overrides: dict[str, Any] = load_hyperparams_file(args.hyperparams) if args.hyperparams else {}
    n_envs = args.n_envs if args.n_envs is not None else overrides.get("n_envs")
    return TrainConfig(
        env_id=args.env,
        env_kwargs=parse_env_kwargs(args.env_kwargs),
        algo=args.algo.lower(),
        total_timesteps=args.steps,
        seed=args.seed,
        method=method,
        teacher=args.teacher if method != "scratch" else None,
        zoo=str(Path(args.zoo).resolve()) if args.zoo else None,
        n_envs=int(n_envs) if n_envs is not None else None,
        hyperparams=dict(overrides.get("hyperparams", {})),
        policy_kwargs=dict(overrides.get("policy_kwargs", {}) or {}),
        mapping=mapping_option(args.mapping, env_id=args.env, env_kwargs=args.env_kwargs),
        transfer=parse_transfer_options(args.transfer),
    )


_HELD = {
    "finished": ("a finished run", "choose another --out, or add --overwrite to replace it"),
    "interrupted": ("an interrupted run", "add --resume to continue it, or --overwrite to start it again"),
    "unreadable": (
        "a run whose config.json is not a run config",
        "choose another --out, or add --overwrite to replace it",
    ),
}


def _check_out(out: Path, args: argparse.Namespace) -> str:
    """The state of --out (see run_folder_state) after refusing what the flags do not allow."""
    if args.resume and args.overwrite:
        raise ConfigError(
            "--resume and --overwrite both given", fix="give --resume to continue, --overwrite to restart"
        )
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file, not a run folder", fix="choose another --out")
    state = run_folder_state(out)
    if state == "foreign":
        raise OutputError(
            f"{out} holds files that are not an rltransfer run",
            fix="choose another --out (--overwrite replaces only run folders)",
        )
    if args.resume and state not in ("interrupted", "finished"):
        raise OutputError(
            f"nothing to resume in {out} (no checkpoint: "
            + ("the folder is empty)" if state == "empty" else "its run stopped before its first checkpoint)"),
            fix="run the same command without --resume to start it",
        )
    if not args.resume and not args.overwrite and state in _HELD:
        what, fix = _HELD[state]
        raise OutputError(f"{out} already holds {what}", fix=fix)
    return state


def _train(args: argparse.Namespace) -> int:
    config = build_config(args)
    if config.teacher:
        check_teacher(config.teacher, config.zoo, methods=(config.method,))
    check_target(config)
    out = Path(args.out)
    _check_out(out, args)
    with exclusive_run_folder(out):
        state = _check_out(out, args)  # again under the lock: another process may have changed it
        if args.resume and state == "finished":
            print(f"{out} is already finished; nothing to resume")
            return 0
        if state == "failed":
            reason = read_error(out)
            print(
                f"{out} holds a run that stopped before its first checkpoint{f' ({reason})' if reason else ''}; "
                "starting it again"
            )
        elif args.overwrite and state != "empty":
            print(f"replacing the {state} run in {out}")
        return _run(config, out, args)


def _run(config: TrainConfig, out: Path, args: argparse.Namespace) -> int:
    try:
        result = train_student(
            config, out, progress_bar=not args.no_progress, command=command_line(), resume=args.resume
        )
    except KeyboardInterrupt:
        if has_checkpoint(out):
            line = f"checkpoint saved in {out / CHECKPOINT_DIR}; continue with the same command and --resume"
        else:
            line = "interrupted before training started, nothing to resume; run the command again"
        print(f"rltransfer: error: interrupted — {line}", file=sys.stderr)
        return 130
    print(
        f"{result.method} on {result.env_id}: {result.episodes} episodes, final return {result.final_return:.1f}, "
        f"{result.wall_seconds:.0f}s; student saved in {out / STUDENT_DIR}"
    )
    return 0
