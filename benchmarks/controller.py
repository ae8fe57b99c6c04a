"""`python -m benchmarks controller`: transfer modes × targets × seeds → results/controller.md.

Related targets (a teacher from the zoo moved to a changed task) and a misleading one (CartPole with
swapped actions, identity mapping forced) × modes {none, representation, instance, auto} × seeds.
Reports steps to threshold and area under the learning curve relative to no transfer (scratch),
95% bootstrap CIs over seeds, the controller's path, and wall time per env step against plain SB3.
Runs are resumable: finished run folders in --work are reused.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks import PROGRAM
from benchmarks.overhead import measure_overhead
from rltransfer.experiments.provenance import command_line, machine_description, now_utc
from rltransfer.io import atomic_write_text
from rltransfer.make import make_env
from rltransfer.mapping import Mapping
from rltransfer.rollouts import evaluate
from rltransfer.training import TrainConfig, is_finished, read_episodes, train_student
from rltransfer.zoo import load_teacher

MODES = ("none", "representation", "instance", "auto")


@dataclass(frozen=True)
class Target:
    """One benchmark target: env, student algorithm, teacher, budget, threshold and whether it misleads."""

    name: str
    env_id: str
    algo: str
    teacher: str
    steps: int
    threshold: float
    misleading: bool = False
    identity_mapping: bool = False


def targets(cartpole_steps: int, pendulum_steps: int) -> list[Target]:
    """The suite: CartPole variants from cartpole-ppo, Pendulum-Moon from pendulum-sac, CartPole-Reversed."""
    cartpole = dict(algo="ppo", teacher="cartpole-ppo", steps=cartpole_steps, threshold=195.0)
    return [
        Target(name="CartPole-Heavy", env_id="rltransfer/CartPole-Heavy-v0", **cartpole),  # type: ignore[arg-type]
        Target(name="CartPole-LongPole", env_id="rltransfer/CartPole-LongPole-v0", **cartpole),  # type: ignore[arg-type]
        Target(name="CartPole-Permuted", env_id="rltransfer/CartPole-Permuted-v0", **cartpole),  # type: ignore[arg-type]
        Target(
            name="Pendulum-Moon",
            env_id="rltransfer/Pendulum-Moon-v0",
            algo="sac",
            teacher="pendulum-sac",
            steps=pendulum_steps,
            threshold=-300.0,
        ),
        Target(
            name="CartPole-Reversed (misleading)",
            env_id="rltransfer/CartPole-Reversed-v0",
            misleading=True,
            identity_mapping=True,
            **cartpole,  # type: ignore[arg-type]
        ),
    ]


def register(subparsers: Any) -> None:
    """Add `python -m benchmarks controller`."""
    parser = subparsers.add_parser(
        "controller",
        help="transfer modes vs scratch on related and misleading targets",
        description="Train students with transfer modes none/representation/instance/auto on related and "
        "misleading targets over several seeds; write results/controller.md.",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per target and mode (default 3)")
    parser.add_argument("--cartpole-steps", type=int, default=15_000, help="PPO steps on CartPole targets")
    parser.add_argument("--pendulum-steps", type=int, default=5_000, help="SAC steps on Pendulum-Moon")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes (default all)")
    parser.add_argument("--only", default=None, help="comma-separated target names to run (default all)")
    parser.add_argument("--work", default="runs/bench-controller", help="run folders (reused when finished)")
    parser.add_argument("--out", default="results/controller.md", help="markdown file to write")
    parser.add_argument("--zoo", default=None, help="teacher zoo (default: agents/)")
    parser.add_argument(
        "--overhead-repeats", type=int, default=3, help="interleaved repeats of the overhead timing (0: skip it)"
    )
    parser.set_defaults(handler=_run)


def _config(target: Target, mode: str, seed: int, zoo: str | None) -> Any:

    mapping = None
    if target.identity_mapping:
        mapping = Mapping.identity(load_teacher(target.teacher, zoo).card.observation_space).to_dict()
    return TrainConfig(
        env_id=target.env_id,
        algo=target.algo,
        total_timesteps=target.steps,
        seed=seed,
        method="scratch" if mode == "none" else mode,
        teacher=None if mode == "none" else target.teacher,
        zoo=zoo,
        mapping=None if mode == "none" else mapping,
    )


def _curve(episodes: np.ndarray, total: int, points: int = 51) -> np.ndarray:
    """10-episode moving mean of training returns on a grid of steps.

    Before the first finished episode the curve holds that episode's return (back-filled): a student
    whose first episodes are long, good ones is not scored as random while they run.
    """
    grid = np.linspace(0, total, points)
    values = np.full(points, float(episodes[0, 1]) if len(episodes) else math.nan)
    for i, step in enumerate(grid):
        done = episodes[episodes[:, 0] <= step]
        if len(done):
            values[i] = float(np.mean(done[-10:, 1]))
    return values


def _steps_to_threshold(episodes: np.ndarray, threshold: float) -> float:
    returns = episodes[:, 1]
    for i in range(len(returns)):
        if np.mean(returns[max(0, i - 9) : i + 1]) >= threshold and i >= 4:
            return float(episodes[i, 0])
    return math.inf


def _ci(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2 or np.ptp(finite) == 0:
        return (finite[0], finite[0]) if finite else (math.nan, math.nan)
    from scipy.stats import bootstrap

    result = bootstrap((np.asarray(finite),), np.mean, n_resamples=2000, method="percentile", random_state=0)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _random_return(env_id: str, episodes: int = 10) -> float:

    env = make_env(env_id)
    env.action_space.seed(0)
    try:
        return evaluate(env, lambda _obs: env.action_space.sample(), episodes=episodes, seed=40_000).mean
    finally:
        env.close()


def _path_of(run: Path) -> str:
    """The sequence of modes auto went through, with the step of each switch."""
    rows = [json.loads(line) for line in (run / "decisions.jsonl").read_text().splitlines() if line.strip()]
    path: list[str] = []
    for row in rows:
        label = f"{row['mode']}@{row['step']}"
        if not path or path[-1].split("@")[0] != row["mode"]:
            path.append(label)
    return " → ".join(path)


def _sum_wall(rows: dict[str, Any]) -> float:
    return float(sum(r["result"]["wall_seconds"] for modes in rows.values() for runs in modes.values() for r in runs))


def _fmt(value: float, digits: int = 2) -> str:
    if not math.isfinite(value):
        return "–" if math.isnan(value) else ("∞" if value > 0 else "−∞")
    return f"{value:.{digits}f}"


def _run(args: argparse.Namespace) -> int:

    torch.set_num_threads(1)
    started = time.time()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    suite = targets(args.cartpole_steps, args.pendulum_steps)
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        suite = [t for t in suite if t.name.split(" ")[0] in wanted]
    work = Path(args.work)
    rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for target in suite:
        rows[target.name] = {}
        for mode in modes:
            rows[target.name][mode] = []
            for seed in range(args.seeds):
                run = work / target.name.split(" ")[0] / mode / f"seed{seed}"
                if not is_finished(run):
                    print(f"[{time.time() - started:6.0f}s] {target.name} {mode} seed {seed}", flush=True)
                    train_student(_config(target, mode, seed, args.zoo), run, command="python -m benchmarks controller")
                result = json.loads((run / "result.json").read_text())
                rows[target.name][mode].append({"run": run, "result": result, "episodes": read_episodes(run)})
    overhead = (
        ["", *measure_overhead(work / "overhead", repeats=args.overhead_repeats, zoo=args.zoo, started=started)]
        if args.overhead_repeats > 0
        else []
    )
    text = _report(suite, modes, rows, args, time.time() - started) + "\n".join(overhead) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, text)
    print(f"wrote {args.out} ({time.time() - started:.0f}s)")
    return 0


def _report(suite: list[Target], modes: list[str], rows: dict[str, Any], args: argparse.Namespace, wall: float) -> str:
    command = command_line(PROGRAM)
    lines = [
        "# Transfer controller benchmark",
        "",
        f"- Command: `{command}`",
        f"- Date: {now_utc()}",
        f"- Machine: {machine_description()}, shared with other jobs (timings are noisy), torch 1 thread",
        f"- Seeds: 0..{args.seeds - 1} per target and mode; budgets: PPO {args.cartpole_steps} steps on CartPole "
        f"targets, SAC {args.pendulum_steps} steps on Pendulum-Moon (hyperparams of record)",
        f"- Wall time of this invocation: {wall / 60:.1f} min (finished runs in --work are reused); sum of the "
        f"training runs' wall times in the table: {_sum_wall(rows) / 60:.1f} min",
        "",
        "Modes: `none` = plain SB3 (scratch); `representation`, `instance` = the controller's fixed modes; "
        "`auto` = the controller switching. Steps to threshold: first training step where the 10-episode moving "
        "mean of training returns reaches the threshold (CartPole 195, the classic v0 bar, since 475 is out of "
        "reach of scratch at these budgets; Pendulum-Moon −300). AUC: mean over 51 evenly spaced steps of that "
        "moving mean (back-filled with the first episode's return before it ends), as a ratio to scratch's AUC "
        "(Pendulum, with negative returns: (AUC − random)/(AUC_scratch − random)), so 1.0 = scratch. "
        "CIs: 95% percentile bootstrap over seeds of the mean (3 seeds make them wide). Overhead: `model.learn` "
        "wall time per env step relative to `none` on the same target, with and without the one-time setup "
        "(teacher/random probes, demonstration collection; selection's mapping search for Permuted runs before "
        "learn and is not counted). Extra env steps: target steps spent outside training (teacher and random "
        "probes, teacher demonstrations), not counted in the budget.",
        "",
        "Read with care: (1) a student that starts perfect (500-step episodes on 8 envs) cannot show the threshold "
        "before step 4000 (5 finished episodes are needed), so 4000 is the measurement floor of the CartPole "
        "rows and their ratios are bounded by it. (2) When scratch misses the threshold, the ratio uses the budget "
        "as scratch's time and is an upper bound (≤). (3) The s/1k steps and overhead columns of this table come "
        "from runs that shared 2 cores with other engineers' jobs (load 2–4.5) and vary up to 3× between "
        "identical runs; in auto and QDagger-weighted runs transfer also switches itself off once the student "
        "catches up. The section 'Overhead' below measures the cost of transfer that stays on, interleaved.",
        "",
        "| target | mode | steps to threshold (median) | × scratch | AUC (95% CI) | AUC vs scratch | final return "
        "| s/1k steps | overhead | overhead w/o setup | extra env steps |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    paths: list[str] = []
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for target in suite:
        # AUC ratios: plain for positive returns (CartPole); shifted by the random return where returns are
        # negative (Pendulum), so that "1.0 = scratch" keeps its meaning
        floor = min(0.0, _random_return(target.env_id))
        per_mode: dict[str, dict[str, Any]] = {}
        for mode in modes:
            runs = rows[target.name][mode]
            aucs = [float(np.mean(_curve(r["episodes"], target.steps))) for r in runs]
            ttt = [_steps_to_threshold(r["episodes"], target.threshold) for r in runs]
            per_step = [r["result"].get("learn_seconds", r["result"]["wall_seconds"]) / target.steps for r in runs]
            per_step_loop = [
                (r["result"].get("learn_seconds", 0.0) - r["result"].get("transfer_setup_seconds", 0.0)) / target.steps
                for r in runs
            ]
            finals = [r["result"]["final_return"] for r in runs]
            extra = [r["result"].get("transfer_env_steps", 0) for r in runs]
            per_mode[mode] = {
                "auc": aucs,
                "ttt": ttt,
                "per_step": float(np.mean(per_step)),
                "final": finals,
                "extra": extra,
                "per_step_loop": float(np.mean(per_step_loop)),
            }
            if mode == "auto":
                paths += [f"- {target.name}, seed {i}: {_path_of(r['run'])}" for i, r in enumerate(runs)]
        base = per_mode.get("none")
        for mode in modes:
            data = per_mode[mode]
            median_ttt = float(np.median(data["ttt"]))
            auc_mean = float(np.mean(data["auc"]))
            low, high = _ci(data["auc"])
            ratio_ttt = ratio_auc = overhead = overhead_loop = math.nan
            if base is not None:
                base_ttt = float(np.median(base["ttt"]))
                if math.isfinite(base_ttt):
                    ratio_ttt = median_ttt / base_ttt if math.isfinite(median_ttt) else math.inf
                elif math.isfinite(median_ttt):
                    ratio_ttt = median_ttt / target.steps  # scratch missed: this is an upper bound (≤)
                denominator = float(np.mean(base["auc"])) - floor
                ratio_auc = (auc_mean - floor) / denominator if abs(denominator) > 1e-9 else math.nan
                overhead = data["per_step"] / base["per_step"]
                overhead_loop = data["per_step_loop"] / base["per_step_loop"]
            summary.setdefault(target.name, {})[mode] = {
                "auc_ratio": ratio_auc,
                "ttt_ratio": ratio_ttt,
                "auc_mean": auc_mean,
                "auc_low": low,
                "auc_high": high,
            }
            scratch_missed = base is not None and not math.isfinite(float(np.median(base["ttt"])))
            ttt_cell = _fmt(median_ttt, 0) if math.isfinite(median_ttt) else f"not reached (>{target.steps})"
            ratio_cell = ("≤ " if scratch_missed and math.isfinite(ratio_ttt) else "") + _fmt(ratio_ttt)
            lines.append(
                f"| {target.name} | {mode} | {ttt_cell} | {ratio_cell} | {_fmt(auc_mean, 1)} ({_fmt(low, 1)}, "
                f"{_fmt(high, 1)}) | {_fmt(ratio_auc)} | {_fmt(float(np.mean(data['final'])), 1)} | "
                f"{_fmt(1000 * data['per_step'])} | {_fmt(overhead)}× | {_fmt(overhead_loop)}× | "
                f"{int(np.mean(data['extra']))} |"
            )
    lines += ["", "## The controller's path (auto)", "", *paths, ""]
    lines.append("")
    lines += _verdict(suite, summary)
    return "\n".join(lines) + "\n"


def _verdict(suite: list[Target], summary: dict[str, dict[str, Any]]) -> list[str]:
    """The issue's three claims, checked against the measured table."""
    lines = ["## Against the issue's targets", ""]
    lines.append(
        "'As good within CIs' means auto's CI upper end reaches the best fixed mode's CI lower end; with 3 seeds "
        "that is a weak test, so the means are given too."
    )
    lines.append("")
    related = [t for t in suite if not t.misleading]
    ratios = [summary[t.name]["auto"]["ttt_ratio"] for t in related if "auto" in summary.get(t.name, {})]
    finite = [r for r in ratios if math.isfinite(r)]
    if ratios:
        median = float(np.median([r if math.isfinite(r) else math.inf for r in ratios]))
        verdict = "met" if median <= 0.25 else "MISSED"
        lines.append(
            f"- Steps to threshold, auto vs scratch, median over {len(ratios)} related targets: {_fmt(median)}× "
            f"(per target: {', '.join(_fmt(r) for r in ratios)}; target ≤ 0.25×): {verdict}. "
            f"{len(ratios) - len(finite)} target(s) without a ratio (auto, and there scratch too, never reached "
            "the threshold within the budget) count as ∞."
        )
    for target in [t for t in suite if t.misleading]:
        auc = summary.get(target.name, {}).get("auto", {}).get("auc_ratio", math.nan)
        verdict = "met" if math.isfinite(auc) and auc >= 0.95 else "MISSED"
        lines.append(
            f"- Misleading teacher ({target.name}): auto AUC = {_fmt(auc)}× scratch (target ≥ 0.95): {verdict}."
        )
    for target in related:
        modes = summary.get(target.name, {})
        if "auto" not in modes:
            continue
        fixed = {m: v for m, v in modes.items() if m in ("none", "representation", "instance")}
        best = max(fixed, key=lambda m: fixed[m]["auc_mean"])
        auto = modes["auto"]
        ok = auto["auc_high"] >= fixed[best]["auc_low"]
        lines.append(
            f"- {target.name}: best fixed mode {best} (AUC {_fmt(fixed[best]['auc_mean'], 1)}, CI "
            f"{_fmt(fixed[best]['auc_low'], 1)}–{_fmt(fixed[best]['auc_high'], 1)}), auto {_fmt(auto['auc_mean'], 1)} "
            f"(CI {_fmt(auto['auc_low'], 1)}–{_fmt(auto['auc_high'], 1)}): "
            f"{'as good within CIs' if ok else 'WORSE than the best fixed mode'}."
        )
    return lines
