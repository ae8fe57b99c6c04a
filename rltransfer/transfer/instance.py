"""Instance transfer: teacher transitions collected in the target, mixed into replay batches.

The mapped teacher is rolled out in the target, its executed actions perturbed as DART does (Laskey et al.
2017) while its own actions are kept as the behaviour-cloning labels, so the demonstrations also show how to
recover from states the clean teacher never visits. A replay buffer mixes the transitions into every
sampled batch (RLPD's symmetric sampling, Ball et al. 2023, with an annealed ratio); they stay available as
DQfD's demonstrations (Hester et al. 2018). A DQN student gets RLPD's LayerNorm in its Q-network
(TransferConfig.critic_layer_norm), so values fitted to the demonstrations do not extrapolate upwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

from rltransfer.data.store import Dataset
from rltransfer.mapping import MappedTeacher
from rltransfer.rollouts import Rollout, Transitions, rollout

_ARRAYS = ("obs", "actions", "rewards", "next_obs", "terminated")


@dataclass
class Demonstrations:
    """Teacher transitions in the *student's* spaces, collected in the target environment.

    Attributes:
        obs: (n, obs_dim) student observations.
        actions: (n,) discrete or (n, act_dim) continuous student actions, in env units.
        rewards: (n,) target rewards.
        next_obs: (n, obs_dim).
        terminated: (n,) true terminations (time-limit truncations are not terminal).
        episode_returns: Returns of the episodes that finished during collection.
        env_steps: Target env steps spent.
        episodes: Per episode, its rewards and whether the env ended it (the last may be cut off).
        labels: The teacher's own action in each state when the executed one was perturbed (DART); None when
            the executed actions are the teacher's (clean roll-outs, datasets).
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    episode_returns: list[float]
    env_steps: int
    episodes: tuple[tuple[np.ndarray, bool], ...] = ()
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.obs)

    def describe(self, *, from_dataset: bool) -> str:
        """One line for the decisions log: how many transitions, where from, their episodes' return."""
        source = "read from the dataset" if from_dataset else "collected in the target"
        noise = ", actions perturbed (DART), the teacher's kept as labels" if self.labels is not None else ""
        whole = self.episode_returns
        ended = f"episode return {float(np.mean(whole)):.1f}" if whole else "no episode ended within them"
        return f"{len(self)} teacher transitions {source} ({ended}{noise})"

    @property
    def targets(self) -> np.ndarray:
        """The actions a student imitates: the teacher's own (labels) where recorded, else the executed ones."""
        return self.actions if self.labels is None else self.labels

    def as_rollout(self) -> Rollout:
        """The transitions as a Rollout (the critic warm-up's input)."""
        transitions = Transitions(self.obs, self.actions, self.rewards, self.next_obs, self.terminated)
        return Rollout(transitions, self.episodes, list(self.episode_returns))


def collect_demonstrations(
    mapped_teacher: MappedTeacher,
    env_factory: Callable[[], gym.Env[Any, Any]],
    *,
    steps: int,
    seed: int,
    probe: Rollout | None = None,
    noise: float = 0.0,
) -> Demonstrations:
    """Roll the mapped teacher out in the target for `steps` steps, its actions perturbed by `noise` (DART).

    `probe`, the controller's teacher probe episodes (already on the student's clock), comes first and
    counts towards `steps`; only the steps collected here are env_steps. With `noise` > 0 the executed
    actions are perturbed (perturbed_act) and the teacher's own actions are kept as `labels`.
    """
    parts = [] if probe is None else [_from_rollout(probe, env_steps=0)]
    more = steps - (0 if probe is None else len(probe.transitions))
    if more > 0 or not parts:
        env = env_factory()
        try:
            intended: list[Any] = []
            act = perturbed_act(mapped_teacher.act_one, env.action_space, noise, seed=seed, intended=intended)
            part = _from_rollout(rollout(env, act, steps=more, seed=seed), env_steps=more)
            if noise > 0.0:
                part.labels = np.asarray(intended).reshape(part.actions.shape).astype(part.actions.dtype)
            parts.append(part)
        finally:
            env.close()
    if len(parts) == 1:
        return parts[0]
    labelled = any(part.labels is not None for part in parts)
    return Demonstrations(
        **{key: np.concatenate([getattr(part, key) for part in parts]) for key in _ARRAYS},
        episode_returns=[value for part in parts for value in part.episode_returns],
        env_steps=sum(part.env_steps for part in parts),
        episodes=tuple(episode for part in parts for episode in part.episodes),
        labels=np.concatenate([part.targets for part in parts]) if labelled else None,
    )


def perturbed_act(
    act: Callable[[np.ndarray], Any], space: gym.Space[Any], noise: float, *, seed: int, intended: list[Any]
) -> Callable[[np.ndarray], Any]:
    """`act` with DART's injected noise; every unperturbed action is appended to `intended`.

    Continuous: Gaussian noise of `noise` half-ranges, clipped to the bounds. Discrete: a uniformly random
    action with probability `noise`. `noise` 0 returns the teacher's actions unchanged.
    """
    rng = np.random.default_rng(seed)

    def noisy(obs: np.ndarray) -> Any:
        action = act(obs)
        intended.append(action)
        if noise <= 0.0:
            return action
        if isinstance(space, gym.spaces.Box):
            half = (space.high - space.low) / 2.0
            moved = np.asarray(action) + noise * half * rng.standard_normal(space.shape)
            return np.clip(moved, space.low, space.high).astype(space.dtype)
        if isinstance(space, gym.spaces.Discrete) and rng.random() < noise:
            return type(action)(space.start + int(rng.integers(int(space.n))))
        return action

    return noisy


def _from_rollout(run: Rollout, *, env_steps: int) -> Demonstrations:
    arrays = run.arrays
    return Demonstrations(
        obs=arrays["obs"],
        actions=arrays["actions"],
        rewards=arrays["rewards"],
        next_obs=arrays["next_obs"],
        terminated=arrays["terminated"].astype(np.float32),
        episode_returns=list(run.episode_returns),
        env_steps=env_steps,
        episodes=run.episodes,
    )


def dataset_demonstrations(dataset: Dataset, *, steps: int, in_target: bool) -> Demonstrations:
    """The first `steps` transitions of a dataset's episodes, in recorded order, as Demonstrations.

    Their env steps count (env_steps) only when the dataset was recorded in the target; the returns are
    those of the episodes used whole; recorded DART labels come along.
    """
    parts: dict[str, list[np.ndarray]] = {key: [] for key in (*_ARRAYS, "labels")}
    returns: list[float] = []
    episodes: list[tuple[np.ndarray, bool]] = []
    used = 0
    for episode in dataset.episodes:
        take = min(len(episode), steps - used)
        if take <= 0:
            break
        parts["obs"].append(episode.observations[:take])
        parts["next_obs"].append(episode.observations[1 : take + 1])
        parts["actions"].append(episode.actions[:take])
        parts["labels"].append(episode.targets[:take])
        parts["rewards"].append(episode.rewards[:take])
        parts["terminated"].append(episode.terminations[:take])
        whole = take == len(episode)
        if whole:
            returns.append(episode.episode_return)
        episodes.append((episode.rewards[:take], whole and bool(episode.terminations[-1] or episode.truncations[-1])))
        used += take
    arrays = {key: np.concatenate(values) for key, values in parts.items()}
    return Demonstrations(
        obs=arrays["obs"].astype(np.float32),
        actions=arrays["actions"],
        rewards=arrays["rewards"].astype(np.float32),
        next_obs=arrays["next_obs"].astype(np.float32),
        terminated=arrays["terminated"].astype(np.float32),
        episode_returns=returns,
        env_steps=used if in_target else 0,
        episodes=tuple(episodes),
        labels=arrays["labels"] if any(episode.labels is not None for episode in dataset.episodes) else None,
    )


class MixedReplayBuffer(ReplayBuffer):
    """A ReplayBuffer whose batches hold a `demo_ratio` share of teacher transitions.

    With demo_ratio 0 (or no demonstrations) it samples exactly as SB3's ReplayBuffer. Teacher
    actions are stored in the buffer's action units (SAC/TD3: the actor's [-1, 1] scale).
    """

    demo_ratio: float = 0.0
    mix_seconds: float = 0.0
    """Time spent sampling teacher rows and concatenating them (the buffer's share of transfer overhead)."""

    def set_demonstrations(
        self, demos: Demonstrations, buffer_actions: np.ndarray, buffer_labels: np.ndarray | None = None
    ) -> None:
        """Keep the teacher transitions (actions and the teacher's own labels already in the buffer's units)."""
        self._demo_obs = demos.obs.reshape(len(demos), *self.obs_shape)
        self._demo_next_obs = demos.next_obs.reshape(len(demos), *self.obs_shape)
        self._demo_actions = np.asarray(buffer_actions, dtype=self.actions.dtype).reshape(len(demos), self.action_dim)
        labels = buffer_actions if buffer_labels is None else buffer_labels
        self._demo_labels = np.asarray(labels, dtype=self.actions.dtype).reshape(len(demos), self.action_dim)
        self._demo_rewards = demos.rewards.reshape(-1, 1)
        self._demo_dones = demos.terminated.reshape(-1, 1)

    @property
    def has_demonstrations(self) -> bool:
        """True once set_demonstrations was called."""
        return hasattr(self, "_demo_obs") and len(self._demo_obs) > 0

    def sample_online(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """A batch of the student's own transitions only."""
        return super().sample(batch_size, env=env)

    def sample_labels(self, batch_size: int, env: VecNormalize | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of teacher states with the teacher's own actions there (DQfD's margin targets)."""
        index = np.random.randint(0, len(self._demo_obs), size=batch_size)
        obs = self._normalize_obs(self._demo_obs[index], env)
        return self.to_torch(obs), self.to_torch(self._demo_labels[index])  # type: ignore[arg-type]

    def sample_demonstrations(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """A batch of teacher transitions only."""
        index = np.random.randint(0, len(self._demo_obs), size=batch_size)
        data = (
            self._normalize_obs(self._demo_obs[index], env),
            self._demo_actions[index],
            self._normalize_obs(self._demo_next_obs[index], env),
            self._demo_dones[index],
            self._normalize_reward(self._demo_rewards[index], env),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))  # type: ignore[arg-type]

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """SB3's sample with round(demo_ratio · batch_size) rows replaced by teacher transitions."""
        n_demo = round(self.demo_ratio * batch_size) if self.has_demonstrations else 0
        if self.size() == 0:
            n_demo = batch_size
        if n_demo <= 0:
            return super().sample(batch_size, env=env)
        started = time.perf_counter()
        demo = self.sample_demonstrations(n_demo, env)
        if n_demo >= batch_size:
            self.mix_seconds += time.perf_counter() - started
            return demo
        paused = time.perf_counter()
        online = super().sample(batch_size - n_demo, env=env)
        resumed = time.perf_counter()
        mixed = ReplayBufferSamples(
            *(torch.cat([a, b.to(a.dtype)]) for a, b in zip(online[:5], demo[:5], strict=True))  # type: ignore[arg-type]
        )
        self.mix_seconds += (paused - started) + (time.perf_counter() - resumed)
        return mixed
