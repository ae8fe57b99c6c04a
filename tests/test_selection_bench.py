"""The selection benchmark scores a real ranking against the suite's benefit matrix; no matrix, one-line error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import one_error_line

from benchmarks.__main__ import main
from benchmarks.selection import cost_basis, measure, noise_ceiling, read_json, score_ranking, separable_pairs
from benchmarks.selection_report import render_report, summarize
from rltransfer.mapping import Mapping, ObsMap
from rltransfer.selection import RANDOM_SHARE, Ranking, rank_teachers

AGENTS = Path(__file__).resolve().parents[1] / "agents"
TEACHERS = ("cartpole-ppo", "cartpole-ppo-undertrained", "acrobot-ppo")
ENV = "rltransfer/CartPole-LongPole-v0"


def suite_file(env_id: str, time_to_threshold: list[float | None], steps: int = 5000) -> dict[str, object]:
    """The part of results/suite/<target>.json the benchmark reads: the target and scratch's steps to threshold."""
    target = {"name": "CartPole-LongPole", "env_id": env_id, "steps": steps, "threshold": 475.0}
    return {"target": target, "methods": {"scratch": {"per_seed": {"time_to_threshold": time_to_threshold}}}}


def cell(mean: float, low: float) -> dict[str, object]:
    ratio = {"mean": mean, "low": low, "high": mean + 0.2, "n": 3}
    return {"transfer_ratio": ratio, "auc": [100 * (1 + mean) + d for d in (-1.0, 0.0, 1.0)]}


def header() -> dict[str, object]:
    fields: dict[str, object] = {"command": "python -m benchmarks selection", "seeds": [0], "budget": 300}
    fields |= {"random_share": RANDOM_SHARE, "zoo": "test", "matrix": "m.json", "matrix_command": "suite aggregate"}
    return fields | {
        "matrix_date": "today",
        "method": "representation",
        "machine": "test",
        "date": "now",
        "wall_minutes": 0.1,
    }


def test_scores_a_real_ranking_against_the_matrix(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    for name in TEACHERS:
        shutil.copytree(AGENTS / name, zoo / name)
    rankings = rank_teachers(ENV, zoo, budget=300, seed=0)
    order = [r.teacher for r in rankings]
    assert len({r.score for r in rankings}) == 3, "the test needs three distinct scores"
    # Measured benefit in the reverse of the ranking's order: rho -1, and the top pick loses (0.9 − 0.1) / 0.9.
    teachers = {order[0]: cell(0.1, -0.1), order[1]: cell(0.5, 0.2), order[2]: cell(0.9, 0.6)}
    matrix = {"targets": {"CartPole-LongPole": {"env_id": ENV, "algo": "ppo", "steps": 5000, "teachers": teachers}}}
    (tmp_path / "benefit_matrix.json").write_text(json.dumps(matrix))
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "CartPole-LongPole.json").write_text(json.dumps(suite_file(ENV, [1000.0, None, 3000.0])))

    rows = measure(
        read_json(tmp_path / "benefit_matrix.json"),
        tmp_path,
        zoo=str(zoo),
        seeds=[0],
        budget=300,
        random_share=RANDOM_SHARE,
    )
    (row,) = rows
    assert [t["teacher"] for t in row["teachers"]] == order
    assert [t["score"] for t in row["teachers"]] == [r.score for r in rankings]  # the same seeded ranking
    assert row["spearman_rho"] == pytest.approx(-1.0)
    assert row["top1_regret"] == pytest.approx(0.8 / 0.9)
    assert row["rho_ceiling"] == pytest.approx(1.0)  # AUCs far apart for their seeds' spread: the order is settled
    assert (row["separable_right"], row["separable_pairs"]) == (0, 1)  # only 0.1 vs 0.9 disjoint, in the wrong order
    assert (row["first_overall"], row["first_of_matrix"], row["best_measured"]) == (order[0], order[0], [order[2]])
    assert 0 < row["cost"] <= 300
    assert row["cost_basis"]["steps"] == pytest.approx(3000.0)  # the unreached seed counts as the 5000-step budget
    assert "2/3 seeds" in row["cost_basis"]["what"]
    assert row["cost_share"] == pytest.approx(row["cost"] / 3000.0)

    goals = summarize(rows)
    assert not goals["rho_met"] and not goals["regret_met"] and not goals["cost_met"]
    report = render_report(header(), goals, rows, [])
    lines = report.splitlines()
    assert lines[0] == "# Teacher selection benchmark"
    assert lines[2] == "Command: `python -m benchmarks selection`"
    for heading in ("## Goals", "## Per target", "## Each ranking against the matrix", "### CartPole-LongPole"):
        assert any(line.startswith(heading) for line in lines), heading
    assert "## How `rltransfer rank` works (README section)" in lines
    (table_row,) = [line for line in lines if line.startswith("| CartPole-LongPole |")]
    assert table_row.startswith(
        f"| CartPole-LongPole | PPO | 300 | 0 | 3 | -1.00 | 1.00 | 0/1 | 0.89 | {order[0]} (0.10) |"
    )
    assert sum(line.startswith("| mean Spearman ρ ≥ 0.8 | -1.00") and "**MISSED**" in line for line in lines) == 1


def test_unmeasured_first_and_turned_down_teacher_are_flagged() -> None:
    def ranking(name: str, score: float) -> Ranking:
        return Ranking(teacher=name, score=score, mapping=Mapping(obs=ObsMap.identity(4)))

    entry = {"teachers": {"a": cell(0.1, -0.2), "b": cell(0.6, 0.3), "c": cell(-0.4, -0.6)}}
    basis = {"steps": 1000.0, "what": "test"}
    below = [ranking("outsider", 0.2), ranking("a", 0.1), ranking("b", 0.05), ranking("c", 0.0)]
    head = {"target": "T", "env_id": "rltransfer/T-v0", "student": "ppo", "seed": 0, "budget": 1000}
    row = {**head, **score_ranking(entry, below, basis)}
    assert (row["first_in_matrix"], row["first_benefit"], row["recommends"]) == (False, None, "scratch")
    assert row["turned_down"] == ["b"]  # measured CI low 0.3 > 0, yet the recommendation is scratch
    assert row["top1_regret"] == pytest.approx(0.5 / 0.6)
    assert summarize([row])["turned_down"] == ["T (seed 0)"]
    (table_row,) = [
        line for line in render_report(header(), summarize([row]), [row], []).splitlines() if "| T |" in line
    ]
    assert "outsider (**not in matrix: unmeasured**)" in table_row and "scratch (**turned down** b)" in table_row

    fits = score_ranking(entry, [ranking("outsider", 0.9), *below[1:]], basis)
    assert (fits["recommends"], fits["turned_down"]) == ("outsider", [])


def test_noise_ceiling_falls_when_the_measurement_cannot_order_the_teachers() -> None:
    rng = np.random.default_rng(0)
    apart = [list(mean + rng.normal(0, 1, 3)) for mean in (0.0, 10.0, 20.0, 30.0)]
    overlapping = [list(mean + rng.normal(0, 30, 3)) for mean in (0.0, 1.0, 2.0, 3.0)]
    assert noise_ceiling(apart) > 0.95
    assert noise_ceiling(overlapping) < 0.7
    assert np.isnan(noise_ceiling([[500.0] * 3] * 4))  # no seed orders the teachers


def test_separable_pairs_count_only_disjoint_cis_in_rank_order() -> None:
    # rank order: a (0.5–0.9), b (0.0–0.2), c (0.1–0.6): a > b settled and right; b vs c overlap; a vs c overlap
    assert separable_pairs([(0.5, 0.9), (0.0, 0.2), (0.1, 0.6)]) == (1, 1)
    assert separable_pairs([(0.0, 0.2), (0.5, 0.9)]) == (0, 1)
    assert separable_pairs([(0.0, float("nan")), (0.5, 0.9)]) == (0, 0)  # an undefined CI settles nothing


def test_cost_basis_is_the_rl_zoo_budget_where_scratch_never_reaches_the_threshold() -> None:
    basis = cost_basis(suite_file("rltransfer/LunarLander-Windy-v0", [None, None]))
    assert basis["steps"] == 100_000 and "RL-Zoo budget" in basis["what"]


def test_missing_benefit_matrix_is_one_line_naming_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["selection", "--results", str(tmp_path), "--out", str(tmp_path / "selection.md")]) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err, captured.out)
    assert "benefit_matrix.json" in line and "python -m benchmarks suite aggregate" in line
    assert not (tmp_path / "selection.md").exists()
