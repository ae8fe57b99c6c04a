"""The teacher seen from the student: resolution of teacher and mapping, and batched teacher targets.

Every transfer mode acts through the Mapping (student obs → teacher obs, teacher action → student
action), so permuted, rescaled or reversed targets are handled in one place. Teacher forward passes
are batched torch calls on many student states at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rltransfer import selection
from rltransfer.errors import IncompatibleSpacesError
from rltransfer.mapping import MappedTeacher, Mapping
from rltransfer.policies import anatomy, hidden_features, hidden_widths
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo import Teacher, load_teacher


@dataclass(frozen=True)
class ResolvedTeacher:
    """A loaded teacher, the mapping to the student's spaces and how they were obtained.

    Attributes:
        teacher: The loaded teacher.
        mapping: Teacher ↔ student mapping.
        how: One line on how teacher and mapping were chosen (logged in decisions.jsonl).
    """

    teacher: Teacher
    mapping: Mapping
    how: str


def _spaces_match(teacher: Teacher, observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> bool:
    return SpaceSignature.of(observation_space).same_as(teacher.card.observation_space) and SpaceSignature.of(
        action_space
    ).same_as(teacher.card.action_space)


def _find_mapping(teacher: Teacher, env: gym.Env[Any, Any], *, seed: int) -> Mapping:
    mapping: Mapping = selection.find_mapping(teacher, env, seed=seed, budget=2000)
    return mapping


def resolve_teacher(
    teacher: str | Teacher,
    *,
    env_factory: Any,
    zoo: str | None = None,
    mapping: Mapping | dict[str, Any] | None = None,
    seed: int = 0,
) -> ResolvedTeacher:
    """Load `teacher` (zoo name, folder, "auto" or a Teacher) and the mapping to the target's spaces.

    "auto" takes the top of `rltransfer.selection.rank_teachers`. Without a mapping, equal spaces get
    Mapping.identity; different ones get `rltransfer.selection.find_mapping`.
    """
    probe_env = env_factory()
    try:
        how = ""
        if isinstance(teacher, str) and teacher == "auto":
            spec = probe_env.spec
            rankings = selection.rank_teachers(
                spec.id if spec is not None else probe_env,
                zoo,
                env_kwargs=dict(spec.kwargs) if spec is not None else None,
                seed=seed,
            )
            if not rankings:
                raise IncompatibleSpacesError("no teacher in the zoo fits this target", fix="train one or pass --zoo")
            top = rankings[0]
            loaded = load_teacher(top.teacher, zoo)
            how = (
                f"teacher auto: {top.teacher} ranked first (score {float(top.score):.3g}, "
                f"normalized zero-shot return {float(getattr(top, 'zero_shot_return', float('nan'))):.2f})"
            )
            if mapping is None:
                mapping = top.mapping
        else:
            loaded = teacher if isinstance(teacher, Teacher) else load_teacher(teacher, zoo)
            how = f"teacher {loaded.name}"
        if isinstance(mapping, dict):
            mapping = Mapping.from_dict(mapping)
        if mapping is None:
            if _spaces_match(loaded, probe_env.observation_space, probe_env.action_space):
                mapping = Mapping.identity(loaded.card.observation_space)
                how += "; identity mapping (spaces match)"
            else:
                mapping = _find_mapping(loaded, probe_env, seed=seed)
                how += f"; mapping found by selection ({mapping.describe()}, confidence {mapping.confidence:.2f})"
        else:
            how += f"; mapping {mapping.source} ({mapping.describe()})"
        mapping.check(SpaceSignature.of(probe_env.observation_space), loaded.card.observation_space)
        _check_action_map(mapping, loaded.action_space, probe_env.action_space)
        return ResolvedTeacher(loaded, mapping, how)
    finally:
        probe_env.close()


def _check_action_map(mapping: Mapping, teacher_space: gym.Space[Any], student_space: gym.Space[Any]) -> None:
    teacher_discrete = isinstance(teacher_space, gym.spaces.Discrete)
    student_discrete = isinstance(student_space, gym.spaces.Discrete)
    allowed = {
        (True, True): ("identity", "permutation"),
        (False, False): ("identity", "affine"),
        (True, False): ("bins",),
        (False, True): ("nearest",),
    }[(teacher_discrete, student_discrete)]
    if mapping.action.kind not in allowed:
        raise IncompatibleSpacesError(
            f'action map "{mapping.action.kind}" cannot take {teacher_space} actions to {student_space}',
            fix=f"give an action map of kind {' or '.join(allowed)}",
        )
    if teacher_discrete and student_discrete:
        teacher_n, student_n = int(teacher_space.n), int(student_space.n)  # type: ignore[attr-defined]
        size = len(mapping.action.permutation) if mapping.action.kind == "permutation" else teacher_n
        if size != student_n or teacher_n != student_n:
            raise IncompatibleSpacesError(
                f"teacher has {teacher_n} actions, student {student_n}",
                fix="give a mapping whose action permutation covers both",
            )


@dataclass
class TeacherOutput:
    """The teacher's view of a batch of student states, in the student's action space.

    Attributes:
        hidden: Teacher hidden activations, lowest layer first (empty unless asked for).
        probs: Discrete students: teacher action probabilities over the student's actions.
        action: Continuous students: the teacher's deterministic action in the student's env units.
    """

    hidden: list[torch.Tensor]
    probs: torch.Tensor | None
    action: torch.Tensor | None


class TeacherTargets:
    """Batched teacher outputs for student states (no gradient), mapped to the student's action space.

    `greedy`: a policy teacher's probabilities become its greedy action (one-hot), the target a Q-network
    student needs: softmax(Q/τ) fitted to soft probabilities would leave Q-gaps of a few τ, which the first
    TD updates overturn.
    """

    def __init__(
        self,
        teacher: Teacher,
        mapping: Mapping,
        student_action_space: gym.Space[Any],
        *,
        temperature: float,
        greedy: bool = False,
    ) -> None:
        self.teacher = teacher
        self.greedy = greedy
        self.mapping = mapping
        self.student_action_space = student_action_space
        self.temperature = temperature
        self.mapped = MappedTeacher(teacher, mapping, student_action_space)
        self.output_kind = anatomy(teacher.policy).output
        self.student_discrete = isinstance(student_action_space, gym.spaces.Discrete)
        teacher_space = teacher.action_space
        if isinstance(teacher_space, gym.spaces.Box):
            self._teacher_low = torch.as_tensor(teacher_space.low, dtype=torch.float32)
            self._teacher_high = torch.as_tensor(teacher_space.high, dtype=torch.float32)
        if isinstance(student_action_space, gym.spaces.Box):
            self.student_low = torch.as_tensor(student_action_space.low, dtype=torch.float32)
            self.student_high = torch.as_tensor(student_action_space.high, dtype=torch.float32)

    @torch.no_grad()
    def __call__(self, student_obs: torch.Tensor, *, with_hidden: bool = False) -> TeacherOutput:
        """Teacher outputs for a batch of student observations (n, obs_dim)."""
        teacher_obs = self.mapping.obs.apply_torch(student_obs.float())
        hidden, head = hidden_features(self.teacher.policy, teacher_obs)
        probs_teacher: torch.Tensor | None = None
        action_teacher: torch.Tensor | None = None
        if self.output_kind == "logits":
            probs_teacher = torch.softmax(head, dim=-1)
            if self.greedy:
                probs_teacher = torch.nn.functional.one_hot(head.argmax(dim=-1), head.shape[-1]).float()
        elif self.output_kind == "q_values":
            probs_teacher = torch.softmax(head / self.temperature, dim=-1)
        elif self.output_kind == "gaussian_mean":
            action_teacher = torch.clamp(head, self._teacher_low, self._teacher_high)
        else:  # squashed_mean: SAC gives the pre-tanh mean, TD3 the tanh output
            squashed = head if self.teacher.card.algo == "td3" else torch.tanh(head)
            action_teacher = self._teacher_low + 0.5 * (squashed + 1.0) * (self._teacher_high - self._teacher_low)
        kept_hidden = [h.detach() for h in hidden] if with_hidden else []
        action_map = self.mapping.action
        if self.student_discrete:
            if probs_teacher is not None:
                return TeacherOutput(kept_hidden, action_map.probs_to_student(probs_teacher), None)
            assert action_teacher is not None
            chosen = action_map.to_student(action_teacher.numpy())
            probs = torch.nn.functional.one_hot(
                torch.as_tensor(np.asarray(chosen), dtype=torch.long).reshape(-1),
                int(self.student_action_space.n),  # type: ignore[attr-defined]
            )
            return TeacherOutput(kept_hidden, probs.float(), None)
        if action_teacher is not None:
            student_action = action_map.mean_to_student(action_teacher)
        else:
            assert probs_teacher is not None
            values = torch.as_tensor(action_map.values, dtype=torch.float32)
            student_action = values[probs_teacher.argmax(dim=-1)]
        student_action = torch.clamp(student_action.float(), self.student_low, self.student_high)
        return TeacherOutput(kept_hidden, None, student_action)

    def hidden_widths(self) -> list[int]:
        """Widths of the teacher's hidden layers, lowest first."""
        return hidden_widths(self.teacher.policy)
