"""Run a grid resumably and render its report (tables, plot, TensorBoard folder).

`run_grid` validates everything it can before any run starts (env ids, methods, teacher, algorithm),
skips finished runs, refuses to mix runs of a different configuration into the same folder, shows a
progress bar over runs, and renders the report at the end, even when some runs failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rltransfer import metrics
from rltransfer.errors import ConfigError, OutputError
from rltransfer.experiments import diagnose
from rltransfer.experiments.backends import RunOutcome, make_backend
from rltransfer.experiments.diagnose import read_decisions
from rltransfer.experiments.grid import GRID_FILE, RUNS_DIR, GridSpec, RunSpec, config_conflict
from rltransfer.experiments.plots import plot_learning_curves
from rltransfer.experiments.provenance import code_fingerprint, machine_description, now_utc
from rltransfer.experiments.summary import (
    collect_runs,
    export_tensorboard,
    read_grid_file,
    summarize_folder,
    write_summary,
)
from rltransfer.io import atomic_write_json
from rltransfer.make import check_env_id
from rltransfer.policies import algo_class
from rltransfer.training import check_target_env, is_finished, read_config, read_error, read_result
from rltransfer.transfer.methods import METHODS
from rltransfer.transfer.teacher import check_teacher

CURVES_PNG = "learning_curves.png"


@dataclass(kw_only=True)
class GridReport:
    """What one invocation of run_grid did.

    Attributes:
        out: The grid's output folder.
        total: Runs in the grid.
        done: Runs trained by this invocation.
        skipped: Runs already finished before (or by a concurrent grid).
        failed: Outcomes of the runs that failed.
        wall_seconds: Wall time of this invocation, report rendering included.
        run_seconds: Wall time of the runs alone (from the first submission to the last outcome).
        files: Files the report wrote.
    """

    out: Path
    total: int
    done: int = 0
    skipped: int = 0
    failed: list[RunOutcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    run_seconds: float = 0.0
    files: list[Path] = field(default_factory=list)


def validate(spec: GridSpec) -> None:
    """Check env ids, algorithm and teacher before anything runs (errors name the problem and the fix)."""
    for env_id in spec.env_ids:
        check_env_id(env_id)
    algo_class(spec.algo)
    for env_id in spec.env_ids:
        check_target_env(env_id, spec.env_kwargs, algo=spec.algo)
    if spec.teacher and any(METHODS[m].needs_teacher for m in spec.methods):
        check_teacher(spec.teacher, spec.zoo, methods=tuple(spec.methods))


def check_reuse(runs: list[RunSpec]) -> None:
    """Refuse to resume into runs that were trained with a different configuration or by other code."""
    stale: list[str] = []
    for run in runs:
        if not is_finished(run.run_dir):
            continue
        try:
            recorded = read_config(run.run_dir)
            trained_by = read_result(run.run_dir).get("code") or "unrecorded code"
        except (OSError, ValueError):
            continue
        conflict = config_conflict(recorded, run.config)
        if conflict:
            raise OutputError(
                f"{run.run_dir} holds a finished run of another configuration ({conflict})",
                fix="choose another --out, or delete that folder to re-run it",
            )
        if trained_by != code_fingerprint():
            stale.append(f"{run.run_dir} ({trained_by})")
    if stale:
        more = f" and {len(stale) - 1} more" if len(stale) > 1 else ""
        raise OutputError(
            f"{stale[0]}{more} finished under other code than this one ({code_fingerprint()}): "
            "reusing them would mix code in one report",
            fix="write to another output folder, or delete those run folders to re-run them with this code",
        )


def _record_invocation(out: Path, spec: GridSpec, entry: dict[str, Any]) -> None:
    data = read_grid_file(out)
    invocations = [*data.get("invocations", []), entry]
    atomic_write_json(out / GRID_FILE, {"spec": spec.to_dict(), "invocations": invocations})


def run_grid(
    spec: GridSpec,
    out: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
    command: str = "",
) -> GridReport:
    """Run every unfinished run of `spec` into OUT/runs and render OUT's report."""
    return run_grids(
        [(spec, Path(out))],
        backend=backend,
        workers=workers,
        ray_address=ray_address,
        progress=progress,
        command=command,
    )[0]


def run_grids(
    grids: Sequence[tuple[GridSpec, Path]],
    *,
    backend: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
    command: str = "",
    on_outcome: Callable[[RunOutcome], None] | None = None,
) -> list[GridReport]:
    """Run several grids (each into its own folder) on one backend, so workers never wait for a grid's tail.

    Everything is validated before the first run starts; each folder gets its report at the end.
    """
    started = time.time()
    for spec, _ in grids:
        validate(spec)
    executor = make_backend(backend, workers=workers, address=ray_address)
    entry: dict[str, Any] = {
        "command": command,
        "date": now_utc(),
        "backend": executor.name,
        "workers": executor.workers,
        "machine": machine_description(),
    }
    reports: list[GridReport] = []
    owner: dict[str, GridReport] = {}
    todo: list[RunSpec] = []
    for spec, out in grids:
        folder = Path(out).resolve()
        runs = spec.runs(folder)
        check_reuse(runs)
        pending = [run for run in runs if not is_finished(run.run_dir)]
        report = GridReport(out=folder, total=len(runs), skipped=len(runs) - len(pending))
        reports.append(report)
        owner.update({str(run.run_dir): report for run in pending})
        todo += pending
    for (spec, _), report in zip(grids, reports, strict=True):
        report.out.mkdir(parents=True, exist_ok=True)
        _record_invocation(report.out, spec, {**entry, "finished": False})
    total = sum(r.total for r in reports)
    skipped = sum(r.skipped for r in reports)
    bar = tqdm(total=total, initial=skipped, unit="run", desc="runs", disable=not progress, leave=True)
    runs_started = time.time()
    try:
        for outcome in executor.run(todo, command=command):
            report = owner[outcome.run_dir]
            if outcome.status == "done":
                report.done += 1
            elif outcome.status == "skipped":
                report.skipped += 1
            else:
                report.failed.append(outcome)
                bar.write(f"failed {outcome.key}: {outcome.error}")
            bar.set_postfix_str(outcome.key, refresh=False)
            bar.update(1)
            if on_outcome is not None:
                on_outcome(outcome)
    finally:
        bar.close()
    for (spec, _), report in zip(grids, reports, strict=True):
        report.run_seconds = time.time() - runs_started
        report.wall_seconds = time.time() - started
        _record_invocation_end(report.out, spec, entry, report)
        if report.done + report.skipped:
            report.files = render_report(report.out, threshold=spec.threshold, method_order=list(spec.methods))
        report.wall_seconds = time.time() - started
    return reports


def _record_invocation_end(out: Path, spec: GridSpec, entry: dict[str, Any], report: GridReport) -> None:
    data = read_grid_file(out)
    invocations = list(data.get("invocations", []))
    if invocations and invocations[-1].get("date") == entry["date"] and not invocations[-1].get("finished"):
        invocations.pop()
    invocations.append(
        {
            **entry,
            "finished": True,
            "runs_trained": report.done,
            "runs_skipped": report.skipped,
            "runs_failed": len(report.failed),
            "run_seconds": round(report.run_seconds, 2),
            "wall_seconds": round(report.wall_seconds, 2),
        }
    )
    atomic_write_json(out / GRID_FILE, {"spec": spec.to_dict(), "invocations": invocations})


def report_header(out: Path, *, seeds: list[int]) -> dict[str, Any]:
    """The header of summary.md from grid.json: last command, seeds, machine, date, wall time."""
    invocations = read_grid_file(out).get("invocations", [])
    header: dict[str, Any] = {"seeds": ", ".join(str(s) for s in seeds) + f" ({len(seeds)} seeds)"}
    if invocations:
        last = invocations[-1]
        header.update(command=last.get("command", ""), machine=last.get("machine", ""), date=last.get("date", ""))
        header["backend"] = f"{last.get('backend', '?')} with {last.get('workers', '?')} workers"
        walls = [float(i.get("wall_seconds", 0.0)) for i in invocations if i.get("finished")]
        if walls:
            resumed = f" over {len(walls)} invocations (resumed)" if len(walls) > 1 else ""
            header["wall time"] = f"{sum(walls):.0f} s{resumed}"
    else:
        header.update(machine=machine_description(), date=now_utc(), note="no grid.json: rendered from run folders")
    return header


def render_report(
    out: str | Path,
    *,
    threshold: float | None = None,
    bins: int | None = None,
    method_order: list[str] | None = None,
) -> list[Path]:
    """(Re-)render summary.md/.csv/.json, learning_curves.png and tb/ from OUT's finished runs."""
    folder = Path(out)
    records, unfinished = collect_runs(folder)
    if not records:
        raise ConfigError(
            f"no finished runs in {folder / 'runs'}" + (f" ({unfinished} unfinished)" if unfinished else ""),
            fix="run `rltransfer compare ... --out DIR` first (re-running it resumes a grid)",
        )
    envs = summarize_folder(
        folder, records, threshold=threshold, bins=bins or metrics.DEFAULT_BINS, method_order=method_order
    )
    header = report_header(folder, seeds=sorted({r.seed for r in records}))
    if unfinished:
        header["note"] = f"{unfinished} unfinished runs left out; re-run the command to finish them"
    notes = run_notes(folder, records)
    if notes:
        header["notes"] = notes
    appendix = diagnose.render(diagnose.diagnose(envs, records))
    if notes:
        appendix = "## Notes\n\n" + "\n".join(f"- {note}" for note in notes) + "\n\n" + appendix
    files = write_summary(folder, envs, header, appendix=appendix)
    files.append(plot_learning_curves(envs, folder / CURVES_PNG, title=f"{len(records)} runs"))
    files.append(export_tensorboard(folder, records))
    return files


def run_notes(out: Path, records: list[Any]) -> list[str]:
    """Why rows are missing or empty: each failed run's error, and finetune runs that copied no weight."""
    notes = []
    finished = {str(record.run_dir) for record in records}
    for run_dir in sorted((out / RUNS_DIR).glob("*/*/seed*")):
        if run_dir.is_dir() and str(run_dir) not in finished:
            reason = read_error(run_dir)
            if reason:
                notes.append(f"{run_dir.relative_to(out / RUNS_DIR)} failed: {reason}")
    empty: dict[tuple[str, str], list[int]] = {}
    for record in records:
        if len(record.episodes) == 0:
            empty.setdefault((record.env_id, record.method), []).append(record.seed)
    for (env_id, method), seeds in sorted(empty.items()):
        notes.append(
            f"{env_id} {method}: no training episode finished in seeds {', '.join(map(str, seeds))}, so their "
            "metrics are empty (–) — raise --steps above the length of an episode"
        )
    for record in records:
        if record.method != "finetune":
            continue
        rows = read_decisions(record.run_dir)
        reason = str(rows[0].get("reason", "")) if rows else ""
        if "copied nothing" in reason:
            skipped = reason.partition("not copied: ")[2] or "no layer fits"
            notes.append(
                f"{record.env_id} finetune seed{record.seed}: no teacher weight could be copied ({skipped}), "
                "so it trained as scratch"
            )
    return notes
