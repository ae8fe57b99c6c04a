"""Grid throughput: the same small grid with 1 worker and with k, interleaved → results/throughput.md.

Run by `python -m benchmarks suite throughput`. Each measurement starts from an empty folder, so
worker start-up is included; rounds of (1 worker, k workers) alternate so that a change in the
machine's load hits both.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

from benchmarks import PROGRAM
from rltransfer.errors import ConfigError
from rltransfer.experiments import GridSpec, run_grid
from rltransfer.experiments.provenance import command_line, machine_description, now_utc
from rltransfer.io import atomic_write_text

SPEEDUP_GOAL = 0.8
"""Speed-up goal per worker: k workers ≥ 0.8·k times one."""


def measure_throughput(
    work: Path, *, workers: int, runs: int, steps: int, repeats: int, progress: bool
) -> list[dict[str, float]]:
    """Time one small grid (CartPole-v1, scratch, `runs` seeds) with 1 worker and with `workers`, interleaved.

    Returns per measurement: workers, repeat, runs, steps, seconds, env steps per second and the
    1-minute load average before it started.
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


def throughput_section(throughput: list[dict[str, float]], workers: int) -> list[str]:
    """The markdown section of a throughput measurement: one row per round and the median speed-up."""
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
        goal = SPEEDUP_GOAL * workers
        verdict = "met" if median >= goal else "NOT met"
        lines += [
            "",
            f"Median speed-up over {len(speedups)} rounds: **{median:.2f}×** (best {max(speedups):.2f}×, worst "
            f"{min(speedups):.2f}×); target ≥ {SPEEDUP_GOAL}·k = {goal:.1f}× with k = {workers}: **{verdict}** on the "
            f"median. A load average above 0 before a round means other processes shared the machine's "
            f"{os.cpu_count()} cores during it, which takes CPU from k workers and from 1 alike but not in proportion.",
        ]
    return [*lines, ""]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `suite throughput`."""
    parser.add_argument("--workers", type=int, default=None, help="k (default: CPU cores)")
    parser.add_argument("--runs", type=int, default=6, help="runs in the grid (default 6)")
    parser.add_argument("--steps", type=int, default=4000, help="env steps per run (default 4000)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="interleaved rounds of 1 vs k workers (default 5: per-run times on a shared VM vary by up to 2x)",
    )
    parser.add_argument("--work", default="runs/throughput", help="scratch folders (emptied before each round)")
    parser.add_argument("--out", default="results/throughput.md", help="markdown file to write")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """`suite throughput`: measure and write results/throughput.md."""
    if min(args.runs, args.steps, args.repeats) <= 0:
        raise ConfigError("--runs, --steps and --repeats must be positive", fix="pass e.g. --runs 6 --steps 4000")
    workers = args.workers or os.cpu_count() or 1
    date, started = now_utc(), time.time()
    rows = measure_throughput(
        Path(args.work),
        workers=workers,
        runs=args.runs,
        steps=args.steps,
        repeats=args.repeats,
        progress=not args.no_progress,
    )
    lines = [
        "# Grid throughput",
        "",
        f"- command: `{command_line(PROGRAM)}`",
        f"- machine: {machine_description()}",
        f"- date: {date}",
        f"- wall time: {(time.time() - started) / 60:.1f} min",
        "",
        *throughput_section(rows, workers),
    ]
    atomic_write_text(args.out, "\n".join(lines))
    print(f"wrote {args.out}")
    return 0
