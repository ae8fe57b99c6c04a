"""Evaluate a policy on an environment (seeded episodes) and record its transitions (seeded roll-outs)."""

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


@dataclass(frozen=True)
class Rollout:
    """Transitions of a roll-out: arrays with one row per env step, and the returns of finished episodes."""

    arrays: dict[str, np.ndarray]
    """obs, actions, rewards, next_obs (float32 but actions), terminated (bool; truncations are not terminal)."""
    episode_returns: list[float]


def rollout(env: gym.Env[Any, Any], act: ActFn, *, steps: int, seed: int) -> Rollout:
    """Step `act` through `env` for `steps` steps from reset(seed=seed), resetting after every episode."""
    rows: dict[str, list[Any]] = {key: [] for key in ("obs", "actions", "rewards", "next_obs", "terminated")}
    returns: list[float] = []
    obs, _ = env.reset(seed=seed)
    episode_return = 0.0
    for _ in range(steps):
        action = act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for key, value in zip(rows, (obs, action, reward, next_obs, terminated), strict=True):
            rows[key].append(value)
        episode_return += float(reward)
        obs = next_obs
        if terminated or truncated:
            returns.append(episode_return)
            episode_return = 0.0
            obs, _ = env.reset()
    arrays = {
        "obs": np.asarray(rows["obs"], dtype=np.float32),
        "actions": np.asarray(rows["actions"]),
        "rewards": np.asarray(rows["rewards"], dtype=np.float32),
        "next_obs": np.asarray(rows["next_obs"], dtype=np.float32),
        "terminated": np.asarray(rows["terminated"], dtype=bool),
    }
    return Rollout(arrays, returns)


def policy_act(policy: Any, *, deterministic: bool = True) -> ActFn:
    """An ActFn from an SB3 policy or model (anything with .predict)."""

    def act(obs: np.ndarray) -> Any:
        action, _ = policy.predict(obs, deterministic=deterministic)
        return action

    return act


def random_act(space: gym.Space[Any]) -> ActFn:
    """An ActFn that samples the action space (seed the space for determinism)."""
    return lambda _obs: space.sample()
