"""The pieces of distillation: the teacher's labels, rollouts, agreement and the student's supervised fit."""

from __future__ import annotations

import math
import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.policies import BasePolicy

from rltransfer import rollouts
from rltransfer.distill.export import ActingNetwork, acting_parameters, box_bounds
from rltransfer.distill.report import DistillConfig
from rltransfer.errors import IncompatibleSpacesError
from rltransfer.mapping import IDENTITY, MappedTeacher, Mapping, check_identity, load_mapping, user_identity
from rltransfer.policies import build_policy, decode_policy_kwargs, hidden_features
from rltransfer.rollouts import ActFn
from rltransfer.selection import find_mapping
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo import Teacher

DISCRETE_ALGOS = ("ppo", "a2c", "dqn")
CONTINUOUS_ALGOS = ("ppo", "a2c", "sac", "td3")


SEARCH_BUDGET = 1000
"""Target env steps the mapping search may spend (rltransfer.selection.find_mapping's budget)."""


def resolve_mapping(
    teacher: Teacher, env: gym.Env[Any, Any], mapping: Mapping | str | os.PathLike[str] | None, *, seed: int
) -> tuple[Mapping, str]:
    """The teacher → target mapping and where it came from: "given", "identity" or "searched".

    None: identity when the spaces match, otherwise rltransfer.selection.find_mapping. "search": always
    find_mapping (at most SEARCH_BUDGET env steps of `env`). "identity": identity, whatever selection would
    find (IncompatibleSpacesError when it cannot map the spaces). A path: a user's YAML mapping. A Mapping:
    used as given.
    """
    student_obs = SpaceSignature.of(env.observation_space)
    student_action = SpaceSignature.of(env.action_space)
    if isinstance(mapping, str) and mapping == IDENTITY:
        card = teacher.card
        check_identity(student_obs, student_action, card.observation_space, card.action_space)
        return user_identity(student_obs), "given"
    if isinstance(mapping, Mapping):
        mapping.check(student_obs, teacher.card.observation_space)
        return mapping, "given"
    if isinstance(mapping, (str, os.PathLike)) and str(mapping) != "search":
        loaded = load_mapping(mapping)
        loaded.check(student_obs, teacher.card.observation_space)
        return loaded, "given"
    same = student_obs.same_as(teacher.card.observation_space) and student_action.same_as(teacher.card.action_space)
    if same and mapping is None:
        return Mapping.identity(student_obs), "identity"
    return find_mapping(teacher, env, seed=seed, budget=SEARCH_BUDGET), "searched"


def check_family(algo: str, action_space: gym.Space[Any]) -> None:
    """Raise IncompatibleSpacesError when a student of `algo` cannot act in `action_space`."""
    discrete = isinstance(action_space, gym.spaces.Discrete)
    allowed = DISCRETE_ALGOS if discrete else CONTINUOUS_ALGOS
    if algo not in allowed:
        raise IncompatibleSpacesError(
            f"a {algo} student cannot act in the target's {SpaceSignature.of(action_space).describe()} action space",
            fix=f"distil a teacher of {', '.join(allowed)} for this target",
        )


class Labeler:
    """The teacher's answers on target states, in the student's action space."""

    def __init__(self, teacher: Teacher, mapping: Mapping, env: gym.Env[Any, Any], temperature: float) -> None:
        self.teacher = teacher
        self.mapping = mapping
        self.mapped = MappedTeacher(teacher, mapping, env.action_space)
        self.temperature = temperature
        self.discrete = isinstance(env.action_space, gym.spaces.Discrete)
        self.soft = self.discrete and teacher.card.action_space.kind == "discrete"
        self.soft = self.soft and mapping.action.kind in ("identity", "permutation")
        if not self.discrete:
            self.low, self.high = box_bounds(env.action_space)

    def act(self, obs: np.ndarray) -> Any:
        """The teacher's deterministic student-space action for one observation."""
        return self.mapped.act(obs)

    def actions(self, obs: np.ndarray) -> np.ndarray:
        """The teacher's deterministic student-space actions for a batch."""
        return np.asarray(self.mapped.act(obs))

    def targets(self, obs: np.ndarray, n_actions: int) -> np.ndarray:
        """Training targets: action probabilities (discrete) or the action in [-1, 1] range units."""
        if self.soft:
            teacher_obs = torch.as_tensor(self.mapping.obs.apply(obs))
            with torch.no_grad():
                head = hidden_features(self.teacher.policy, teacher_obs)[1]
                scale = self.temperature if self.teacher.card.algo == "dqn" else 1.0
                probs = self.mapping.action.probs_to_student(torch.softmax(head / scale, dim=-1))
            return probs.numpy().astype(np.float32)
        actions = self.actions(obs)
        if self.discrete:
            return np.eye(n_actions, dtype=np.float32)[actions.astype(np.int64).ravel()]
        flat = actions.reshape(len(obs), -1).astype(np.float32)
        return (2.0 * (flat - self.low) / (self.high - self.low) - 1.0).astype(np.float32)


def agreement_of(student: ActingNetwork, labeler: Labeler, obs: np.ndarray, tolerance: float) -> float:
    """Share of states where the student acts as the teacher.

    Discrete: the same greedy action. Continuous: |Δ| ≤ tolerance × (high − low) on every dimension.
    """
    if len(obs) == 0:
        return float("nan")
    student_actions = student.act(obs)
    teacher_actions = labeler.actions(obs)
    if labeler.discrete:
        return float(np.mean(student_actions.ravel() == teacher_actions.ravel()))
    width = labeler.high - labeler.low
    diff = np.abs(student_actions.reshape(len(obs), -1) - teacher_actions.reshape(len(obs), -1))
    return float(np.mean(np.all(diff <= tolerance * width + 1e-7, axis=1)))


def rollout(env: gym.Env[Any, Any], act: ActFn, *, steps: int, seed: int, exploration: float) -> np.ndarray:
    """States visited in `steps` env steps by `act`, which a random action replaces with prob. `exploration`."""
    rng = np.random.default_rng(seed)
    env.action_space.seed(seed)

    def explore(obs: np.ndarray) -> Any:
        return env.action_space.sample() if rng.random() < exploration else act(obs)

    return rollouts.rollout(env, explore, steps=steps, seed=seed).arrays["obs"].reshape(steps, -1)


class Trainer:
    """Supervised fitting of the student's acting network to the teacher's targets."""

    def __init__(self, network: ActingNetwork, config: DistillConfig, *, dqn_student: bool) -> None:
        self.network = network
        self.config = config
        self.logit_scale = 1.0 / config.temperature if dqn_student else 1.0
        self.optimizer = torch.optim.Adam(acting_parameters(network.policy), lr=config.learning_rate)
        self.generator = torch.Generator().manual_seed(config.seed)

    def loss(self, obs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Cross-entropy to the teacher's probabilities (discrete) or squared error in range units."""
        output = self.network.normalized(obs)
        if self.network.discrete:
            log_probs = torch.log_softmax(output * self.logit_scale, dim=-1)
            return -(targets * log_probs).sum(dim=-1).mean()
        return ((output - targets) ** 2).sum(dim=-1).mean()

    def fit(self, obs: np.ndarray, targets: np.ndarray) -> float:
        """`updates` minibatch steps, learning rate cosine-decayed to a tenth; returns the mean loss on all data.

        The loss reported for discrete students is the KL divergence (cross-entropy minus the teacher's entropy).
        """
        obs_tensor, target_tensor = torch.as_tensor(obs), torch.as_tensor(targets)
        updates, base = self.config.updates, self.config.learning_rate
        for step in range(updates):
            for group in self.optimizer.param_groups:
                group["lr"] = base * (0.1 + 0.45 * (1.0 + math.cos(math.pi * step / updates)))
            index = torch.randint(
                len(obs_tensor), (min(self.config.batch_size, len(obs_tensor)),), generator=self.generator
            )
            loss = self.loss(obs_tensor[index], target_tensor[index])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        with torch.no_grad():
            final = self.loss(obs_tensor, target_tensor).item()
            if self.network.discrete:
                final += float((target_tensor * torch.log(target_tensor.clamp_min(1e-12))).sum(dim=-1).mean())
        return final


def build_student(teacher: Teacher, env: gym.Env[Any, Any], hidden: tuple[int, ...]) -> tuple[BasePolicy, dict]:
    """An untrained student of the teacher's algorithm and settings with `hidden` layers; (policy, card kwargs)."""
    encoded = {**teacher.card.policy_kwargs, "net_arch": [int(size) for size in hidden]}
    policy = build_policy(teacher.card.algo, env.observation_space, env.action_space, encoded)
    return policy, decode_policy_kwargs(encoded)


def sync_targets(policy: BasePolicy) -> None:
    """Copy trained online networks into their target copies so the student card is self-consistent."""
    for online, target in (("q_net", "q_net_target"), ("actor", "actor_target")):
        if hasattr(policy, online) and hasattr(policy, target):
            getattr(policy, target).load_state_dict(getattr(policy, online).state_dict())
