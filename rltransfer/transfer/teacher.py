"""The teacher seen from the student: resolution of teacher and mapping, and batched teacher targets.

Every transfer mode acts through the Mapping (student obs → teacher obs, teacher action → student
action), so permuted, rescaled or reversed targets are handled in one place. Teacher forward passes
are batched torch calls on many student states at once. A teacher may also be only data: a dataset
(Minari folder or id, transitions.npz) in the student's own spaces, which only instance transfer uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rltransfer import selection
from rltransfer.data.store import Dataset, find_dataset
from rltransfer.errors import ConfigError, IncompatibleSpacesError
from rltransfer.mapping import MappedTeacher, Mapping
from rltransfer.policies import anatomy, hidden_features, hidden_widths
from rltransfer.spaces import SpaceSignature
from rltransfer.transfer.methods import METHODS
from rltransfer.zoo import Teacher, list_teacher_names, load_teacher, resolve_teacher_dir


@dataclass(frozen=True)
class ResolvedTeacher:
    """A loaded teacher, the mapping to the student's spaces and how they were obtained.

    Attributes:
        teacher: The loaded policy teacher; None for a teacher that is only data.
        mapping: Teacher ↔ student mapping (identity for a dataset, which is in the student's spaces).
        how: One line on how teacher and mapping were chosen (logged in decisions.jsonl).
        dataset: The dataset of a teacher that is only data.
        dataset_in_target: Whether the dataset was recorded in the target env itself (same id and
            kwargs): then its env steps are target env steps and count against the method.
    """

    teacher: Teacher | None
    mapping: Mapping
    how: str
    dataset: Dataset | None = None
    dataset_in_target: bool = False

    @property
    def name(self) -> str:
        """The teacher's zoo name, or the dataset's id."""
        if self.teacher is not None:
            return self.teacher.name
        assert self.dataset is not None
        return self.dataset.dataset_id

    def policy(self, method: str) -> Teacher:
        """The policy teacher `method` needs; ConfigError for a teacher that is only data."""
        if self.teacher is None:
            raise ConfigError(
                f'teacher "{self.name}" is a dataset, and {method} needs a policy to act or be distilled',
                fix="use --method instance or auto with a dataset, or give a zoo teacher",
            )
        return self.teacher


def _spaces_match(teacher: Teacher, observation_space: gym.Space[Any], action_space: gym.Space[Any]) -> bool:
    return SpaceSignature.of(observation_space).same_as(teacher.card.observation_space) and SpaceSignature.of(
        action_space
    ).same_as(teacher.card.action_space)


def _find_mapping(teacher: Teacher, env: gym.Env[Any, Any], *, seed: int) -> Mapping:
    mapping: Mapping = selection.find_mapping(teacher, env, seed=seed, budget=2000)
    return mapping


def teacher_dataset(teacher: str | Teacher | Dataset, zoo: str | None = None) -> Dataset | None:
    """The dataset `teacher` names (a path or an id under $MINARI_DATASETS_PATH), None for a policy teacher.

    A zoo teacher's name wins over a dataset id of the same name.
    """
    if isinstance(teacher, Dataset):
        return teacher
    if isinstance(teacher, Teacher) or teacher == "auto" or teacher in list_teacher_names(zoo):
        return None
    return find_dataset(teacher)


def check_teacher(teacher: str, zoo: str | None = None, *, methods: tuple[str, ...] = ()) -> None:
    """Fail early, with one line, on a teacher that is not there, or a dataset for a method that needs a policy.

    `teacher` may name a zoo teacher, a teacher folder or a dataset.
    """
    if teacher == "auto":
        return
    dataset = teacher_dataset(teacher, zoo)
    if dataset is None:
        resolve_teacher_dir(teacher, zoo)
        return
    needs_policy = [name for name in methods if METHODS[name].needs_teacher and not METHODS[name].takes_dataset]
    if needs_policy:
        raise ConfigError(
            f'teacher "{teacher}" is a dataset, and method {", ".join(needs_policy)} needs a policy to act or be '
            "distilled",
            fix="use --method instance or auto with a dataset, or give a zoo teacher",
        )


def _resolve_dataset(dataset: Dataset, probe_env: gym.Env[Any, Any]) -> ResolvedTeacher:
    """A dataset teacher: its spaces must be the student's (it is replayed as recorded)."""
    for role, recorded, student in (
        ("observation", dataset.observation_space, probe_env.observation_space),
        ("action", dataset.action_space, probe_env.action_space),
    ):
        if not SpaceSignature.of(recorded).same_as(SpaceSignature.of(student)):
            raise IncompatibleSpacesError(
                f"dataset {dataset.dataset_id} has {role} space {recorded}, the target {student}",
                fix="record the teacher in the target with `rltransfer data export TEACHER --env ID`",
            )
    in_target = dataset.recorded_in(probe_env)
    where = "recorded in the target" if in_target else f"recorded in {dataset.env_id or 'an unknown env'}"
    how = (
        f"teacher dataset {dataset.dataset_id} ({len(dataset.episodes)} episodes, {dataset.total_steps} steps, "
        f"mean return {float(dataset.returns.mean()):.1f}, {where})"
    )
    identity = Mapping.identity(SpaceSignature.of(probe_env.observation_space))
    return ResolvedTeacher(None, identity, how, dataset, in_target)


def resolve_teacher(
    teacher: str | Teacher | Dataset | ResolvedTeacher,
    *,
    env_factory: Any,
    zoo: str | None = None,
    mapping: Mapping | dict[str, Any] | None = None,
    seed: int = 0,
    student: selection.Student | None = None,
) -> ResolvedTeacher:
    """Load `teacher` (zoo name, folder, "auto", a Teacher or a dataset) and the mapping to the target's spaces.

    "auto" takes the top of `rltransfer.selection.rank_teachers` for `student` (near-ties go to the cheaper
    route into it). Without a mapping, equal spaces get Mapping.identity; different ones get
    `rltransfer.selection.find_mapping`. A ResolvedTeacher is returned as it is (resolved once, by whoever built
    the student, so its account of how it was chosen reaches decisions.jsonl).
    """
    if isinstance(teacher, ResolvedTeacher):
        return teacher
    probe_env = env_factory()
    try:
        dataset = teacher_dataset(teacher, zoo)
        if dataset is not None:
            if mapping is not None:
                raise ConfigError(
                    f"dataset {dataset.dataset_id} is replayed in the student's spaces, so it takes no mapping",
                    fix="drop --mapping, or record the teacher through it with `rltransfer data export`",
                )
            return _resolve_dataset(dataset, probe_env)
        assert not isinstance(teacher, Dataset)
        how = ""
        if isinstance(teacher, str) and teacher == "auto":
            spec = probe_env.spec
            rankings = selection.rank_teachers(
                spec.id if spec is not None else probe_env,
                zoo,
                env_kwargs=dict(spec.kwargs) if spec is not None else None,
                seed=seed,
                student=student,
            )
            if not rankings:
                raise IncompatibleSpacesError("no teacher in the zoo fits this target", fix="train one or pass --zoo")
            top = rankings[0]
            loaded = load_teacher(top.teacher, zoo)
            route = f", {top.route} into the {student.algo} student" if student is not None else ""
            how = (
                f"teacher auto: {top.teacher} ranked first (score {float(top.score):.3g}, "
                f"normalized zero-shot return {float(getattr(top, 'zero_shot_return', float('nan'))):.2f}{route})"
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
