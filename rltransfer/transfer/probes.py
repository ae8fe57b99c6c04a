"""Zero-shot probes: the mapped teacher's and a random policy's returns in the target, before training.

The controller's start decision and its negative-transfer guard read them; jsrl sizes its first roll-in
horizon from the teacher's probe, the same episodes. Every probe step is a target env step, which the
caller puts on the student's clock, so the controller keeps the transitions: the teacher's episodes are the
first demonstrations, and an off-policy student gets both probes in its replay buffer (they stand in for
as much of its random warm-up). A dataset teacher is not probed: its recorded return stands in.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rltransfer.data.store import Dataset
from rltransfer.mapping import MappedTeacher
from rltransfer.rollouts import Evaluation, Rollout, play, random_act

PROBE_MAX_STEPS = 10_000
"""Safety cap on one probe episode (envs without a time limit)."""
TEACHER_SEED = 30_000
RANDOM_SEED = 31_000
"""Offsets of the probes' reset seeds from the run's seed (teacher, random policy)."""


def teacher_probe(env: gym.Env[Any, Any], mapped: MappedTeacher, *, episodes: int, seed: int) -> Evaluation:
    """The deterministic mapped teacher's return over episodes from seeds seed + TEACHER_SEED + i."""
    return teacher_episodes(env, mapped, episodes=episodes, seed=seed)[0]


def teacher_episodes(
    env: gym.Env[Any, Any], mapped: MappedTeacher, *, episodes: int, seed: int
) -> tuple[Evaluation, Rollout]:
    """`teacher_probe` with its transitions (the controller reuses them as demonstrations and replay)."""
    return play(env, mapped.act_one, episodes=episodes, seed=seed + TEACHER_SEED, max_steps=PROBE_MAX_STEPS)


def random_episodes(env: gym.Env[Any, Any], *, episodes: int, seed: int) -> tuple[Evaluation, Rollout]:
    """A uniformly random policy's episodes from seeds seed + RANDOM_SEED + i, with their transitions."""
    env.action_space.seed(seed)
    return play(
        env, random_act(env.action_space), episodes=episodes, seed=seed + RANDOM_SEED, max_steps=PROBE_MAX_STEPS
    )


def dataset_return(dataset: Dataset) -> float:
    """A dataset teacher's return: the mean over its episodes that ended (all of them when none did)."""
    return float(np.mean([e.episode_return for e in dataset.ended_episodes]))
