"""Copy a teacher's weights into a student through a mapping (fine-tuning and representation init).

The first layer absorbs the observation map: with teacher_obs[j] = scale[j]·student_obs[index[j]] +
offset[j], the student's first layer gets W_s[:, index[j]] += scale[j]·W_t[:, j] and
b_s = b_t + W_t·offset, so it computes exactly what the teacher computes on mapped observations.
A discrete action permutation moves the output rows (student row perm[a] = teacher row a); an affine
map of continuous actions scales and moves the rows of a linear mean head. Layers whose shapes differ
are left as they are and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import torch
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.dqn.policies import DQNPolicy
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy
from torch import nn

from rltransfer.mapping import Mapping
from rltransfer.policies import anatomy


@dataclass
class WeightCopyReport:
    """What a weight copy did: names of copied and skipped parts, with reasons."""

    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line for decisions.jsonl."""
        copied = ", ".join(self.copied) or "nothing"
        skipped = "; ".join(self.skipped) or "nothing"
        return f"copied {copied}; not copied: {skipped}"


def _linears(blocks: list[nn.Module]) -> list[nn.Linear]:
    return [m for block in blocks for m in block.modules() if isinstance(m, nn.Linear)]


def _layer_norms(blocks: list[nn.Module]) -> list[nn.LayerNorm]:
    return [m for block in blocks for m in block.modules() if isinstance(m, nn.LayerNorm)]


@torch.no_grad()
def _copy_first(student: nn.Linear, teacher: nn.Linear, mapping: Mapping) -> bool:
    obs_map = mapping.obs
    if student.out_features != teacher.out_features or teacher.in_features != obs_map.teacher_dim:
        return False
    if max(obs_map.index, default=-1) >= student.in_features:
        return False
    weight = torch.zeros_like(student.weight)
    scale = torch.as_tensor(obs_map.scale, dtype=weight.dtype)
    offset = torch.as_tensor(obs_map.offset, dtype=weight.dtype)
    for j, source in enumerate(obs_map.index):
        if source >= 0:
            weight[:, source] += scale[j] * teacher.weight[:, j]
    student.weight.copy_(weight)
    student.bias.copy_(teacher.bias + teacher.weight @ offset)
    return True


@torch.no_grad()
def _copy_same(student: nn.Linear, teacher: nn.Linear) -> bool:
    if student.weight.shape != teacher.weight.shape:
        return False
    student.weight.copy_(teacher.weight)
    student.bias.copy_(teacher.bias)
    return True


def _copy_stack(
    name: str,
    student_blocks: list[nn.Module],
    teacher_blocks: list[nn.Module],
    mapping: Mapping,
    report: WeightCopyReport,
) -> bool:
    """Copy a stack of hidden layers (the first Linear through the obs map), LayerNorms with their Linears.

    Stops at the first misfit. A stack normalised on one side only is not copied: the same Linear weights
    would compute another function.
    """
    norms = _layer_norms(student_blocks), _layer_norms(teacher_blocks)
    if len(norms[0]) != len(norms[1]):
        report.skipped.append(f"{name} ({len(norms[1])} teacher LayerNorms vs {len(norms[0])} student ones)")
        return False
    student, teacher = _linears(student_blocks), _linears(teacher_blocks)
    if len(student) != len(teacher):
        report.skipped.append(f"{name} ({len(teacher)} teacher layers vs {len(student)} student layers)")
        return False
    for i, (mine, theirs) in enumerate(zip(student, teacher, strict=True)):
        ok = _copy_first(mine, theirs, mapping) if i == 0 else _copy_same(mine, theirs)
        if not ok:
            report.skipped.append(
                f"{name} layer {i} (teacher {tuple(theirs.weight.shape)}, student {tuple(mine.weight.shape)})"
            )
            return False
    for mine_norm, their_norm in zip(*norms, strict=True):
        mine_norm.load_state_dict(their_norm.state_dict())
    report.copied.append(f"{name} ({len(student)} layers)")
    return True


@torch.no_grad()
def _copy_head(
    student: nn.Linear, teacher: nn.Linear, mapping: Mapping, kind: str, student_space: gym.Space[object]
) -> str | None:
    """Copy an output layer through the action map; return a reason when it cannot be copied."""
    if student.in_features != teacher.in_features:
        return f"widths differ ({teacher.in_features} vs {student.in_features})"
    action = mapping.action
    if isinstance(student_space, gym.spaces.Discrete):
        if student.out_features != teacher.out_features or action.kind not in ("identity", "permutation"):
            return f'action map "{action.kind}" does not move discrete outputs'
        order = list(action.permutation) if action.kind == "permutation" else list(range(teacher.out_features))
        student.weight[order] = teacher.weight
        student.bias[order] = teacher.bias
        return None
    if action.kind == "identity":
        return None if _copy_same(student, teacher) else "shapes differ"
    if action.kind != "affine":
        return f'action map "{action.kind}" does not move continuous outputs'
    index = list(action.index)
    scale = torch.as_tensor(action.scale, dtype=student.weight.dtype)
    offset = torch.as_tensor(action.offset, dtype=student.weight.dtype)
    if kind == "gaussian_mean":
        student.weight.copy_(teacher.weight[index] * scale[:, None])
        student.bias.copy_(teacher.bias[index] * scale + offset)
        return None
    # squashed heads: only sign flips and permutations with symmetric, equal bounds pass through tanh
    if bool(torch.all(offset == 0)) and bool(torch.all(scale.abs() == 1.0)):
        student.weight.copy_(teacher.weight[index] * scale[:, None])
        student.bias.copy_(teacher.bias[index] * scale)
        return None
    return "an affine map with rescaling does not pass through the tanh squashing"


def _head_linear(head: nn.Module) -> nn.Linear | None:
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    return linears[0] if len(linears) == 1 else None


def copy_teacher_weights(teacher: BasePolicy, student: BasePolicy, mapping: Mapping) -> WeightCopyReport:
    """Copy what fits of the teacher's acting network (and, same family, its critic) into the student."""
    report = WeightCopyReport()
    teacher_parts, student_parts = anatomy(teacher), anatomy(student)
    trunk_ok = _copy_stack("actor trunk", student_parts.trunk, teacher_parts.trunk, mapping, report)
    same_output = teacher_parts.output == student_parts.output
    teacher_head, student_head = _head_linear(teacher_parts.head), _head_linear(student_parts.head)
    if not trunk_ok:
        report.skipped.append("output head (trunk not copied)")
    elif not same_output or teacher_head is None or student_head is None:
        report.skipped.append(f"output head ({teacher_parts.output} teacher, {student_parts.output} student)")
    else:
        reason = _copy_head(student_head, teacher_head, mapping, student_parts.output, student.action_space)
        if reason is None:
            report.copied.append(f"output head ({student_parts.output})")
        else:
            report.skipped.append(f"output head: {reason}")
    _copy_critic(teacher, student, mapping, report)
    _sync_targets(student)
    return report


def _copy_critic(teacher: BasePolicy, student: BasePolicy, mapping: Mapping, report: WeightCopyReport) -> None:
    if isinstance(teacher, ActorCriticPolicy) and isinstance(student, ActorCriticPolicy):
        value_teacher = list(teacher.mlp_extractor.value_net.children())
        value_student = list(student.mlp_extractor.value_net.children())
        if _copy_stack("value trunk", value_student, value_teacher, mapping, report):
            if _copy_same(student.value_net, teacher.value_net):
                report.copied.append("value head")
            else:
                report.skipped.append("value head (shapes differ)")
        both_box = isinstance(student.action_space, gym.spaces.Box) and isinstance(teacher.action_space, gym.spaces.Box)
        if both_box and mapping.action.kind == "identity" and student.log_std.shape == teacher.log_std.shape:
            with torch.no_grad():
                student.log_std.copy_(teacher.log_std)
            report.copied.append("log_std")
    elif type(teacher) is type(student) and isinstance(student, (SACPolicy, TD3Policy)):
        student_dim = int(student.observation_space.shape[0])  # type: ignore[index]
        if mapping.obs.is_identity(student_dim) and mapping.action.kind == "identity":
            try:
                student.critic.load_state_dict(teacher.critic.state_dict())  # type: ignore[union-attr]
                report.copied.append("critic")
            except RuntimeError:
                report.skipped.append("critic (shapes differ)")
        else:
            report.skipped.append("critic (takes actions as input; copied only for identity mappings)")
        if isinstance(student, SACPolicy) and isinstance(teacher, SACPolicy) and mapping.action.kind == "identity":
            mine, theirs = student.actor.log_std, teacher.actor.log_std
            if isinstance(mine, nn.Linear) and isinstance(theirs, nn.Linear) and _copy_same(mine, theirs):
                report.copied.append("log_std head")
    elif not isinstance(student, DQNPolicy):
        report.skipped.append(f"critic ({type(teacher).__name__} teacher, {type(student).__name__} student)")


def _sync_targets(student: BasePolicy) -> None:
    if isinstance(student, DQNPolicy):
        student.q_net_target.load_state_dict(student.q_net.state_dict())
    elif isinstance(student, SACPolicy):
        student.critic_target.load_state_dict(student.critic.state_dict())
    elif isinstance(student, TD3Policy):
        student.actor_target.load_state_dict(student.actor.state_dict())
        student.critic_target.load_state_dict(student.critic.state_dict())
