"""Evaluate a policy on an environment: mean and std of episode return over seeded episodes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

ActFn = Callable[[np.ndarray], Any]
"""Maps one observation (no batch dimension) to one action of the environment."""


@dataclass(frozen=True)
class Evaluation:
    """Returns of evaluation episodes."""

    returns: tuple[float, ...]
    lengths: tuple[int, ...]
    env_steps: int

    @property
    def mean(self) -> float:
        """Mean episode return."""
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        """Standard deviation of episode returns."""
        return float(np.std(self.returns))

    def to_dict(self) -> dict[str, float]:
        """The card's evaluation block."""
        return {"mean": self.mean, "std": self.std, "episodes": float(len(self.returns))}


def evaluate(
    env: gym.Env[Any, Any], act: ActFn, *, episodes: int, seed: int, max_steps: int | None = None
) -> Evaluation:
    """Run `episodes` episodes, seeding each reset with seed + i; `act` picks each action."""
    returns, lengths = [], []
    total = 0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        episode_return, length, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            episode_return += float(reward)
            length += 1
            done = terminated or truncated or (max_steps is not None and length >= max_steps)
        returns.append(episode_return)
        lengths.append(length)
        total += length
    return Evaluation(tuple(returns), tuple(lengths), total)


def policy_act(policy: Any, *, deterministic: bool = True) -> ActFn:
    """An ActFn from an SB3 policy or model (anything with .predict)."""

    def act(obs: np.ndarray) -> Any:
        action, _ = policy.predict(obs, deterministic=deterministic)
        return action

    return act


def random_act(space: gym.Space[Any]) -> ActFn:
    """An ActFn that samples the action space (seed the space for determinism)."""
    return lambda _obs: space.sample()
