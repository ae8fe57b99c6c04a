"""The suite's figures of the transfer controller (issue 12), from the per-target files alone.

- `auto` against every fixed method: mean normalised AUC over the suite's targets, and its regret against
  the best fixed method of each target (the oracle), as a share of the oracle's gain over scratch.
- `instance` where the mapped teacher beats random zero-shot (the controller's probe at step 0): the share
  of those targets whose transfer ratio CI lies above 0, and on off-policy targets its jumpstart as a share
  of the teacher's zero-shot gain over where scratch starts.
- Which mode auto chose and when, per target (decisions.jsonl, recorded by `suite run`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchmarks.suite_scores import finite_values, normalisable, normalise, target_bounds

FIXED = ("scratch", "finetune", "kickstart", "jsrl", "instance", "representation")
"""The fixed methods auto is measured against (its oracle is the best of them per target)."""
REGRET_GOAL, INSTANCE_GOAL, JUMPSTART_GOAL = 0.10, 0.70, 0.5
"""The issue's targets: regret ≤ 10% of the oracle's gain; instance CI above 0 on ≥ 70% of the targets where the
teacher beats random; off-policy jumpstart ≥ 0.5 of the teacher's zero-shot gain."""
OFF_POLICY = ("dqn", "sac", "td3")


def mean_normalised_auc(result: dict[str, Any], method: str) -> float:
    """Mean over a method's seeds of its normalised AUC on one target (NaN when it has no finite run)."""
    entry = result["methods"].get(method)
    if entry is None:
        return math.nan
    low, high = target_bounds(result)
    return _mean(list(normalise(finite_values(entry["per_seed"]["auc"]), low=low, high=high)))


def _mean(values: list[Any]) -> float:
    finite = finite_values(values)
    return float(np.mean(finite)) if finite else math.nan


def teacher_probe(result: dict[str, Any]) -> tuple[float, float]:
    """(teacher's, random policy's) zero-shot return in the target, mean over the probed seeds (NaN: not recorded)."""
    choices = result.get("controller", {})
    entry = choices.get("instance") or choices.get("auto")
    if not entry:
        return math.nan, math.nan
    return _mean(entry["teacher_zero_shot"]), _mean(entry["random_zero_shot"])


def _target_figures(result: dict[str, Any]) -> dict[str, Any]:
    scores = {m: mean_normalised_auc(result, m) for m in result["methods"]}
    fixed = {m: v for m, v in scores.items() if m in FIXED and math.isfinite(v)}
    oracle = max(fixed, key=lambda m: fixed[m])
    teacher, randomly = teacher_probe(result)
    estimates = result["methods"]["instance"]["estimates"]
    initial = result["methods"]["scratch"]["estimates"]["initial"]["mean"]
    off_policy = result["target"]["algo"] in OFF_POLICY
    jumpstart = math.nan
    if off_policy and math.isfinite(teacher) and teacher > initial:
        jumpstart = float(estimates["initial"]["mean"] - initial) / (teacher - initial)
    return {
        "normalised_auc": scores,
        "oracle": oracle,
        "oracle_gain": fixed[oracle] - scores["scratch"],
        "auto_regret": fixed[oracle] - scores.get("auto", math.nan),
        "teacher_zero_shot": teacher,
        "random_zero_shot": randomly,
        "teacher_beats_random": (teacher > randomly) if math.isfinite(teacher) and math.isfinite(randomly) else None,
        "instance_ci_above_0": (estimates["transfer_ratio"]["low"] or 0.0) > 0,  # None: one seed, no CI
        "off_policy": off_policy,
        "instance_jumpstart_share": jumpstart,
        "auto_choices": result.get("controller", {}).get("auto", {}).get("evidence", []),
    }


def controller_figures(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per target and over the suite, the figures of the module docstring (targets with a normalisation only)."""
    per_target = {r["target"]["name"]: _target_figures(r) for r in normalisable(results) if "auto" in r["methods"]}
    methods = [m for m in (*FIXED, "auto") if all(m in t["normalised_auc"] for t in per_target.values())]
    means = {m: _mean([t["normalised_auc"][m] for t in per_target.values()]) for m in methods}
    gains = [t for t in per_target.values() if t["oracle_gain"] > 0]
    pooled = sum(t["auto_regret"] for t in gains) / sum(t["oracle_gain"] for t in gains) if gains else math.nan
    helped = [t for t in per_target.values() if t["teacher_beats_random"]]
    share = sum(t["instance_ci_above_0"] for t in helped) / len(helped) if helped else math.nan
    fixed_best = max((m for m in means if m != "auto"), key=lambda m: means[m], default=None)
    return {
        "per_target": per_target,
        "mean_normalised_auc": means,
        "auto_at_least_every_fixed": bool(fixed_best and means.get("auto", -math.inf) >= means[fixed_best]),
        "auto_pooled_regret": pooled,
        "instance_share": share,
        "instance_targets": len(helped),
        "not_probed": [name for name, t in per_target.items() if t["teacher_beats_random"] is None],
    }


def _verdict(met: bool) -> str:
    return "MET" if met else "**MISSED**"


def controller_lines(figures: dict[str, Any]) -> list[str]:
    """suite.md's section on the controller."""
    per_target = figures["per_target"]
    if not per_target:
        return []
    means = figures["mean_normalised_auc"]
    lines = [
        "| target | oracle (best fixed) | oracle − scratch | oracle − auto | teacher / random zero-shot | "
        "instance CI > 0 | off-policy jumpstart / teacher's |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    for name, t in per_target.items():
        probe = (
            "not recorded"
            if t["teacher_beats_random"] is None
            else f"{t['teacher_zero_shot']:.4g} / {t['random_zero_shot']:.4g}"
        )
        jump = f"{t['instance_jumpstart_share']:.2f}" if math.isfinite(t["instance_jumpstart_share"]) else "–"
        lines.append(
            f"| {name} | {t['oracle']} | {t['oracle_gain']:+.3f} | {t['auto_regret']:+.3f} | {probe} | "
            f"{'yes' if t['instance_ci_above_0'] else 'no'} | {jump} |"
        )
    fixed = {m: v for m, v in means.items() if m != "auto"}
    best = max(fixed, key=lambda m: fixed[m])
    lines += [
        "",
        "Mean normalised AUC over these targets: " + ", ".join(f"{m} {v:.3f}" for m, v in means.items()) + ".",
        "",
        f"- auto ≥ every fixed method in mean normalised AUC (best fixed: {best} {fixed[best]:.3f}, auto "
        f"{means.get('auto', math.nan):.3f}): {_verdict(figures['auto_at_least_every_fixed'])}.",
        f"- auto's regret against the per-target oracle, summed over targets, as a share of the oracle's gain over "
        f"scratch: {figures['auto_pooled_regret']:.3f} (goal ≤ {REGRET_GOAL}): "
        f"{_verdict(figures['auto_pooled_regret'] <= REGRET_GOAL)}.",
    ]
    if figures["instance_targets"]:
        lines.append(
            f"- instance's transfer ratio CI above 0 on {figures['instance_share']:.0%} of the "
            f"{figures['instance_targets']} targets where the mapped teacher beats random zero-shot (goal ≥ "
            f"{INSTANCE_GOAL:.0%}): {_verdict(figures['instance_share'] >= INSTANCE_GOAL)}."
        )
    jumps = [t["instance_jumpstart_share"] for t in per_target.values() if math.isfinite(t["instance_jumpstart_share"])]
    if jumps:
        met = sum(j >= JUMPSTART_GOAL for j in jumps)
        lines.append(
            f"- instance's jumpstart on off-policy targets ≥ {JUMPSTART_GOAL} of the teacher's zero-shot gain over "
            f"scratch's start on {met} of {len(jumps)}: {_verdict(met == len(jumps))}."
        )
    if figures["not_probed"]:
        lines.append(
            f"- Not recorded (target files written before `suite run` kept the controller's decisions): probes and "
            f"auto's choices of {', '.join(figures['not_probed'])}."
        )
    lines.append("")
    for name, t in per_target.items():
        if t["auto_choices"]:
            lines.append(f"- **{name}**, auto: " + " ".join(t["auto_choices"]))
    return lines
