"""Wall time per env step of transfer kept on for a whole run against plain SB3 (the representation benchmark)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from rltransfer.training import TrainConfig, is_finished, train_student

OVERHEAD_CASES = (
    ("ppo", "rltransfer/CartPole-Heavy-v0", "cartpole-ppo", 8_000),
    ("dqn", "rltransfer/CartPole-Heavy-v0", "cartpole-ppo", 6_000),
    ("sac", "rltransfer/Pendulum-Moon-v0", "pendulum-sac", 6_000),
)
"""Algorithm, target, teacher, steps: budgets that leave the student ≥ half its steps after the transfer's own."""
OVERHEAD_MODES: dict[str, tuple[str, dict[str, Any]]] = {
    "plain SB3": ("scratch", {}),
    "representation (defaults)": ("representation", {"init_from_teacher": False}),
    "representation (always on)": ("representation", {"weight_schedule": "constant", "init_from_teacher": False}),
    "instance (always on)": ("instance", {"decay_fraction": 1.0}),
}


def measure_overhead(
    work: Path, *, repeats: int, zoo: str | None, started: float, modes: tuple[str, ...] = tuple(OVERHEAD_MODES)
) -> list[str]:
    """Wall time per env step with transfer kept on all run vs plain SB3, repeats interleaved (markdown lines).

    `modes` are keys of OVERHEAD_MODES ("plain SB3" is always measured: it is the reference).
    """
    chosen = {label: OVERHEAD_MODES[label] for label in OVERHEAD_MODES if label == "plain SB3" or label in modes}
    timings: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for repeat in range(repeats):
        for algo, env_id, teacher, steps in OVERHEAD_CASES:
            for label, (method, transfer) in chosen.items():
                slug = label.replace(" (", "-").replace(")", "").replace(" ", "-")  # two modes share a method
                run = work / f"{algo}-{slug}-r{repeat}"
                if not is_finished(run):
                    print(f"[{time.time() - started:6.0f}s] overhead {algo} {label} repeat {repeat}", flush=True)
                    config = TrainConfig(
                        env_id=env_id, algo=algo, total_timesteps=steps, seed=0, method=method,
                        teacher=None if method == "scratch" else teacher, zoo=zoo, transfer=transfer,
                    )  # fmt: skip
                    train_student(config, run, command="python -m benchmarks representation (overhead)")
                result = json.loads((run / "result.json").read_text())
                loop = result["learn_seconds"] - result.get("transfer_setup_seconds", 0.0)
                in_process = loop / max(loop - result.get("transfer_step_seconds", 0.0), 1e-9)
                own = steps - result.get("transfer_env_steps", 0)  # the loop acts for the student's own steps only
                timings.setdefault((algo, label), []).append((result["learn_seconds"] / steps, loop / own, in_process))
    lines = [
        "## Overhead: wall time per env step with transfer on vs plain SB3",
        "",
        f"Same algorithm, hyperparams of record, seed 0; {repeats} repeats run interleaved (every mode, then the "
        "next algorithm) to spread the shared machine's load; the table gives the median. No weight copy: the "
        "student is distil-initialised. 'defaults': the decaying distillation term as `representation` runs it "
        "(QDagger's weight, off once the student matches the teacher). 'always on': a constant weight, so the "
        "distillation and layer-matching step runs after every update (instance: replay mixing / DAPG / DQfD "
        "margin never annealed to 0). 'loop' excludes the one-time setup (probes, demonstration collection, "
        "distil-initialise) and is per env step of the student's own (the setup's env steps are on its clock). "
        "The last column is measured inside each transfer run (robust to the machine's load): loop time divided "
        "by loop time minus the time spent in transfer code (extra gradient steps with the teacher's forward "
        "passes, controller windows, teacher-row sampling and concatenation in the replay buffer). "
        "Target: ≤ 1.15×.",
        "",
        "| algorithm (env, steps) | mode | ms/step (total) | ms/step (loop) | × plain (total) | × plain (loop) "
        "| × plain (loop, in-process) |",
        "|---|---|---|---|---|---|---|",
    ]
    for algo, env_id, _teacher, steps in OVERHEAD_CASES:
        base_total, base_loop, _ = (float(np.median(v)) for v in zip(*timings[(algo, "plain SB3")], strict=True))
        for label in chosen:
            total, loop, in_process = (float(np.median(v)) for v in zip(*timings[(algo, label)], strict=True))
            lines.append(
                f"| {algo} ({env_id.split('/')[-1]}, {steps}) | {label} | {1000 * total:.3f} | {1000 * loop:.3f} | "
                f"{total / base_total:.2f}× | {loop / base_loop:.2f}× | {in_process:.2f}× |"
            )
    return lines
