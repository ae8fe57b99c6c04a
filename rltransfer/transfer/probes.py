"""Zero-shot probes: the mapped teacher's and a random policy's returns in the target, before training.

The controller's start decision and its negative-transfer guard read them; jsrl sizes its first roll-in
horizon from the teacher's probe, the same episodes. Every probe step is a target env step, which the
caller puts on the student's clock. A dataset teacher is not probed: its recorded return stands in.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rltransfer.data.store import Dataset
from rltransfer.mapping import MappedTeacher
from rltransfer.rollouts import Evaluation, evaluate, random_act, recording

PROBE_MAX_STEPS = 10_000
"""Safety cap on one probe episode (envs without a time limit)."""
TEACHER_SEED = 30_000
RANDOM_SEED = 31_000
"""Offsets of the probes' reset seeds from the run's seed (teacher, random policy)."""


def teacher_probe(
    env: gym.Env[Any, Any], mapped: MappedTeacher, *, episodes: int, seed: int, states: list[np.ndarray] | None = None
) -> Evaluation:
    """The deterministic mapped teacher's episodes from seeds seed + TEACHER_SEED + i (states kept in `states`)."""
    act = recording(mapped.act_one, states) if states is not None else mapped.act_one
    return evaluate(env, act, episodes=episodes, seed=seed + TEACHER_SEED, max_steps=PROBE_MAX_STEPS)


def random_probe(env: gym.Env[Any, Any], *, episodes: int, seed: int) -> Evaluation:
    """A uniformly random policy's episodes from seeds seed + RANDOM_SEED + i."""
    env.action_space.seed(seed)
    return evaluate(
        env, random_act(env.action_space), episodes=episodes, seed=seed + RANDOM_SEED, max_steps=PROBE_MAX_STEPS
    )


def dataset_return(dataset: Dataset) -> float:
    """A dataset teacher's return: the mean over its episodes that ended (all of them when none did)."""
    return float(np.mean([e.episode_return for e in dataset.ended_episodes]))
