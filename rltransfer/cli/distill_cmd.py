"""`rltransfer distill`: distil a teacher into a small student and deploy it only past the gate."""

from __future__ import annotations

import argparse
import math
from typing import Any

from stable_baselines3.common.logger import configure

from rltransfer.cli.common import add_env_args, add_json_arg, add_zoo_arg, format_table, print_json
from rltransfer.distill import DistillConfig, DistillGateError, distill
from rltransfer.errors import ConfigError
from rltransfer.make import parse_env_kwargs


def register(subparsers: Any) -> None:
    """Add the distill subcommand."""
    parser = subparsers.add_parser(
        "distill",
        help="distil a teacher into a small task-specific student, deployed only past a gate",
        description="Collect (state, teacher answer) pairs in the target task from teacher rollouts and DAgger "
        "rounds, train a small student of the teacher's algorithm family on them, and deploy it into the zoo "
        "folder --out (card + safetensors + ONNX) only if its held-out agreement and its return ratio pass the "
        "threshold. Exit 0 when deployed, 1 when a gate failed (nothing written), 2 on bad input.",
    )
    parser.add_argument("--teacher", required=True, metavar="NAME", help="teacher name in the zoo, or its folder")
    add_env_args(parser)
    add_zoo_arg(parser)
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="zoo folder to deploy the student into (as DIR/NAME)"
    )
    parser.add_argument("--name", default=None, help="student name (default: <env>-<algo>-student)")
    parser.add_argument("--hidden", default="32,32", metavar="SIZES", help="student hidden sizes (default 32,32)")
    parser.add_argument(
        "--threshold", type=float, default=0.95, help="required agreement and return ratio (default 0.95)"
    )
    parser.add_argument(
        "--return-threshold",
        type=float,
        default=None,
        metavar="RATIO",
        help="required (student − random)/(teacher − random) return ratio if different from --threshold",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.05,
        metavar="FRACTION",
        help="continuous actions agree within this fraction of the action range (default 0.05)",
    )
    parser.add_argument("--samples", type=int, default=4000, metavar="N", help="labelled states per round (4000)")
    parser.add_argument("--dagger-rounds", type=int, default=4, metavar="R", help="DAgger rounds (default 4)")
    parser.add_argument(
        "--eval-episodes", type=int, default=20, metavar="N", help="episodes per return figure (>= 20, default 20)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument(
        "--mapping",
        default=None,
        metavar="FILE|search|identity",
        help="teacher→target mapping: a YAML file, 'search', or 'identity' to override selection (default: "
        "identity when the spaces match, else searched)",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing DIR/NAME")
    parser.add_argument("--verbose", action="store_true", help="log each round (transfer/distill_* keys)")
    add_json_arg(parser)
    parser.set_defaults(handler=_distill)


def parse_hidden(text: str) -> tuple[int, ...]:
    """'32,32' → (32, 32); anything else raises ConfigError."""
    try:
        sizes = tuple(int(part) for part in text.split(",")) if text.strip() else ()
    except ValueError as exc:
        raise ConfigError(f'--hidden "{text}" is not a list of integers', fix="write e.g. --hidden 32,32") from exc
    if not sizes:
        raise ConfigError("--hidden is empty", fix="write e.g. --hidden 32,32")
    return sizes


def _distill(args: argparse.Namespace) -> int:
    logger = configure(None, ["stdout"]) if args.verbose else None
    try:
        env_kwargs = parse_env_kwargs(args.env_kwargs)
        config = DistillConfig(
            hidden=parse_hidden(args.hidden),
            threshold=args.threshold,
            return_threshold=args.return_threshold,
            tolerance=args.tolerance,
            samples=args.samples,
            dagger_rounds=args.dagger_rounds,
            eval_episodes=args.eval_episodes,
            seed=args.seed,
        )
        report = distill(
            args.teacher,
            args.env,
            config=config,
            env_kwargs=env_kwargs,
            zoo=args.zoo,
            out=args.out,
            mapping=args.mapping,
            name=args.name,
            overwrite=args.force,
            check=True,  # a teacher no better than random stops before training (TeacherCheckError, exit 1)
            logger=logger,
        )
    except DistillGateError as failed:
        _print_report(failed.report, as_json=args.json)
        raise
    _print_report(report, as_json=args.json)
    return 0


def _print_report(report: Any, *, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
    else:
        print(format_report(report))


def _ms(value: float) -> str:
    return f"{value:.3f} ms" if math.isfinite(value) else "–"


def format_report(report: Any) -> str:
    """The human summary: both gate figures, parameter counts, latency, verdict."""
    lines = [
        f"distil {report.teacher} ({report.algo}) → {report.env_id}: student {report.student}, hidden "
        f"{list(report.hidden)}, mapping {report.mapping}",
        *([f"teacher check: {report.teacher_check['summary']}"] if report.teacher_check else []),
        "",
        format_table(
            ["round", "acted", "states", "env steps", "loss", "fit agreement"],
            [[r.round, r.actor, r.samples, r.env_steps, r.loss, r.train_agreement] for r in report.rounds],
        ),
        "",
        format_table(
            ["", "teacher", "student", "note"],
            [
                [
                    "acting parameters",
                    report.teacher_params,
                    report.student_params,
                    f"ratio {100 * report.param_ratio:.2f}% (acting network only; critics/value nets excluded)",
                ],
                [
                    f"return ({report.eval_episodes} episodes)",
                    report.teacher_return,
                    report.student_return,
                    f"random {report.random_return:.4g}; ratio (S−R)/(T−R) = {report.return_ratio:.3f}",
                ],
                [
                    "latency torch (batch 1)",
                    _ms(report.latency_ms["teacher_torch"]),
                    _ms(report.latency_ms["student_torch"]),
                    "median of 1000+ calls, 1 CPU thread",
                ],
                ["latency onnxruntime", "–", _ms(report.latency_ms["student_onnx"]), "median, 1 CPU thread"],
            ],
        ),
        "",
        f"agreement {report.agreement:.4f} on {report.held_out_states} held-out states "
        f"(teacher's episodes {report.agreement_teacher_states:.4f}, student's {report.agreement_student_states:.4f})",
        "",
    ]
    lines += [f"[{'pass' if gate.passed else 'FAIL'}] {gate.name}: {gate.detail}" for gate in report.gates]
    if report.passed and report.deployed:
        lines.append(f"deployed: {report.deployed[0]} (card.json, policy.safetensors, policy.onnx, distill.json)")
    elif report.passed:
        lines.append("passed (not deployed: no output folder)")
    else:
        lines.append("not deployed: nothing was written")
    lines.append(f"{report.env_steps} env steps, {report.seconds:.1f}s")
    return "\n".join(lines)
