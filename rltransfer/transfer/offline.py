"""Offline pre-training on the demonstrations: instance transfer's short phase before the first RL update.

As DAPG starts from behaviour cloning and offline-to-online methods from an offline phase, the student's
acting network is first fitted to the teacher's own actions in the demonstrations (the DART labels where the
executed ones were perturbed) for at least `offline_updates` steps and until it agrees with `init_agreement`
of them (one-hot targets for a discrete student, with DQfD's margin for DQN; the action for a continuous
one), then its value function, Q-network or critics to their λ-returns under the target's own rewards
(`critic_warmup`, also for at least `offline_updates` steps). Without it the decaying DAPG term alone pulled a
CartPole PPO student to one action almost everywhere (agreement 0.53); 300 steps on clean Pendulum
demonstrations left a SAC actor at a random policy's return, and 400 critic steps a critic whose action
gradient undid the clone once it was released (docs/decisions.md).
Off-policy students then act with their own policy from the first step; a SAC/TD3 actor waits for its critic
as after distil-initialise (its critic has seen the teacher's actions only, so its action gradient first
points anywhere). It spends no env step: the demonstrations are already on the clock.
"""

from __future__ import annotations

import math

import gymnasium as gym
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from torch.nn import functional as F

from rltransfer.transfer.critic_warmup import warm_up_critic
from rltransfer.transfer.engine import TransferEngine
from rltransfer.transfer.initialise import ActorFit, narrow_exploration
from rltransfer.transfer.losses import agreement, student_output
from rltransfer.transfer.teacher import TeacherOutput

FIT_ROUNDS = 10
"""Most rounds of `init_updates` behaviour-cloning steps past `offline_updates` while agreement stays below
init_agreement (no env step)."""


def demonstration_labels(model: BaseAlgorithm, actions: torch.Tensor) -> TeacherOutput:
    """The demonstrations' actions as distillation targets in the student's action space."""
    space = model.action_space
    if isinstance(space, gym.spaces.Discrete):
        return TeacherOutput([], F.one_hot(actions.long().reshape(-1), int(space.n)).float(), None)
    return TeacherOutput([], None, actions.float().reshape(len(actions), -1))


def _agreement(model: BaseAlgorithm, engine: TransferEngine, obs: torch.Tensor, labels: TeacherOutput) -> float:
    with torch.no_grad():
        student = student_output(model.policy, obs, temperature=engine.config.temperature)
        return agreement(model.policy, student, labels)


def pretrain_on_demonstrations(model: BaseAlgorithm, engine: TransferEngine, *, seed: int) -> str:
    """Fit actor then critic to engine.demos (see the module docstring); one line on what was fitted."""
    demos = engine.demos
    assert demos is not None and len(demos) > 0
    config = engine.config
    narrow_exploration(model, config.init_action_std)
    obs = torch.as_tensor(demos.obs, dtype=torch.float32).reshape(len(demos), -1)
    labels = demonstration_labels(model, torch.as_tensor(demos.targets))
    before = after = _agreement(model, engine, obs, labels)
    fit, rounds = ActorFit(model, engine, seed=seed + 42_000), 0
    least = math.ceil(config.offline_updates / config.init_updates)
    while rounds < least or (rounds < max(least, FIT_ROUNDS) and after < config.init_agreement):
        fit.fit(obs, labels)
        after, rounds = _agreement(model, engine, obs, labels), rounds + 1
    critic = "off"
    if config.critic_warmup:
        updates = max(config.critic_updates, config.offline_updates)
        critic = warm_up_critic(model, engine, demos.as_rollout(), updates=updates, seed=seed)
    if engine.kind != "on_policy":
        engine.exploit(model)
    if engine.kind == "actor":
        engine.distilled = True  # as after distil-initialise, the cloned actor waits while its critic learns
    return (
        f"offline pre-training on {len(demos)} teacher transitions: agreement with their actions "
        f"{before:.2f} → {after:.2f} ({rounds * config.init_updates} updates); critic warm-up: {critic}"
    )
