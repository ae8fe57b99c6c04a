"""Inter-task mappings (Taylor & Stone): how a teacher's spaces correspond to a student's.

An observation map takes a *student* observation to the *teacher's* observation space; an action map
takes a *teacher* action to the *student's* action space. Identity when the spaces match; otherwise
found by selection (rltransfer.selection) or given by the user in Python or YAML.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml

from rltransfer.errors import ConfigError, IncompatibleSpacesError
from rltransfer.spaces import SpaceSignature

ACTION_KINDS = ("identity", "permutation", "affine", "bins", "nearest")
IDENTITY = "identity"
"""The `--mapping` value (and `mapping=` string) that asks for identity, whatever selection would find."""


@dataclass(kw_only=True, frozen=True)
class ObsMap:
    """teacher_obs[j] = scale[j] * student_obs[index[j]] + offset[j]; index[j] == -1 fills offset[j].

    Covers dimension assignment (permutation), affine rescaling, dropping student dimensions (never
    indexed) and padding teacher dimensions (index -1).
    """

    index: tuple[int, ...]
    scale: tuple[float, ...]
    offset: tuple[float, ...]

    def __post_init__(self) -> None:
        if not len(self.index) == len(self.scale) == len(self.offset):
            raise ConfigError("obs map index, scale and offset differ in length", fix="give one entry per teacher dim")

    @classmethod
    def identity(cls, dim: int) -> ObsMap:
        """The map of equal spaces."""
        return cls(index=tuple(range(dim)), scale=(1.0,) * dim, offset=(0.0,) * dim)

    @property
    def teacher_dim(self) -> int:
        """Size of the teacher observation it produces."""
        return len(self.index)

    def is_identity(self, student_dim: int) -> bool:
        """True when it changes nothing for a student of this size."""
        return (
            student_dim == self.teacher_dim
            and self.index == tuple(range(student_dim))
            and all(s == 1.0 for s in self.scale)
            and all(o == 0.0 for o in self.offset)
        )

    def apply(self, obs: np.ndarray) -> np.ndarray:
        """Map student observations (one or a batch) to teacher observations (float32)."""
        obs = np.asarray(obs, dtype=np.float32)
        flat = obs.reshape(-1, obs.shape[-1])
        index = np.asarray(self.index)
        taken = flat[:, np.clip(index, 0, None)]
        mapped = taken * np.asarray(self.scale, dtype=np.float32) + np.asarray(self.offset, dtype=np.float32)
        mapped[:, index < 0] = np.asarray(self.offset, dtype=np.float32)[index < 0]
        return mapped.reshape((*obs.shape[:-1], self.teacher_dim))

    def apply_torch(self, obs: torch.Tensor) -> torch.Tensor:
        """Differentiable torch version of apply (for distillation losses)."""
        index = torch.as_tensor(self.index)
        taken = obs[..., index.clamp(min=0)]
        scale = torch.as_tensor(self.scale, dtype=obs.dtype)
        offset = torch.as_tensor(self.offset, dtype=obs.dtype)
        mapped = taken * scale + offset
        return torch.where(index < 0, offset.expand_as(mapped), mapped)


@dataclass(kw_only=True, frozen=True)
class ActionMap:
    """Teacher action → student action.

    Attributes:
        kind: "identity"; "permutation" (discrete → discrete: student = permutation[teacher]);
            "affine" (box → box: student[i] = scale[i] * teacher[index[i]] + offset[i]);
            "bins" (discrete teacher → box student: student = values[teacher]);
            "nearest" (box teacher → discrete student: student = argmin_k |values[k] - teacher|).
        permutation: For "permutation".
        index: For "affine": which teacher dimension feeds each student dimension.
        scale: For "affine".
        offset: For "affine".
        values: For "bins" and "nearest": one action vector per discrete action.
    """

    kind: str = "identity"
    permutation: tuple[int, ...] = ()
    index: tuple[int, ...] = ()
    scale: tuple[float, ...] = ()
    offset: tuple[float, ...] = ()
    values: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise ConfigError(f'unknown action map kind "{self.kind}"', fix=f"use one of {ACTION_KINDS}")
        if self.kind == "permutation" and sorted(self.permutation) != list(range(len(self.permutation))):
            raise ConfigError(f"{self.permutation} is not a permutation", fix="list each action index once")

    def to_student(self, actions: np.ndarray) -> np.ndarray:
        """Map teacher actions (one or a batch) to student actions."""
        actions = np.asarray(actions)
        if self.kind == "identity":
            return actions
        if self.kind == "permutation":
            return np.asarray(self.permutation)[actions.astype(np.int64)]
        if self.kind == "affine":
            flat = actions.reshape(-1, actions.shape[-1]) if actions.ndim else actions.reshape(1, 1)
            mapped = flat[:, list(self.index)] * np.asarray(self.scale) + np.asarray(self.offset)
            return mapped.reshape((*actions.shape[:-1], len(self.index))).astype(np.float32)
        values = np.asarray(self.values, dtype=np.float32)
        if self.kind == "bins":
            return values[actions.astype(np.int64)]
        flat = actions.reshape(-1, values.shape[1])
        nearest = np.argmin(((flat[:, None, :] - values[None]) ** 2).sum(-1), axis=1)
        return nearest.reshape(actions.shape[:-1]) if actions.ndim > 1 else nearest.reshape(())

    def probs_to_student(self, probs: torch.Tensor) -> torch.Tensor:
        """Teacher action probabilities (n, k) → student action probabilities (discrete students)."""
        if self.kind == "identity":
            return probs
        if self.kind == "permutation":
            out = torch.zeros_like(probs)
            out[:, list(self.permutation)] = probs
            return out
        raise IncompatibleSpacesError(
            f'action map "{self.kind}" gives no discrete probabilities',
            fix="use a discrete teacher for a discrete student",
        )

    def mean_to_student(self, mean: torch.Tensor) -> torch.Tensor:
        """Teacher continuous action mean (n, d) → student continuous action (differentiable)."""
        if self.kind == "identity":
            return mean
        if self.kind == "affine":
            scale = torch.as_tensor(self.scale, dtype=mean.dtype)
            offset = torch.as_tensor(self.offset, dtype=mean.dtype)
            return mean[..., list(self.index)] * scale + offset
        raise IncompatibleSpacesError(
            f'action map "{self.kind}" gives no continuous mean',
            fix="use a continuous teacher for a continuous student",
        )

    def expected_student_action(self, probs: torch.Tensor) -> torch.Tensor:
        """For "bins": the student action expected under the teacher's probabilities (n, k) → (n, d)."""
        if self.kind != "bins":
            raise IncompatibleSpacesError(f'action map "{self.kind}" is not "bins"', fix="use a bins map")
        return probs @ torch.as_tensor(self.values, dtype=probs.dtype)


@dataclass(kw_only=True, frozen=True)
class Mapping:
    """An observation map, an action map, and how sure selection is of them.

    Attributes:
        obs: Student observation → teacher observation.
        action: Teacher action → student action.
        confidence: 1.0 for identity or user-given maps; selection's estimate (0..1) for found maps.
        source: "identity", "found" or "user".
        evidence: What selection measured to choose the maps (JSON-safe).
    """

    obs: ObsMap
    action: ActionMap = field(default_factory=ActionMap)
    confidence: float = 1.0
    source: str = "identity"
    evidence: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def identity(cls, observation: SpaceSignature) -> Mapping:
        """The mapping of equal spaces."""
        return cls(obs=ObsMap.identity(observation.dim))

    def describe(self, student_dim: int | None = None) -> str:
        """One short human line, e.g. 'obs perm [2,0,1] scaled; actions permuted [1,0]'.

        Args:
            student_dim: Size of the student observation; when given, dropped student dims are named.
        """
        parts = []
        if self.obs.index != tuple(range(len(self.obs.index))):
            parts.append(f"obs from dims {list(self.obs.index)}")
        if any(abs(s - 1.0) > 1e-6 for s, i in zip(self.obs.scale, self.obs.index, strict=True) if i >= 0):
            parts.append("obs rescaled")
        if student_dim is not None:
            dropped = sorted(set(range(student_dim)) - set(self.obs.index))
            if dropped:
                parts.append(f"drops student dims {dropped}")
        if self.action.kind != "identity":
            detail: Any = ""
            if self.action.kind == "permutation":
                detail = list(self.action.permutation)
            elif self.action.kind == "affine":
                detail = f"scale {[round(v, 3) for v in self.action.scale]}"
            elif self.action.kind in ("bins", "nearest"):
                detail = [round(v[0], 3) if len(v) == 1 else [round(x, 3) for x in v] for v in self.action.values]
            parts.append(f"actions {self.action.kind} {detail}".strip())
        return "; ".join(parts) if parts else "identity"

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-safe dict."""
        return {
            "obs": {"index": list(self.obs.index), "scale": list(self.obs.scale), "offset": list(self.obs.offset)},
            "action": {
                "kind": self.action.kind,
                "permutation": list(self.action.permutation),
                "index": list(self.action.index),
                "scale": list(self.action.scale),
                "offset": list(self.action.offset),
                "values": [list(v) for v in self.action.values],
            },
            "confidence": self.confidence,
            "source": self.source,
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mapping:
        """Inverse of to_dict; a malformed dict raises ConfigError."""
        try:
            obs_data = data["obs"]
            action_data = data.get("action", {}) or {}
            obs = ObsMap(
                index=tuple(int(i) for i in obs_data["index"]),
                scale=tuple(float(v) for v in obs_data.get("scale", [1.0] * len(obs_data["index"]))),
                offset=tuple(float(v) for v in obs_data.get("offset", [0.0] * len(obs_data["index"]))),
            )
            action = ActionMap(
                kind=str(action_data.get("kind", "identity")),
                permutation=tuple(int(i) for i in action_data.get("permutation", ())),
                index=tuple(int(i) for i in action_data.get("index", ())),
                scale=tuple(float(v) for v in action_data.get("scale", ())),
                offset=tuple(float(v) for v in action_data.get("offset", ())),
                values=tuple(tuple(float(x) for x in v) for v in action_data.get("values", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed mapping ({exc})", fix="see rltransfer.mapping.Mapping.to_dict") from exc
        return cls(
            obs=obs,
            action=action,
            confidence=float(data.get("confidence", 1.0)),
            source=str(data.get("source", "user")),
            evidence=dict(data.get("evidence", {}) or {}),
        )

    def check(self, student_obs: SpaceSignature, teacher_obs: SpaceSignature) -> None:
        """Raise IncompatibleSpacesError when the obs map does not fit the two spaces."""
        if self.obs.teacher_dim != teacher_obs.dim or max(self.obs.index, default=-1) >= student_obs.dim:
            raise IncompatibleSpacesError(
                f"mapping produces {self.obs.teacher_dim} dims from a {student_obs.dim}-dim student observation, "
                f"teacher expects {teacher_obs.dim}",
                fix="give a mapping that fits both spaces, or let `rltransfer rank` find one",
            )


def load_mapping(path: str | os.PathLike[str]) -> Mapping:
    """Read a user's mapping from YAML or JSON (the to_dict layout)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"cannot read mapping {path} ({exc})", fix="give a YAML file in Mapping.to_dict layout"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"mapping {path} is not a mapping object", fix="see rltransfer.mapping.Mapping.to_dict")
    return Mapping.from_dict({"source": "user", **data})


def user_identity(observation: SpaceSignature) -> Mapping:
    """The identity mapping a user asked for (`--mapping identity`) on a student of this observation space."""
    return Mapping(obs=ObsMap.identity(observation.dim), source="user", evidence={"given": IDENTITY})


def identity_fits(
    student_obs: SpaceSignature,
    student_action: SpaceSignature,
    teacher_obs: SpaceSignature,
    teacher_action: SpaceSignature,
) -> bool:
    """Whether identity can map the spaces: same observation kind and size, same action kind, size and count.

    Bounds may differ (identity then feeds the teacher unscaled values, which selection weighs).
    """
    same_obs = student_obs.kind == teacher_obs.kind and student_obs.shape == teacher_obs.shape
    return (
        same_obs
        and student_action.kind == teacher_action.kind
        and student_action.shape == teacher_action.shape
        and student_action.n == teacher_action.n
    )


def check_identity(
    student_obs: SpaceSignature,
    student_action: SpaceSignature,
    teacher_obs: SpaceSignature,
    teacher_action: SpaceSignature,
) -> None:
    """Raise IncompatibleSpacesError when identity cannot map the spaces (`identity_fits`)."""
    if not identity_fits(student_obs, student_action, teacher_obs, teacher_action):
        raise IncompatibleSpacesError(
            f"identity cannot map teacher {teacher_obs.describe()} → {teacher_action.describe()} onto target "
            f"{student_obs.describe()} → {student_action.describe()}",
            fix="use --mapping search or a mapping file",
        )


class MappedTeacher:
    """A teacher seen through a mapping: it takes student observations and gives student actions."""

    def __init__(self, teacher: Any, mapping: Mapping, student_action_space: gym.Space[Any]) -> None:
        self.teacher = teacher
        self.mapping = mapping
        self.student_action_space = student_action_space

    def act(self, student_obs: np.ndarray, *, deterministic: bool = True) -> np.ndarray:
        """Student action(s) the teacher would take (clipped to the student's bounds)."""
        teacher_obs = self.mapping.obs.apply(student_obs)
        teacher_actions = self.teacher.predict(teacher_obs, deterministic=deterministic)
        actions = self.mapping.action.to_student(teacher_actions)
        if isinstance(self.student_action_space, gym.spaces.Box):
            actions = np.clip(actions, self.student_action_space.low, self.student_action_space.high)
            return actions.astype(self.student_action_space.dtype)
        return np.asarray(actions, dtype=np.int64)

    def act_one(self, student_obs: np.ndarray) -> Any:
        """The deterministic action for one observation (an evaluation.ActFn)."""
        return self.act(np.asarray(student_obs)[None])[0]
