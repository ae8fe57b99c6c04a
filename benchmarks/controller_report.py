"""results/controller.md from the controller benchmark's figures: each figure against issue 12's goal."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchmarks.suite_controller import controller_lines
from benchmarks.suite_scores import NORMALISATION
from benchmarks.suite_targets import QUICK_STEPS, QUICK_TRANSFER, TARGETS, SuiteTarget
from rltransfer.experiments.summary import format_estimate

SHARE_GOAL = 0.8
"""A dataset-only teacher reaches ≥ 80% of the benefit of the policy it was recorded from."""
MISLEADING_GOAL = 0.95
"""auto is never below 0.95× scratch's AUC on a misleading teacher."""


def _verdict(met: bool) -> str:
    return "MET" if met else "**MISSED**"


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _seed_range(seeds: list[int]) -> str:
    return f"{seeds[0]}–{seeds[-1]} ({len(seeds)} per method)" if len(seeds) > 1 else f"{seeds[0]} (1 per method)"


def header_lines(header: dict[str, Any], suite: list[dict[str, Any]]) -> list[str]:
    """The command, seeds, code, machine, date and wall time; a quick run and failed runs said plainly."""
    suite_seeds = sorted({len(r["header"]["seeds"]) for r in suite})
    revisions = sorted({r["header"].get("revision", "not recorded") for r in suite})
    wall = f"{header['wall_seconds'] / 60:.1f} min with {header['workers']} workers"
    if header["runs_reused"]:
        wall += (
            f"; {header['runs_reused']} of {header['runs']} runs reused from earlier invocations in {header['work']}"
        )
    budgets = ", ".join(f"{name} {steps:,}" for name, steps in header["steps"].items())
    lines = [
        "# Transfer controller benchmark (issue 12)",
        "",
        f"- command: `{header['command']}`",
        f"- seeds: {_seed_range(header['seeds'])} in sections 2 and 3; section 1 reads the suite's target files "
        f"({header['results']}: {', '.join(map(str, suite_seeds))} seeds per method, code {', '.join(revisions)})",
        f"- code: {header['revision']}",
        f"- machine: {header['machine']}",
        f"- date: {header['date']}",
        f"- wall time: {wall}",
        f"- env steps per run (the suite's budgets and hyperparameters of record): {budgets}",
    ]
    if header["quick"] or any(r["header"].get("quick") for r in suite):
        lines.append(
            f"- **quick run** ({QUICK_STEPS:,} steps, transfer options {QUICK_TRANSFER}): a test of the benchmark's "
            "structure, not a measurement"
        )
    if header["failed"]:
        lines.append(f"- **{len(header['failed'])} runs failed**: " + "; ".join(header["failed"][:5]))
    return lines


def _path_text(path: list[dict[str, Any]]) -> str:
    return " → ".join(f"{step['mode']}@{step['step']:,}" for step in path)


def suite_lines(suite: list[dict[str, Any]], figures: dict[str, Any]) -> list[str]:
    """Section 1: suite_controller's figures and verdicts, then auto's mode path per target and seed."""
    names = [r["target"]["name"] for r in suite]
    lines = [
        "## 1. Over the suite: auto against every fixed method, instance where the teacher helps",
        "",
        f"From the suite's target files alone ({len(names)} of {len(TARGETS)} targets: {', '.join(names)}), "
        f"as `suite aggregate` scores them. Normalised AUC: {NORMALISATION}. The oracle is the best fixed method "
        "of each target; instance's jumpstart is its initial return over scratch's as a share of the teacher's "
        "zero-shot gain over scratch's start.",
        "",
        *controller_lines(figures),
        "",
        "auto's mode path per seed (mode@step of its first decision and of each switch):",
        "",
    ]
    for result in suite:
        auto = result.get("controller", {}).get("auto")
        name = result["target"]["name"]
        if not auto:
            lines.append(f"- **{name}**: not recorded (its target file predates the controller's records)")
            continue
        paths = [f"seed {seed}: {_path_text(path)}" for seed, path in zip(auto["seeds"], auto["paths"], strict=True)]
        lines.append(f"- **{name}**: " + "; ".join(paths))
    return lines


def _probe(row: dict[str, Any]) -> str:
    teacher, randomly = _mean(row["teacher_zero_shot"]), _mean(row["random_zero_shot"])
    if not (math.isfinite(teacher) and math.isfinite(randomly)):
        return "not probed"
    return f"{teacher:.4g} / {randomly:.4g} ({'beats' if teacher > randomly else 'does not beat'} random)"


def _share(row: dict[str, Any]) -> str:
    return f"{row['share']:.2f}" if math.isfinite(row["share"]) else "–"


def dataset_lines(datasets: dict[SuiteTarget, dict[str, Any]]) -> list[str]:
    """Section 2: per target the benefit of the policy teacher and of its dataset, and the dataset's share."""
    lines = [
        "## 2. A teacher that is only data (Minari) against the policy it was recorded from",
        "",
        "Per target, `instance` from the target's teacher (its demonstrations collected in the target during the "
        "run) and `instance` from a Minari dataset of that teacher recorded in the target beforehand "
        "(rltransfer.data.record_teacher, as `rltransfer data export` does; one dataset per seed, of instance's "
        "demonstration budget), both trained in this invocation with the suite target's env, student, budget, "
        "hyperparameters of record and threshold. The dataset's transitions count as target env steps; the "
        "recording's mapping search (Permuted targets) does not, while the policy run pays for its own. Benefit = "
        "AUC − scratch's AUC; share = the dataset's benefit / the policy's (point estimates).",
        "",
        "| target | teacher zero-shot / random | scratch AUC | policy AUC | policy benefit | policy transfer ratio | "
        "dataset AUC | dataset benefit | dataset transfer ratio | dataset / policy benefit |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target, row in datasets.items():
        policy, data = row["policy"], row["dataset"]
        lines.append(
            f"| {target.name} ({target.algo.upper()}, teacher {target.teacher}) | {_probe(row)} | "
            f"{format_estimate('auc', row['scratch']['auc'])} ({row['scratch_source']}) | "
            f"{format_estimate('auc', policy['auc'])} | {format_estimate('jumpstart', policy['benefit'])} | "
            f"{format_estimate('transfer_ratio', policy['ratio'])} | {format_estimate('auc', data['auc'])} | "
            f"{format_estimate('jumpstart', data['benefit'])} | {format_estimate('transfer_ratio', data['ratio'])} | "
            f"{_share(row)} |"
        )
    lines.append("")
    helped = {target: row for target, row in datasets.items() if row["policy_helps"]}
    for target, row in datasets.items():
        recorded = f"{_mean(row['recorded_steps']):,.0f} steps recorded per seed"
        if any(row["search_steps"]):
            recorded += f", after a mapping search of {_mean(row['search_steps']):,.0f} steps"
        counts = (row[name]["seeds"] for name in ("scratch", "policy", "dataset"))
        seeds = "seeds: scratch {}, policy {}, dataset {}".format(*counts)
        if target in helped:
            verdict = f"share {_share(row)} (goal ≥ {SHARE_GOAL}): {_verdict(row['share'] >= SHARE_GOAL)}"
        else:
            verdict = (
                f"the policy teacher gives no benefit over scratch here (benefit "
                f"{format_estimate('jumpstart', row['policy']['benefit'])}): no benefit to share, not counted"
            )
        resumed = f"; **trained over {row['invocations']} invocations** (resumed)" if row["invocations"] > 1 else ""
        lines.append(f"- {target.name}: {verdict}. Dataset {recorded}; {seeds}{resumed}.")
    if helped:
        met = sum(row["share"] >= SHARE_GOAL for row in helped.values())
        lines.append(
            f"- The dataset-only teacher reaches ≥ {SHARE_GOAL:.0%} of its policy's benefit on {met} of the "
            f"{len(helped)} targets where the policy helps: {_verdict(met == len(helped))}."
        )
    else:
        lines.append("- The policy teacher helps on none of these targets: the dataset goal is **not measured**.")
    return lines


def misleading_lines(target: SuiteTarget, row: dict[str, Any]) -> list[str]:
    """Section 3: scratch and auto on the misleading teacher, auto's AUC as a fraction of scratch's."""
    fraction = row["fraction"]
    lines = [
        f"## 3. A misleading teacher: {target.name}",
        "",
        f"`{target.env_id}`: {target.about}. Teacher {target.teacher} ({row['mapping']}), student "
        f"{target.algo.upper()}, {row['steps']:,} env steps, threshold {target.threshold:g}; every env step of the "
        "controller's probes is on auto's curve.",
        "",
        "| method | seeds | AUC [95% CI] | AUC / scratch's [95% CI] | transfer ratio [95% CI] |",
        "|---|---:|---:|---:|---:|",
        f"| scratch | {row['seeds'][0]} | {format_estimate('auc', row['scratch'])} | 1 (reference) | 0 (reference) |",
        f"| auto | {row['seeds'][1]} | {format_estimate('auc', row['auto'])} | {format_estimate('fraction', fraction)} "
        f"| {format_estimate('transfer_ratio', row['ratio'])} |",
        "",
        f"- auto's AUC on the misleading teacher: {format_estimate('fraction', fraction)} of scratch's (goal ≥ "
        f"{MISLEADING_GOAL}×): {_verdict(math.isfinite(fraction.mean) and fraction.mean >= MISLEADING_GOAL)}"
        + (
            f"; the CI reaches below {MISLEADING_GOAL}"
            if math.isfinite(fraction.low) and fraction.low < MISLEADING_GOAL
            else ""
        )
        + ".",
    ]
    lines += [f"- {line}" for line in row["evidence"]]
    lines += [f"- seed {seed}: {_path_text(path)}" for seed, path in enumerate(row["paths"])]
    return lines


METRICS = (
    "Metrics from `rltransfer.metrics` (the ones `rltransfer compare` and the suite report), 95% percentile-bootstrap "
    "CIs over seeds (seeds not paired): AUC = area under the learning curve / steps; transfer ratio = (AUC − "
    "AUC_scratch) / |AUC_scratch| (Taylor & Stone 2009); benefit = AUC − AUC_scratch; AUC / scratch's = mean AUC "
    "over scratch's mean AUC. Every env step a method spends (probes, mapping search, demonstrations, "
    "distil-initialise) is on its curve."
)


def render(
    header: dict[str, Any],
    *,
    suite: list[dict[str, Any]],
    figures: dict[str, Any],
    datasets: dict[SuiteTarget, dict[str, Any]],
    misleading: tuple[SuiteTarget, dict[str, Any]],
) -> str:
    """results/controller.md, whole."""
    lines = [
        *header_lines(header, suite),
        "",
        *suite_lines(suite, figures),
        "",
        *dataset_lines(datasets),
        "",
        *misleading_lines(*misleading),
        "",
        METRICS,
        f"Runs, learning curves and TensorBoard folders: `{header['work']}`.",
        "",
    ]
    return "\n".join(lines)
