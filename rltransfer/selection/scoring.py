"""The score of a teacher for a target, from three training-free signals.

    score = compatibility × (0.7 · min(clip(zero_shot, 0, 1), competence) + 0.3 · dynamics_similarity)

Compatibility (space signatures) multiplies, since every conversion loses information; the zero-shot
probe through the chosen mapping is the cheapest strong predictor of transfer, so it carries most of
the weight, capped by the teacher's competence in the target; dynamics similarity (the source one-step
model on mapped target data, Ammar et al. 2014) orders the teachers that fail outright. The evidence
for each choice is in docs/decisions.md, "Selection".
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from scipy.stats import wasserstein_distance

from rltransfer.mapping import ObsMap
from rltransfer.rollouts import Transitions
from rltransfer.selection.model import SourceModel, action_kind, reference_rows
from rltransfer.selection.ranking import Ranking
from rltransfer.selection.search import Candidate
from rltransfer.selection.target import ProbeResult, Rollouts
from rltransfer.spaces import SpaceSignature

ZERO_SHOT_WEIGHT = 0.7
"""Weight of the normalized zero-shot return in the score (the rest goes to dynamics similarity)."""
MODEL_FIT_WEIGHT, OVERLAP_WEIGHT = 0.7, 0.3
"""Weights of the model fit and of the state-distribution overlap in dynamics similarity."""


def space_compatibility(card_obs: SpaceSignature, card_action: SpaceSignature, env: gym.Env[Any, Any]) -> float:
    """0..1 from the space signatures alone: 1 identical, less per conversion, 0 when unbridgeable.

    Other bounds cost 0.1, another observation size 0.2, binning between discrete and continuous
    actions 0.2, any other action conversion 0.1.
    """
    student_obs, student_action = SpaceSignature.of(env.observation_space), SpaceSignature.of(env.action_space)
    if card_obs.kind != "box" or student_obs.kind != "box" or len(card_obs.shape) != 1 or len(student_obs.shape) != 1:
        return 1.0 if card_obs.same_as(student_obs) and card_action.same_as(student_action) else 0.0
    kind = action_kind(card_action.to_space(), env.action_space)
    if kind is None:
        return 0.0
    score = 1.0
    if not card_obs.same_as(student_obs):
        score -= 0.1 if card_obs.shape == student_obs.shape else 0.2
    if kind in ("bins", "nearest"):
        score -= 0.2
    elif not card_action.same_as(student_action):
        score -= 0.1
    return score


def threshold_competence(
    result: ProbeResult, rollouts: Rollouts, *, threshold: float | None, limit: int | None, source_tail: float = 0.0
) -> float | None:
    """Mean over probe episodes of clip((R − R_rand)/(threshold − R_rand), 0, 1), over full episodes.

    An episode that ended is a full episode. An episode cut at the probe horizon H is completed with the
    teacher's own source tail (its full-episode source return minus its first-H source return): the mapped
    teacher behaved as at home for H steps, so the rest of its episode is estimated as at home. R_rand is
    the random policy's full-episode return in the target (per-step extrapolation from H steps when no
    random episode ended). None without a threshold or probe episodes.
    """
    if threshold is None or not result.returns:
        return None
    horizon = result.horizon
    baseline = rollouts.random_return(limit or horizon)
    if not np.isfinite(baseline) and limit is not None:
        baseline = rollouts.random_return(horizon) * limit / max(horizon, 1)
    if not np.isfinite(baseline):
        return None
    cut_flags = result.cut or (False,) * len(result.returns)
    values = []
    for value, cut in zip(result.returns, cut_flags, strict=True):
        full = value + source_tail if cut and (limit is None or horizon < limit) else value
        gap = threshold - baseline
        values.append(float(full >= threshold) if gap <= 1e-9 else float(np.clip((full - baseline) / gap, 0.0, 1.0)))
    return float(np.mean(values))


def combine_score(compatibility: float, zero_shot: float, competence: float, dynamics: float) -> float:
    """Compatibility × (w · min(clip(zero_shot, 0, 1), competence) + (1 − w) · dynamics), in 0..1."""
    zero_term = float(np.clip(zero_shot, 0.0, 1.0)) if np.isfinite(zero_shot) else 0.0
    competence_term = float(np.clip(competence, 0.0, 1.0)) if np.isfinite(competence) else 0.0
    value = compatibility * (
        ZERO_SHOT_WEIGHT * min(zero_term, competence_term) + (1 - ZERO_SHOT_WEIGHT) * float(dynamics)
    )
    return float(np.clip(value, 0.0, 1.0))


def mapping_confidence(
    chosen: Candidate, candidates: list[Candidate], zero: float, student_obs: SpaceSignature, card_obs: SpaceSignature
) -> tuple[float, str]:
    """(confidence, source) of the chosen mapping: 1 for identity on equal spaces, else margin and zero-shot."""
    is_identity = chosen.obs_map.is_identity(student_obs.dim) and chosen.action_map.kind == "identity"
    if is_identity and student_obs.same_as(card_obs):
        return 1.0, "identity"
    runner_up = next((c for c in candidates if (c.obs_map, c.action_map) != (chosen.obs_map, chosen.action_map)), None)
    margin = (
        1.0 if runner_up is None else float(np.clip(1.0 - chosen.penalized / max(runner_up.penalized, 1e-12), 0, 1))
    )
    z_part = float(np.clip(zero, 0.0, 1.0)) if np.isfinite(zero) else margin
    return float(np.clip(0.5 * margin + 0.5 * z_part, 0.0, 1.0)), "found"


def distribution_overlap(model: SourceModel, transitions: Transitions, obs_map: ObsMap, target: Rollouts) -> float:
    """exp(−mean W₁) between source and mapped target states, in teacher std units (matched dims)."""
    source_z = model.standardize(transitions.obs[reference_rows(transitions)].astype(np.float64))
    target_z = model.standardize(obs_map.apply(target.obs).astype(np.float64))
    distances = [
        wasserstein_distance(source_z[:, j], target_z[:, j]) if index >= 0 else 1.0
        for j, index in enumerate(obs_map.index)
    ]
    return float(np.exp(-np.mean(distances)))


def dynamics_evidence(
    model: SourceModel | None, transitions: Transitions | None, chosen: Candidate, target: Rollouts
) -> dict[str, Any]:
    """Dynamics similarity: the model's fit on mapped target data over its held-out fit, and state overlap."""
    if model is None or transitions is None or not np.isfinite(chosen.model_error):
        return {"similarity": 0.0}
    fit = float(np.clip((1.0 - chosen.model_error) / max(1.0 - model.heldout_error, 1e-6), 0.0, 1.0))
    overlap = distribution_overlap(model, transitions, chosen.obs_map, target)
    return {
        "similarity": MODEL_FIT_WEIGHT * fit + OVERLAP_WEIGHT * overlap,
        "model_error": chosen.model_error,
        "source_model_error": model.heldout_error,
        "model_fit": fit,
        "distribution_overlap": overlap,
    }


def relative_competence(rankings: list[Ranking]) -> list[Ranking]:
    """Without a reward threshold: competence = gain over random per step / the best candidate's.

    The source-normalized value cannot tell a weak teacher from a strong one; the spread among the
    probed teachers at least orders them by what they achieve in the target.
    """
    provisional = [r for r in rankings if r.evidence.get("competence", {}).get("basis", "").startswith("source")]
    gains = [float(r.evidence["zero_shot"].get("gain_per_step", float("nan"))) for r in provisional]
    finite = [g for g in gains if np.isfinite(g)]
    if not finite:
        return rankings
    best = max(finite)
    updated: dict[str, Ranking] = {}
    for ranking, gain in zip(provisional, gains, strict=True):
        value = float(np.clip(gain / best, 0.0, 1.0)) if best > 0 and np.isfinite(gain) else 0.0
        dynamics = float(ranking.evidence.get("dynamics", {}).get("similarity", 0.0))
        compat = float(ranking.evidence["space"]["compatibility"])
        evidence = {
            **ranking.evidence,
            "competence": {**ranking.evidence["competence"], "value": value, "basis": "relative to the best candidate"},
        }
        updated[ranking.teacher] = Ranking(
            teacher=ranking.teacher,
            score=combine_score(compat, float(ranking.evidence["zero_shot"]["score_term"]), value, dynamics),
            mapping=ranking.mapping,
            evidence=evidence,
            env_steps=ranking.env_steps,
            seconds=ranking.seconds,
        )
    return [updated.get(r.teacher, r) for r in rankings]
