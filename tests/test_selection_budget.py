"""Selection spends its probe budget where it tells: screened for free first, then probes for the candidates left."""

from __future__ import annotations

from pathlib import Path

from rltransfer.mapping import Mapping, ObsMap
from rltransfer.selection import SCREEN_SHARE, rank_teachers, ranking_cost
from rltransfer.selection.halving import cap_dropped, halving_rounds
from rltransfer.selection.ranking import Ranking, order_rankings

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


def test_halving_gives_the_best_candidates_the_longest_probes_within_the_budget() -> None:
    """Four Pendulum teachers: two rounds; the better half (and any near-tie with it) runs longer probes of the
    mapping round 1 confirmed; the dropped never outrank them; every probe step is counted and the budget holds."""
    names = ["pendulum-sac", "pendulum-td3", "pendulum-sac-small", "pendulum-sac-undertrained"]
    budget = 1200
    rankings = rank_teachers("rltransfer/Pendulum-Heavy-v0", ZOO, teachers=names, budget=budget, seed=0)
    halving = {r.teacher: r.evidence["halving"] for r in rankings}
    assert {h["rounds"] for h in halving.values()} == {halving_rounds(4)} == {2}
    kept = [r for r in rankings if halving[r.teacher]["round"] == 2]
    dropped = [r for r in rankings if halving[r.teacher]["round"] == 1]
    assert len(kept) >= 2 and dropped
    assert "pendulum-sac-undertrained" in {r.teacher for r in dropped}
    assert all(r.evidence["mapping"]["kept"] for r in kept)
    assert min(r.evidence["zero_shot"]["horizon"] for r in kept) > max(
        r.evidence["zero_shot"]["horizon"] for r in dropped
    )
    assert min(r.score for r in kept) >= max(r.score for r in dropped)
    assert {r.teacher for r in rankings[: len(kept)]} == {r.teacher for r in kept}
    for ranking in rankings:
        rounds = ranking.evidence["halving"]["per_round"]
        assert ranking.evidence["probe_env_steps"] == sum(step["env_steps"] for step in rounds) > 0
    assert ranking_cost(rankings) <= budget


def test_halving_rounds_and_the_cap_on_dropped_teachers() -> None:
    assert [halving_rounds(n) for n in (0, 1, 2, 3, 4, 5, 8, 9)] == [0, 1, 1, 2, 2, 2, 2, 2]

    def ranking(name: str, score: float, reached: int) -> Ranking:
        evidence = {"halving": {"round": reached, "rounds": 2, "per_round": []}} if reached else {}
        return Ranking(teacher=name, score=score, mapping=Mapping(obs=ObsMap.identity(3)), evidence=evidence)

    rankings = [ranking("kept", 0.6, 2), ranking("lucky-short-probe", 0.9, 1), ranking("unprobed", 0.7, 0)]
    capped = {r.teacher: r for r in cap_dropped(rankings)}
    assert capped["lucky-short-probe"].score == 0.6
    assert capped["lucky-short-probe"].evidence["halving"]["uncapped_score"] == 0.9
    assert capped["kept"].score == 0.6 and capped["unprobed"].score == 0.7
    ordered = [r.teacher for r in order_rankings(list(capped.values()))]
    assert ordered == ["unprobed", "kept", "lucky-short-probe"], "on equal scores the survivor goes first"


def test_a_round_that_probes_nobody_drops_nobody() -> None:
    """Eight CartPole teachers at 250 steps: round 1's share is too short for any probe, so all stay in."""
    rankings = rank_teachers("rltransfer/CartPole-Permuted-v0", ZOO, budget=250, seed=0)
    probed = [r for r in rankings if "halving" in r.evidence]
    assert probed and all(r.evidence["halving"]["round"] == 1 for r in probed)
    assert all("uncapped_score" not in r.evidence["halving"] for r in probed)
    assert ranking_cost(rankings) <= 250 and sum(r.env_steps for r in rankings) == ranking_cost(rankings)
