"""Competence means the same for every teacher: its own source return and the target's random return on one horizon."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gymnasium as gym
import pytest

from rltransfer.selection import SCRATCH_THRESHOLD, Ranking, rank_teachers, recommendation
from rltransfer.zoo import list_cards

AGENTS = Path(__file__).resolve().parents[1] / "agents"


def competence(ranking: Ranking) -> float:
    """The competence a ranking's evidence records (0 when the teacher was never probed)."""
    return float(ranking.evidence.get("competence", {}).get("value", 0.0))


@pytest.fixture
def long_heavy_acrobot() -> gym.Env:
    """An Acrobot with a longer, heavier second link whose spec has no reward threshold (the issue's target)."""
    spec = dataclasses.replace(gym.spec("rltransfer/Acrobot-v0"), reward_threshold=None)
    env = gym.make(spec, link_length_2=1.3, link_mass_2=1.5)
    yield env
    env.close()


def test_same_family_teacher_recommended_on_a_target_without_threshold(long_heavy_acrobot: gym.Env) -> None:
    """The Acrobot teacher beats random there (−342 against −500 in the issue): a short, uninformative probe
    must not zero its competence nor send the user to scratch."""
    assert long_heavy_acrobot.spec is not None and long_heavy_acrobot.spec.reward_threshold is None
    rankings = rank_teachers(long_heavy_acrobot, AGENTS)
    by_name = {r.teacher: r for r in rankings}
    assert by_name["acrobot-dqn"].score > SCRATCH_THRESHOLD
    assert competence(by_name["acrobot-dqn"]) > 0
    assert not recommendation(rankings).startswith("train from scratch")


def test_weak_same_family_teacher_ranked_below_the_strong_ones() -> None:
    """On the reversed-motor CartPole `cartpole-dqn` (own return 129) is far from the 500-return teachers."""
    by_name = {r.teacher: r for r in rank_teachers("rltransfer/CartPole-Reversed-v0", AGENTS)}
    weak = by_name["cartpole-dqn"]
    for strong in (by_name["cartpole-ppo"], by_name["cartpole-longpole-ppo"]):
        assert weak.score < strong.score
        assert competence(weak) < competence(strong)


def test_cross_family_teacher_never_reaches_full_competence() -> None:
    """On a heavier Pendulum with a stronger motor no teacher from another family may read competence 1.0."""
    rankings = rank_teachers("rltransfer/Pendulum-v0", AGENTS, env_kwargs={"m": 1.5, "max_torque": 3.0})
    family = {card.name: card.family for card in list_cards(AGENTS)}
    pendulum = [r for r in rankings if r.teacher in ("pendulum-sac", "pendulum-td3")]
    others = [r for r in rankings if family[r.teacher] != "Pendulum"]
    assert family[rankings[0].teacher] == "Pendulum"
    assert others and all(competence(r) < 1.0 for r in others)
    assert all(competence(r) < min(competence(p) for p in pendulum) for r in others)
