"""Selection spends its probe budget where it tells: screened for free first, then probes for the candidates left."""

from __future__ import annotations

from pathlib import Path

from rltransfer.selection import SCREEN_SHARE, rank_teachers, ranking_cost

ZOO = Path(__file__).resolve().parents[1] / "agents"
TEACHERS = ["pendulum-sac", "pendulum-ppo", "cartpole-ppo", "mountaincar-dqn", "acrobot-dqn"]


def test_the_probe_budget_goes_to_the_teachers_the_free_screen_keeps() -> None:
    """On a heavier Pendulum the two Pendulum teachers get every probe step; the other families none, and
    no competence: they never showed they beat random there (they used to read 1.0 after 11 steps)."""
    budget = 900
    rankings = rank_teachers("rltransfer/Pendulum-Heavy-v0", ZOO, teachers=TEACHERS, budget=budget, seed=0)
    by_name = {r.teacher: r for r in rankings}
    same_family = [by_name["pendulum-sac"], by_name["pendulum-ppo"]]
    others = [by_name[name] for name in ("cartpole-ppo", "mountaincar-dqn", "acrobot-dqn")]
    random_steps = int(rankings[0].evidence["shared_random_steps"])
    assert all(r.evidence["screen"]["probed"] for r in same_family)
    assert all(not r.evidence["screen"]["probed"] and r.evidence["probe_env_steps"] == 0 for r in others)
    for ranking in others:
        screen = ranking.evidence["screen"]
        assert screen["free_score"] < SCREEN_SHARE * screen["best_free_score"]
        assert ranking.evidence.get("competence", {}).get("value", 0.0) < 1.0
    probe_steps = [int(r.evidence["probe_env_steps"]) for r in same_family]
    assert min(probe_steps) > (budget - random_steps) // len(TEACHERS), "each candidate's probe is longer"
    assert ranking_cost(rankings) <= budget
    assert {rankings[0].teacher, rankings[1].teacher} == {"pendulum-sac", "pendulum-ppo"}
