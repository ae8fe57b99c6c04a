"""results/selection.md from the scored rankings of `python -m benchmarks selection`: goals, tables, rank's method."""

from __future__ import annotations

from typing import Any

import numpy as np

from rltransfer.selection import NEAR_TIE

GOALS = {"rho": 0.8, "regret": 0.05, "cost_share": 0.01}
"""The issue's goals: mean Spearman rho ≥, top-1 regret ≤, ranking cost / scratch's steps to threshold ≤."""

WHY_REPRESENTATION = """## Why the matrix measures `representation`

Ground truth needs a method that transfers: kickstart barely moved a PPO student within a short run (every
benefit was noise around 0). `representation` (distillation + layer matching + initialisation from the teacher
where architectures allow) is the suite's one method for every teacher (suite_targets.BENEFIT_METHOD).
"""

README_SECTION = """## How `rltransfer rank` works (README section)

`rltransfer rank --env ID` scores every teacher of the zoo for a target without a gradient step, within a
budget of target env steps (default 1000, shared by all teachers; a third goes to random rollouts). A free
screen first scores every teacher by space compatibility × dynamics similarity (no target step beyond the
shared rollouts); only those within 0.6 of the best free score share the probe budget:

1. **Space compatibility** (signatures only): 1 for identical spaces, −0.1 for other bounds, −0.2 for another
   observation size, −0.2 for binning between discrete and continuous actions, 0 when no action map bridges
   the spaces (e.g. 2 vs 3 discrete actions).
2. **Mapping** (student obs → teacher obs, teacher action → student action), found MASTER-style: a ridge
   one-step model is fitted on the teacher's stored source transitions; per-dimension signatures invariant to
   order, scale and sign give a first assignment (`scipy.optimize.linear_sum_assignment`; distractor dims
   dropped, missing ones padded), then a local search over sign flips, swaps and re-assignments minimises the
   model's error on random-policy target data, with the best action map exact for each candidate. Among
   candidates within noise of the best the simplest wins; the plausible few are confirmed by zero-shot episodes.
3. **Dynamics similarity**: 0.7 × (the model's R² on mapped target data / its held-out R² on the source)
   + 0.3 × exp(−mean Wasserstein-1 distance) between mapped target and source state distributions.
4. **Zero-shot return** of the mapped teacher, over probe episodes cut at a common horizon, normalized so
   that 0 is the random policy in the target and 1 the teacher's own return on its source task over the same
   horizon (reported as `zero_shot_return`; it says whether the mapping works).
5. **Target competence**: how good the mapped teacher is in the target, not relative to its own source.
   With a reward_threshold in the target's spec: mean over probe episodes of
   clip((R − R_random)/(threshold − R_random), 0, 1) over full episodes — an episode that ended is full; one
   cut at the probe horizon H is completed with the teacher's own source tail (card return minus its first-H
   source return), at no extra env step; R_random is the random policy's full-episode return. Without a
   threshold (Pendulum): the gain over random per step relative to the best probed teacher of the ranking.

`score = compatibility × (0.7 · min(clip(zero_shot, 0, 1), competence) + 0.3 · dynamics_similarity)`.
Below 0.3 for every teacher the recommendation is "train from scratch". The mapping is stored with the
ranking (`--json`, `--out FILE`: `Mapping.to_dict()`), so the transfer controller uses exactly it.
Each teacher's route into the student (`--algo`, `--net-arch`; default PPO with its net arch of record) is
"weights copy" when `copy_teacher_weights` copies its whole actor through the mapping, else "distillation"
("data only" for a dataset); among scores within 0.01 of each other the cheaper route ranks first.
"""


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The goals over a set of rankings, each with its measured value and MET / MISSED."""
    rhos, regrets = [r["spearman_rho"] for r in rows], [r["top1_regret"] for r in rows]
    shares = [r["cost_share"] for r in rows]
    turned_down = [f"{r['target']} (seed {r['seed']})" for r in rows if r["turned_down"]]
    finite_regrets = [v for v in regrets if np.isfinite(v)]
    rho, worst_share = _mean(rhos), max(shares, key=lambda s: s if np.isfinite(s) else np.inf, default=np.nan)
    return {
        "rankings": len(rows),
        "mean_rho": rho,
        "rho_defined": sum(bool(np.isfinite(v)) for v in rhos),
        "rho_met": bool(rho >= GOALS["rho"]),
        "mean_ceiling": _mean([r["rho_ceiling"] for r in rows]),
        "separable_right": sum(r["separable_right"] for r in rows),
        "separable_pairs": sum(r["separable_pairs"] for r in rows),
        "mean_regret": _mean(regrets),
        "worst_regret": max(finite_regrets, default=float("nan")),
        "regret_met": len(finite_regrets) == len(rows) and max(finite_regrets, default=0.0) <= GOALS["regret"],
        "turned_down": turned_down,
        "turned_down_met": not turned_down,
        "worst_cost_share": worst_share,
        "within_cost": sum(bool(s <= GOALS["cost_share"]) for s in shares),
        "cost_met": bool(worst_share <= GOALS["cost_share"]),  # False when a share is NaN (no basis)
    }


def _verdict(met: bool) -> str:
    return "**MET**" if met else "**MISSED**"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _goal_lines(goals: dict[str, Any]) -> list[str]:
    return [
        "| goal | measured | verdict |",
        "|---|---|---|",
        f"| mean Spearman ρ ≥ {GOALS['rho']} | {_num(goals['mean_rho'])} (defined on {goals['rho_defined']} of "
        f"{goals['rankings']} rankings; the measurement's own ceiling {_num(goals['mean_ceiling'])}; "
        f"{goals['separable_right']} of {goals['separable_pairs']} pairs with disjoint benefit CIs ordered right) "
        f"| {_verdict(goals['rho_met'])} |",
        f"| top-1 regret ≤ {GOALS['regret']} on every ranking | mean {_num(goals['mean_regret'])}, "
        f"worst {_num(goals['worst_regret'])} "
        f"| {_verdict(goals['regret_met'])} |",
        f"| no teacher with measured benefit (CI low > 0) turned down for scratch | "
        f"{', '.join(goals['turned_down']) or 'none turned down'} | {_verdict(goals['turned_down_met'])} |",
        f"| ranking cost ≤ {100 * GOALS['cost_share']:g}% of scratch's steps to threshold (RL-Zoo budget where "
        f"scratch never reaches it) | worst {_num(100 * goals['worst_cost_share'])}%; {goals['within_cost']} of "
        f"{goals['rankings']} within | {_verdict(goals['cost_met'])} |",
    ]


def _row_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| target | student | budget | seed | teachers | Spearman ρ | ρ ceiling | separable pairs right | "
        "top-1 regret | first overall (benefit) | "
        "first of matrix | best measured | recommends | cost (env steps) | cost / basis | basis |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---:|---:|---|",
    ]
    for r in rows:
        benefit = _num(r["first_benefit"]) if r["first_in_matrix"] else "**not in matrix: unmeasured**"
        turned = f" (**turned down** {', '.join(r['turned_down'])})" if r["turned_down"] else ""
        lines.append(
            f"| {r['target']} | {r['student'].upper()} | {r['budget']} | {r['seed']} | {len(r['teachers'])} | "
            f"{_num(r['spearman_rho'])} | {_num(r['rho_ceiling'])} | {r['separable_right']}/{r['separable_pairs']} | "
            f"{_num(r['top1_regret'])} | {r['first_overall']} ({benefit}) | {r['first_of_matrix']} | "
            f"{', '.join(r['best_measured'])} | "
            f"{r['recommends']}{turned} | {r['cost']} | {_num(100 * r['cost_share'])}% | "
            f"{_num(r['cost_basis']['steps'], 0)}: {r['cost_basis']['what']} |"
        )
    return lines


def _ranking_lines(row: dict[str, Any]) -> list[str]:
    lines = [
        f"### {row['target']} (`{row['env_id']}`, seed {row['seed']})",
        "",
        f"Recommendation: {row['recommendation']}.",
        *([f"In the matrix but not ranked (not in the zoo): {', '.join(row['unranked'])}."] if row["unranked"] else []),
        "",
        "| rank | teacher | score | zero-shot | competence | route | measured transfer ratio [95% CI] (seeds) |",
        "|---:|---|---:|---:|---:|---|---|",
    ]
    for t in row["teachers"]:
        ratio = t["transfer_ratio"]
        lines.append(
            f"| {t['rank']} | {t['teacher']} | {t['score']:.3f} | {_num(t['zero_shot'])} | {_num(t['competence'])} | "
            f"{t.get('route') or '–'} | "
            f"{ratio['mean']:+.2f} [{_num(ratio['low'])}, {_num(ratio['high'])}] ({ratio['n']}) |"
        )
    return [*lines, ""]


def render_report(header: dict[str, Any], goals: dict[str, Any], rows: list[dict[str, Any]], sweep: list[Any]) -> str:
    """results/selection.md: header, goals, the per-target table, the sweep, each ranking against the matrix."""
    lines = [
        "# Teacher selection benchmark",
        "",
        f"Command: `{header['command']}`",
        "",
        f"Seeds: ranking seeds {header['seeds']}; budget {header['budget']} env steps, random share "
        f"{header['random_share']:.2f} (rank's defaults); zoo: {header['zoo']}. No student is trained here.",
        f"Ground truth: {header['matrix']} ({header['matrix_command']}, {header['matrix_date']}): each teacher's "
        f"benefit is the measured transfer ratio of `{header['method']}` against scratch (AUC, mean over its benefit "
        "seeds). The matrix lists only the teachers whose spaces map to the target's without resizing (same "
        "observation shape and action kind); the others are ranked but unmeasured, and left out of ρ and regret.",
        "Each target is ranked for its student (the matrix's algorithm, its net arch of record): each teacher's "
        f"route into it (weights copy, distillation) orders teachers whose scores are within {NEAR_TIE} of each "
        "other, cheaper route first.",
        f"Machine: {header['machine']}, shared with other jobs.",
        f"Date: {header['date']}; wall time {header['wall_minutes']:.1f} min.",
        "",
        "## Goals (default budget, every ranking seed)",
        "",
        *_goal_lines(goals),
        "",
        "## Per target",
        "",
        *_row_lines(rows),
        "",
        "Teachers: the matrix's teachers in this ranking (ρ over 3 teachers takes few values). ρ ceiling: the ρ a "
        "ranker that knew each teacher's true benefit could expect against this measurement (√ of the seeds' "
        "Spearman–Brown reliability, benchmarks.selection.noise_ceiling); "
        "few seeds and near-equal teachers keep it below 1, and a ranking's ρ is read against it. Separable "
        "pairs: teacher pairs whose benefit CIs do not overlap, the only orders the measurement settles; "
        "right = the ranking puts the better one first. Top-1 regret: "
        "(best measured benefit − benefit of the matrix teacher ranked first) / best. Cost: "
        "rltransfer.selection.ranking_cost (every target env step the ranking spent); basis: scratch's mean steps "
        "to threshold over the suite's seeds (rltransfer.metrics.aggregate_time_to_threshold).",
        "",
    ]
    for config in sweep:
        lines += [f"## Budget sweep: {config['budget']} env steps, random share {config['random_share']:.2f}", ""]
        lines += [*_goal_lines(config["goals"]), "", *_row_lines(config["rows"]), ""]
    lines += ["## Each ranking against the matrix", ""]
    for row in rows:
        lines += _ranking_lines(row)
    return "\n".join(lines) + "\n" + WHY_REPRESENTATION + "\n" + README_SECTION
