"""Find an inter-task mapping from data, without training a policy (MASTER-style, Taylor et al. 2008).

1. A one-step model is fitted on the teacher's stored source transitions: ridge regression of the
   standardized Δobs on [1, z, z⊗z, action, action⊗z] (z = standardized observation).
2. Every observation dimension, of the teacher's source data and of a short random-policy rollout in
   the target, gets a signature that is invariant to permutation, scale and sign: lag-1
   autocorrelation, speed (std Δ / std), share of Δ explained by the action and by the other
   dimensions, |skew|, kurtosis, discreteness, boundedness and the largest |corr(Δ, other dims)|.
   scipy's linear_sum_assignment on the signature distances gives a first dimension assignment
   (with a "pad" column per teacher dimension; student dimensions left over are dropped).
3. A local search (sign flips, swaps, re-assignments, padding) refines assignment and signs by the
   model's error on the mapped target data; for every candidate the best action map is exact: a
   linear assignment of teacher to student actions (permutation), of levels to actions (binning
   between discrete and continuous), or an enumeration of dimension orders and signs (continuous).
4. Candidates become ObsMaps with scales from bound ranges (when both dims are bounded and agree with
   the std ratio) or std ratios, plus unit-scale variants; ties prefer the simpler map, and maps the
   model cannot tell apart (they differ only on dims the target data never moved) collapse to the simplest.

The plausible few are then confirmed by zero-shot probes (rltransfer.selection.confirm).

Signatures, the source model and the action-map search live in rltransfer.selection.model.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from scipy.optimize import linear_sum_assignment

from rltransfer.mapping import ActionMap, ObsMap
from rltransfer.selection.model import (
    FEATURE_WEIGHTS,
    DimStats,
    SourceModel,
    action_map_error,
    dim_stats,
    score_actions,
)
from rltransfer.selection.target import Rollouts

COMPLEXITY_COST = 0.002
"""Normalized model error one non-identity part of a mapping must buy back to be preferred."""
_PAD_COST = 3.0


@dataclass(frozen=True)
class Candidate:
    """One candidate mapping with the model's verdict on it."""

    obs_map: ObsMap
    action_map: ActionMap
    model_error: float
    complexity: int
    zero_shot: float | None = None
    too_short: bool = False
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def penalized(self) -> float:
        """Model error plus COMPLEXITY_COST per non-identity part (equivalent maps: the simpler wins)."""
        return self.model_error + COMPLEXITY_COST * self.complexity

    @property
    def informative(self) -> bool:
        """Whether its zero-shot probe can confirm it: normalized and not flagged too short."""
        return self.zero_shot is not None and bool(np.isfinite(self.zero_shot)) and not self.too_short

    @property
    def capped(self) -> float:
        """Its normalized zero-shot return capped at 1 (a teacher beating its own source return is not better)."""
        return min(float(self.zero_shot), 1.0) if self.zero_shot is not None else float("nan")


def complexity_of(obs_map: ObsMap, action_map: ActionMap) -> int:
    """How far a mapping is from identity, in parts (the Occam prior counts them).

    Each moved or padded, negated and rescaled (or shifted) obs dim, each action a permutation moves,
    each changed affine action dim; binning counts one.
    """
    moved = sum(1 for j, i in enumerate(obs_map.index) if i != j)
    negated = sum(1 for s in obs_map.scale if s < 0)
    rescaled = sum(
        1
        for s, o, i in zip(obs_map.scale, obs_map.offset, obs_map.index, strict=True)
        if i >= 0 and (abs(abs(s) - 1.0) > 1e-9 or abs(o) > 1e-12)
    )
    if action_map.kind == "permutation":
        actions = sum(1 for t, s in enumerate(action_map.permutation) if t != s)
    elif action_map.kind == "affine":
        actions = sum(
            1
            for d, (i, s, o) in enumerate(zip(action_map.index, action_map.scale, action_map.offset, strict=True))
            if i != d or abs(s - 1.0) > 1e-9 or abs(o) > 1e-12
        )
    else:
        actions = int(action_map.kind != "identity")
    return moved + negated + rescaled + actions


class MappingSearch:
    """Search the mappings of one teacher (source model) onto one target (random rollouts)."""

    def __init__(
        self,
        model: SourceModel,
        source_stats: DimStats,
        target: Rollouts,
        observation_space: Any,
        action_space: gym.Space[Any],
    ) -> None:
        self.model = model
        self.source = source_stats
        self.target = target
        self.action_space = action_space
        obs = target.obs.reshape(len(target.obs), -1)
        next_obs = target.next_obs.reshape(len(obs), -1)
        self.student = dim_stats(
            obs, next_obs, target.actions, action_space, observation_space.low, observation_space.high
        )
        safe_std = np.where(self.student.std > 1e-8, self.student.std, 1.0)
        self._zs = (obs - self.student.mean) / safe_std
        self._dzs = (next_obs - obs) / safe_std
        self._obs, self._next_obs = obs, next_obs
        self.evaluations = 0
        self._pairs = self._pair_scales()
        ratio, centre_t, centre_s, _ = self._pairs
        # u[:, j, i]: student dim i mapped onto teacher dim j (sign +), centred and in teacher std units.
        teacher_std = self.model.std[:, None]
        self._u = (obs[:, None, :] - centre_s[None]) * (ratio / teacher_std)[None]
        self._du = (next_obs - obs)[:, None, :] * (ratio / teacher_std)[None]
        self._k = (centre_t - self.model.mean[:, None]) / teacher_std

    def _pair_scales(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per (teacher dim, student dim): |scale|, teacher centre, student centre, whether from bounds.

        The scale is the bound-range ratio when both dims are bounded and it agrees with the std ratio
        within ×4, else the std ratio (refined against the model later).
        """
        source, student = self.source, self.student
        std_ratio = self.model.std[:, None] / np.where(student.std > 1e-8, student.std, 1.0)[None]
        span_t, span_s = source.high - source.low, student.high - student.low
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            range_ratio = span_t[:, None] / span_s[None]
        from_bounds = (
            source.bounded[:, None]
            & student.bounded[None]
            & (range_ratio / std_ratio >= 1 / 4)
            & (range_ratio / std_ratio <= 4.0)
        )
        ratio = np.where(from_bounds, range_ratio, std_ratio)
        with np.errstate(invalid="ignore"):
            centre_t = np.where(from_bounds, ((source.high + source.low) / 2)[:, None], source.mean[:, None])
            centre_s = np.where(from_bounds, ((student.high + student.low) / 2)[None], student.mean[None])
        centre_t = np.broadcast_to(centre_t, ratio.shape)
        centre_s = np.broadcast_to(centre_s, ratio.shape)
        return ratio, centre_t, centre_s, from_bounds

    @property
    def teacher_dim(self) -> int:
        """Teacher observation size."""
        return len(self.source.mean)

    def _standardized_error(self, assign: tuple[int, ...], signs: tuple[float, ...]) -> tuple[float, ActionMap]:
        self.evaluations += 1
        index = np.asarray(assign)
        matched = index >= 0
        take = np.clip(index, 0, None)
        sign = np.asarray(signs) * matched
        rows = np.arange(self.teacher_dim)
        z = self._u[:, rows, take] * sign + self._k[rows, take] * matched
        dz = self._du[:, rows, take] * sign
        return score_actions(self.model, z, dz, matched, self.target.actions, self.action_space)

    def evaluate_map(self, obs_map: ObsMap, action_map: ActionMap | None = None) -> tuple[float, ActionMap]:
        """Model error of a concrete observation map with the best action map (or the one given), and that map."""
        self.evaluations += 1
        matched = np.asarray(obs_map.index) >= 0
        mapped, mapped_next = obs_map.apply(self._obs), obs_map.apply(self._next_obs)
        z = self.model.standardize(mapped.astype(np.float64))
        dz = (mapped_next.astype(np.float64) - mapped) / self.model.std
        if action_map is not None:
            return action_map_error(self.model, z, dz, matched, self.target.actions, action_map), action_map
        return score_actions(self.model, z, dz, matched, self.target.actions, self.action_space)

    def initial_assignment(self) -> tuple[int, ...]:
        """Dimension assignment by signature distance (linear_sum_assignment with pad columns)."""
        distance = np.abs(self.source.features[:, None, :] - self.student.features[None, :, :]) @ FEATURE_WEIGHTS
        dim = self.teacher_dim
        pad = np.full((dim, dim), 1e9)
        np.fill_diagonal(pad, _PAD_COST)
        rows, cols = linear_sum_assignment(np.hstack([distance, pad]))
        assign = [-1] * dim
        for row, col in zip(rows, cols, strict=True):
            assign[row] = int(col) if col < distance.shape[1] else -1
        return tuple(assign)

    def local_search(
        self, assign: tuple[int, ...], signs: tuple[float, ...], *, max_rounds: int = 12
    ) -> list[tuple[float, tuple[int, ...], tuple[float, ...]]]:
        """Best-improvement search over sign flips, swaps and re-assignments; every evaluated state."""
        seen: dict[tuple[tuple[int, ...], tuple[float, ...]], float] = {}

        def error(state: tuple[tuple[int, ...], tuple[float, ...]]) -> float:
            if state not in seen:
                seen[state] = self._standardized_error(*state)[0]
            return seen[state]

        current = (assign, signs)
        dim, student_dim = self.teacher_dim, len(self.student.mean)
        for _ in range(max_rounds):
            base = error(current)
            moves = []
            a, s = list(current[0]), list(current[1])
            for j in range(dim):
                moves.append((a, [(-v if k == j else v) for k, v in enumerate(s)]))
                for k in range(j + 1, dim):
                    moves.append((a, [(-v if m in (j, k) else v) for m, v in enumerate(s)]))
                    swapped = list(a)
                    swapped[j], swapped[k] = a[k], a[j]
                    for sj, sk in itertools.product((1.0, -1.0), repeat=2):
                        signs_swapped = list(s)
                        signs_swapped[j], signs_swapped[k] = s[k] * sj, s[j] * sk
                        moves.append((swapped, signs_swapped))
                for free in [i for i in range(student_dim) if i not in a] + ([-1] if a[j] != -1 else []):
                    moved = list(a)
                    moved[j] = free
                    for sign in (1.0, -1.0):
                        moves.append((moved, [sign if m == j else v for m, v in enumerate(s)]))
            scored = [(error((tuple(m[0]), tuple(m[1]))), tuple(m[0]), tuple(m[1])) for m in moves]
            best = min(scored, key=lambda item: item[0])
            if best[0] >= base * 0.99:
                break
            current = (best[1], best[2])
        return sorted((value, state[0], state[1]) for state, value in seen.items())

    def obs_maps(self, assign: tuple[int, ...], signs: tuple[float, ...]) -> list[ObsMap]:
        """Concrete maps for an assignment: scales from bounds or std ratios (model-refined), and unit scales."""
        scale, offset, unit_scale = [], [], []
        free: list[int] = []
        ratio, centre_t, centre_s, from_bounds = self._pairs
        for j, (i, sign) in enumerate(zip(assign, signs, strict=True)):
            if i < 0:
                scale.append(0.0)
                unit_scale.append(0.0)
                offset.append(float(self.source.mean[j]))
                continue
            if not from_bounds[j, i]:
                free.append(j)
            scale.append(float(sign * ratio[j, i]))
            value = float(centre_t[j, i] - scale[-1] * centre_s[j, i])
            offset.append(0.0 if abs(value) < 0.2 * self.source.std[j] else value)
            unit_scale.append(float(sign))
        scaled = self.refine(ObsMap(index=tuple(assign), scale=tuple(scale), offset=tuple(offset)), free)
        unit_offset = tuple(o if i < 0 else 0.0 for o, i in zip(offset, assign, strict=True))
        return [scaled, ObsMap(index=tuple(assign), scale=tuple(unit_scale), offset=unit_offset)]

    def refine(self, obs_map: ObsMap, free: list[int], *, sweeps: int = 2) -> ObsMap:
        """Fit the std-ratio scales of dims in `free` to the source model (coordinate search, ×0.6..×1.67)."""
        if not free:
            return obs_map
        grid = np.geomspace(0.6, 1 / 0.6, 11)
        best_error = self.evaluate_map(obs_map)[0]
        for _ in range(sweeps):
            improved = False
            for j in free:
                base = list(obs_map.scale)
                for factor in grid:
                    scale = list(base)
                    scale[j] = base[j] * float(factor)
                    trial = ObsMap(index=obs_map.index, scale=tuple(scale), offset=obs_map.offset)
                    error = self.evaluate_map(trial)[0]
                    if error < best_error * 0.999:
                        best_error, obs_map, improved = error, trial, True
            if not improved:
                break
        return obs_map

    def candidates(self, *, keep: int = 4, identity: bool = False) -> list[Candidate]:
        """The best distinct candidates, best (penalized model error) first.

        With `identity` (the spaces allow it) the plain identity mapping, identity actions included, is
        always among them, however noise ranks it: the best action map of the identity obs map alone can
        be a permutation that fits a weakly excited target marginally better.
        """
        plus = (1.0,) * self.teacher_dim
        starts = [(self.initial_assignment(), plus)]
        if len(self.student.mean) == self.teacher_dim:
            starts.append((tuple(range(self.teacher_dim)), plus))
        student_dim = len(self.student.mean)
        if self.teacher_dim <= 4 and student_dim <= 6:  # few enough: every assignment is a possible start
            every = [(a, plus) for a in itertools.permutations(range(student_dim), self.teacher_dim)]
            starts += sorted(every, key=lambda state: self._standardized_error(*state)[0])[:2]
        states: dict[tuple[tuple[int, ...], tuple[float, ...]], float] = {}
        for assign, signs in dict.fromkeys(starts):
            for value, a, s in self.local_search(assign, signs):
                states[(a, s)] = value
        ranked = sorted(states.items(), key=lambda item: item[1])[:keep]
        out: dict[tuple[Any, ...], Candidate] = {}
        obs_maps = [m for (a, s), _ in ranked for m in self.obs_maps(a, s)]
        # Mirror images (every sign flipped): symmetric tasks fit both equally, and the simpler must win.
        obs_maps += [
            ObsMap(
                index=m.index,
                scale=tuple(-v for v in m.scale),
                offset=tuple(-o if i >= 0 else o for o, i in zip(m.offset, m.index, strict=True)),
            )
            for m in obs_maps
            if any(i >= 0 for i in m.index)
        ]
        if len(self.student.mean) == self.teacher_dim:
            obs_maps.append(ObsMap.identity(self.teacher_dim))
        pairs: list[tuple[ObsMap, ActionMap | None]] = [(m, None) for m in obs_maps]
        if identity and len(self.student.mean) == self.teacher_dim:
            pairs.append((ObsMap.identity(self.teacher_dim), ActionMap()))
        for obs_map, given in pairs:
            error, action_map = self.evaluate_map(obs_map, given)
            key = (obs_map, action_map)
            out[key] = Candidate(
                obs_map=obs_map, action_map=action_map, model_error=error, complexity=complexity_of(obs_map, action_map)
            )
        return _collapse_equivalent(sorted(out.values(), key=lambda c: c.penalized))


def _collapse_equivalent(candidates: list[Candidate]) -> list[Candidate]:
    """Keep the simplest of candidates with the same action map and the same model error (to 1e-9).

    They differ only on dims the target data never moved (e.g. LunarLander's leg contacts in free flight),
    so the model has no evidence for the extra parts and probing each would waste the budget.
    """
    kept: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: (c.complexity, c.model_error)):
        twin = any(
            k.action_map == candidate.action_map
            and abs(k.model_error - candidate.model_error) <= 1e-9 * max(1.0, abs(k.model_error))
            for k in kept
        )
        if not twin:
            kept.append(candidate)
    return sorted(kept, key=lambda c: c.penalized)
