"""Grid throughput: the same grid with 1 worker and with k, interleaved → results/throughput.md.

Run by `python -m benchmarks suite throughput`. Each measurement starts from an empty folder, so
worker start-up is included; rounds of (1 worker, k workers) alternate so that a change in the
machine's load hits both. Two run lengths split a grid's time into a fixed part (spawning the workers,
importing torch and SB3 in each) and a part that grows with the env steps, which k workers share.
"""

from __future__ import annotations

import argparse
import itertools
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
    work: Path, *, workers: int, runs: int, steps: tuple[int, ...], repeats: int, progress: bool
) -> list[dict[str, float]]:
    """Time a grid (CartPole-v1, scratch, `runs` seeds) of each run length with 1 worker and with `workers`.

    Returns per measurement: workers, repeat, runs, steps (in all), seconds, env steps per second and the
    1-minute load average before it started.
    """
    rows = []
    for repeat, length, count in itertools.product(range(repeats), steps, sorted({1, workers})):
        spec = GridSpec(
            env_ids=("CartPole-v1",), methods=("scratch",), seeds=tuple(range(runs)), total_timesteps=length
        )
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
                "steps": runs * length,
                "seconds": report.run_seconds,
                "steps_per_second": runs * length / report.run_seconds,
                "load_before": load,
            }
        )
    return rows


def _run_length(row: dict[str, float]) -> int:
    """Env steps per run of one measurement."""
    return int(row["steps"] / row["runs"])


def throughput_section(throughput: list[dict[str, float]], workers: int) -> list[str]:
    """The markdown section of a throughput measurement: per run length, a row per round and the median speed-up."""
    if not throughput:
        return []
    first = throughput[0]
    lengths = sorted({_run_length(r) for r in throughput})
    lines = [
        "## Grid throughput",
        "",
        f"The same grid ({int(first['runs'])} CartPole-v1 scratch runs, PPO, of "
        f"{' and of '.join(f'{n:,}' for n in lengths)} steps) from an empty folder with 1 worker and with "
        f"{workers}, in interleaved rounds; time from the first submission to the last result, worker start-up "
        "included. Speed-up: k workers over 1 in the same round and run length.",
        "",
        "| run length | round | workers | seconds | env steps / s | speed-up | load average before |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    medians: dict[int, list[float]] = {}
    for row in throughput:
        length = _run_length(row)
        single = next(
            r for r in throughput if r["repeat"] == row["repeat"] and r["workers"] == 1 and _run_length(r) == length
        )
        speedup = row["steps_per_second"] / single["steps_per_second"]
        if row["workers"] == workers and workers > 1:
            medians.setdefault(length, []).append(speedup)
        lines.append(
            f"| {length:,} | {int(row['repeat'])} | {int(row['workers'])} | {row['seconds']:.1f} | "
            f"{row['steps_per_second']:.0f} | {speedup:.2f}× | {row['load_before']:.2f} |"
        )
    goal = SPEEDUP_GOAL * workers
    lines.append("")
    for length, speedups in medians.items():
        median = statistics.median(speedups)
        verdict = "met" if median >= goal else "NOT met"
        lines.append(
            f"- runs of {length:,} steps: median speed-up over {len(speedups)} rounds **{median:.2f}×** (best "
            f"{max(speedups):.2f}×, worst {min(speedups):.2f}×); target ≥ {SPEEDUP_GOAL}·k = {goal:.1f}× with "
            f"k = {workers}: **{verdict}** on the median."
        )
    lines += _split_lines(throughput, workers, lengths)
    lines += [
        "",
        f"A load average above 0 before a round means other processes shared the machine's {os.cpu_count()} "
        "cores during it, which takes CPU from k workers and from 1 alike but not in proportion.",
    ]
    return [*lines, ""]


def _split_lines(throughput: list[dict[str, float]], workers: int, lengths: list[int]) -> list[str]:
    """Each worker count's median grid time as fixed seconds + seconds per 1,000 steps per run (two lengths)."""
    if len(lengths) < 2 or workers < 2:
        return []
    fits = {}
    for count in (1, workers):
        times = [
            statistics.median(r["seconds"] for r in throughput if r["workers"] == count and _run_length(r) == n)
            for n in (lengths[0], lengths[-1])
        ]
        slope = (times[1] - times[0]) / (lengths[-1] - lengths[0]) * 1000
        fits[count] = (times[0] - slope * lengths[0] / 1000, slope)
    efficiency = fits[1][1] / (workers * fits[workers][1])
    return [
        f"- Split from the two lengths (median seconds = fixed + per 1,000 steps × run length): 1 worker "
        f"{fits[1][0]:.1f} s + {fits[1][1]:.2f} s, {workers} workers {fits[workers][0]:.1f} s + "
        f"{fits[workers][1]:.2f} s. The part that grows with the runs is shared at **{efficiency:.0%}** of "
        f"perfect ({workers} workers); the fixed part (spawning workers, importing torch and SB3 in each, the "
        "grid's own files) is not shared, so it caps the speed-up of short grids.",
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `suite throughput`."""
    parser.add_argument("--workers", type=int, default=None, help="k (default: CPU cores)")
    parser.add_argument("--runs", type=int, default=6, help="runs in the grid (default 6)")
    parser.add_argument(
        "--steps",
        default="4000,16000",
        help="env steps per run, one grid per length, comma-separated (default 4000,16000)",
    )
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
    try:
        lengths = tuple(int(v) for v in str(args.steps).split(","))
    except ValueError:
        raise ConfigError(
            f"--steps {args.steps!r} is not a list of integers", fix="pass e.g. --steps 4000,16000"
        ) from None
    if min(args.runs, args.repeats, *lengths) <= 0:
        raise ConfigError("--runs, --steps and --repeats must be positive", fix="pass e.g. --runs 6 --steps 4000,16000")
    workers = args.workers or os.cpu_count() or 1
    date, started = now_utc(), time.time()
    rows = measure_throughput(
        Path(args.work),
        workers=workers,
        runs=args.runs,
        steps=lengths,
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
