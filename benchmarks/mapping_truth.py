"""The mapping benchmark's ground truth and judgement: a layout's true mapping, "right", "below identity"."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rltransfer.envs.layout import Layout
from rltransfer.errors import ConfigError
from rltransfer.make import env_family, make_env
from rltransfer.mapping import ActionMap, Mapping, ObsMap

RIGHT_SHARE = 0.05
"""A mapping that is not the ground truth is still right within this share of the truth's zero-shot return."""
BELOW_IDENTITY_SHARE = 0.10
"""A chosen mapping this share below identity's zero-shot return (identity admissible) is flagged."""
SCALE_RTOL = 0.25
"""Relative tolerance on observation scales and action values when comparing with the ground truth."""


def truth_mapping(layout: Layout, teacher_action: gym.Space[Any], student_action: gym.Space[Any]) -> Mapping:
    """The mapping a layout implies from its core (the teacher's source spaces) onto the variant."""
    dims = layout.core_obs_dims
    index, scale = [-1] * dims, [1.0] * dims
    for student_dim, core_dim in enumerate(layout.obs_permutation):
        index[core_dim], scale[core_dim] = student_dim, 1.0 / layout.obs_scale[student_dim]
    obs = ObsMap(index=tuple(index), scale=tuple(scale), offset=(0.0,) * dims)
    return Mapping(obs=obs, action=_truth_action(layout, teacher_action, student_action), source="user")


def _truth_action(layout: Layout, teacher: gym.Space[Any], student: gym.Space[Any]) -> ActionMap:
    sign = np.asarray(layout.action_sign if layout.action_sign is not None else (1.0,), dtype=np.float64)
    if isinstance(teacher, gym.spaces.Discrete) and isinstance(student, gym.spaces.Discrete):
        core = layout.action_permutation or tuple(range(int(student.n)))
        inverse = tuple(core.index(action) for action in range(len(core)))  # teacher action t runs as student s
        return ActionMap() if inverse == tuple(range(len(core))) else ActionMap(kind="permutation", permutation=inverse)
    if isinstance(teacher, gym.spaces.Discrete) and isinstance(student, gym.spaces.Box):
        # discrete pushes of the core task are evenly spaced over the student's (symmetric) force range
        levels = np.linspace(float(np.min(student.low)), float(np.max(student.high)), int(teacher.n))
        return ActionMap(kind="bins", values=tuple((float(level * sign[0]),) for level in levels))
    if isinstance(teacher, gym.spaces.Box) and isinstance(student, gym.spaces.Discrete):
        levels = np.linspace(float(teacher.low[0]), float(teacher.high[0]), int(student.n))
        core = layout.action_permutation or tuple(range(int(student.n)))
        return ActionMap(kind="nearest", values=tuple((float(levels[core[s]] * sign[0]),) for s in range(len(core))))
    if np.all(sign == 1.0):
        return ActionMap()
    return ActionMap(
        kind="affine", index=tuple(range(len(sign))), scale=tuple(float(s) for s in sign), offset=(0.0,) * len(sign)
    )


def plain_action(action: ActionMap) -> ActionMap:
    """An action map that changes nothing, as the identity kind."""
    if action.kind == "permutation" and action.permutation == tuple(range(len(action.permutation))):
        return ActionMap()
    if (
        action.kind == "affine"
        and action.index == tuple(range(len(action.index)))
        and all(abs(s - 1.0) < 1e-9 for s in action.scale)
        and all(abs(o) < 1e-9 for o in action.offset)
    ):
        return ActionMap()
    return action


def _close(found: tuple[float, ...], truth: tuple[float, ...], *, rtol: float, atol: float = 1e-3) -> bool:
    return len(found) == len(truth) and bool(np.allclose(found, truth, rtol=rtol, atol=atol))


def same_mapping(found: Mapping, truth: Mapping, *, rtol: float = SCALE_RTOL) -> bool:
    """Whether `found` is the ground truth: same dims and signs, scales and action values within `rtol`."""
    if found.obs.index != truth.obs.index or not _close(found.obs.scale, truth.obs.scale, rtol=rtol):
        return False
    if not _close(found.obs.offset, truth.obs.offset, rtol=0.0, atol=1e-3):
        return False
    mine, theirs = plain_action(found.action), plain_action(truth.action)
    if mine.kind != theirs.kind:
        return False
    if mine.kind == "permutation":
        return mine.permutation == theirs.permutation
    if mine.kind == "affine":
        return mine.index == theirs.index and _close(mine.scale, theirs.scale, rtol=rtol, atol=0.05)
    if mine.kind in ("bins", "nearest"):
        found_values = tuple(v for value in mine.values for v in value)
        true_values = tuple(v for value in theirs.values for v in value)
        atol = 0.1 * max(1.0, max(abs(v) for v in true_values))
        return _close(found_values, true_values, rtol=0.0, atol=atol)
    return True


def within(value: float, reference: float, share: float) -> bool:
    """Whether `value` is at most `share` of |reference| (at least 1) below `reference` (above is fine)."""
    return bool(value >= reference - share * max(abs(reference), 1.0))


def is_right(*, exact: bool, chosen_return: float, truth_return: float, share: float = RIGHT_SHARE) -> bool:
    """The issue's "right": the ground truth itself, or within `share` of its whole-episode zero-shot return."""
    return exact or within(chosen_return, truth_return, share)


def below_identity(chosen_return: float, identity_return: float | None, share: float = BELOW_IDENTITY_SHARE) -> bool:
    """Whether the chosen mapping returns more than `share` below identity's (False when identity is not admissible)."""
    return identity_return is not None and not within(chosen_return, identity_return, share)


def ground_truth_layout(env_id: str, env: gym.Env[Any, Any]) -> Layout:
    """The target's own layout (rltransfer/ ids), else that of its family's base id (Gymnasium's envs)."""
    layout = getattr(env.unwrapped, "layout", None)
    if isinstance(layout, Layout):
        return layout
    base = make_env(f"rltransfer/{env_family(env_id)}-v0")
    try:
        base_layout = getattr(base.unwrapped, "layout", None)
    finally:
        base.close()
    if not isinstance(base_layout, Layout):
        raise ConfigError(f"{env_id}: no ground-truth layout", fix="add the family's base id to rltransfer.envs")
    return base_layout
