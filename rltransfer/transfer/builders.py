"""Builders of the compared methods: each turns a MethodContext into the student to train.

- scratch: plain SB3.
- finetune: plain SB3 after copying the teacher's weights through the mapping.
- kickstart, instance, representation, auto: an SB3 subclass with the transfer controller, in the mode
  and with the TransferConfig defaults the method registry (rltransfer.transfer.methods) gives; kickstart
  is distillation with a linearly decaying λ and no layer matching or weight copy (Schmitt et al. 2018).
- jsrl: plain SB3 learner behind a guide roll-in with a shrinking horizon, Uchendu et al. 2023.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback

from rltransfer import selection
from rltransfer.errors import ConfigError
from rltransfer.io import append_json_line
from rltransfer.mapping import MappedTeacher
from rltransfer.policies import algo_class
from rltransfer.transfer.algorithms import transfer_algorithm
from rltransfer.transfer.config import Mode
from rltransfer.transfer.jsrl import JumpStartCallback, JumpStartVecEnv
from rltransfer.transfer.probes import teacher_probe
from rltransfer.transfer.teacher import ResolvedTeacher, resolve_teacher
from rltransfer.transfer.weights import copy_teacher_weights

if TYPE_CHECKING:  # a type only: rltransfer.training imports this module
    from rltransfer.training.config import TrainConfig

EnvFactory = Callable[[], gym.Env[Any, Any]]


@dataclass
class MethodContext:
    """What a builder needs: the run's config, training env, probe-env factory, decisions path and model kwargs."""

    config: TrainConfig
    vec_env: Any
    env_factory: EnvFactory
    decisions_path: Path
    model_kwargs: dict[str, Any]


@dataclass
class StudentSetup:
    """A built student: the model, the env it trains on, extra callbacks and what has state to checkpoint."""

    model: BaseAlgorithm
    vec_env: Any
    callbacks: list[BaseCallback] = field(default_factory=list)
    stateful: dict[str, Any] = field(default_factory=dict)
    teacher: str | None = None


def _resolve(context: MethodContext) -> ResolvedTeacher:
    config = context.config
    if not config.teacher:
        raise ConfigError(f'method "{config.method}" needs a teacher', fix="pass --teacher NAME or --teacher auto")
    student = selection.Student.of(config.algo, config.policy_kwargs)  # --teacher auto ranks for this student
    return resolve_teacher(
        config.teacher,
        env_factory=context.env_factory,
        zoo=config.zoo,
        mapping=config.mapping,
        seed=config.seed,
        student=student,
    )


def _plain(context: MethodContext, env: Any) -> BaseAlgorithm:
    return algo_class(context.config.algo)("MlpPolicy", env, **context.model_kwargs)


def build_scratch(context: MethodContext) -> StudentSetup:
    """Plain SB3 from random weights."""
    append_json_line(
        context.decisions_path, {"step": 0, "mode": Mode.NONE, "weight": 0.0, "reason": "scratch: no teacher"}
    )
    return StudentSetup(_plain(context, context.vec_env), context.vec_env)


def build_finetune(context: MethodContext) -> StudentSetup:
    """Plain SB3 starting from the teacher's weights (copied through the mapping where shapes allow)."""
    resolved = _resolve(context)
    model = _plain(context, context.vec_env)
    report = copy_teacher_weights(resolved.policy("method finetune").policy, model.policy, resolved.mapping)
    append_json_line(
        context.decisions_path,
        {"step": 0, "mode": "finetune", "weight": 0.0, "reason": f"{resolved.how}; {report.describe()}"},
    )
    return StudentSetup(model, context.vec_env, teacher=resolved.name)


def build_transfer(context: MethodContext) -> StudentSetup:
    """The SB3 subclass with the transfer controller, run with the config's TransferConfig."""
    resolved = _resolve(context)
    if resolved.teacher is None and context.config.transfer_config.mode not in (Mode.INSTANCE, Mode.AUTO, Mode.NONE):
        resolved.policy(f"method {context.config.method}")
    cls = transfer_algorithm(context.config.algo)
    model = cls(  # type: ignore[call-arg]
        "MlpPolicy",
        context.vec_env,
        teacher=resolved,
        transfer=context.config.transfer_config,
        env_factory=context.env_factory,
        decisions_path=context.decisions_path,
        **context.model_kwargs,
    )
    controller = model.transfer_controller  # type: ignore[attr-defined]
    return StudentSetup(model, context.vec_env, stateful={"controller": controller}, teacher=resolved.name)


def build_jsrl(context: MethodContext) -> StudentSetup:
    """Jump-start RL: the mapped teacher rolls in for h steps per episode, h shrinking on a curriculum."""
    resolved = _resolve(context)
    transfer = context.config.transfer_config
    guide = MappedTeacher(resolved.policy("method jsrl"), resolved.mapping, context.vec_env.action_space)
    probe = context.env_factory()
    try:  # the controller's teacher probe, the same episodes
        zero_shot = teacher_probe(probe, guide, episodes=transfer.probe_episodes, seed=context.config.seed)
    finally:
        probe.close()
    max_horizon = max(1, int(np.mean(zero_shot.lengths)))
    wrapper = JumpStartVecEnv(context.vec_env, guide)
    callback = JumpStartCallback(
        wrapper,
        max_horizon=max_horizon,
        stages=transfer.jsrl_stages,
        tolerance=transfer.jsrl_tolerance,
        window=transfer.jsrl_window,
        decisions_path=context.decisions_path,
    )
    model = _plain(context, wrapper)
    return StudentSetup(model, wrapper, [callback], stateful={"jsrl": callback}, teacher=resolved.name)
