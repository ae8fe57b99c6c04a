"""The student a ranking is for, and how each teacher would reach it: weights copy, distillation or data only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import gymnasium as gym
import torch

from rltransfer.errors import ConfigError
from rltransfer.mapping import Mapping
from rltransfer.policies import ALGOS, algo_class, build_policy, hidden_widths
from rltransfer.selection.dataset import KIND as DATASET_KIND
from rltransfer.selection.ranking import Ranking
from rltransfer.transfer.weights import copy_teacher_weights
from rltransfer.zoo import Teacher
from rltransfer.zoo.hyperparams import default_hyperparams


@dataclass(kw_only=True, frozen=True)
class Student:
    """The student that will learn from the teacher a ranking chooses.

    Attributes:
        algo: SB3 algorithm name of the student (ppo, a2c, dqn, sac, td3).
        net_arch: Hidden widths of its acting network, lowest first; None: the hyperparams of record for
            the target, what `train` builds.
    """

    algo: str
    net_arch: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.algo.lower() not in ALGOS:
            algo_class(self.algo)  # UnknownNameError with a did-you-mean
        object.__setattr__(self, "algo", self.algo.lower())
        if self.net_arch is not None:
            widths = tuple(self.net_arch)
            if not widths or any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
                raise ConfigError(
                    f"student net_arch {list(widths)} is not a list of positive widths", fix="give e.g. 64,64"
                )
            object.__setattr__(self, "net_arch", widths)

    @classmethod
    def of(cls, algo: str, policy_kwargs: dict[str, Any] | None = None) -> Student:
        """The student `train` builds with these policy_kwargs overrides (net_arch a list, or SB3's dict with "pi")."""
        net_arch = (policy_kwargs or {}).get("net_arch")
        if isinstance(net_arch, dict):
            net_arch = net_arch.get("pi")
        return cls(algo=algo, net_arch=tuple(net_arch) if net_arch is not None else None)

    def policy_kwargs(self, env_id: str | None) -> dict[str, Any]:
        """Policy kwargs of its acting network: net_arch, else the record's for `env_id` (else SB3's default)."""
        if self.net_arch is not None:
            return {"net_arch": list(self.net_arch)}
        record = default_hyperparams(self.algo, env_id)["policy_kwargs"] if env_id is not None else {}
        return {"net_arch": record["net_arch"]} if "net_arch" in record else {}


def policy_route(
    teacher: Teacher,
    mapping: Mapping,
    student: Student,
    observation_space: gym.Space[Any],
    action_space: gym.Space[Any],
    *,
    env_id: str | None,
) -> dict[str, Any]:
    """{"route", "why", "copied"}: whether the teacher's whole actor copies into a throwaway student, and what.

    copy_teacher_weights decides; "copied" names every part it copies (a critic too warms the student's critic).
    """
    with torch.random.fork_rng(devices=[]):  # building the throwaway policy must not shift the caller's stream
        policy = build_policy(student.algo, observation_space, action_space, student.policy_kwargs(env_id))
    report = copy_teacher_weights(teacher.policy, policy, mapping)
    whole = any(p.startswith("actor trunk") for p in report.copied) and any(
        p.startswith("output head") for p in report.copied
    )
    shapes = f"{teacher.card.algo} {hidden_widths(teacher.policy)} into {student.algo} {hidden_widths(policy)}"
    if whole:
        return {"route": "weights copy", "why": f"{shapes}: {report.describe()}", "copied": list(report.copied)}
    return {"route": "distillation", "why": f"{shapes}: not copied: {'; '.join(report.skipped)}", "copied": []}


def with_routes(
    rankings: Sequence[Ranking],
    teachers: dict[str, Teacher],
    student: Student,
    observation_space: gym.Space[Any],
    action_space: gym.Space[Any],
    *,
    env_id: str | None,
) -> list[Ranking]:
    """Each ranking with evidence["transfer"]: the route into `student` (a dataset's is "data only")."""
    routed = []
    for ranking in rankings:
        teacher = teachers.get(ranking.teacher)
        if "reason" in ranking.evidence:
            route = {"route": "none", "why": str(ranking.evidence["reason"])}
        elif ranking.evidence.get("kind") == DATASET_KIND or teacher is None:
            route = {"route": "data only", "why": "a dataset: replayed by instance transfer, nothing to copy or distil"}
        else:
            route = policy_route(teacher, ranking.mapping, student, observation_space, action_space, env_id=env_id)
        described = {"algo": student.algo, "net_arch": student.policy_kwargs(env_id).get("net_arch")}
        routed.append(replace(ranking, evidence={**ranking.evidence, "transfer": {**route, "student": described}}))
    return routed
