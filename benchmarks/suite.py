"""`python -m benchmarks suite`: the suite's targets × methods × seeds, and grid throughput → results/benchmark.md.

Every target is a zoo teacher moved to a changed task. All runs of all targets go through one
`run_grids` call (one process pool), so the file also says how long the whole suite took. The grid
throughput section times the same small grid with 1 and with k workers on this machine.
Runs are resumable: finished run folders in --work are reused (delete --work for a fresh measurement).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import PROGRAM
from rltransfer.errors import ConfigError
from rltransfer.experiments import GridSpec, parse_list, run_grid, run_grids
from rltransfer.experiments.provenance import command_line, machine_description, now_utc
from rltransfer.experiments.summary import read_grid_file, summary_body
from rltransfer.io import atomic_write_text
from rltransfer.registry import lookup

METHOD_ORDER = ("scratch", "finetune", "kickstart", "jsrl", "instance", "representation", "auto")


@dataclass(kw_only=True, frozen=True)
class SuiteTarget:
    """One target of the suite.

    Attributes:
        name: Short name (folder and table row).
        env_id: Target environment id.
        algo: Student algorithm.
        teacher: Zoo teacher the transfer methods start from.
        steps: Environment steps per run at --steps-scale 1.
        threshold: Return threshold of time to threshold.
        about: What makes the target interesting, in a few words.
    """

    name: str
    env_id: str
    algo: str
    teacher: str
    steps: int
    threshold: float
    about: str


TARGETS: tuple[SuiteTarget, ...] = (
    SuiteTarget(
        name="CartPole-LongPole",
        env_id="rltransfer/CartPole-LongPole-v0",
        algo="ppo",
        teacher="cartpole-ppo",
        steps=12_000,
        threshold=195.0,
        about="same spaces, pole twice as long",
    ),
    SuiteTarget(
        name="CartPole-Permuted",
        env_id="rltransfer/CartPole-Permuted-v0",
        algo="ppo",
        teacher="cartpole-ppo",
        steps=12_000,
        threshold=195.0,
        about="observations permuted and rescaled: the mapping comes from selection",
    ),
    SuiteTarget(
        name="Pendulum-Moon",
        env_id="rltransfer/Pendulum-Moon-v0",
        algo="sac",
        teacher="pendulum-sac",
        steps=4_000,
        threshold=-300.0,
        about="continuous control, moon gravity, SAC student",
    ),
)
"""The suite (CartPole thresholds: the classic 195 of CartPole-v0, reachable within the budget)."""


def register(subparsers: Any) -> None:
    """Add `python -m benchmarks suite`."""
    parser = subparsers.add_parser(
        "suite",
        help="every method vs scratch on the suite's targets, plus grid throughput",
        description="Run targets × methods × seeds through `compare`'s grid runner and write "
        "results/benchmark.md: metrics with 95% bootstrap CIs per target, an overview of transfer ratio and "
        "jumpstart, the suite's wall time, and grid throughput with k workers vs 1.",
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds per target and method (default 5)")
    parser.add_argument("--methods", default=",".join(METHOD_ORDER), help="comma-separated methods (default all)")
    parser.add_argument(
        "--targets",
        default=None,
        help=f"comma-separated target names (default all: {', '.join(t.name for t in TARGETS)})",
    )
    parser.add_argument("--steps-scale", type=float, default=1.0, help="multiply every target's step budget")
    parser.add_argument("--workers", type=int, default=None, help="parallel runs (default: CPU cores)")
    parser.add_argument("--work", default="runs/bench-suite", help="run folders (reused when finished)")
    parser.add_argument("--out", default="results/benchmark.md", help="markdown file to write")
    parser.add_argument("--zoo", default=None, help="teacher zoo (default: agents/)")
    parser.add_argument("--throughput-runs", type=int, default=6, help="runs in the throughput grid (0: skip it)")
    parser.add_argument("--throughput-steps", type=int, default=4000, help="steps per throughput run")
    parser.add_argument(
        "--throughput-repeats",
        type=int,
        default=5,
        help="interleaved rounds of 1 vs k workers (default 5: per-run times on a shared VM vary by up to 2x)",
    )
    parser.add_argument("--note", default="", help="a sentence added to the header (e.g. why a run was reduced)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=_run)


def select_targets(names: str | None) -> list[SuiteTarget]:
    """TARGETS, or the named subset (did-you-mean on typos)."""
    if not names:
        return list(TARGETS)

    table = {t.name.lower(): t for t in TARGETS}
    return [lookup(table, name, what="suite target") for name in parse_list(names, what="targets")]


def measure_throughput(
    work: Path, *, workers: int, runs: int, steps: int, repeats: int, progress: bool
) -> list[dict[str, float]]:
    """Time one small grid (CartPole-v1, scratch, `runs` seeds) with 1 worker and with `workers`, interleaved.

    Each measurement starts from an empty folder; `repeats` rounds of (1 worker, k workers) so that
    a change in the machine's load hits both. Returns per measurement: workers, repeat, runs, steps,
    seconds, env steps per second and the 1-minute load average before it started.
    """
    spec = GridSpec(env_ids=("CartPole-v1",), methods=("scratch",), seeds=tuple(range(runs)), total_timesteps=steps)
    rows = []
    for repeat in range(repeats):
        for count in sorted({1, workers}):
            folder = work / f"throughput-k{count}"
            shutil.rmtree(folder, ignore_errors=True)
            load = os.getloadavg()[0]
            report = run_grid(spec, folder, workers=count, progress=progress, command=f"throughput, {count} workers")
            if report.failed:
                raise ConfigError(f"throughput grid failed: {report.failed[0].error}", fix="check that training works")
            rows.append(
                {
                    "workers": count,
                    "repeat": repeat + 1,
                    "runs": runs,
                    "steps": runs * steps,
                    "seconds": report.run_seconds,
                    "steps_per_second": runs * steps / report.run_seconds,
                    "load_before": load,
                }
            )
    return rows


def _run(args: argparse.Namespace) -> int:

    if args.seeds <= 0 or args.steps_scale <= 0:
        raise ConfigError("--seeds and --steps-scale must be positive", fix="pass e.g. --seeds 5 --steps-scale 1")
    targets = select_targets(args.targets)
    methods = parse_list(args.methods, what="methods")
    workers = args.workers or os.cpu_count() or 1
    work = Path(args.work)
    zoo = str(Path(args.zoo).resolve()) if args.zoo else None
    grids = [
        (
            GridSpec(
                env_ids=(target.env_id,),
                methods=methods,
                seeds=tuple(range(args.seeds)),
                total_timesteps=max(1, round(target.steps * args.steps_scale)),
                algo=target.algo,
                teacher=target.teacher,
                zoo=zoo,
                threshold=target.threshold,
            ),
            work / target.name,
        )
        for target in targets
    ]
    started_date = now_utc()
    load_start = os.getloadavg()
    started = time.time()
    reports = run_grids(grids, workers=workers, progress=not args.no_progress, command=command_line(PROGRAM))
    suite_seconds = time.time() - started
    throughput = (
        measure_throughput(
            work,
            workers=workers,
            runs=args.throughput_runs,
            steps=args.throughput_steps,
            repeats=args.throughput_repeats,
            progress=not args.no_progress,
        )
        if args.throughput_runs > 0
        else []
    )
    text = render(
        targets=targets,
        grids=grids,
        reports=reports,
        methods=list(methods),
        header={
            "command": command_line(PROGRAM),
            "seeds": f"{', '.join(str(s) for s in range(args.seeds))} ({args.seeds} per target and method)",
            "machine": machine_description(),
            "date": started_date,
            "wall time": f"{suite_seconds / 60:.1f} min for the suite ({workers} workers), "
            f"{(time.time() - started) / 60:.1f} min with the throughput measurement" + _reused(reports, grids),
            "load average at start": ", ".join(f"{v:.2f}" for v in load_start),
        },
        reduced=_reduced(args),
        note=args.note,
        throughput=throughput,
        workers=workers,
    )

    atomic_write_text(args.out, text)
    failed = [o for r in reports for o in r.failed]
    print(f"wrote {args.out} ({suite_seconds / 60:.1f} min, {len(failed)} failed runs)")
    return 1 if failed else 0


def _reused(reports: list[Any], grids: list[Any]) -> str:
    reused = sum(r.skipped for r in reports)
    if not reused:
        return ""

    seconds: dict[str, float] = {}  # one entry per invocation (an invocation runs every target's grid)
    for _, folder in grids:
        for entry in read_grid_file(folder).get("invocations", []):
            if entry.get("finished") and entry.get("runs_trained"):
                seconds[entry["date"]] = max(seconds.get(entry["date"], 0.0), float(entry.get("run_seconds", 0.0)))
    return (
        f"; {reused} of {sum(r.total for r in reports)} runs were reused from earlier invocations in --work: "
        f"the suite's runs took {sum(seconds.values()) / 60:.1f} min over {len(seconds)} invocations"
    )


def _reduced(args: argparse.Namespace) -> str:
    parts = []
    if args.seeds < 5:
        parts.append(f"{args.seeds} seeds instead of 5")
    if args.steps_scale != 1.0:
        parts.append(f"step budgets × {args.steps_scale:g}")
    if args.targets:
        parts.append(f"targets {args.targets} only")
    if args.methods != ",".join(METHOD_ORDER):
        parts.append(f"methods {args.methods} only")
    return "; ".join(parts)


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:+.2f}" if abs(value) < 100 else f"{value:+.0f}"


def _overview(grids: list[Any], targets: list[SuiteTarget], methods: list[str], metric: str) -> list[str]:
    titles = ["target", *[m for m in methods if m != "scratch"]]
    lines = ["| " + " | ".join(titles) + " |", "|" + "|".join(["---"] + ["---:"] * (len(titles) - 1)) + "|"]
    for target, (_, folder) in zip(targets, grids, strict=True):
        path = Path(folder) / "summary.json"
        if not path.is_file():
            continue
        env = json.loads(path.read_text(encoding="utf-8"))["envs"][0]
        cells = [target.name]
        for method in titles[1:]:
            estimate = env["methods"].get(method, {}).get("estimates", {}).get(metric)
            if not estimate or estimate.get("mean") is None:
                cells.append("–")
                continue
            low, high = estimate.get("low"), estimate.get("high")
            cell = _number(estimate["mean"])
            if low is not None and high is not None:
                cell += f" [{_number(low)}, {_number(high)}]"
                if low > 0 or high < 0:  # the CI excludes 0: a resolved gain (bold) or loss (italic)
                    cell = f"**{cell}**" if low > 0 else f"*{cell}*"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render(
    *,
    targets: list[SuiteTarget],
    grids: list[Any],
    reports: list[Any],
    methods: list[str],
    header: dict[str, str],
    reduced: str,
    note: str,
    throughput: list[dict[str, float]],
    workers: int,
) -> str:
    """results/benchmark.md."""
    lines = ["# rltransfer benchmark suite", ""]
    lines += [f"- command: `{header['command']}`"] + [f"- {k}: {v}" for k, v in header.items() if k != "command"]
    if reduced:
        lines.append(f"- **reduced run**: {reduced} (the full suite is `python -m benchmarks suite` with its defaults)")
    if note:
        lines.append(f"- note: {note}")
    failed = [o for r in reports for o in r.failed]
    if failed:
        lines.append(f"- **{len(failed)} runs failed**: " + "; ".join(f"{o.key}: {o.error}" for o in failed[:5]))
    lines += ["", "Targets (teacher → target, student algorithm, steps per run):", ""]
    for target, (spec, _) in zip(targets, grids, strict=True):
        lines.append(
            f"- **{target.name}**: {target.teacher} → `{target.env_id}`, {target.algo.upper()}, "
            f"{spec.total_timesteps:,} steps, threshold {target.threshold:g} — {target.about}"
        )
    lines += [
        "",
        "## Transfer ratio against scratch",
        "",
        "(AUC − AUC_scratch) / |AUC_scratch| with a 95% two-sample bootstrap CI over seeds. **Bold**: the CI is "
        "above 0 (transfer helped); *italic*: below 0 (negative transfer); plain: not resolved.",
        "",
        *_overview(grids, targets, methods, "transfer_ratio"),
        "",
        "## Jumpstart against scratch",
        "",
        "Mean return of the first 10 training episodes minus scratch's, same CI and marks.",
        "",
        *_overview(grids, targets, methods, "jumpstart"),
        "",
    ]
    lines += _throughput_section(throughput, workers)
    for target, (_, folder) in zip(targets, grids, strict=True):
        summary = Path(folder) / "summary.md"
        if not summary.is_file():
            continue
        section = summary_body(summary.read_text(encoding="utf-8"))
        # the target's own diagnosis ("## Where and why", "### <env>") goes one level down, under the target
        section = section.replace("\n### ", "\n#### ").replace("\n## Where and why", "\n### Where and why")
        lines += [section.replace("## ", f"## {target.name}: ", 1).rstrip(), ""]
    lines += [
        "Metrics (per target, from `rltransfer.metrics`): initial return = mean of the first 10 episodes; "
        "asymptote = mean return in the last 10% of steps; AUC = area under the learning curve / steps; time to "
        "threshold = first step where the mean of the last 10 episodes reaches the threshold (unreached seeds "
        "count as the budget: ≥). Source-task training is not counted. Each target's runs, summary.md, "
        "learning_curves.png and TensorBoard folder (`tensorboard --logdir <work>/<target>/tb`) are in --work.",
        "",
    ]
    return "\n".join(lines)


def _throughput_section(throughput: list[dict[str, float]], workers: int) -> list[str]:
    if not throughput:
        return []
    first = throughput[0]
    lines = [
        "## Grid throughput",
        "",
        f"The same grid ({int(first['runs'])} CartPole-v1 scratch runs of {int(first['steps'] / first['runs']):,} "
        f"steps, PPO) from an empty folder with 1 worker and with {workers}, in interleaved rounds; time from the "
        "first submission to the last result, worker start-up included. Speed-up: k workers over 1 in the same round.",
        "",
        "| round | workers | seconds | env steps / s | speed-up | load average before |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    speedups = []
    for row in throughput:
        single = next(r for r in throughput if r["repeat"] == row["repeat"] and r["workers"] == 1)
        speedup = row["steps_per_second"] / single["steps_per_second"]
        if row["workers"] == workers and workers > 1:
            speedups.append(speedup)
        lines.append(
            f"| {int(row['repeat'])} | {int(row['workers'])} | {row['seconds']:.1f} | "
            f"{row['steps_per_second']:.0f} | {speedup:.2f}× | {row['load_before']:.2f} |"
        )
    if speedups:
        median = statistics.median(speedups)
        target = 0.8 * workers
        verdict = "met" if median >= target else "NOT met"
        lines += [
            "",
            f"Median speed-up over {len(speedups)} rounds: **{median:.2f}×** (best {max(speedups):.2f}×, worst "
            f"{min(speedups):.2f}×); target ≥ 0.8·k = {target:.1f}× with k = {workers}: **{verdict}** on the median. "
            f"A load average above 0 before a round means other processes shared the machine's {os.cpu_count()} "
            "cores during it, which takes CPU from k workers and from 1 alike but not in proportion.",
        ]
    return [*lines, ""]
