"""Cheap, gradient-free probes of a target environment: random-policy rollouts and zero-shot episodes.

Selection (rltransfer.selection) spends every target env step here, so that what a ranking cost is
counted in one place. Returns are compared over a common *horizon* H (the first H steps of each
episode): the random policy's return in the target, the mapped teacher's return in the target and the
teacher's own return on its source task, read from its stored transitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

DEFAULT_HORIZON = 200
"""Probe episodes are cut after this many steps (or the env's own limit, if shorter)."""


@dataclass(frozen=True)
class Rollouts:
    """Transitions of a random policy in the target (the target side of every dynamics comparison).

    Attributes:
        obs: (n, d) observations.
        actions: (n,) discrete or (n, k) continuous actions.
        rewards: (n,) rewards.
        next_obs: (n, d) next observations.
        terminated: (n,) termination flags.
        episode_rewards: Rewards of each episode, and whether it ended (terminated or truncated).
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    episode_rewards: tuple[tuple[np.ndarray, bool], ...]

    @property
    def env_steps(self) -> int:
        """Environment steps the rollouts cost."""
        return len(self.obs)

    def random_return(self, horizon: int) -> float:
        """Mean random-policy return over the first `horizon` steps of the episodes that reached it or ended.

        nan when no episode qualifies.
        """
        returns = [float(r[:horizon].sum()) for r, ended in self.episode_rewards if ended or len(r) >= horizon]
        return float(np.mean(returns)) if returns else float("nan")


def episode_limit(env: gym.Env[Any, Any]) -> int | None:
    """The env's max_episode_steps (None when unlimited or unknown)."""
    spec = getattr(env, "spec", None)
    limit = getattr(spec, "max_episode_steps", None) if spec is not None else None
    return int(limit) if limit else None


def reward_threshold(env: gym.Env[Any, Any]) -> float | None:
    """The env spec's reward_threshold ("solved" full-episode return), None when the spec has none."""
    spec = getattr(env, "spec", None)
    threshold = getattr(spec, "reward_threshold", None) if spec is not None else None
    return float(threshold) if threshold is not None and np.isfinite(threshold) else None


def env_horizon(env: gym.Env[Any, Any], cap: int = DEFAULT_HORIZON) -> int:
    """min(cap, the env's max_episode_steps) — the horizon of returns compared by selection."""
    limit = episode_limit(env)
    return min(int(cap), limit) if limit else int(cap)


def random_rollouts(env: gym.Env[Any, Any], *, steps: int, seed: int) -> Rollouts:
    """Run a uniformly random policy for `steps` env steps (natural episodes, seeded)."""
    env.action_space.seed(seed)
    rows: dict[str, list[Any]] = {key: [] for key in ("obs", "actions", "rewards", "next_obs", "terminated")}
    episodes: list[tuple[np.ndarray, bool]] = []
    rewards: list[float] = []
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for key, value in zip(
            ("obs", "actions", "rewards", "next_obs", "terminated"),
            (obs, action, reward, next_obs, terminated),
            strict=True,
        ):
            rows[key].append(value)
        rewards.append(float(reward))
        obs = next_obs
        if terminated or truncated:
            episodes.append((np.asarray(rewards), True))
            rewards = []
            obs, _ = env.reset()
    if rewards:
        episodes.append((np.asarray(rewards), False))
    return Rollouts(
        obs=np.asarray(rows["obs"], dtype=np.float64),
        actions=np.asarray(rows["actions"]),
        rewards=np.asarray(rows["rewards"], dtype=np.float64),
        next_obs=np.asarray(rows["next_obs"], dtype=np.float64),
        terminated=np.asarray(rows["terminated"], dtype=bool),
        episode_rewards=tuple(episodes),
    )


@dataclass(frozen=True)
class ProbeResult:
    """Zero-shot episodes of a (mapped) teacher in the target, each cut at `horizon` steps.

    `cut[i]` is True when episode i was stopped by the probe's horizon (it had neither terminated nor been
    truncated by the env): its return covers only the first `horizon` steps of a longer episode.
    """

    returns: tuple[float, ...]
    horizon: int
    env_steps: int
    cut: tuple[bool, ...] = ()

    @property
    def mean(self) -> float:
        """Mean return over the probe episodes."""
        return float(np.mean(self.returns)) if self.returns else float("nan")


def zero_shot(
    env: gym.Env[Any, Any], act: Callable[[np.ndarray], Any], *, episodes: int, horizon: int, seed: int
) -> ProbeResult:
    """Run `episodes` deterministic episodes of `act`, cut at `horizon` steps (episode i reset with seed + i)."""
    returns: list[float] = []
    cut: list[bool] = []
    steps = 0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        total = 0.0
        ended = False
        for _ in range(horizon):
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            steps += 1
            if terminated or truncated:
                ended = True
                break
        returns.append(total)
        cut.append(not ended)
    return ProbeResult(returns=tuple(returns), horizon=horizon, env_steps=steps, cut=tuple(cut))


def source_returns(transitions: dict[str, np.ndarray], *, horizon: int, source: int = 1) -> list[float]:
    """First-`horizon` returns of the episodes in stored transitions with the given source flag.

    Episodes are cut where `terminated` is set or where an observation does not continue the previous
    next_obs (a reset); an episode cut off by the end of the data before `horizon` steps is dropped.
    """
    rows = np.flatnonzero(transitions["source"] == source)
    if rows.size == 0:
        return []
    obs = transitions["obs"][rows]
    next_obs = transitions["next_obs"][rows]
    rewards = transitions["rewards"][rows].astype(np.float64)
    terminated = transitions["terminated"][rows].astype(bool)
    returns: list[float] = []
    total, length = 0.0, 0
    for i in range(len(rows)):
        if i > 0 and (
            terminated[i - 1] or rows[i] != rows[i - 1] + 1 or not np.allclose(obs[i], next_obs[i - 1], atol=1e-6)
        ):
            if not terminated[i - 1] and 0 < length < horizon:
                returns.append(total)  # truncated by the source's own time limit
            total, length = 0.0, 0
        length += 1
        if length <= horizon:
            total += float(rewards[i])
        if length == horizon or (terminated[i] and length < horizon):
            returns.append(total)
    return returns


def normalized_return(value: float, random_return: float, teacher_return: float) -> float:
    """(value − random) / (teacher − random): 0 = the random policy, 1 = the teacher on its own task.

    nan when the teacher is no better than random (the scale is undefined).
    """
    gap = teacher_return - random_return
    if not np.isfinite(gap) or not np.isfinite(value) or gap <= 1e-9 * max(1.0, abs(teacher_return)):
        return float("nan")
    return float((value - random_return) / gap)
