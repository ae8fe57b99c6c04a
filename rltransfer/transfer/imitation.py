"""Instance mode's gradient steps on the demonstrations, after SB3's own train() (TransferEngine.after_train).

Each algorithm kind imitates the teacher's own actions in the demonstrations' states (the DART labels where
the executed actions were perturbed), weighted by the controller's decaying instance weight:
- on-policy (PPO, A2C): DAPG's demonstration log-likelihood (Rajeswaran et al. 2018);
- DQN: DQfD's large-margin loss (Hester et al. 2018);
- SAC/TD3: the actor's mean regressed onto them at the distillation's scale (TD3+BC's term, Fujimoto & Gu 2021).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm

from rltransfer.policies import rollout_states
from rltransfer.transfer.instance import MixedReplayBuffer
from rltransfer.transfer.losses import margin_loss, policy_distillation_loss, student_output
from rltransfer.transfer.teacher import TeacherOutput

if TYPE_CHECKING:
    from rltransfer.transfer.engine import TransferEngine


def demonstration_step(engine: TransferEngine, model: BaseAlgorithm, gradient_steps: int | None) -> None:
    """The imitation term of `model`'s kind on engine.demos (see the module docstring)."""
    if engine.kind == "on_policy":
        _dapg(engine, model)
    elif engine.kind == "actor" and engine.config.demo_regression:
        _demonstration_regression(engine, model, gradient_steps)
    elif engine.kind == "q_network" and engine.config.margin_loss:
        _margin(engine, model, gradient_steps)


def _off_policy_steps(engine: TransferEngine, gradient_steps: int | None) -> int:
    return max(1, round((gradient_steps or 1) * engine.distill_steps_ratio))


def _batch_size(engine: TransferEngine, model: BaseAlgorithm, default: int) -> int:
    return engine.config.distill_batch_size or int(getattr(model, "batch_size", 0) or 0) or default


def _dapg(engine: TransferEngine, model: BaseAlgorithm) -> None:
    assert engine.demos is not None
    n_states = len(rollout_states(model))
    size = _batch_size(engine, model, n_states)
    obs, actions = torch.as_tensor(engine.demos.obs), torch.as_tensor(engine.demos.targets)
    losses = []
    for _ in range(engine.config.distill_epochs * max(1, n_states // size)):
        index = torch.randint(0, len(obs), (size,))
        _, log_prob, _ = model.policy.evaluate_actions(obs[index], actions[index])  # type: ignore[operator]
        loss = -engine.config.dapg_weight * engine.instance_weight * log_prob.mean()
        engine.apply(model, loss, False)
        losses.append(float(loss.detach()))
    model.logger.record("transfer/dapg_loss", float(np.mean(losses)))


def _margin(engine: TransferEngine, model: BaseAlgorithm, gradient_steps: int | None) -> None:
    buffer = model.replay_buffer  # type: ignore[attr-defined]
    assert isinstance(buffer, MixedReplayBuffer)
    size = _batch_size(engine, model, 64)
    losses = []
    for _ in range(_off_policy_steps(engine, gradient_steps)):
        states, labels = buffer.sample_labels(size)
        q_values = model.q_net(states)  # type: ignore[attr-defined]
        loss = engine.instance_weight * margin_loss(q_values, labels, engine.config.margin)
        engine.apply(model, loss, False)
        losses.append(float(loss.detach()))
    model.logger.record("transfer/margin_loss", float(np.mean(losses)))


def _demonstration_regression(engine: TransferEngine, model: BaseAlgorithm, gradient_steps: int | None) -> None:
    """The actor's mean pulled towards the teacher's actions, so the critic's action gradient cannot undo the clone.

    Without it, a released SAC clone fell from agreement 0.97 to 0.44 and its return from -240 to -880 within
    1,500 steps (Pendulum-Heavy; docs/decisions.md).
    """
    assert engine.demos is not None
    obs = torch.as_tensor(engine.demos.obs, dtype=torch.float32)
    targets = torch.as_tensor(engine.demos.targets, dtype=torch.float32).reshape(len(obs), -1)
    size = _batch_size(engine, model, len(obs))
    coef = engine.instance_weight * engine.distill_coef()
    losses = []
    for _ in range(_off_policy_steps(engine, gradient_steps)):
        index = torch.randint(0, len(obs), (size,))
        student = student_output(model.policy, obs[index], temperature=engine.config.temperature)
        loss = coef * policy_distillation_loss(model.policy, student, TeacherOutput([], None, targets[index]))
        engine.apply(model, loss, False)
        losses.append(float(loss.detach()))
    model.logger.record("transfer/demo_regression_loss", float(np.mean(losses)))
