"""`python -m benchmarks distill`: distil the zoo's teachers into students of ≤ 10% of their acting parameters.

For each task, `rltransfer.distill.distill` runs with an agreement threshold of 0.98 and a return threshold
of 0.95 (student − random over teacher − random, 20 episodes each, the same seeds for all three), deploys
into a temporary zoo, and the figures are written to results/distill.md headed by the command, seeds,
machine and date. Targets: student ≤ 10% of the teacher's acting parameters, ≥ 95% of its return, ≥ 98%
agreement, on at least three tasks from two families, one with continuous actions.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmarks import PROGRAM
from rltransfer.distill import DistillConfig, distill
from rltransfer.experiments.provenance import command_line, machine_description, now_utc
from rltransfer.io import atomic_write_text


@dataclass(kw_only=True, frozen=True)
class DistillTask:
    """One benchmark row: which teacher, which target, which student size.

    Attributes:
        teacher: Zoo name of the teacher.
        env_id: Target task.
        hidden: Student hidden sizes, chosen so the student has ≤ 10% of the teacher's acting parameters.
        updates: Gradient steps per round for this task (None: the command's --updates).
        dagger_rounds: DAgger rounds for this task (None: the command's --dagger-rounds).
        note: Why this pairing.
    """

    teacher: str
    env_id: str
    hidden: tuple[int, ...]
    updates: int | None = None
    dagger_rounds: int | None = None
    note: str = ""


TASKS: tuple[DistillTask, ...] = (
    DistillTask(
        teacher="cartpole-generalist-ppo",
        env_id="rltransfer/CartPole-LongPole-v0",
        hidden=(32, 32),
        note="generalist (randomised physics, [256, 256]) → one variant",
    ),
    DistillTask(
        teacher="cartpole-generalist-ppo",
        env_id="rltransfer/CartPole-Heavy-v0",
        hidden=(32, 32),
        note="generalist (randomised physics, [256, 256]) → one variant",
    ),
    DistillTask(
        teacher="acrobot-dqn",
        env_id="rltransfer/Acrobot-v0",
        hidden=(16, 16),
        note="[64, 64] DQN: a [32, 32] student would be 27% of it, so [16, 16]",
    ),
    DistillTask(
        teacher="pendulum-sac",
        env_id="rltransfer/Pendulum-v0",
        hidden=(16, 16),
        updates=4000,
        dagger_rounds=6,
        note="[64, 64] SAC actor, continuous torque: a [32, 32] student would be 27% of it, so [16, 16]; "
        "its sharper policy needs more steps and rounds",
    ),
)

AGREEMENT_TARGET = 0.98
RETURN_TARGET = 0.95
PARAM_TARGET = 0.10


def register(subparsers: Any) -> None:
    """Add `python -m benchmarks distill`."""
    parser = subparsers.add_parser(
        "distill",
        help="distil zoo teachers into ≤10%%-size students (agreement, return, size, latency)",
        description="Distil the zoo's teachers into small task-specific students with agreement threshold "
        "0.98 and return threshold 0.95, and write results/distill.md.",
    )
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--zoo", default=None, metavar="DIR", help="teacher zoo (default: the shipped one)")
    parser.add_argument("--samples", type=int, default=4000, help="labelled states per round (default 4000)")
    parser.add_argument("--dagger-rounds", type=int, default=4, help="DAgger rounds (default 4)")
    parser.add_argument("--updates", type=int, default=1500, help="gradient steps per round (default 1500)")
    parser.add_argument(
        "--tasks", default=None, help="comma-separated row numbers of TASKS to run (default all), e.g. 0,2"
    )
    parser.add_argument("--out", default="results/distill.md", help="output file")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:

    torch.set_num_threads(1)
    seeds = [int(seed) for seed in str(args.seeds).split(",") if seed.strip()]
    tasks = TASKS if args.tasks is None else tuple(TASKS[int(i)] for i in str(args.tasks).split(","))
    started = time.perf_counter()
    rows: list[tuple[DistillTask, int, Any, float]] = []
    with tempfile.TemporaryDirectory(prefix="rltransfer-distill-") as scratch:
        for task in tasks:
            for seed in seeds:
                config = DistillConfig(
                    hidden=task.hidden,
                    threshold=AGREEMENT_TARGET,
                    return_threshold=RETURN_TARGET,
                    samples=args.samples,
                    dagger_rounds=task.dagger_rounds if task.dagger_rounds is not None else args.dagger_rounds,
                    updates=task.updates if task.updates is not None else args.updates,
                    seed=seed,
                )
                began = time.perf_counter()
                report = distill(
                    task.teacher,
                    task.env_id,
                    zoo=args.zoo,
                    out=os.path.join(scratch, f"seed{seed}"),
                    check=False,
                    config=config,
                )
                rows.append((task, seed, report, time.perf_counter() - began))
                print(
                    f"{task.teacher} → {task.env_id} seed {seed}: agreement {report.agreement:.4f}, return ratio "
                    f"{report.return_ratio:.3f}, params {100 * report.param_ratio:.1f}%, "
                    f"{'deployed' if report.passed else 'NOT deployed'}",
                    flush=True,
                )
    body = _markdown(rows, seeds, command_line(PROGRAM), time.perf_counter() - started, args)
    atomic_write_text(args.out, body)
    print(f"wrote {args.out}")
    return 0


def _meets(report: Any) -> bool:
    return bool(
        report.param_ratio <= PARAM_TARGET
        and report.agreement >= AGREEMENT_TARGET
        and report.return_ratio >= RETURN_TARGET
        and report.onnx_check.get("passed", False)
    )


def _markdown(
    rows: list[tuple[DistillTask, int, Any, float]], seeds: list[int], command: str, seconds: float, args: Any
) -> str:
    import onnxruntime

    lines = [
        "# Distillation: small task-specific students from the zoo's teachers",
        "",
        f"Command: `{command}`",
        "",
        f"Seeds: {', '.join(map(str, seeds))}. Date: {now_utc()}. Wall time: {seconds / 60:.1f} min.",
        "",
        f"Machine: {machine_description()}, shared with other jobs (load varies); torch 1 thread, onnxruntime "
        f"{onnxruntime.__version__} (1 thread).",
        "",
        f"Settings: {args.samples} labelled states per round, {args.dagger_rounds} DAgger rounds, {args.updates} "
        "Adam steps per round (batch 256, lr 3e-3 cosine to 3e-4) unless a task below says otherwise, agreement "
        "threshold 0.98, return threshold 0.95, continuous tolerance 5% of the action range, 20 evaluation "
        "episodes.",
        "",
        "Tasks:",
        "",
        *[
            f"- {task.teacher} → {task.env_id}, student {list(task.hidden)}"
            + (f", {task.updates} steps per round" if task.updates else "")
            + (f", {task.dagger_rounds} DAgger rounds" if task.dagger_rounds is not None else "")
            + f": {task.note}"
            for task in dict.fromkeys(task for task, _, _, _ in rows)
        ],
        "",
        "Targets: student ≤ 10% of the teacher's acting parameters, ≥ 95% of its return, ≥ 98% agreement.",
        "",
        "| teacher → target | seed | student | params teacher / student (ratio) | agreement (teacher's / "
        "student's states) | return teacher / student / random | return ratio | latency torch teacher / "
        "student, ORT student (ms) | ONNX = torch | deployed | targets met | time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, seed, report, took in rows:
        latency = report.latency_ms
        lines.append(
            f"| {task.teacher} → {task.env_id} | {seed} | {report.algo} {list(task.hidden)} | "
            f"{report.teacher_params:,} / {report.student_params:,} ({100 * report.param_ratio:.1f}%) | "
            f"{report.agreement:.4f} ({report.agreement_teacher_states:.4f} / {report.agreement_student_states:.4f})"
            f" | {report.teacher_return:.1f} / {report.student_return:.1f} / {report.random_return:.1f} | "
            f"{report.return_ratio:.3f} | {latency['teacher_torch']:.3f} / {latency['student_torch']:.3f}, "
            f"{latency['student_onnx']:.3f} | {report.onnx_check.get('matching', 0)}/"
            f"{report.onnx_check.get('states', 0)} | {'yes' if report.passed else 'no'} | "
            f"{'yes' if _meets(report) else 'no'} | {took:.0f}s |"
        )
    met = [(task, report) for task, _, report, _ in rows if _meets(report)]
    families = sorted({report.env_id.split("/")[-1].split("-")[0] for _, report in met})
    continuous = any(task.env_id.endswith("Pendulum-v0") for task, _ in met)
    lines += [
        "",
        f"Rows meeting every target: {len(met)} of {len(rows)}; families among them: {', '.join(families) or 'none'}"
        f"; a continuous-action task among them: {'yes' if continuous else 'no'}.",
        "",
    ]
    failed = [(task, seed, report) for task, seed, report, _ in rows if not report.passed]
    if failed:
        lines.append("Gate failures (reported as measured):")
        lines.append("")
        for task, seed, report in failed:
            lines.append(f"- {task.teacher} → {task.env_id} seed {seed}: {report.failure_line()}")
        lines.append("")
    mean_ratio = float(np.mean([report.param_ratio for _, _, report, _ in rows])) if rows else float("nan")
    lines += [
        "## How the figures are measured",
        "",
        "- **Parameters** count the acting network only — what runs at inference: features extractor, hidden "
        "layers and action head (PPO/A2C policy net + action net, DQN online Q-network, SAC actor trunk + mean "
        f"layer, TD3 actor); critics, value heads, target networks and log-std are excluded. Mean ratio "
        f"{100 * mean_ratio:.1f}%.",
        "- **Agreement** is measured on held-out states: every state of the teacher's and the student's 20 "
        "evaluation episodes (seeds disjoint from the training rollouts). Discrete: the same greedy action. "
        "Continuous: |Δ| ≤ 5% of the action range on every dimension.",
        "- **Return ratio** is (R_student − R_random) / (R_teacher − R_random) over the same 20 seeded episodes, "
        "so it is sound for negative returns (Pendulum, Acrobot); R_random is a uniformly random policy.",
        "- **Latency** is the median of 1000 batch-1 calls of the deterministic action function on one CPU "
        "thread (torch without autograd; onnxruntime CPU provider). At these sizes per-call overhead dominates, "
        "so the torch figures of teacher and student are close; the machine is shared, so they are noisy.",
        "- **ONNX = torch**: onnxruntime's actions against torch's on every held-out state (exact for discrete, "
        "≤ 1e-5 for continuous); a mismatch would fail the gate.",
        "- Students are trained by cross-entropy to the teacher's action probabilities (PPO: softmax of the "
        "logits; DQN: softmax(Q/0.01), Rusu et al. 2016) or by squared error to its deterministic action in "
        "range units (SAC), on teacher rollouts (10% random actions) followed by DAgger rounds (Ross et al. "
        "2011) in which the student acts and the teacher labels.",
        "",
    ]
    return "\n".join(lines)
