"""`python -m benchmarks selection`: does the training-free ranking predict each teacher's measured benefit?

Ranks the zoo for every target of results/benefit_matrix.json (the suite's measured transfer ratios,
`python -m benchmarks suite aggregate`) and scores each ranking against it: Spearman's rho, top-1 regret,
the recommendation, and the ranking's cost as a share of scratch's steps to threshold (results/suite/).
Each target is ranked for its student (the matrix's algorithm, its net arch of record); none is trained.
Writes results/selection.md and .json headed by the command, seeds, machine and date.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from benchmarks import PROGRAM
from benchmarks.selection_calibration import calibrate, leave_one_target_out
from benchmarks.selection_calibration import render as render_calibration
from benchmarks.selection_report import render_report, summarize
from benchmarks.suite_setup import ensure_user_teacher
from benchmarks.suite_targets import target_order
from rltransfer import metrics
from rltransfer.errors import ConfigError
from rltransfer.experiments.provenance import command_line, machine_description, now_utc
from rltransfer.io import atomic_write_json, atomic_write_text
from rltransfer.make import env_family
from rltransfer.selection import (
    DEFAULT_BUDGET,
    RANDOM_SHARE,
    Ranking,
    Student,
    rank_teachers,
    ranking_cost,
    recommendation,
)
from rltransfer.selection.calibration import CALIBRATION_FILE

REFERENCE_BUDGETS = {
    "CartPole": 100_000,
    "Pendulum": 20_000,
    "Acrobot": 1_000_000,
    "MountainCar": 120_000,
    "LunarLander": 100_000,
}
"""RL-Zoo (rl-baselines3-zoo hyperparams) training budgets of record: PPO CartPole-v1 1e5, SAC Pendulum-v1 2e4,
PPO Acrobot-v1 1e6, DQN MountainCar-v0 1.2e5, DQN LunarLander 1e5 env steps."""
FIX = "run `python -m benchmarks suite aggregate` (after `python -m benchmarks suite run TARGET`)"
"""The fix named when the suite's results are missing."""


def register(subparsers: Any) -> None:
    """Add `python -m benchmarks selection`."""
    parser = subparsers.add_parser(
        "selection",
        help="ranking vs the suite's measured benefit (Spearman, regret, recommendation, cost)",
        description="Rank the zoo for every target of results/benefit_matrix.json and score the ranking against "
        "the measured transfer ratios; no training. Writes results/selection.md and .json.",
    )
    parser.add_argument("--seeds", type=int, default=2, help="ranking seeds per target (default 2: seeds 0, 1)")
    parser.add_argument("--zoo", default=None, metavar="DIR", help="teacher zoo (default: rank's, ./agents)")
    parser.add_argument("--results", default="results", metavar="DIR", help="where benefit_matrix.json and suite/ are")
    parser.add_argument(
        "--sweep",
        default="400:0.2",
        metavar="BUDGET:SHARE,...",
        help="extra rankings (budget : random share) scored against the same matrix ('' for none)",
    )
    parser.add_argument("--out", default="results/selection.md", help="output file (.json beside it)")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="also write the fitted score → benefit calibration that rltransfer ships "
        "(rltransfer/selection/calibration.json)",
    )
    parser.set_defaults(handler=_run)


def spearman(scores: list[float], benefits: list[float]) -> float:
    """Spearman's rho (nan with fewer than 3 teachers or constant inputs)."""
    if len(scores) < 3 or np.ptp(scores) == 0 or np.ptp(benefits) == 0:
        return float("nan")
    return float(spearmanr(scores, benefits).statistic)


def noise_ceiling(samples: list[list[float]]) -> float:
    """The ρ a ranker that knew every teacher's true benefit could expect against this measurement.

    `samples`: each teacher's per-seed AUCs (a transfer ratio is monotone in AUC: one scratch per target).
    Single-seed reliability r₁ = mean ρ between the teachers' orders on two different seeds; the mean of
    n seeds has reliability rₙ = n·r₁ / (1 + (n − 1)·r₁) (Spearman–Brown), and a perfect ranker's
    expected ρ with it is √rₙ: the noise ceiling of neuroscience's model comparisons. Few seeds and
    near-equal teachers keep it below 1; nan when no two seeds order the teachers.
    """
    n = min((len(s) for s in samples), default=0)
    pairs = [spearman([s[k] for s in samples], [s[j] for s in samples]) for k in range(n) for j in range(k + 1, n)]
    finite = [value for value in pairs if np.isfinite(value)]
    if not finite:
        return float("nan")
    single = max(0.0, float(np.mean(finite)))
    return float(np.sqrt(n * single / (1 + (n - 1) * single)))


def separable_pairs(ranked: list[tuple[float, float]]) -> tuple[int, int]:
    """(pairs ordered right, pairs) among the teacher pairs whose benefit CIs do not overlap.

    `ranked`: each teacher's (CI low, CI high) in rank order. Only these pairs does the measurement order
    beyond its noise; a ranking that orders them right is right wherever right is measurable.
    """
    right = total = 0
    for i, (low_i, high_i) in enumerate(ranked):
        for low_j, high_j in ranked[i + 1 :]:
            if low_i > high_j or low_j > high_i:
                total += 1
                right += low_i > high_j
    return right, total


def top1_regret(benefits: list[float]) -> float:
    """(best benefit − benefit of the teacher ranked first) / |best benefit|; `benefits` in rank order.

    Rank order, not the highest score: near-ties are broken by the route into the student (order_rankings).
    """
    best = max(benefits)
    chosen = benefits[0]
    if best <= 0:
        return 0.0 if chosen >= best else float("nan")
    return float((best - chosen) / abs(best))


def _finite(value: float | None) -> float:
    """A results file's number, nan for its null (an unreached threshold, an undefined CI)."""
    return float("nan") if value is None else float(value)


def parse_sweep(text: str) -> list[tuple[int, float]]:
    """'2000:0.33,600:0.2' → [(2000, 0.33), (600, 0.2)]; a ConfigError naming the bad item."""
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            budget, share = item.split(":")
            pairs.append((int(budget), float(share)))
        except ValueError:
            raise ConfigError(f'bad --sweep item "{item}"', fix="write BUDGET:SHARE pairs, e.g. 1000:0.2") from None
    return pairs


def read_json(path: Path) -> dict[str, Any]:
    """A results JSON file; a one-line ConfigError naming the command that writes it when it is missing."""
    if not path.is_file():
        raise ConfigError(f"no {path} (the suite's measured ground truth)", fix=FIX)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def cost_basis(suite: dict[str, Any]) -> dict[str, Any]:
    """Scratch's steps to threshold from a suite target file, or the RL-Zoo budget where no seed reached it."""
    target = suite["target"]
    per_seed = suite["methods"]["scratch"]["per_seed"]["time_to_threshold"]
    values = [_finite(value) for value in per_seed]
    estimate = metrics.aggregate_time_to_threshold(values, budget=target["steps"])
    threshold = f"{target['threshold']:g}"
    if estimate.reached:
        censored = "" if estimate.reached == estimate.n else f"; the others count as {target['steps']:,} steps"
        what = f"scratch's steps to {threshold} ({estimate.reached}/{estimate.n} seeds reached it{censored})"
        return {"steps": estimate.mean, "what": what}
    reference = REFERENCE_BUDGETS.get(env_family(target["env_id"]))
    what = f"RL-Zoo budget (scratch never reached {threshold})"
    return {"steps": float(reference) if reference else float("nan"), "what": what}


def score_ranking(entry: dict[str, Any], rankings: list[Ranking], basis: dict[str, Any]) -> dict[str, Any]:
    """One ranking scored against one target of the benefit matrix (its teachers' measured transfer ratios)."""
    measured = entry["teachers"]
    ranked = [r for r in rankings if r.teacher in measured]  # rank order, so ties go as rank breaks them
    scores = [r.score for r in ranked]
    benefits = [float(measured[r.teacher]["transfer_ratio"]["mean"]) for r in ranked]
    positive = [name for name, cell in measured.items() if (cell["transfer_ratio"]["low"] or 0.0) > 0]
    position = {r.teacher: rank for rank, r in enumerate(rankings, start=1)}
    first = rankings[0]
    recommends = first.teacher if first.fits else "scratch"
    cost = ranking_cost(rankings)
    best = max(benefits, default=float("nan"))
    cis = [
        (_finite(measured[r.teacher]["transfer_ratio"]["low"]), _finite(measured[r.teacher]["transfer_ratio"]["high"]))
        for r in ranked
    ]
    right, separable = separable_pairs(cis)
    return {
        "spearman_rho": spearman(scores, benefits) if ranked else float("nan"),
        "rho_ceiling": noise_ceiling([measured[r.teacher]["auc"] for r in ranked]) if ranked else float("nan"),
        "separable_pairs": separable,
        "separable_right": right,
        "top1_regret": top1_regret(benefits) if ranked else float("nan"),
        "first_overall": first.teacher,
        "first_in_matrix": first.teacher in measured,
        "first_benefit": measured[first.teacher]["transfer_ratio"]["mean"] if first.teacher in measured else None,
        "first_of_matrix": ranked[0].teacher if ranked else None,
        "best_measured": [r.teacher for r, b in zip(ranked, benefits, strict=True) if b == best],
        "recommendation": recommendation(rankings),
        "recommends": recommends,
        "turned_down": positive if recommends == "scratch" else [],
        "unranked": sorted(set(measured) - {r.teacher for r in ranked}),
        "cost": cost,
        "cost_basis": basis,
        "cost_share": cost / basis["steps"],
        "teachers": [
            {
                "teacher": r.teacher,
                "rank": position[r.teacher],
                "score": r.score,
                "zero_shot": r.zero_shot_return,
                "competence": r.evidence.get("competence", {}).get("value", float("nan")),
                "route": r.route,
                "transfer_ratio": measured[r.teacher]["transfer_ratio"],
            }
            for r in ranked
        ],
    }


def measure(
    matrix: dict[str, Any], results: Path, *, zoo: str | None, seeds: list[int], budget: int, random_share: float
) -> list[dict[str, Any]]:
    """Rank the zoo for every target of the matrix (suite order) with each seed; one scored row per ranking."""
    rows = []
    for name in sorted(matrix["targets"], key=target_order):
        entry = matrix["targets"][name]
        basis = cost_basis(read_json(results / "suite" / f"{name}.json"))
        for seed in seeds:
            began = time.time()
            student = Student(algo=entry["algo"])  # the suite's student: the hyperparams of record
            rankings = rank_teachers(
                entry["env_id"], zoo, budget=budget, seed=seed, random_share=random_share, student=student
            )
            head = {"target": name, "env_id": entry["env_id"], "student": entry["algo"], "seed": seed}
            row = {**head, "budget": budget, "random_share": random_share, **score_ranking(entry, rankings, basis)}
            rows.append(row)
            print(f"{name} seed {seed} budget {budget}: rho {row['spearman_rho']:.2f} [{time.time() - began:.0f}s]")
    return rows


def _run(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    started = time.time()
    results, out = Path(args.results), Path(args.out)
    matrix_path = results / "benefit_matrix.json"
    matrix = read_json(matrix_path)
    if args.seeds < 1:
        raise ConfigError(f"--seeds {args.seeds}", fix="give at least 1 ranking seed")
    seeds = list(range(args.seeds))
    configs = parse_sweep(args.sweep)
    ensure_user_teacher(args.zoo)  # the suite's zoo: the matrix measured the user's own model too

    def run(budget: int, share: float) -> list[dict[str, Any]]:
        return measure(matrix, results, zoo=args.zoo, seeds=seeds, budget=budget, random_share=share)

    rows = run(DEFAULT_BUDGET, RANDOM_SHARE)
    sweep = []
    for budget, share in configs:
        swept = run(budget, share)
        sweep.append({"budget": budget, "random_share": share, "goals": summarize(swept), "rows": swept})
    header = {
        "command": command_line(PROGRAM),
        "seeds": seeds,
        "budget": DEFAULT_BUDGET,
        "random_share": RANDOM_SHARE,
        "zoo": args.zoo or "default (./agents)",
        "matrix": str(matrix_path),
        "matrix_command": matrix["header"]["command"],
        "matrix_date": matrix["header"]["date"],
        "method": matrix["method"],
        "machine": machine_description(),
        "date": now_utc(),
        "wall_minutes": (time.time() - started) / 60,
    }
    goals = summarize(rows)
    source = {
        "command": header["command"],
        "method": matrix["method"],
        "matrix_command": header["matrix_command"],
        "matrix_date": header["matrix_date"],
        "budget": DEFAULT_BUDGET,
        "date": header["date"],
    }
    calibration = calibrate(rows, source=source)
    written = None
    if args.calibrate:
        atomic_write_json(CALIBRATION_FILE, calibration.to_dict(), sort_keys=False)
        written = str(CALIBRATION_FILE.relative_to(Path(__file__).resolve().parents[1]))
    check = leave_one_target_out(rows)
    section = render_calibration(calibration, check, written=written)
    atomic_write_text(out, render_report(header, goals, rows, sweep) + "\n" + section)
    report = {
        "header": header,
        "goals": goals,
        "targets": rows,
        "sweep": sweep,
        "calibration": {**calibration.to_dict(), "leave_one_target_out": check, "written": written},
    }
    atomic_write_json(out.with_suffix(".json"), report, sort_keys=False)
    print(f"wrote {out}, {out.with_suffix('.json')}")
    return 0
