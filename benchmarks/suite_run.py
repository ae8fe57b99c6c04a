"""One suite target as its own unit: its grid and its benefit matrix → results/suite/<target>.md and .json.

The main grid runs every method of METHOD_ORDER from the target's teacher; the benefit matrix runs
BENEFIT_METHOD from every other zoo teacher that selection can bridge to the target, against the
main grid's scratch runs (same env, budget and seeds, so they are the same runs). Every metric comes
from rltransfer.metrics through rltransfer.experiments.summary; every env step a method spends is
on its curve (the student's num_timesteps).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import PROGRAM
from benchmarks.suite_targets import BENEFIT_METHOD, METHOD_ORDER, QUICK_STEPS, QUICK_TRANSFER, SuiteTarget
from rltransfer import metrics
from rltransfer.errors import ConfigError
from rltransfer.experiments import GridReport, GridSpec, run_grids
from rltransfer.experiments.diagnose import decision_evidence, mode_path, read_decisions
from rltransfer.experiments.grid import read_grid_file
from rltransfer.experiments.provenance import command_line, machine_description, now_utc, source_revision
from rltransfer.experiments.summary import MethodSummary, collect_runs, format_estimate, summarize_folder
from rltransfer.io import atomic_write_json, atomic_write_text
from rltransfer.make import make_env
from rltransfer.selection import space_compatibility
from rltransfer.spaces import SpaceSignature
from rltransfer.training import TrainConfig, resolve_settings
from rltransfer.zoo import list_cards

FORMAT = 1
"""Version of the per-target JSON (suite aggregate refuses other versions)."""
MAIN_DIR, BENEFIT_DIR = "main", "benefit"
"""Folders of a target's grids in --work: <target>/main and <target>/benefit/<teacher>."""
COLUMNS = {
    "jumpstart": "jumpstart",
    "auc": "AUC",
    "time_to_threshold": "time to threshold",
    "asymptote": "asymptote",
    "transfer_ratio": "transfer ratio",
    "steps_ratio": "steps to threshold / scratch",
}
"""Per-method estimates of a target file, in table order."""


@dataclass(kw_only=True, frozen=True)
class BenefitCell:
    """One teacher of a target's benefit matrix.

    Attributes:
        teacher: Zoo teacher name.
        compatibility: rltransfer.selection.space_compatibility of its spaces with the target's.
        spec: Its grid (None: the target's own teacher, whose BENEFIT_METHOD runs are in the main grid).
        folder: Where its grid's runs live.
    """

    teacher: str
    compatibility: float
    spec: GridSpec | None
    folder: Path


def compatible_teachers(env_id: str, zoo: str | None) -> list[tuple[str, float]]:
    """Zoo teachers whose spaces map to the target's without resizing, most compatible first.

    Same observation shape and same action kind (discrete or continuous), with selection's
    space_compatibility > 0: the teachers of the target's own family, trained well or not. Teachers
    that need another observation size or binned actions are left out of the matrix (each would cost a
    grid of runs, and selection already scores them low).
    """
    env = make_env(env_id)
    try:
        obs, action = SpaceSignature.of(env.observation_space), SpaceSignature.of(env.action_space)
        scored = [
            (card.name, space_compatibility(card.observation_space, card.action_space, env))
            for card in list_cards(zoo)
            if card.observation_space.shape == obs.shape and card.action_space.kind == action.kind
        ]
    finally:
        env.close()
    return sorted([(name, score) for name, score in scored if score > 0], key=lambda item: (-item[1], item[0]))


def plan_grids(
    target: SuiteTarget, *, seeds: int, benefit_seeds: int, quick: bool, work: Path, zoo: str | None
) -> tuple[GridSpec, list[BenefitCell]]:
    """The target's main grid and its benefit cells (under --quick: one teacher besides its own)."""
    steps = QUICK_STEPS if quick else target.steps

    def spec(methods: tuple[str, ...], count: int, teacher: str) -> GridSpec:
        return GridSpec(
            env_ids=(target.env_id,),
            methods=methods,
            seeds=tuple(range(count)),
            total_timesteps=steps,
            algo=target.algo,
            teacher=teacher,
            zoo=zoo,
            threshold=target.threshold,
            transfer=dict(QUICK_TRANSFER) if quick else {},
        )

    compatible = compatible_teachers(target.env_id, zoo)
    own = dict(compatible).get(target.teacher, 0.0)
    cells = [BenefitCell(teacher=target.teacher, compatibility=own, spec=None, folder=work / MAIN_DIR)]
    others = [(name, score) for name, score in compatible if name != target.teacher]
    for name, score in others[:1] if quick else others:
        cells.append(
            BenefitCell(
                teacher=name,
                compatibility=score,
                spec=spec((BENEFIT_METHOD,), benefit_seeds, name),
                folder=work / BENEFIT_DIR / name,
            )
        )
    return spec(METHOD_ORDER, seeds, target.teacher), cells


def run_target(
    target: SuiteTarget,
    *,
    seeds: int,
    benefit_seeds: int,
    quick: bool,
    work: Path,
    results: Path,
    zoo: str | None,
    workers: int,
    progress: bool,
) -> tuple[list[Path], int]:
    """Train (or reuse) the target's runs and write results/suite/<target>.json and .md; (files, failed runs)."""
    folder = work / target.name
    main, cells = plan_grids(target, seeds=seeds, benefit_seeds=benefit_seeds, quick=quick, work=folder, zoo=zoo)
    grids = [(main, folder / MAIN_DIR), *((cell.spec, cell.folder) for cell in cells if cell.spec is not None)]
    date, started, revision = now_utc(), time.time(), source_revision()  # the code that runs, not the code at the end
    reports = run_grids(grids, workers=workers, progress=progress, command=command_line(PROGRAM))
    header = {
        "command": command_line(PROGRAM),
        "seeds": list(main.seeds),
        "benefit_seeds": list(range(benefit_seeds)),
        "machine": machine_description(),
        "revision": revision,
        "date": date,
        "wall_seconds": round(time.time() - started, 1),
        "recorded_run_seconds": round(recorded_run_seconds([folder for _, folder in grids]), 1),
        "workers": workers,
        "runs": sum(r.total for r in reports),
        "runs_trained": sum(r.done for r in reports),
        "runs_reused": sum(r.skipped for r in reports),
        "failed": [f"{o.key}: {o.error}" for r in reports for o in r.failed],
        "quick": quick,
        "work": str(folder),
    }
    result = target_result(target, folder / MAIN_DIR, cells, steps=main.total_timesteps, header=header)
    result["benefit_failed"] = _benefit_failures(cells, reports[1:])
    out = results / "suite"
    atomic_write_json(out / f"{target.name}.json", result, sort_keys=False)
    atomic_write_text(out / f"{target.name}.md", render_target(result))
    return [out / f"{target.name}.json", out / f"{target.name}.md"], len(header["failed"])


def recorded_run_seconds(folders: list[Path]) -> float:
    """Run time of every invocation that trained these grids (grid.json), each invocation counted once."""
    seconds: dict[str, float] = {}  # one run_grids call records the same date and run time in each of its grids
    for folder in folders:
        for entry in read_grid_file(folder).get("invocations", []):
            if entry.get("finished") and entry.get("runs_trained"):
                seconds[entry["date"]] = max(seconds.get(entry["date"], 0.0), float(entry.get("run_seconds", 0.0)))
    return sum(seconds.values())


def _benefit_failures(cells: list[BenefitCell], reports: list[GridReport]) -> dict[str, list[str]]:
    with_grid = [cell for cell in cells if cell.spec is not None]
    return {
        cell.teacher: [o.error for o in report.failed]
        for cell, report in zip(with_grid, reports, strict=True)
        if report.failed
    }


def _methods(folder: Path, target: SuiteTarget) -> dict[str, MethodSummary]:
    """The finished runs of one grid folder, summarised by rltransfer.experiments (empty: none finished)."""
    records, _ = collect_runs(folder)
    if not records:
        return {}
    env = summarize_folder(folder, records, threshold=target.threshold, method_order=list(METHOD_ORDER))[0]
    return env.methods


def controller_choices(folder: Path) -> dict[str, Any]:
    """Per method with controller decisions: each seed's probe of teacher and random policy, and its mode path.

    The mode auto chose and when, beside the fixed modes on the same target (issue 12); the probe says
    whether the mapped teacher beats random zero-shot there.
    """
    records, _ = collect_runs(folder)
    choices: dict[str, Any] = {}
    for method in dict.fromkeys(r.method for r in records):
        runs = [(r.seed, read_decisions(r.run_dir)) for r in records if r.method == method]
        runs = [(seed, rows) for seed, rows in runs if rows]
        if not runs:
            continue
        choices[method] = {
            "seeds": [seed for seed, _ in runs],
            "teacher_zero_shot": [rows[0].get("teacher_return_estimate") for _, rows in runs],
            "random_zero_shot": [rows[0].get("random_return") for _, rows in runs],
            "paths": [mode_path(rows) for _, rows in runs],
            "evidence": decision_evidence([rows for _, rows in runs]),
        }
    return choices


def target_result(
    target: SuiteTarget, main_folder: Path, cells: list[BenefitCell], *, steps: int, header: dict[str, Any]
) -> dict[str, Any]:
    """The target file's content: the target, the header, per method its estimates, per teacher its benefit."""
    methods = _methods(main_folder, target)
    if "scratch" not in methods:
        raise ConfigError(
            f"no finished scratch run of {target.name} in {main_folder}",
            fix="see the error.txt of its run folders, then re-run the same command (finished runs are reused)",
        )
    scratch = methods["scratch"]
    settings = resolve_settings(TrainConfig(env_id=target.env_id, algo=target.algo, total_timesteps=steps))
    return {
        "format": FORMAT,
        "header": header,  # first: the command that regenerates the file opens it
        "target": {
            "name": target.name,
            "env_id": target.env_id,
            "family": target.family,
            "algo": target.algo,
            "teacher": target.teacher,
            "steps": steps,
            "threshold": target.threshold,
            "about": target.about,
            "budget": target.budget,
            "settings": settings,
        },
        "methods": {name: _method_entry(summary, scratch, steps) for name, summary in methods.items()},
        "controller": controller_choices(main_folder),
        "benefit": {cell.teacher: _benefit_entry(cell, methods, scratch, target) for cell in cells},
    }


def _method_entry(summary: MethodSummary, scratch: MethodSummary, steps: int) -> dict[str, Any]:
    estimates = dict(summary.estimates)
    estimates["steps_ratio"] = metrics.threshold_steps_fraction(
        summary.per_seed["time_to_threshold"], scratch.per_seed["time_to_threshold"], budget=steps
    )
    return {
        "seeds": summary.seeds,
        "per_seed": summary.per_seed,
        "estimates": {name: estimate.to_dict() for name, estimate in estimates.items()},
    }


def _benefit_entry(
    cell: BenefitCell, main: dict[str, MethodSummary], scratch: MethodSummary, target: SuiteTarget
) -> dict[str, Any]:
    runs = main if cell.spec is None else _methods(cell.folder, target)
    method = runs.get(BENEFIT_METHOD)
    ratio = (
        metrics.compare_to_scratch(method.per_seed["auc"], scratch.per_seed["auc"], kind="ratio")
        if method is not None
        else metrics.Estimate(mean=math.nan, low=math.nan, high=math.nan, iqm=math.nan, n=0)
    )
    return {
        "compatibility": cell.compatibility,
        "source": "main grid" if cell.spec is None else "benefit grid",
        "seeds": method.seeds if method is not None else [],
        "auc": method.per_seed["auc"] if method is not None else [],
        "transfer_ratio": ratio.to_dict(),
    }


def _seed_range(seeds: list[int], per: str) -> str:
    span = f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else ", ".join(map(str, seeds))
    return f"{span} ({len(seeds)} per {per})"


def _header_lines(result: dict[str, Any]) -> list[str]:
    header, target = result["header"], result["target"]
    wall = f"{header['wall_seconds'] / 60:.1f} min with {header['workers']} workers"
    if header["runs_reused"]:
        wall += (
            f"; {header['runs_reused']} of {header['runs']} runs reused from earlier invocations in {header['work']}, "
            f"whose runs took {header['recorded_run_seconds'] / 60:.1f} min in all"
        )
    lines = [
        f"# Suite target {target['name']}",
        "",
        f"- command: `{header['command']}`",
        f"- seeds: {_seed_range(header['seeds'], 'method')}; benefit matrix "
        f"{_seed_range(header['benefit_seeds'], 'teacher')}",
        f"- code: {header.get('revision', 'not recorded')}",
        f"- machine: {header['machine']}",
        f"- date: {header['date']}",
        f"- wall time: {wall}",
    ]
    if header["quick"]:
        lines.append(
            f"- **quick run** ({QUICK_STEPS:,} steps, transfer options {QUICK_TRANSFER}): a test of the suite's "
            "structure, not a measurement"
        )
    if header["failed"]:
        lines.append(f"- **{len(header['failed'])} runs failed**: " + "; ".join(header["failed"][:5]))
    return lines


def _method_rows(result: dict[str, Any]) -> list[str]:
    rows = ["| method | seeds | " + " | ".join(COLUMNS.values()) + " |", "|---|---:|" + "---:|" * len(COLUMNS)]
    for name, entry in result["methods"].items():
        cells = [name, str(len(entry["seeds"]))]
        for column in COLUMNS:
            if name == "scratch" and column in ("jumpstart", "transfer_ratio", "steps_ratio"):
                cells.append("1 (reference)" if column == "steps_ratio" else "0 (reference)")
                continue
            kind = "fraction" if column == "steps_ratio" else column
            cells.append(format_estimate(kind, metrics.Estimate.from_dict(entry["estimates"][column])))
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _controller_lines(result: dict[str, Any]) -> list[str]:
    """What the controller decided in each method's runs (decisions.jsonl, summed over seeds)."""
    choices = result.get("controller")
    if not choices:
        return []
    lines = ["## The controller's decisions (decisions.jsonl of each seed)", ""]
    for method, entry in choices.items():
        lines.append(f"- **{method}**: " + " ".join(entry["evidence"]))
    return [*lines, ""]


def render_target(result: dict[str, Any]) -> str:
    """results/suite/<target>.md from the target's JSON content."""
    target, settings = result["target"], result["target"]["settings"]
    lines = [
        *_header_lines(result),
        "",
        f"Target `{target['env_id']}` ({target['family']}): {target['about']}. Student {target['algo'].upper()}, "
        f"{target['steps']:,} env steps per run ({target['budget']}), threshold {target['threshold']:g}; "
        f"transfer from `{target['teacher']}`. Hyperparameters of record: n_envs {settings['n_envs']}, "
        f"policy_kwargs `{settings['policy_kwargs']}`, `{settings['hyperparams']}`.",
        "",
        "## Methods against scratch",
        "",
        *_method_rows(result),
        "",
        *_controller_lines(result),
        f"## Benefit matrix ({BENEFIT_METHOD}, every teacher selection can bridge to the target)",
        "",
        "| teacher | space compatibility | seeds | transfer ratio [95% CI] | runs |",
        "|---|---:|---:|---:|---|",
    ]
    for teacher, entry in result["benefit"].items():
        ratio = format_estimate("transfer_ratio", metrics.Estimate.from_dict(entry["transfer_ratio"]))
        failed = result.get("benefit_failed", {}).get(teacher)
        note = f"failed: {failed[0]}" if failed else entry["source"]
        lines.append(f"| {teacher} | {entry['compatibility']:.2f} | {len(entry['seeds'])} | {ratio} | {note} |")
    lines += [
        "",
        "Metrics from `rltransfer.metrics`, 95% percentile-bootstrap CIs over seeds: jumpstart = mean return of the "
        "first 10 episodes minus scratch's; AUC = area under the learning curve / steps; time to threshold = first "
        "step where the mean of the last 10 episodes reaches the threshold (≥: some seeds never did and count as the "
        "budget); asymptote = mean return in the last 10% of steps; transfer ratio = (AUC − AUC_scratch) / "
        "|AUC_scratch|; steps to threshold / scratch = threshold_steps_fraction (unreached seeds count as the budget). "
        "Every env step a method spends (probes, mapping search, demonstrations, distil-initialise) is on its curve. "
        f"Runs, learning curves and TensorBoard folders: `{result['header']['work']}`.",
        "",
    ]
    return "\n".join(lines)
