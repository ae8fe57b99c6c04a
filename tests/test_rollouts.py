"""The one rollout loop and its typed Transitions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rltransfer.errors import ConfigError
from rltransfer.rollouts import Transitions, evaluate, random_act, rollout


def test_transitions_round_trip_the_npz_arrays() -> None:
    arrays = {
        "obs": np.zeros((3, 2), dtype=np.float32),
        "actions": np.array([0, 1, 0]),
        "rewards": np.ones(3, dtype=np.float32),
        "next_obs": np.ones((3, 2), dtype=np.float32),
        "terminated": np.array([False, False, True]),
        "source": np.array([0, 1, 1], dtype=np.int8),
    }
    transitions = Transitions.from_arrays(arrays)
    assert len(transitions) == 3
    back = transitions.to_arrays()
    assert list(back) == list(arrays)
    assert all(back[key] is arrays[key] for key in arrays)


@pytest.mark.parametrize(
    ("key", "value"),
    [("rewards", np.ones(2)), ("next_obs", np.ones((3, 3))), ("terminated", np.zeros((3, 1), dtype=bool))],
)
def test_transitions_reject_arrays_of_the_wrong_shape(key: str, value: np.ndarray) -> None:
    arrays = {
        "obs": np.zeros((3, 2)),
        "actions": np.zeros(3),
        "rewards": np.zeros(3),
        "next_obs": np.zeros((3, 2)),
        "terminated": np.zeros(3, dtype=bool),
        key: value,
    }
    with pytest.raises(ConfigError):
        Transitions.from_arrays(arrays)


def test_rollout_keeps_float32_unless_asked_and_counts_episodes() -> None:
    env = gym.make("CartPole-v1")
    env.action_space.seed(0)
    run = rollout(env, random_act(env.action_space), steps=100, seed=0)
    env.action_space.seed(0)
    wide = rollout(env, random_act(env.action_space), steps=100, seed=0, dtype=np.float64)
    assert run.transitions.obs.dtype == np.float32 and wide.transitions.obs.dtype == np.float64
    np.testing.assert_array_equal(run.transitions.obs, wide.transitions.obs.astype(np.float32))
    assert sum(len(rewards) for rewards, _ in run.episodes) == 100
    assert len(run.episode_returns) == sum(ended for _, ended in run.episodes)


def test_evaluate_marks_episodes_cut_by_max_steps() -> None:
    env = gym.make("CartPole-v1")
    env.action_space.seed(0)
    result = evaluate(env, random_act(env.action_space), episodes=3, seed=0, max_steps=5)
    assert result.lengths == (5, 5, 5) and result.cut == (True, True, True) and result.env_steps == 15
