"""Read a grid's finished runs and turn them into metrics over seeds: summary.md, .csv and .json.

Only finished runs (result.json present) count. Jumpstart and transfer ratio compare each method with
the `scratch` runs of the same target; without scratch runs they are left empty.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rltransfer import metrics
from rltransfer.errors import CardFormatError, OutputError
from rltransfer.experiments.grid import RUNS_DIR, env_safe_name, read_grid_file
from rltransfer.io import atomic_directory, atomic_write_json, atomic_write_text
from rltransfer.make import check_env_id
from rltransfer.training import folder as run_folder
from rltransfer.training import is_finished, read_episodes

SUMMARY_MD = "summary.md"
SUMMARY_CSV = "summary.csv"
SUMMARY_JSON = "summary.json"
TB_DIR = "tb"

COLUMNS: dict[str, str] = {
    "initial": "initial return",
    "jumpstart": "jumpstart",
    "asymptote": "asymptote",
    "auc": "AUC",
    "time_to_threshold": "time to threshold",
    "transfer_ratio": "transfer ratio",
}
"""Summary metrics and their column titles, in table order."""
RELATIVE = ("jumpstart", "transfer_ratio")
"""Metrics measured against scratch (0 for scratch itself)."""


@dataclass(kw_only=True, frozen=True)
class RunRecord:
    """A finished run as the summary reads it.

    Attributes:
        env_id: Target environment id.
        method: Method name.
        seed: Seed.
        total_timesteps: Step budget of the run.
        run_dir: The run folder.
        episodes: episodes.csv as an (n, 3) array.
    """

    env_id: str
    method: str
    seed: int
    total_timesteps: int
    run_dir: Path
    episodes: np.ndarray


@dataclass(kw_only=True)
class MethodSummary:
    """One method on one target over its seeds."""

    method: str
    seeds: list[int]
    per_seed: dict[str, list[float]]
    estimates: dict[str, metrics.Estimate]
    curve_mean: np.ndarray
    curve_low: np.ndarray
    curve_high: np.ndarray
    curves: np.ndarray
    """Per-seed learning curves (seeds × points) of the runs with at least one finished episode."""


@dataclass(kw_only=True)
class EnvSummary:
    """Every method on one target."""

    env_id: str
    threshold: float | None
    total_timesteps: int
    steps: np.ndarray
    methods: dict[str, MethodSummary] = field(default_factory=dict)


def collect_runs(out: str | Path) -> tuple[list[RunRecord], int]:
    """Finished runs under OUT/runs (sorted), and the number of unfinished folders left out."""
    root = Path(out) / RUNS_DIR
    records: list[RunRecord] = []
    unfinished = 0
    for config_path in sorted(root.glob(f"*/*/seed*/{run_folder.CONFIG_FILE}")):
        run_dir = config_path.parent
        if not is_finished(run_dir):
            unfinished += 1
            continue
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            records.append(
                RunRecord(
                    env_id=str(config["env_id"]),
                    method=str(config["method"]),
                    seed=int(config["seed"]),
                    total_timesteps=int(config["total_timesteps"]),
                    run_dir=run_dir,
                    episodes=read_episodes(run_dir),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CardFormatError(
                f"{config_path} is not a run config ({exc})", fix=f"delete {run_dir} and re-run the grid"
            ) from exc
    return sorted(records, key=lambda r: (r.env_id, r.method, r.seed)), unfinished


def env_threshold(env_id: str, override: float | None) -> float | None:
    """--threshold if given, else the env spec's reward_threshold (None when it has none)."""
    if override is not None:
        return float(override)
    value = check_env_id(env_id).reward_threshold
    return None if value is None else float(value)


def summarize(
    records: list[RunRecord],
    *,
    threshold: float | None = None,
    bins: int = metrics.DEFAULT_BINS,
    method_order: list[str] | None = None,
) -> list[EnvSummary]:
    """Per target and method: per-seed metrics, their estimates over seeds and the mean learning curve."""
    order = {name: i for i, name in enumerate(method_order or [])}
    summaries = []
    for env_id in sorted({r.env_id for r in records}):
        env_records = [r for r in records if r.env_id == env_id]
        budget = max(r.total_timesteps for r in env_records)
        env_summary = EnvSummary(
            env_id=env_id,
            threshold=env_threshold(env_id, threshold),
            total_timesteps=budget,
            steps=metrics.step_grid(budget, bins),
        )
        methods = sorted({r.method for r in env_records}, key=lambda m: (order.get(m, len(order)), m))
        per_seed = {m: _per_seed(env_records, m, env_summary.threshold, budget, bins) for m in methods}
        scratch = per_seed.get("scratch")
        for method in methods:
            runs = [r for r in env_records if r.method == method]
            values = per_seed[method]
            curves = np.vstack([metrics.learning_curve(r.episodes, budget, bins=bins) for r in runs])
            curves = curves[np.all(np.isfinite(curves), axis=1)]
            mean, low, high = metrics.curve_band(curves)
            env_summary.methods[method] = MethodSummary(
                method=method,
                seeds=[r.seed for r in runs],
                per_seed=values,
                estimates=_estimates(values, scratch, budget),
                curve_mean=mean,
                curve_low=low,
                curve_high=high,
                curves=curves,
            )
        summaries.append(env_summary)
    return summaries


def summarize_folder(
    out: str | Path,
    records: list[RunRecord],
    *,
    threshold: float | None = None,
    bins: int = metrics.DEFAULT_BINS,
    method_order: list[str] | None = None,
) -> list[EnvSummary]:
    """summarize() with the threshold and method order of OUT's grid.json where not given."""
    spec = read_grid_file(out).get("spec", {})
    return summarize(
        records,
        threshold=spec.get("threshold") if threshold is None else threshold,
        bins=bins,
        method_order=list(spec.get("methods", [])) if method_order is None else method_order,
    )


def _per_seed(
    records: list[RunRecord], method: str, threshold: float | None, budget: int, bins: int
) -> dict[str, list[float]]:
    values: dict[str, list[float]] = {"initial": [], "asymptote": [], "auc": [], "time_to_threshold": []}
    for record in (r for r in records if r.method == method):
        run = metrics.run_metrics(record.episodes, budget, threshold=threshold, bins=bins)
        for name in values:
            values[name].append(float(getattr(run, name)))
    return values


def _estimates(
    values: dict[str, list[float]], scratch: dict[str, list[float]] | None, budget: int
) -> dict[str, metrics.Estimate]:
    nan = metrics.Estimate(mean=math.nan, low=math.nan, high=math.nan, iqm=math.nan, n=0)
    return {
        "initial": metrics.aggregate(values["initial"]),
        "jumpstart": metrics.compare_to_scratch(values["initial"], scratch["initial"], kind="difference")
        if scratch
        else nan,
        "asymptote": metrics.aggregate(values["asymptote"]),
        "auc": metrics.aggregate(values["auc"]),
        "time_to_threshold": metrics.aggregate_time_to_threshold(values["time_to_threshold"], budget=budget),
        "transfer_ratio": metrics.compare_to_scratch(values["auc"], scratch["auc"], kind="ratio") if scratch else nan,
    }


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "–"
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}" if abs(value) >= 1 or value == 0 else f"{value:.3f}"


def format_estimate(name: str, estimate: metrics.Estimate) -> str:
    """A table cell: `mean [low, high]`; time to threshold adds how many seeds reached it."""
    if name == "time_to_threshold":
        reached = estimate.reached or 0
        if reached == 0:
            return f"not reached (0/{estimate.n})"
        prefix = "≥ " if reached < estimate.n else ""
        cell = f"{prefix}{_number(estimate.mean)}"
        if math.isfinite(estimate.low):
            cell += f" [{_number(estimate.low)}, {_number(estimate.high)}]"
        return f"{cell} ({reached}/{estimate.n})"
    if not math.isfinite(estimate.mean):
        return "–"
    cell = _number(estimate.mean)
    if name in RELATIVE and estimate.mean > 0:
        cell = "+" + cell
    if math.isfinite(estimate.low):
        cell += f" [{_number(estimate.low)}, {_number(estimate.high)}]"
    return cell


def best_methods(env: EnvSummary) -> dict[str, str]:
    """Per metric, the methods with the best mean, comma-separated (all tied: none)."""
    best: dict[str, str] = {}
    for name in COLUMNS:
        candidates = []
        for method, summary in env.methods.items():
            value = 0.0 if method == "scratch" and name in RELATIVE else summary.estimates[name].mean
            if math.isfinite(value):
                candidates.append((value, method))
        if len(candidates) < 2:
            continue
        sign = 1.0 if metrics.HIGHER_IS_BETTER[name] else -1.0
        top = max(sign * value for value, _ in candidates)
        winners = [method for value, method in candidates if sign * value == top]
        if len(winners) < len(candidates):  # a column where every method ties marks none
            best[name] = ",".join(winners)
    return best


def render_markdown(envs: list[EnvSummary], header: dict[str, Any]) -> str:
    """summary.md: the command, seeds, machine and date, then one table per target."""
    lines = [f"# rltransfer compare: {', '.join(e.env_id for e in envs)}", ""]
    for label in ("command", "seeds", "machine", "date", "wall time", "backend", "note"):
        if header.get(label):
            value = header[label]
            lines.append(f"- {label}: `{value}`" if label == "command" else f"- {label}: {value}")
    lines += [
        "",
        "Cells are the mean over seeds with a 95% percentile-bootstrap CI (fixed RNG seed); **bold** marks the "
        "best mean of a column (overlapping CIs mean the difference is not resolved). Initial return: mean of "
        "the first 10 episodes; jumpstart: initial return minus scratch's; asymptote: mean return in the last "
        "10% of steps; AUC: area under the learning curve divided by the steps (return units); time to "
        "threshold: first step where the mean of the last 10 episodes reaches the threshold (seeds that never "
        "reach it count as the full budget, so the mean is a lower bound: ≥); transfer ratio: (AUC − "
        "AUC_scratch) / |AUC_scratch|. IQM: interquartile mean over seeds. Source training is not counted.",
        "",
    ]
    for env in envs:
        threshold = "none" if env.threshold is None else _number(env.threshold)
        lines += [f"## {env.env_id}", "", f"{env.total_timesteps:,} steps per run, threshold {threshold}.", ""]
        titles = ["method", "seeds", *COLUMNS.values(), "AUC IQM", "asymptote IQM"]
        lines.append("| " + " | ".join(titles) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(titles) - 1)) + "|")
        best = best_methods(env)
        for method, summary in env.methods.items():
            cells = [method, str(len(summary.seeds))]
            for name in COLUMNS:
                if method == "scratch" and name in RELATIVE:
                    cell = "0 (reference)"
                else:
                    cell = format_estimate(name, summary.estimates[name])
                cells.append(f"**{cell}**" if method in best.get(name, "").split(",") else cell)
            cells += [_number(summary.estimates["auc"].iqm), _number(summary.estimates["asymptote"].iqm)]
            lines.append("| " + " | ".join(cells) + " |")
        if "scratch" not in env.methods:
            lines += ["", "No scratch runs: jumpstart and transfer ratio need `scratch` in --methods."]
        lines.append("")
    return "\n".join(lines)


def summary_body(markdown: str) -> str:
    """A summary.md without its header: from the first "## " section on."""
    return markdown[markdown.index("\n## ") + 1 :] if "\n## " in markdown else markdown


def summary_rows(envs: list[EnvSummary]) -> list[dict[str, Any]]:
    """Flat rows (env, method, metric, mean, ci_low, ci_high, iqm, n, reached) for summary.csv."""
    rows = []
    for env in envs:
        for method, summary in env.methods.items():
            for name in COLUMNS:
                estimate = summary.estimates[name]
                rows.append({"env_id": env.env_id, "method": method, "metric": name, **estimate.to_dict()})
    return rows


def summary_json(envs: list[EnvSummary], header: dict[str, Any]) -> dict[str, Any]:
    """Everything in summary.json: header, per-seed values, estimates and mean curves."""

    def clean(values: Any) -> Any:
        return [None if not math.isfinite(v) else float(v) for v in np.asarray(values, dtype=float).ravel()]

    return {
        "header": header,
        "envs": [
            {
                "env_id": env.env_id,
                "threshold": env.threshold,
                "total_timesteps": env.total_timesteps,
                "steps": clean(env.steps),
                "best": best_methods(env),
                "methods": {
                    method: {
                        "seeds": summary.seeds,
                        "per_seed": {k: clean(v) for k, v in summary.per_seed.items()},
                        "estimates": {k: e.to_dict() for k, e in summary.estimates.items()},
                        "curve": {
                            "mean": clean(summary.curve_mean),
                            "low": clean(summary.curve_low),
                            "high": clean(summary.curve_high),
                        },
                    }
                    for method, summary in env.methods.items()
                },
            }
            for env in envs
        ],
    }


def write_summary(out: str | Path, envs: list[EnvSummary], header: dict[str, Any], *, appendix: str = "") -> list[Path]:
    """Write summary.md (with `appendix`, e.g. the diagnosis, at its end), .csv and .json atomically."""
    folder = Path(out)
    buffer = io.StringIO()
    fields = ["env_id", "method", "metric", "mean", "low", "high", "iqm", "n", "reached"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in summary_rows(envs):
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})
    markdown = render_markdown(envs, header)
    atomic_write_text(folder / SUMMARY_MD, markdown + ("\n" + appendix if appendix else ""))
    atomic_write_text(folder / SUMMARY_CSV, buffer.getvalue())
    atomic_write_json(folder / SUMMARY_JSON, summary_json(envs, header))
    return [folder / SUMMARY_MD, folder / SUMMARY_CSV, folder / SUMMARY_JSON]


def export_tensorboard(out: str | Path, records: list[RunRecord]) -> Path:
    """Copy each run's TensorBoard event files to OUT/tb/<env>/<method>/seed<k> (replaced atomically).

    Copies, not symlinks, so the folder still works after it is moved or archived.
    """
    target = Path(out) / TB_DIR
    with atomic_directory(target, overwrite=True) as staging:
        for record in records:
            events = sorted((record.run_dir / run_folder.TB_DIR).rglob("events.out.tfevents.*"))
            if not events:
                continue
            destination = staging / env_safe_name(record.env_id) / record.method / f"seed{record.seed}"
            destination.mkdir(parents=True, exist_ok=True)
            for event_file in events:
                try:
                    shutil.copy2(event_file, destination / event_file.name)
                except OSError as exc:
                    raise OutputError(f"cannot copy {event_file} ({exc.strerror})", fix="check disk space") from exc
    return target
