"""Representation transfer without a weight copy: teachers of other sizes and algorithms into one student.

    python -m benchmarks.representation [--seeds 5] [--steps 30000] [--out runs/representation]

For each teacher of the matrix, `rltransfer compare` trains the default PPO student on a CartPole whose
observations are permuted and rescaled (the teacher reaches it only through a mapping found by selection),
with `representation` (distil-initialise, critic warm-up, decaying distillation term) and `kickstart`
(the distillation term alone, Schmitt et al. 2018) against scratch. Every env step a method spends
(probes, mapping search, DAgger rounds) is on its curve. Writes results/representation.md whole.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from rltransfer import metrics
from rltransfer.experiments.provenance import machine_description, now_utc

TARGET = "rltransfer/CartPole-Permuted-v0"
THRESHOLD = 475.0
TEACHERS = (
    ("cartpole-ppo-small", "PPO [32, 32]"),
    ("cartpole-ppo-1layer", "PPO [64] (one layer)"),
    ("cartpole-ppo", "PPO [64, 64] (same shape: weights copy)"),
    ("cartpole-generalist-ppo", "PPO [256, 256] generalist"),
    ("cartpole-dqn", "DQN [256, 256] (own return 129)"),
)
METHODS = ("representation", "kickstart")
CONTINUOUS_TARGET = "rltransfer/Pendulum-Moon-v0"
CONTINUOUS = (("pendulum-sac", "SAC [64, 64]", "ppo"), ("pendulum-td3", "TD3 [64, 64]", "sac"))
"""Teacher, label and student algorithm on a Pendulum with lunar gravity (no spec threshold: transfer ratio)."""


def _compare(
    out: Path, teacher: str | None, methods: str, seeds: int, steps: int, *, env: str = TARGET, algo: str = "ppo"
) -> dict:
    command = [
        sys.executable, "-m", "rltransfer.cli", "compare", "--env", env, "--methods", methods, "--algo", algo,
        "--seeds", str(seeds), "--steps", str(steps), "--out", str(out), "--workers", "2", "--no-progress",
        "--zoo", "agents",
    ]  # fmt: skip
    if env == TARGET:
        command += ["--threshold", str(THRESHOLD)]
    if teacher is not None:
        command += ["--teacher", teacher]
    subprocess.run(command, check=True)
    return json.loads((out / "summary.json").read_text())["envs"][0]["methods"]


def _cell(estimate: metrics.Estimate, digits: int = 2) -> str:
    if not math.isfinite(estimate.mean):
        return "n/a"
    return f"{estimate.mean:.{digits}f} [{estimate.low:.{digits}f}, {estimate.high:.{digits}f}]"


def main() -> None:
    """Run the matrix and write results/representation.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--out", default="runs/representation")
    parser.add_argument("--continuous-steps", type=int, default=10_000)
    args = parser.parse_args()
    root = Path(args.out)
    scratch_dir = root / "scratch"
    scratch = _compare(scratch_dir, None, "scratch", args.seeds, args.steps)["scratch"]["per_seed"]
    rows, fractions = [], []
    for teacher, label in TEACHERS:
        out = root / teacher
        if not (out / "runs").exists():  # the same scratch runs serve every teacher (compare skips finished runs)
            shutil.copytree(scratch_dir / "runs", out / "runs")
        methods = _compare(out, teacher, ",".join(("scratch", *METHODS)), args.seeds, args.steps)
        for method in METHODS:
            per_seed = methods[method]["per_seed"]
            estimates = methods[method]["estimates"]
            fraction = metrics.threshold_steps_fraction(
                [math.nan if v is None else v for v in per_seed["time_to_threshold"]],
                [math.nan if v is None else v for v in scratch["time_to_threshold"]],
                budget=args.steps,
            )
            if method == "representation":
                fractions.append(fraction.mean)
            reached = f"{fraction.reached}/{fraction.n}" if fraction.reached is not None else "0"
            jump = estimates["jumpstart"]
            ratio = estimates["transfer_ratio"]
            rows.append(f"| {label} | {method} | {_cell(fraction)} | {reached} | {_fmt(jump, 0)} | {_fmt(ratio, 2)} |")
    continuous = []
    for teacher, label, algo in CONTINUOUS:
        methods = _compare(
            root / f"{teacher}-{algo}",
            teacher,
            "scratch,representation",
            args.seeds,
            args.continuous_steps,
            env=CONTINUOUS_TARGET,
            algo=algo,
        )
        estimates = methods["representation"]["estimates"]
        continuous.append(
            f"| {label} | {algo.upper()} [64, 64] | {_fmt(estimates['jumpstart'], 0)} | "
            f"{_fmt(estimates['transfer_ratio'], 2)} |"
        )
    finite = [f for f in fractions if math.isfinite(f)]
    median = sorted(finite)[len(finite) // 2] if finite else math.nan
    scratch_ttt = metrics.aggregate_time_to_threshold(
        [math.nan if v is None else v for v in scratch["time_to_threshold"]], budget=args.steps
    )
    lines = [
        "# Representation transfer across network shapes and algorithms",
        "",
        f"Command: `{shlex.join(['python', '-m', 'benchmarks.representation', *sys.argv[1:]])}`  ",
        f"Machine: {machine_description()}  ",
        f"Date: {now_utc()}; seeds 0–{args.seeds - 1}; {args.steps:,} env steps per run.",
        "",
        f"Target `{TARGET}` (observations permuted and rescaled; every teacher reaches it through the mapping",
        "that selection finds), default PPO student ([64, 64], RL Zoo CartPole hyperparameters, 8 envs),",
        f"threshold {THRESHOLD:g} (mean of the last {metrics.DEFAULT_WINDOW} episodes, "
        "rltransfer.metrics.time_to_threshold).",
        "Every env step a method spends is on its curve: the teacher and random probes (5 episodes each),",
        "the mapping search and the DAgger rounds. Steps to threshold are a fraction of scratch's mean",
        "(rltransfer.metrics.threshold_steps_fraction; seeds that never reached it count as the budget).",
        f"Scratch: {_cell(scratch_ttt, 0)} steps to threshold ({scratch_ttt.reached}/{scratch_ttt.n} seeds reached).",
        "",
        "| teacher | method | steps to threshold / scratch [95% CI] | seeds reached | jumpstart | transfer ratio |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Median over the teachers of `representation`'s fraction: {median:.2f}.",
        "",
        "The floor: with 8 envs a perfect CartPole student finishes 8 episodes of 500 steps per 4,000 env steps,",
        f"so a {metrics.DEFAULT_WINDOW}-episode window cannot close before about 8,000 of its own steps plus the",
        "transfer's steps, whatever the start: a fraction near 8,000 / scratch's steps is that floor, not the method.",
        "",
        "## Continuous control",
        "",
        f"Target `{CONTINUOUS_TARGET}` (lunar gravity), {args.continuous_steps:,} env steps per run, students of",
        "record (hyperparameters in rltransfer/zoo/hyperparams), `representation` against scratch of the same",
        "algorithm; every transfer step counted as above.",
        "",
        "| teacher | student | jumpstart | transfer ratio |",
        "|---|---|---|---|",
        *continuous,
        "",
    ]
    path = Path("results/representation.md")
    path.write_text("\n".join(lines), encoding="utf-8")
    print(path.read_text(encoding="utf-8"))


def _fmt(estimate: dict, digits: int) -> str:
    return _cell(metrics.Estimate(**{k: (math.nan if v is None else v) for k, v in estimate.items()}), digits)


if __name__ == "__main__":
    main()
