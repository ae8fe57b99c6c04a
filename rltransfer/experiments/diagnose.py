"""Where and why a transfer helped or hurt: phases of the learning curve against scratch, and the evidence.

For every transfer method of a comparison (a `compare` output folder), `diagnose` says

- **where**: the training budget is cut into equal segments; in each, the per-seed mean of the learning
  curve is compared with scratch's by a two-sample bootstrap CI of the difference
  (`metrics.compare_to_scratch`). A segment is *ahead* when the CI is above 0, *behind* when it is below
  and *level* otherwise; adjacent segments with the same verdict merge into one phase when the merged
  stretch keeps that verdict.
- **why**: what the runs themselves recorded — how the student started (jumpstart against scratch), the
  mapped teacher's zero-shot return in the target against a random policy (the controller's probe, in
  decisions.jsonl), and the controller's decisions: the first mode and its reason, and every switch
  (mode, step, reason) counted over seeds.

Nothing is inferred that the runs did not measure; the text only puts those measurements side by side.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rltransfer import metrics
from rltransfer.training.folder import DECISIONS_FILE

DEFAULT_SEGMENTS = 5
"""Equal step segments the budget is cut into (each a fifth of training)."""


@dataclass(frozen=True)
class Phase:
    """A stretch of training over which a method stayed ahead of, level with or behind scratch."""

    start: int
    end: int
    verdict: str
    """"ahead", "behind" or "level" (the 95% CI of the difference includes 0)."""
    difference: metrics.Estimate
    """Mean return over the phase minus scratch's, with its bootstrap CI over seeds."""

    @property
    def resolved(self) -> bool:
        """False when there is no CI (fewer than 2 seeds on a side)."""
        return math.isfinite(self.difference.low) and math.isfinite(self.difference.high)

    def describe(self) -> str:
        """E.g. "ahead over steps 0–4,800 (+310 [+250, +380])"."""
        d = self.difference
        ci = f"[{d.low:+.4g}, {d.high:+.4g}]" if self.resolved else "no CI with 1 seed"
        return f"{self.verdict} over steps {self.start:,}–{self.end:,} ({d.mean:+.4g} {ci})"


@dataclass
class Diagnosis:
    """Where (phases) and why (evidence lines) of one method on one target."""

    env_id: str
    method: str
    seeds: int
    phases: list[Phase] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """Verdict from the phases: helped, hurt, mixed, or no resolved difference."""
        if self.phases and not all(p.resolved for p in self.phases):
            return "not resolved: a CI needs at least 2 seeds of this method and of scratch"
        kinds = {p.verdict for p in self.phases}
        if kinds <= {"level"}:
            return "no resolved difference from scratch"
        if "ahead" in kinds and "behind" in kinds:
            return "mixed: ahead of scratch in some phases, behind in others"
        return "helped" if "ahead" in kinds else "hurt"

    def lines(self) -> list[str]:
        """Markdown bullet lines."""
        where = "; ".join(p.describe() for p in self.phases) or "no curve"
        return [
            f"**{self.method}** ({self.seeds} seed{'' if self.seeds == 1 else 's'}): {self.verdict}.",
            f"- Where: {where}.",
            *(f"- {line}" for line in self.evidence),
        ]


def verdict_of(value: metrics.Estimate) -> str:
    """Ahead / behind / level from a difference's CI; without a CI (1 seed) from the sign of the mean."""
    low, high = (value.low, value.high) if math.isfinite(value.low) and math.isfinite(value.high) else (value.mean,) * 2
    if low > 0:
        return "ahead"
    if high < 0:
        return "behind"
    return "level"


def find_phases(
    method_curves: np.ndarray, scratch_curves: np.ndarray, steps: np.ndarray, *, segments: int = DEFAULT_SEGMENTS
) -> list[Phase]:
    """Cut the curves into `segments` equal stretches, classify each against scratch, merge equal neighbours.

    `method_curves` and `scratch_curves` are (seeds × points) on the grid `steps` (metrics.step_grid).
    """
    points = method_curves.shape[1]
    segments = max(1, min(segments, points))
    bounds = np.linspace(0, points, segments + 1).round().astype(int)
    edges = [(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds) if hi > lo]

    def estimate(ranges: list[tuple[int, int]]) -> metrics.Estimate:
        lo, hi = ranges[0][0], ranges[-1][1]
        return metrics.compare_to_scratch(
            method_curves[:, lo:hi].mean(axis=1), scratch_curves[:, lo:hi].mean(axis=1), kind="difference"
        )

    groups: list[tuple[str, list[tuple[int, int]], metrics.Estimate]] = []
    for edge in edges:
        alone = estimate([edge])
        kind = verdict_of(alone)
        if groups and groups[-1][0] == kind:
            # merge into the previous phase only when the merged stretch keeps the verdict
            merged = estimate([*groups[-1][1], edge])
            if verdict_of(merged) == kind:
                groups[-1] = (kind, [*groups[-1][1], edge], merged)
                continue
        groups.append((kind, [edge], alone))
    phases = []
    for kind, ranges, difference in groups:  # curve point i covers steps (steps[i-1], steps[i]]
        start = int(steps[ranges[0][0] - 1]) if ranges[0][0] > 0 else 0
        end = int(steps[ranges[-1][1] - 1])
        phases.append(Phase(start=start, end=end, verdict=kind, difference=difference))
    return phases


def read_decisions(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's decisions.jsonl (empty when it has none)."""
    path = Path(run_dir) / DECISIONS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def _switches(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows where the mode changed from the previous row."""
    return [row for previous, row in itertools.pairwise(rows) if row.get("mode") != previous.get("mode")]


def mode_path(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run's controller path: its first decision and every switch, as {step, mode, reason} (reason shortened)."""
    kept = rows[:1] + _switches(rows)
    return [
        {"step": int(r.get("step", 0)), "mode": str(r.get("mode")), "reason": _short(str(r.get("reason", "")))}
        for r in kept
    ]


def _short(reason: str, limit: int = 160) -> str:
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def _finite_mean(values: list[Any]) -> float:
    numbers = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(float(v))]
    return float(np.mean(numbers)) if numbers else math.nan


def decision_evidence(runs: list[list[dict[str, Any]]]) -> list[str]:
    """Why-lines from the decision logs of one method's seeds."""
    runs = [rows for rows in runs if rows]
    if not runs:
        return []
    n = len(runs)
    lines = []
    teacher = _finite_mean([rows[0].get("teacher_return_estimate") for rows in runs])
    randomly = _finite_mean([rows[0].get("random_return") for rows in runs])
    if math.isfinite(teacher) and math.isfinite(randomly):
        relation = "better than" if teacher > randomly else "no better than"
        lines.append(
            f"Teacher in the target: the mapped teacher's zero-shot return {teacher:.4g} vs a random policy's "
            f"{randomly:.4g} (probe at step 0, mean over seeds): {relation} random."
        )
    first = Counter(str(rows[0].get("mode")) for rows in runs)
    mode, count = first.most_common(1)[0]
    example = next(rows[0] for rows in runs if str(rows[0].get("mode")) == mode)
    lines.append(f'Start: mode `{mode}` in {count}/{n} seeds — "{_short(str(example.get("reason", "")))}".')
    moves: Counter[tuple[str, str]] = Counter()
    first_step: dict[tuple[str, str], int] = {}
    reasons: dict[tuple[str, str], str] = {}
    for rows in runs:
        previous = str(rows[0].get("mode"))
        seen = set()
        for row in _switches(rows):
            key = (previous, str(row.get("mode")))
            previous = key[1]
            if key in seen:
                continue
            seen.add(key)
            moves[key] += 1
            step = int(row.get("step", 0))
            if key not in first_step or step < first_step[key]:
                first_step[key], reasons[key] = step, str(row.get("reason", ""))
    if not moves:
        lines.append(f"Switches: none — `{mode}` held for the whole run.")
    for (before, after), count in moves.most_common():
        key = (before, after)
        lines.append(
            f"Switch `{before}` → `{after}` in {count}/{n} seeds, first at step {first_step[key]:,}: "
            f'"{_short(reasons[key])}".'
        )
    return lines


def diagnose_method(env: Any, method: str, records: list[Any], *, segments: int = DEFAULT_SEGMENTS) -> Diagnosis | None:
    """Diagnosis of one method on one target (`env`: an experiments.summary.EnvSummary); None without scratch."""
    summary, scratch = env.methods.get(method), env.methods.get("scratch")
    if summary is None or scratch is None or method == "scratch":
        return None
    if len(summary.curves) == 0 or len(scratch.curves) == 0:
        return None
    runs = [r for r in records if r.env_id == env.env_id and r.method == method]
    diagnosis = Diagnosis(env_id=env.env_id, method=method, seeds=len(runs))
    diagnosis.phases = find_phases(summary.curves, scratch.curves, env.steps, segments=segments)
    jump = summary.estimates["jumpstart"]
    if math.isfinite(jump.mean):
        side = {"ahead": "above", "behind": "below", "level": "level with"}[verdict_of(jump)]
        ci = f"[{jump.low:+.4g}, {jump.high:+.4g}]" if math.isfinite(jump.low) else "no CI with 1 seed"
        diagnosis.evidence.append(
            f"First episodes: {side} scratch (jumpstart {jump.mean:+.4g} {ci}; "
            f"initial return {summary.estimates['initial'].mean:.4g} vs {scratch.estimates['initial'].mean:.4g})."
        )
    diagnosis.evidence += decision_evidence([read_decisions(r.run_dir) for r in runs])
    return diagnosis


def diagnose(
    envs: list[Any], records: list[Any], *, segments: int = DEFAULT_SEGMENTS, method: str | None = None
) -> list[Diagnosis]:
    """Every transfer method (or only `method`) on every target with scratch runs, in the summary's order."""
    found = []
    for env in envs:
        for name in env.methods if method is None else [m for m in env.methods if m == method]:
            diagnosis = diagnose_method(env, name, records, segments=segments)
            if diagnosis is not None:
                found.append(diagnosis)
    return found


def render(diagnoses: list[Diagnosis], *, segments: int = DEFAULT_SEGMENTS) -> str:
    """The "Where and why" markdown section (empty without diagnoses)."""
    if not diagnoses:
        return ""
    lines = [
        "## Where and why",
        "",
        f"Where: training cut into {segments} equal stretches; a stretch is *ahead* / *behind* when the 95% "
        "bootstrap CI of (mean return − scratch's) over seeds is above / below 0, *level* otherwise; equal "
        "neighbours merge when the merged stretch keeps the verdict. Why: the runs' own records — jumpstart, "
        "the controller's probe of the mapped teacher in the target, and its decisions (decisions.jsonl) with "
        "their reasons.",
        "",
    ]
    env_id = None
    for diagnosis in diagnoses:
        if diagnosis.env_id != env_id:
            env_id = diagnosis.env_id
            lines += [f"### {env_id}", ""]
        lines += [*diagnosis.lines(), ""]
    return "\n".join(lines)
