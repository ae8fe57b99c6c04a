"""The one rollout loop: seeded evaluation episodes, step-budget roll-outs and their typed Transitions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import DTypeLike

from rltransfer.errors import ConfigError

ActFn = Callable[[np.ndarray], Any]
"""Maps one observation (no batch dimension) to one action of the environment."""

_KEYS = ("obs", "actions", "rewards", "next_obs", "terminated")


@dataclass(frozen=True, eq=False)
class Transitions:
    """One row per env step, as stored in a teacher's `transitions.npz` (same names, same dtypes).

    Attributes:
        obs: (n, ...) observations.
        actions: (n,) discrete or (n, k) continuous actions.
        rewards: (n,) rewards.
        next_obs: (n, ...) observations after the step.
        terminated: (n,) termination flags (truncations are not terminal).
        source: (n,) which policy produced each row (0 random, 1 teacher), None when not recorded.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    source: np.ndarray | None = None

    def __post_init__(self) -> None:
        rows = len(self.obs) if np.ndim(self.obs) else -1
        columns = {key: getattr(self, key) for key in (*_KEYS, "source") if getattr(self, key) is not None}
        wrong = [key for key, array in columns.items() if np.ndim(array) == 0 or len(array) != rows]
        if wrong:
            raise ConfigError(
                f"transitions {wrong} do not have the {rows} rows of obs",
                fix="give one row per env step in every array",
            )
        if np.shape(self.obs) != np.shape(self.next_obs):
            raise ConfigError(
                f"transitions obs {np.shape(self.obs)} and next_obs {np.shape(self.next_obs)} differ in shape",
                fix="store the observation after each step in next_obs",
            )
        flat = [key for key in ("rewards", "terminated", "source") if key in columns and np.ndim(columns[key]) != 1]
        if flat:
            raise ConfigError(f"transitions {flat} are not one value per row", fix="give 1-D arrays")

    def __len__(self) -> int:
        return len(self.obs)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Transitions:
        """From the dict of arrays `transitions.npz` holds (extra keys are ignored)."""
        missing = [key for key in _KEYS if key not in arrays]
        if missing:
            raise ConfigError(f"transitions lack {missing}", fix=f"give {list(_KEYS)} (and optionally source)")
        return cls(**{key: arrays[key] for key in _KEYS}, source=arrays.get("source"))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The dict of arrays `transitions.npz` holds (source only when recorded)."""
        arrays = {key: getattr(self, key) for key in _KEYS}
        if self.source is not None:
            arrays["source"] = self.source
        return arrays


@dataclass(frozen=True)
class Evaluation:
    """Returns of evaluation episodes; `cut[i]` when episode i was stopped by max_steps, not by the env."""

    returns: tuple[float, ...]
    lengths: tuple[int, ...]
    env_steps: int
    cut: tuple[bool, ...] = ()

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
    """Run `episodes` episodes, seeding each reset with seed + i; `act` picks each action.

    An episode ends when the env terminates or truncates it, or after `max_steps` steps (at least one).
    """
    return _episodes(env, act, episodes=episodes, seed=seed, max_steps=max_steps, rows=None)[0]


@dataclass(frozen=True, eq=False)
class Rollout:
    """A roll-out: its transitions and, per episode, the rewards and whether it ended (the last may not)."""

    transitions: Transitions
    episodes: tuple[tuple[np.ndarray, bool], ...]
    episode_returns: list[float] = field(default_factory=list)
    """Returns of the episodes that ended (summed step by step as they ran)."""

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """obs, actions, rewards, next_obs, terminated: the transitions as a dict of arrays."""
        return self.transitions.to_arrays()


def rollout(env: gym.Env[Any, Any], act: ActFn, *, steps: int, seed: int, dtype: DTypeLike = np.float32) -> Rollout:
    """Step `act` through `env` for `steps` steps from reset(seed=seed), resetting after every episode.

    Observations and rewards are stored as `dtype` (float32 by default, as the zoo and replay buffers
    keep them; selection asks for float64).
    """
    rows: dict[str, list[Any]] = {key: [] for key in _KEYS}
    episodes: list[tuple[np.ndarray, bool]] = []
    returns: list[float] = []
    rewards: list[float] = []
    obs, _ = env.reset(seed=seed)
    episode_return = 0.0
    for _ in range(steps):
        action = act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for key, value in zip(_KEYS, (obs, action, reward, next_obs, terminated), strict=True):
            rows[key].append(value)
        episode_return += float(reward)
        rewards.append(float(reward))
        obs = next_obs
        if terminated or truncated:
            returns.append(episode_return)
            episodes.append((np.asarray(rewards), True))
            episode_return, rewards = 0.0, []
            obs, _ = env.reset()
    if rewards:
        episodes.append((np.asarray(rewards), False))
    transitions = Transitions(
        obs=np.asarray(rows["obs"], dtype=dtype),
        actions=np.asarray(rows["actions"]),
        rewards=np.asarray(rows["rewards"], dtype=dtype),
        next_obs=np.asarray(rows["next_obs"], dtype=dtype),
        terminated=np.asarray(rows["terminated"], dtype=bool),
    )
    return Rollout(transitions, tuple(episodes), returns)


def play(
    env: gym.Env[Any, Any], act: ActFn, *, episodes: int, seed: int, max_steps: int | None = None
) -> tuple[Evaluation, Rollout]:
    """`evaluate`'s episodes (reset i seeded with seed + i), with the transitions they produced.

    Probes keep the transitions so that the env steps they paid for are not thrown away: a teacher's
    episodes become demonstrations, any policy's go into an off-policy student's replay buffer.
    """
    rows: dict[str, list[Any]] = {key: [] for key in _KEYS}
    evaluation, finished = _episodes(env, act, episodes=episodes, seed=seed, max_steps=max_steps, rows=rows)
    transitions = Transitions(
        obs=np.asarray(rows["obs"], dtype=np.float32),
        actions=np.asarray(rows["actions"]),
        rewards=np.asarray(rows["rewards"], dtype=np.float32),
        next_obs=np.asarray(rows["next_obs"], dtype=np.float32),
        terminated=np.asarray(rows["terminated"], dtype=bool),
    )
    ended = [r for r, (_, whole) in zip(evaluation.returns, finished, strict=True) if whole]
    return evaluation, Rollout(transitions, tuple(finished), ended)


def _episodes(
    env: gym.Env[Any, Any],
    act: ActFn,
    *,
    episodes: int,
    seed: int,
    max_steps: int | None,
    rows: dict[str, list[Any]] | None,
) -> tuple[Evaluation, list[tuple[np.ndarray, bool]]]:
    """The episode loop of evaluate and play; each step's transition goes into `rows` when given."""
    returns, lengths, cut, finished = [], [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        rewards: list[float] = []
        episode_return = 0.0
        while True:
            action = act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            if rows is not None:
                for key, value in zip(_KEYS, (obs, action, reward, next_obs, terminated), strict=True):
                    rows[key].append(value)
            episode_return += float(reward)
            rewards.append(float(reward))
            obs = next_obs
            ended = bool(terminated or truncated)
            if ended or (max_steps is not None and len(rewards) >= max_steps):
                break
        returns.append(episode_return)
        lengths.append(len(rewards))
        cut.append(not ended)
        finished.append((np.asarray(rewards), ended))
    return Evaluation(tuple(returns), tuple(lengths), sum(lengths), tuple(cut)), finished


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


def policy_act(policy: Any, *, deterministic: bool = True) -> ActFn:
    """An ActFn from an SB3 policy or model (anything with .predict)."""

    def act(obs: np.ndarray) -> Any:
        action, _ = policy.predict(obs, deterministic=deterministic)
        return action

    return act


def recording(act: ActFn, store: list[np.ndarray]) -> ActFn:
    """`act`, also appending every observation it sees to `store` (flattened float32)."""

    def recorded(obs: np.ndarray) -> Any:
        store.append(np.asarray(obs, dtype=np.float32).ravel())
        return act(obs)

    return recorded


def random_act(space: gym.Space[Any]) -> ActFn:
    """An ActFn that samples the action space (seed the space for determinism)."""
    return lambda _obs: space.sample()


def sample_transitions(
    env: gym.Env[Any, Any], act: ActFn, *, steps: int, seed: int, random_fraction: float = 0.5
) -> dict[str, np.ndarray]:
    """Collect (obs, action, reward, next_obs, terminated) with a random policy then with `act`.

    `source` is 0 for random-policy rows and 1 for teacher rows. The random phase starts from
    reset(seed=seed), the teacher's from reset(seed=seed + 1).
    """
    env.action_space.seed(seed)
    n_random = int(steps * random_fraction)
    phases = [
        (source, rollout(env, act_fn, steps=n, seed=phase_seed).arrays)
        for source, act_fn, n, phase_seed in (
            (0, random_act(env.action_space), n_random, seed),
            (1, act, steps - n_random, seed + 1),
        )
        if n > 0
    ]
    data = {key: np.concatenate([arrays[key] for _, arrays in phases]) for key in phases[0][1]}
    data["source"] = np.concatenate([np.full(len(arrays["obs"]), source, dtype=np.int8) for source, arrays in phases])
    return data
