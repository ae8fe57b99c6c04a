"""Instance transfer: teacher transitions collected in the target, mixed into replay batches.

The mapped teacher is rolled out in the target; a replay buffer mixes its transitions into every
sampled batch (RLPD's symmetric sampling, Ball et al. 2023, with an annealed ratio); they stay
available as DQfD's demonstrations (Hester et al. 2018).
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

from rltransfer.mapping import MappedTeacher
from rltransfer.rollouts import rollout


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
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    episode_returns: list[float]
    env_steps: int

    def __len__(self) -> int:
        return len(self.obs)


def collect_demonstrations(
    mapped_teacher: MappedTeacher, env_factory: Callable[[], gym.Env[Any, Any]], *, steps: int, seed: int
) -> Demonstrations:
    """Roll the mapped teacher out in the target for `steps` steps (deterministic actions)."""
    env = env_factory()
    try:
        run = rollout(env, mapped_teacher.act_one, steps=steps, seed=seed)
    finally:
        env.close()
    arrays = run.arrays
    return Demonstrations(
        obs=arrays["obs"],
        actions=arrays["actions"],
        rewards=arrays["rewards"],
        next_obs=arrays["next_obs"],
        terminated=arrays["terminated"].astype(np.float32),
        episode_returns=run.episode_returns,
        env_steps=steps,
    )


class MixedReplayBuffer(ReplayBuffer):
    """A ReplayBuffer whose batches hold a `demo_ratio` share of teacher transitions.

    With demo_ratio 0 (or no demonstrations) it samples exactly as SB3's ReplayBuffer. Teacher
    actions are stored in the buffer's action units (SAC/TD3: the actor's [-1, 1] scale).
    """

    demo_ratio: float = 0.0
    mix_seconds: float = 0.0
    """Time spent sampling teacher rows and concatenating them (the buffer's share of transfer overhead)."""

    def set_demonstrations(self, demos: Demonstrations, buffer_actions: np.ndarray) -> None:
        """Keep the teacher transitions (actions already converted to the buffer's units)."""
        self._demo_obs = demos.obs.reshape(len(demos), *self.obs_shape)
        self._demo_next_obs = demos.next_obs.reshape(len(demos), *self.obs_shape)
        self._demo_actions = np.asarray(buffer_actions, dtype=self.actions.dtype).reshape(len(demos), self.action_dim)
        self._demo_rewards = demos.rewards.reshape(-1, 1)
        self._demo_dones = demos.terminated.reshape(-1, 1)

    @property
    def has_demonstrations(self) -> bool:
        """True once set_demonstrations was called."""
        return hasattr(self, "_demo_obs") and len(self._demo_obs) > 0

    def sample_online(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """A batch of the student's own transitions only."""
        return super().sample(batch_size, env=env)

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
