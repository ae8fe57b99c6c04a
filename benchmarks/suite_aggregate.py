"""`suite aggregate`: results/suite/*.json → results/suite.md, suite.json, benefit_matrix.json and plots.

No training: it reads only the per-target files that `suite run TARGET` wrote. Across targets it
reports, with rliable (Agarwal et al., NeurIPS 2021) and its stratified-bootstrap CIs, the IQM of
normalised scores, the probability of improvement over scratch and performance profiles, and the
median over targets of the steps-to-threshold ratio to scratch.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import PROGRAM
from benchmarks.suite_controller import controller_figures, controller_lines
from benchmarks.suite_rliable import REPS, rliable_estimates, write_plots
from benchmarks.suite_run import FORMAT
from benchmarks.suite_scores import NORMALISATION, finite_values, normalisable, normalise, target_bounds
from benchmarks.suite_targets import BENEFIT_METHOD, METHOD_ORDER, TARGETS, target_order
from rltransfer import metrics
from rltransfer.errors import CardFormatError, ConfigError
from rltransfer.experiments.provenance import command_line, machine_description, now_utc
from rltransfer.experiments.summary import format_estimate
from rltransfer.io import atomic_write_json, atomic_write_text

STEPS_RATIO_GOAL = 0.25
"""The issue's target: median steps-to-threshold ratio to scratch ≤ 0.25 (best method and auto)."""
SCORES = {"auc": "normalised AUC", "asymptote": "normalised asymptote"}
"""Per-run scores the aggregate normalises, with their titles."""


def read_results(folder: Path) -> list[dict[str, Any]]:
    """Every <target>.json in `folder`, in TARGETS order; quick and full runs are never mixed."""
    results = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CardFormatError(f"{path} is not valid JSON", fix=f"re-run `suite run` for {path.stem}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CardFormatError(f"{path} is not a suite target file of format {FORMAT}", fix="re-run `suite run`")
        results.append(data)
    if not results:
        raise ConfigError(f"no suite target files in {folder}", fix="run `python -m benchmarks suite run TARGET` first")
    if len({bool(r["header"]["quick"]) for r in results}) > 1:
        raise ConfigError(
            f"{folder} mixes --quick and full target files", fix="aggregate them from separate --results folders"
        )
    return sorted(results, key=lambda r: target_order(r["target"]["name"]))


def score_matrices(results: list[dict[str, Any]], methods: list[str], score: str) -> dict[str, np.ndarray]:
    """Per method, normalised scores as rliable wants them: (runs × targets), the first n finite seeds per target.

    n is the method's smallest number of finite runs over the targets; a method without one on some target is left
    out. Every target needs a defined normalisation (see normalisable).
    """
    matrices = {}
    for method in methods:
        columns = []
        for result in results:
            low, high = target_bounds(result)
            values = finite_values(result["methods"][method]["per_seed"][score])
            columns.append(normalise(values, low=low, high=high))
        runs = min(len(column) for column in columns)
        if runs and all(np.all(np.isfinite(column)) for column in columns):
            matrices[method] = np.stack([column[:runs] for column in columns], axis=1)
    return matrices


def steps_ratio_medians(results: list[dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Per method the median over targets of its steps-to-threshold ratio to scratch; the best method and auto.

    Targets where neither the method nor scratch reached the threshold have no ratio and are left out (counted).
    """
    per_method: dict[str, dict[str, Any]] = {}
    for method in (m for m in methods if m != "scratch"):
        ratios = {r["target"]["name"]: r["methods"][method]["estimates"]["steps_ratio"]["mean"] for r in results}
        finite = finite_values(list(ratios.values()))
        per_method[method] = {
            "median": statistics.median(finite) if finite else None,
            "targets": len(finite),
            "of": len(ratios),
            "per_target": ratios,
        }
    measured: dict[str, float] = {m: v["median"] for m, v in per_method.items() if v["median"] is not None}
    best = min(measured, key=lambda m: measured[m]) if measured else None
    return {
        "goal": STEPS_RATIO_GOAL,
        "per_method": per_method,
        "best": {"method": best, "median": measured.get(best) if best else None},
        "auto": {"method": "auto", "median": measured.get("auto")},
    }


def benefit_matrix(results: list[dict[str, Any]], header: dict[str, Any]) -> dict[str, Any]:
    """benefit_matrix.json: per target, per compatible teacher, BENEFIT_METHOD's transfer ratio against scratch."""
    return {
        "format": FORMAT,
        "header": header,
        "method": BENEFIT_METHOD,
        "metric": "transfer_ratio = (AUC − AUC_scratch) / |AUC_scratch| (rltransfer.metrics), 95% bootstrap CI",
        "targets": {
            r["target"]["name"]: {
                "env_id": r["target"]["env_id"],
                "algo": r["target"]["algo"],
                "steps": r["target"]["steps"],
                "teachers": r["benefit"],
            }
            for r in results
        },
    }


def _common_methods(results: list[dict[str, Any]]) -> list[str]:
    """Methods every target file has, in METHOD_ORDER (others after it, by name)."""
    names = set.intersection(*(set(r["methods"]) for r in results))
    return sorted(names, key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER), m))


def _cell(entry: dict[str, Any] | None, name: str) -> str:
    return format_estimate(name, metrics.Estimate.from_dict(entry)) if entry else "–"


def _interval_cell(value: dict[str, float] | None) -> str:
    if not value:
        return "–"
    return f"{value['point']:.3f} [{value['low']:.3f}, {value['high']:.3f}]"


def _target_table(results: list[dict[str, Any]], methods: list[str], column: str, kind: str) -> list[str]:
    titles = ["target", *[m for m in methods if m != "scratch"]]
    lines = ["| " + " | ".join(titles) + " |", "|---|" + "---:|" * (len(titles) - 1)]
    for result in results:
        cells = [result["target"]["name"]]
        cells += [_cell(result["methods"].get(m, {}).get("estimates", {}).get(column), kind) for m in titles[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _header_lines(header: dict[str, Any], results: list[dict[str, Any]]) -> list[str]:
    dates = sorted(r["header"]["date"] for r in results)
    seeds = sorted({len(r["header"]["seeds"]) for r in results})
    revisions = sorted({r["header"].get("revision", "not recorded") for r in results})
    lines = [
        "# rltransfer benchmark suite",
        "",
        f"- command: `{header['command']}` (reads results/suite/*.json only; each target file is regenerated by "
        "the command at its top)",
        f"- targets: {len(results)} of {len(TARGETS)} ({', '.join(header['missing']) or 'none'} not run yet); "
        f"runs dated {dates[0]} to {dates[-1]}, code {', '.join(revisions)}",
        f"- seeds: {', '.join(map(str, seeds))} per method and target; machine of the aggregate: {header['machine']}",
        f"- date: {header['date']}; CIs: {header['bootstrap_reps']} stratified-bootstrap replications (rliable)",
    ]
    if header["not_normalisable"]:
        lines.append(
            f"- left out of the normalised scores (scratch starts at or above the threshold): "
            f"{', '.join(header['not_normalisable'])}"
        )
    if header["quick"]:
        lines.append("- **quick run**: tiny budgets and 1 seed, a test of the suite's structure, not a measurement")
    return lines


def _steps_lines(steps: dict[str, Any]) -> list[str]:
    lines = ["", "| method | median over targets | targets with a ratio |", "|---|---:|---:|"]
    for method, entry in steps["per_method"].items():
        median = "–" if entry["median"] is None else f"{entry['median']:.3f}"
        lines.append(f"| {method} | {median} | {entry['targets']}/{entry['of']} |")
    lines.append("")
    for label, entry in (("best method", steps["best"]), ("auto", steps["auto"])):
        if entry["median"] is None:
            lines.append(f"- {label}: no target with a ratio (goal ≤ {STEPS_RATIO_GOAL}×): **not measured**.")
            continue
        verdict = "met" if entry["median"] <= STEPS_RATIO_GOAL else "MISSED"
        lines.append(
            f"- {label} ({entry['method']}): median {entry['median']:.3f}× scratch's steps to threshold "
            f"(goal ≤ {STEPS_RATIO_GOAL}×): **{verdict}**."
        )
    return lines


def _rliable_lines(estimates: dict[str, Any], plots: list[Path], root: Path) -> list[str]:
    iqm, poi = estimates["iqm"], estimates["probability_of_improvement"]
    methods = [m for m in METHOD_ORDER if any(m in iqm[s] for s in iqm)]
    titles = ["method", *[f"IQM {SCORES[s]} [95% CI]" for s in iqm], "P(method > scratch), AUC [95% CI]"]
    lines = ["| " + " | ".join(titles) + " |", "|---|" + "---:|" * (len(titles) - 1)]
    for method in methods:
        cells = [method, *[_interval_cell(iqm[s].get(method)) for s in iqm], _interval_cell(poi.get(method))]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", " ".join(f"![{p.stem}]({p.relative_to(root).as_posix()})" for p in plots)]
    return lines


def _benefit_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for result in results:
        ranked = sorted(
            result["benefit"].items(),
            key=lambda item: (
                -(item[1]["transfer_ratio"]["mean"] if item[1]["transfer_ratio"]["mean"] is not None else -math.inf)
            ),
        )
        cells = [f"{t} {_cell(e['transfer_ratio'], 'transfer_ratio')} (n = {len(e['seeds'])})" for t, e in ranked]
        lines.append(f"- **{result['target']['name']}**: " + "; ".join(cells))
    return lines


def render_suite(summary: dict[str, Any], results: list[dict[str, Any]], plots: list[Path], root: Path) -> str:
    """results/suite.md."""
    methods = summary["methods"]
    lines = [
        *_header_lines(summary["header"], results),
        "",
        f"Normalised scores: {NORMALISATION}.",
        "",
        "## Targets",
        "",
    ]
    lines += [
        "| target | env | student | teacher | steps | threshold | seeds | date |",
        "|---|---|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        t = r["target"]
        lines.append(
            f"| [{t['name']}](suite/{t['name']}.md) | `{t['env_id']}` | {t['algo'].upper()} | {t['teacher']} | "
            f"{t['steps']:,} | {t['threshold']:g} | {len(r['header']['seeds'])} | {r['header']['date']} |"
        )
    lines += ["", "## Transfer ratio against scratch (AUC, 95% bootstrap CI over seeds)", ""]
    lines += _target_table(results, methods, "transfer_ratio", "transfer_ratio")
    lines += ["", "## Steps to threshold / scratch (every env step a method spends counted)", ""]
    lines += _target_table(results, methods, "steps_ratio", "fraction") + _steps_lines(summary["steps_ratio"])
    lines += ["", "## Across targets (rliable, stratified bootstrap over seeds within targets)", ""]
    lines += _rliable_lines(summary["aggregate"], plots, root)
    lines += ["", "## The controller: auto against every fixed method, instance where the teacher helps", ""]
    lines += controller_lines(summary["controller"])
    lines += ["", f"## Benefit matrix ({BENEFIT_METHOD}, transfer ratio; benefit_matrix.json)", ""]
    lines += [*_benefit_lines(results), ""]
    return "\n".join(lines)


def aggregate(root: Path, *, reps: int = REPS) -> list[Path]:
    """Read ROOT/suite/*.json; write ROOT/suite.md, suite.json, benefit_matrix.json and ROOT/suite/plots/*.png."""
    results = read_results(root / "suite")
    names = {r["target"]["name"] for r in results}
    header = {
        "command": command_line(PROGRAM),
        "machine": machine_description(),
        "date": now_utc(),
        "inputs": sorted(f"suite/{name}.json" for name in names),
        "missing": [t.name for t in TARGETS if t.name not in names],
        "quick": bool(results[0]["header"]["quick"]),
        "bootstrap_reps": reps,
    }
    methods = _common_methods(results)
    scored = normalisable(results)
    header["not_normalisable"] = [r["target"]["name"] for r in results if r not in scored]
    matrices = {score: score_matrices(scored, methods, score) for score in SCORES}
    estimates = rliable_estimates(matrices, reps=reps)
    plots = write_plots(estimates, root / "suite" / "plots", titles=SCORES, command=str(header["command"]))
    summary = {
        "format": FORMAT,
        "header": header,
        "normalisation": NORMALISATION,
        "methods": methods,
        "targets": {
            r["target"]["name"]: {
                "target": r["target"],
                "seeds": r["header"]["seeds"],
                "normalisation": dict(zip(("low", "high"), target_bounds(r), strict=True)),
                "estimates": {m: entry["estimates"] for m, entry in r["methods"].items()},
            }
            for r in results
        },
        "aggregate": estimates,
        "steps_ratio": steps_ratio_medians(results, methods),
        "controller": controller_figures(results),
    }
    files = [root / "suite.json", root / "benefit_matrix.json", root / "suite.md"]
    atomic_write_json(files[0], summary, sort_keys=False)
    atomic_write_json(files[1], benefit_matrix(results, header), sort_keys=False)
    atomic_write_text(files[2], render_suite(summary, results, plots, root))
    return files + plots
