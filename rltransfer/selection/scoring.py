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
from rltransfer.selection.target import ProbeResult, Rollouts, normalized_return
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


def full_returns(
    result: ProbeResult,
    *,
    random_h: float,
    teacher_h: float,
    random_full: float,
    source_tail: float,
    limit: int | None,
    trust: float,
    informative: bool = True,
) -> list[float]:
    """Each probe episode's return over the target's whole episode (the one horizon every teacher is judged on).

    An episode that ended is complete. One cut at the probe horizon H gets random's rest of the episode plus a
    share s of the teacher's home advantage over it (its own source tail minus random's rest): s is the share of
    its home advantage it kept over the first H steps (its normalized zero-shot, clipped to 0..1), so a teacher
    whose rewards do not mean the same in the target (another family) is credited only with what it showed
    there. When that share is undefined (over H its own source return is no better than random's, −1 per step)
    s is `trust`, the stand-in the score uses for such probes (min of mapping confidence and dynamics similarity);
    so it is when the probe is not `informative` (flagged too short: its share is noise).
    """
    rest_random = random_full - random_h
    cut_flags = result.cut or (False,) * len(result.returns)
    values = []
    for value, cut in zip(result.returns, cut_flags, strict=True):
        if not cut or (limit is not None and result.horizon >= limit) or not np.isfinite(rest_random):
            values.append(float(value))
            continue
        share = normalized_return(value, random_h, teacher_h)
        share = float(np.clip(share if informative and np.isfinite(share) else trust, 0.0, 1.0))
        advantage = source_tail - rest_random if np.isfinite(source_tail) else 0.0
        values.append(float(value + rest_random + share * advantage))
    return values


def target_competence(
    full: list[float], *, random_full: float, source_full: float, threshold: float | None
) -> dict[str, float]:
    """Competence of full-episode target returns: 0 = random in the target, 1 = the teacher's own source return.

    "own" is the mean share of its home advantage (its source return over random's in the target) the teacher
    delivers, defined alike for every teacher and target; it is 0 when its source return is no better than the
    target's random return, and below 1 for any teacher that does not beat random by as much as it does at home.
    With a reward threshold, "threshold" is the same over threshold − random (a teacher weak at home stays weak),
    and "value" is the lower of the two; without one relative_competence adds the spread among the candidates.
    "gain" is the mean return over random's, on the same horizon for every candidate.
    """
    if not full or not np.isfinite(random_full):
        return {"value": 0.0, "own": 0.0, "gain": float("nan")}
    returns = np.asarray(full, dtype=np.float64)
    home_gap = source_full - random_full
    own = float(np.mean(np.clip((returns - random_full) / home_gap, 0.0, 1.0))) if home_gap > 1e-9 else 0.0
    block = {"value": own, "own": own, "gain": float(np.mean(returns) - random_full)}
    if threshold is not None:
        gap = threshold - random_full
        above = returns >= threshold if gap <= 1e-9 else np.clip((returns - random_full) / gap, 0.0, 1.0)
        block["threshold"] = float(np.mean(above))
        block["value"] = min(own, block["threshold"])
    return block


def random_full_return(rollouts: Rollouts, *, horizon: int, limit: int | None) -> float:
    """The random policy's full-episode target return (per-step extrapolation from `horizon` when none ended)."""
    baseline = rollouts.random_return(limit or horizon)
    if not np.isfinite(baseline) and limit is not None:
        baseline = rollouts.random_return(horizon) * limit / max(horizon, 1)
    return baseline


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
    """Without a reward threshold: competence = min(own, gain over random / the best candidate's gain).

    Gains are full-episode (`full_returns`), so every candidate is compared on one horizon. "own" (the share
    of its home advantage a teacher delivers) cannot tell a teacher weak at home from a strong one; the spread
    among the candidates orders them by what they achieve in the target, and "own" keeps the best of them,
    e.g. one from another family, from 1.0 unless it beats random there as much as at home.
    """
    provisional = [r for r in rankings if r.evidence.get("competence", {}).get("basis", "").startswith("source")]
    gains = [float(r.evidence["competence"].get("gain", float("nan"))) for r in provisional]
    finite = [g for g in gains if np.isfinite(g)]
    if not finite:
        return rankings
    best = max(finite)
    updated: dict[str, Ranking] = {}
    for ranking, gain in zip(provisional, gains, strict=True):
        spread = float(np.clip(gain / best, 0.0, 1.0)) if best > 0 and np.isfinite(gain) else 0.0
        value = min(spread, float(ranking.evidence["competence"].get("own", 1.0)))
        dynamics = float(ranking.evidence.get("dynamics", {}).get("similarity", 0.0))
        compat = float(ranking.evidence["space"]["compatibility"])
        evidence = {
            **ranking.evidence,
            "competence": {
                **ranking.evidence["competence"],
                "value": value,
                "spread": spread,
                "basis": "own source return and the best candidate",
            },
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
