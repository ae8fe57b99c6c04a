"""Distillation losses between a student policy and the (mapped) teacher, and layer-wise hidden matching.

- Discrete students: KL(π_teacher ‖ π_student) (kickstarting, Schmitt et al. 2018); for Q-network
  students π_student = softmax(Q_student/τ) (QDagger, Agarwal et al. 2022).
- Continuous students: MSE between the student's action mean and the teacher's deterministic action
  (SAC/TD3 in the actor's [-1, 1] units, PPO/A2C in env units). A Gaussian KL would need the
  teacher's std, which SAC/TD3 teachers do not have in a comparable form.
- Hidden matching (Aguilar et al. 2020): learned linear projections from student layers to teacher
  layers, matched progressively bottom-up (one layer per stage, lowest first); a student with fewer
  layers is matched to every k-th teacher layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import torch
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.dqn.policies import DQNPolicy
from stable_baselines3.sac.policies import SACPolicy
from torch import nn
from torch.nn import functional as F

from rltransfer.policies import hidden_features
from rltransfer.transfer.teacher import TeacherOutput

SQUASHED_LIMIT = 0.97
"""Largest |target| in [-1, 1] units for a tanh-squashed (SAC/TD3) student's action."""


@dataclass
class StudentOutput:
    """The student's acting network on a batch of states (with gradient).

    Attributes:
        hidden: Hidden activations, lowest first.
        log_probs: Discrete: log-probabilities over actions (softmax(Q/τ) for Q-networks).
        action: Continuous: the action mean in the units the teacher's target is given in.
        raw: The head output (logits, Q-values or mean).
    """

    hidden: list[torch.Tensor]
    log_probs: torch.Tensor | None
    action: torch.Tensor | None
    raw: torch.Tensor


def student_output(policy: BasePolicy, obs: torch.Tensor, *, temperature: float) -> StudentOutput:
    """Run the student's acting network once, keeping hidden activations and the head output."""
    hidden, head = hidden_features(policy, obs)
    if isinstance(policy.action_space, gym.spaces.Discrete):
        logits = head / temperature if isinstance(policy, DQNPolicy) else head
        return StudentOutput(hidden, torch.log_softmax(logits, dim=-1), None, head)
    if isinstance(policy, ActorCriticPolicy):
        return StudentOutput(hidden, None, head, head)
    action = torch.tanh(head) if isinstance(policy, SACPolicy) else head
    return StudentOutput(hidden, None, action, head)


def to_student_units(policy: BasePolicy, action: torch.Tensor) -> torch.Tensor:
    """Teacher targets in env units → the units of the student's head ([-1, 1] for squashed actors)."""
    if isinstance(policy, ActorCriticPolicy):
        return action
    space = policy.action_space
    assert isinstance(space, gym.spaces.Box)
    low = torch.as_tensor(space.low, dtype=action.dtype)
    high = torch.as_tensor(space.high, dtype=action.dtype)
    # a tanh actor reaches ±1 only at infinite pre-activations, where SAC's log-prob correction explodes:
    # a bang-bang teacher's targets stay just inside the range
    return torch.clamp(2.0 * (action - low) / (high - low) - 1.0, -SQUASHED_LIMIT, SQUASHED_LIMIT)


def policy_distillation_loss(policy: BasePolicy, student: StudentOutput, teacher: TeacherOutput) -> torch.Tensor:
    """KL(π_teacher ‖ π_student) for discrete students, MSE on the action mean for continuous ones."""
    if student.log_probs is not None:
        assert teacher.probs is not None
        probs = teacher.probs
        return (torch.special.xlogy(probs, probs) - probs * student.log_probs).sum(dim=-1).mean()
    assert student.action is not None and teacher.action is not None
    return F.mse_loss(student.action, to_student_units(policy, teacher.action))


def agreement(policy: BasePolicy, student: StudentOutput, teacher: TeacherOutput) -> float:
    """Share of states where the student's greedy action is the teacher's (discrete), or closeness (continuous).

    Continuous: 1 − mean |a_student − a_teacher| / 2 in the actor's [-1, 1] units (1.0: identical).
    """
    with torch.no_grad():
        if student.log_probs is not None:
            assert teacher.probs is not None
            return float((student.log_probs.argmax(-1) == teacher.probs.argmax(-1)).float().mean())
        assert student.action is not None and teacher.action is not None
        target = to_student_units(policy, teacher.action)
        mine = student.action
        if isinstance(policy, ActorCriticPolicy):
            space = policy.action_space
            assert isinstance(space, gym.spaces.Box)
            low = torch.as_tensor(space.low)
            high = torch.as_tensor(space.high)
            target = 2.0 * (target - low) / (high - low) - 1.0
            mine = 2.0 * (torch.clamp(mine, low, high) - low) / (high - low) - 1.0
        return float(1.0 - (mine - target).abs().mean().clamp(max=2.0) / 2.0)


def layer_pairs(student_layers: int, teacher_layers: int) -> list[tuple[int, int]]:
    """(student layer, teacher layer) pairs: student layer i ↦ teacher layer ⌈(i+1)·T/S⌉ − 1 (every k-th)."""
    if student_layers == 0 or teacher_layers == 0:
        return []
    return [(i, max(0, -(-(i + 1) * teacher_layers // student_layers) - 1)) for i in range(student_layers)]


class HiddenMatcher(nn.Module):
    """Learned linear projections student layer → teacher layer, matched progressively bottom-up.

    Stage k matches only pair k (progressive inductive distillation, PID); once every pair has had
    its stage, only the output distillation remains.
    """

    def __init__(self, student_widths: list[int], teacher_widths: list[int]) -> None:
        super().__init__()
        self.pairs = layer_pairs(len(student_widths), len(teacher_widths))
        self.projections = nn.ModuleList(nn.Linear(student_widths[s], teacher_widths[t]) for s, t in self.pairs)

    @property
    def stages(self) -> int:
        """Number of hidden stages before output-only distillation."""
        return len(self.pairs)

    def loss(self, student_hidden: list[torch.Tensor], teacher_hidden: list[torch.Tensor], stage: int) -> torch.Tensor:
        """MSE between the projected student layer and the teacher layer of `stage` (0 past the last stage)."""
        if stage >= len(self.pairs) or not teacher_hidden:
            return torch.zeros(())
        student_index, teacher_index = self.pairs[stage]
        projected = self.projections[stage](student_hidden[student_index])
        return F.mse_loss(projected, teacher_hidden[teacher_index])


def margin_loss(q_values: torch.Tensor, expert_actions: torch.Tensor, margin: float) -> torch.Tensor:
    """DQfD's large-margin loss: max_a [Q(s,a) + l(a_E, a)] − Q(s, a_E), l = margin for a ≠ a_E."""
    expert = expert_actions.long().reshape(-1, 1)
    margins = torch.full_like(q_values, margin).scatter(1, expert, 0.0)
    return ((q_values + margins).max(dim=1).values - q_values.gather(1, expert).squeeze(1)).mean()
