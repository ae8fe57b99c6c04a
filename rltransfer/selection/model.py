"""The parts the mapping search is built from: dimension signatures, the source one-step model, action maps.

- `dim_stats`: per observation dimension, a signature invariant to permutation, scale and sign (lag-1
  autocorrelation, speed, share of Δ explained by the action and by the other dimensions, |skew|,
  kurtosis, discreteness, the largest |corr(Δ, other dims)|, boundedness).
- `SourceModel` / `fit_source_model`: ridge regression of the standardized Δobs on
  [1, z, z⊗z, action, action⊗z], fitted on the teacher's stored source transitions.
- `action_kind` / `score_actions`: which ActionMap kind bridges two action spaces, and the exact best
  action map for mapped target data (linear assignment of actions or binning levels, or an enumeration
  of orders and signs of continuous dims); `action_map_error` scores one given map (e.g. identity).

"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.stats import kurtosis, skew

from rltransfer.mapping import ActionMap
from rltransfer.rollouts import Transitions

UNBOUNDED = 1e6
"""Bounds beyond this magnitude count as infinite."""
PAD_ERROR = 1.0
"""Normalized model error charged for a teacher dimension with no student counterpart."""
FEATURE_WEIGHTS = np.array([2.0, 2.0, 2.0, 2.0, 0.5, 0.5, 1.0, 0.5, 1.0, 1.0])
"""Weights of the signature features in the assignment distance."""


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = a.std(), b.std()
    if sa < 1e-12 or sb < 1e-12:
        return 0.0
    return float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb))


def _r2(y: np.ndarray, x: np.ndarray) -> float:
    """Share of var(y) explained by a least-squares fit on x (with intercept)."""
    var = y.var()
    if var < 1e-12:
        return 0.0
    design = np.column_stack([np.ones(len(y)), x]) if x.size else np.ones((len(y), 1))
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(np.clip(1.0 - np.mean((design @ coef - y) ** 2) / var, 0.0, 1.0))


def _finite_bounds(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return (np.abs(low) < UNBOUNDED) & (np.abs(high) < UNBOUNDED) & (high > low)


@dataclass(frozen=True)
class DimStats:
    """Per-dimension statistics of one side's random-policy data."""

    mean: np.ndarray
    std: np.ndarray
    features: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def bounded(self) -> np.ndarray:
        """Which dimensions have finite bounds."""
        return _finite_bounds(self.low, self.high)


def dim_stats(
    obs: np.ndarray, next_obs: np.ndarray, actions: np.ndarray, action_space: gym.Space[Any], low: Any, high: Any
) -> DimStats:
    """Scale-, sign- and order-invariant signatures of each observation dimension."""
    delta = next_obs - obs
    dim = obs.shape[1]
    if isinstance(action_space, gym.spaces.Discrete):
        action_design = np.eye(int(action_space.n))[actions.astype(np.int64).reshape(-1)][:, 1:]
    else:
        action_design = actions.reshape(len(actions), -1).astype(np.float64)
    std = obs.std(axis=0)
    features = np.zeros((dim, len(FEATURE_WEIGHTS)))
    for i in range(dim):
        value, change = obs[:, i], delta[:, i]
        others = np.delete(obs, i, axis=1)
        top = sorted((abs(_corr(change, others[:, k])) for k in range(others.shape[1])), reverse=True)[:2]
        standardized = (value - value.mean()) / std[i] if std[i] > 1e-12 else np.zeros_like(value)
        features[i] = [
            _corr(value, next_obs[:, i]),
            min(change.std() / std[i], 2.0) / 2.0 if std[i] > 1e-12 else 0.0,
            _r2(change, action_design),
            _r2(change, others),
            min(abs(float(skew(standardized))), 3.0) / 3.0 if std[i] > 1e-12 else 0.0,
            float(np.clip(kurtosis(standardized), -2.0, 6.0)) / 6.0 if std[i] > 1e-12 else 0.0,
            1.0 - min(len(np.unique(np.round(value, 6))) / len(value), 1.0),
            *(top + [0.0] * (2 - len(top))),
            0.0,
        ]
    low_arr = np.asarray(low, dtype=np.float64).reshape(-1)
    high_arr = np.asarray(high, dtype=np.float64).reshape(-1)
    features[:, 9] = _finite_bounds(low_arr, high_arr).astype(np.float64)
    return DimStats(mean=obs.mean(axis=0), std=std, features=features, low=low_arr, high=high_arr)


@dataclass(frozen=True)
class SourceModel:
    """One-step model of the source task in standardized teacher coordinates (ridge regression)."""

    mean: np.ndarray
    std: np.ndarray
    delta_var: np.ndarray
    weights: np.ndarray
    action_space: gym.Space[Any]
    heldout_error: float

    def encode(self, teacher_actions: np.ndarray) -> np.ndarray:
        """Teacher actions → model inputs (one-hot, or Box actions scaled to [-1, 1])."""
        if isinstance(self.action_space, gym.spaces.Discrete):
            return np.eye(int(self.action_space.n))[np.asarray(teacher_actions).astype(np.int64).reshape(-1)]
        space: Any = self.action_space
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        centre, half = (high + low) / 2, np.maximum((high - low) / 2, 1e-8)
        values = np.asarray(teacher_actions, dtype=np.float64).reshape(-1, low.size)
        return np.clip((values - centre) / half, -1.0, 1.0)

    @staticmethod
    def design(z: np.ndarray, encoded: np.ndarray) -> np.ndarray:
        """Features [1, z, upper-triangle z⊗z, action, action⊗z]."""
        rows, dim = z.shape
        upper = np.triu_indices(dim)
        quad = (z[:, :, None] * z[:, None, :])[:, upper[0], upper[1]]
        inter = (encoded[:, :, None] * z[:, None, :]).reshape(rows, -1)
        return np.column_stack([np.ones(rows), z, quad, encoded, inter])

    def predict(self, z: np.ndarray, encoded: np.ndarray) -> np.ndarray:
        """Predicted standardized Δobs."""
        return self.design(z, encoded) @ self.weights

    def standardize(self, obs: np.ndarray) -> np.ndarray:
        """Teacher-space observations → z."""
        return (obs - self.mean) / self.std


def reference_rows(transitions: Transitions) -> np.ndarray:
    """Mask of the stored rows that set the source's scale: the random-policy rows, all rows if ≤ 10 of them."""
    if transitions.source is None:
        return np.ones(len(transitions), dtype=bool)
    random_rows = np.asarray(transitions.source == 0)
    return random_rows if random_rows.sum() > 10 else np.ones_like(random_rows)


def fit_source_model(
    transitions: Transitions, action_space: gym.Space[Any], *, seed: int, ridge: float = 1e-2
) -> SourceModel:
    """Fit the one-step model on all stored source rows; its held-out normalized error is kept."""
    obs = transitions.obs.astype(np.float64).reshape(len(transitions.obs), -1)
    next_obs = transitions.next_obs.astype(np.float64).reshape(len(obs), -1)
    reference = obs[reference_rows(transitions)]
    mean, std = reference.mean(axis=0), reference.std(axis=0)
    std = np.where(std > 1e-8, std, np.maximum(obs.std(axis=0), 1e-8))
    z, dz = (obs - mean) / std, (next_obs - obs) / std
    model = SourceModel(
        mean=mean,
        std=std,
        delta_var=np.maximum(dz.var(axis=0), 1e-12),
        weights=np.zeros(0),
        action_space=action_space,
        heldout_error=0.0,
    )
    design = model.design(z, model.encode(transitions.actions))
    order = np.random.default_rng(seed).permutation(len(z))
    train, test = order[: int(0.8 * len(z))], order[int(0.8 * len(z)) :]

    def solve(rows: np.ndarray) -> np.ndarray:
        gram = design[rows].T @ design[rows] + ridge * len(rows) * np.eye(design.shape[1])
        return np.linalg.solve(gram, design[rows].T @ dz[rows])

    weights = solve(train)
    heldout = float(np.mean(np.mean((design[test] @ weights - dz[test]) ** 2, axis=0) / model.delta_var))
    return SourceModel(
        mean=mean,
        std=std,
        delta_var=model.delta_var,
        weights=solve(order),
        action_space=action_space,
        heldout_error=heldout,
    )


def _evenly_spaced(space: Any, count: int) -> np.ndarray:
    return np.linspace(float(space.low.reshape(-1)[0]), float(space.high.reshape(-1)[0]), count)


def action_kind(teacher_space: Any, student_space: Any) -> str | None:
    """Which ActionMap kind bridges the two action spaces, or None when none does."""
    teacher_discrete = isinstance(teacher_space, gym.spaces.Discrete)
    student_discrete = isinstance(student_space, gym.spaces.Discrete)
    if teacher_discrete and student_discrete:
        return "permutation" if teacher_space.n == student_space.n else None
    if not isinstance(teacher_space, (gym.spaces.Discrete, gym.spaces.Box)) or not isinstance(
        student_space, (gym.spaces.Discrete, gym.spaces.Box)
    ):
        return None
    if teacher_discrete:
        return "bins" if int(np.prod(student_space.shape or ())) == 1 else None
    if student_discrete:
        return "nearest" if int(np.prod(teacher_space.shape or ())) == 1 else None
    teacher_dim, student_dim = int(np.prod(teacher_space.shape or ())), int(np.prod(student_space.shape or ()))
    return "affine" if teacher_dim == student_dim and teacher_dim <= 4 else None


class _ActionScorer:
    """Model error of mapped target data under a candidate encoding of the teacher's actions."""

    def __init__(self, model: SourceModel, z: np.ndarray, dz: np.ndarray, matched: np.ndarray) -> None:
        self.model, self.z, self.dz, self.matched = model, z, dz, matched
        self.pad_penalty = PAD_ERROR * float((~matched).sum())

    def row_errors(self, encoded: np.ndarray) -> np.ndarray:
        """Per row: the clipped, variance-normalized squared error summed over matched dims."""
        matched = self.matched
        residual = (self.model.predict(self.z, encoded) - self.dz)[:, matched] ** 2 / self.model.delta_var[matched]
        return np.minimum(residual, 25.0).sum(axis=1)

    def total(self, sum_error: float) -> float:
        """Mean error per row and teacher dim, pads included."""
        return float((sum_error / len(self.z) + self.pad_penalty) / len(self.matched))


def score_actions(
    model: SourceModel,
    z: np.ndarray,
    dz: np.ndarray,
    matched: np.ndarray,
    student_actions: np.ndarray,
    student_space: Any,
) -> tuple[float, ActionMap]:
    """Model error of mapped target data under the best action map, and that map.

    `z`, `dz`: target data mapped into standardized teacher coordinates; `matched`: teacher dims with
    a student counterpart (the others are charged PAD_ERROR each).
    """
    kind = action_kind(model.action_space, student_space)
    scorer = _ActionScorer(model, z, dz, matched)
    if kind in ("permutation", "nearest", "bins"):
        return _assigned_action_map(scorer, kind, student_actions, student_space)
    if kind == "affine":
        return _affine_action_map(scorer, student_actions, student_space)
    return float("inf"), ActionMap()


def action_map_error(
    model: SourceModel,
    z: np.ndarray,
    dz: np.ndarray,
    matched: np.ndarray,
    student_actions: np.ndarray,
    action_map: ActionMap,
) -> float:
    """Model error of mapped target data under one given action map (identity, permutation or affine).

    The search's other maps are exact optima (`score_actions`); this scores a map fixed in advance, such as
    identity, which must stay a candidate even when noise makes another permutation fit marginally better.
    """
    scorer = _ActionScorer(model, z, dz, matched)
    teacher_space: Any = model.action_space
    if action_map.kind in ("identity", "permutation") and isinstance(teacher_space, gym.spaces.Discrete):
        chosen = student_actions.astype(np.int64).reshape(-1)
        if action_map.kind == "permutation":
            chosen = np.argsort(np.asarray(action_map.permutation))[chosen]  # student = permutation[teacher]
        return scorer.total(float(scorer.row_errors(model.encode(chosen)).sum()))
    if action_map.kind in ("identity", "affine") and isinstance(teacher_space, gym.spaces.Box):
        values = student_actions.astype(np.float64).reshape(len(z), -1)
        if action_map.kind == "affine":
            teacher_values = np.zeros_like(values)
            scale, offset = np.asarray(action_map.scale), np.asarray(action_map.offset)
            teacher_values[:, list(action_map.index)] = (values - offset) / scale
            values = teacher_values
        return scorer.total(float(scorer.row_errors(model.encode(values)).sum()))
    return float("inf")


def _assigned_action_map(
    scorer: _ActionScorer, kind: str | None, student_actions: np.ndarray, student_space: Any
) -> tuple[float, ActionMap]:
    """Linear assignment of teacher actions (or levels) to student actions (or bins)."""
    model, rows_count = scorer.model, len(scorer.z)
    teacher_space: Any = model.action_space
    if kind == "permutation":
        options = np.arange(int(teacher_space.n))
        encoded_options = [model.encode(np.full(rows_count, t)) for t in options]
        groups = student_actions.astype(np.int64).reshape(-1)
        n_groups = int(student_space.n)
    elif kind == "nearest":
        levels = _evenly_spaced(teacher_space, int(student_space.n))
        encoded_options = [model.encode(np.full((rows_count, 1), level)) for level in levels]
        groups = student_actions.astype(np.int64).reshape(-1)
        n_groups = int(student_space.n)
    else:
        student_levels = _evenly_spaced(student_space, int(teacher_space.n))
        values = student_actions.astype(np.float64).reshape(-1)
        groups = np.argmin(np.abs(values[:, None] - student_levels[None]), axis=1)
        encoded_options = [model.encode(np.full(rows_count, t)) for t in range(int(teacher_space.n))]
        n_groups = int(teacher_space.n)
    errors: np.ndarray = np.column_stack([scorer.row_errors(encoded) for encoded in encoded_options])
    cost = np.zeros((errors.shape[1], n_groups))
    for group in range(n_groups):
        cost[:, group] = errors[groups == group].sum(axis=0)
    rows, cols = linear_sum_assignment(cost)
    error = scorer.total(float(cost[rows, cols].sum()))
    if kind == "permutation":
        permutation = tuple(int(c) for c in cols)
        is_identity = permutation == tuple(range(len(permutation)))
        return error, ActionMap() if is_identity else ActionMap(kind="permutation", permutation=permutation)
    if kind == "nearest":
        values_by_action = [0.0] * n_groups
        for level, action in zip(rows, cols, strict=True):
            values_by_action[action] = float(levels[level])
        return error, ActionMap(kind="nearest", values=tuple((v,) for v in values_by_action))
    return error, ActionMap(kind="bins", values=tuple((float(student_levels[c]),) for c in cols))


def _affine_action_map(
    scorer: _ActionScorer, student_actions: np.ndarray, student_space: Any
) -> tuple[float, ActionMap]:
    """Every order and sign of the continuous action dims, scaled bound to bound; the best one."""
    teacher_space: Any = scorer.model.action_space
    assert isinstance(teacher_space, gym.spaces.Box) and isinstance(student_space, gym.spaces.Box)
    t_low, t_high = teacher_space.low.reshape(-1).astype(np.float64), teacher_space.high.reshape(-1)
    s_low, s_high = student_space.low.reshape(-1).astype(np.float64), student_space.high.reshape(-1)
    t_centre, t_half = (t_high + t_low) / 2, np.maximum((t_high - t_low) / 2, 1e-8)
    s_centre, s_half = (s_high + s_low) / 2, (s_high - s_low) / 2
    box_values: np.ndarray = student_actions.astype(np.float64).reshape(len(scorer.z), -1)
    best: tuple[float, ActionMap] | None = None
    size = len(t_low)
    for index in itertools.permutations(range(size)):
        for signs in itertools.product((1.0, -1.0), repeat=size):
            scale = np.asarray(signs) * s_half / t_half[list(index)]
            offset = s_centre - scale * t_centre[list(index)]
            teacher_values = np.zeros_like(box_values)
            teacher_values[:, list(index)] = (box_values - offset) / scale
            error = scorer.total(float(scorer.row_errors(scorer.model.encode(teacher_values)).sum()))
            if best is None or error < best[0] - 1e-12:
                identity = index == tuple(range(size)) and np.allclose(scale, 1) and np.allclose(offset, 0)
                action_map = (
                    ActionMap()
                    if identity
                    else ActionMap(
                        kind="affine",
                        index=tuple(index),
                        scale=tuple(float(v) for v in scale),
                        offset=tuple(float(v) for v in offset),
                    )
                )
                best = (error, action_map)
    assert best is not None
    return best
