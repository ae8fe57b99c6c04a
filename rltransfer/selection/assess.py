"""Assess one teacher for a target: search its mapping, probe it within an allowance, score it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rltransfer.io import json_safe
from rltransfer.mapping import Mapping, ObsMap, identity_fits
from rltransfer.rollouts import Transitions, episode_limit, reward_threshold
from rltransfer.selection.confirm import Confirmation, confirm
from rltransfer.selection.model import SourceModel, dim_stats, fit_source_model, reference_rows
from rltransfer.selection.ranking import Ranking
from rltransfer.selection.scoring import (
    combine_score,
    dynamics_evidence,
    full_returns,
    mapping_confidence,
    random_full_return,
    space_compatibility,
    target_competence,
)
from rltransfer.selection.search import Candidate, MappingSearch
from rltransfer.selection.target import (
    TOO_SHORT_NOTE,
    ProbeResult,
    Target,
    normalized_return,
    probe_noise,
    probe_too_short,
    source_reference,
    source_returns,
    source_transitions,
)
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo import Teacher

MIN_PROBE_HORIZON = 5
"""Below this many steps a zero-shot probe says nothing; the candidates are judged by the model alone."""
TOO_SHORT_CREDIT = 0.5
"""What a probe that confirms nothing but beat random counts for in the score, when its stand-in is lower."""
MAX_KEPT_EPISODES = 5
"""Most whole probe episodes of a kept mapping in a later halving round."""
MODEL_TRUSTED = 0.5
"""A source model with a held-out normalized error above this (it explains under half of its own source
data, as on LunarLander) may not overrule identity without a probe that confirms it."""


@dataclass
class _Probes:
    """The zero-shot probes of one assessment: what each returned and the env steps they spent."""

    target: Target
    teacher: Teacher
    episodes: int
    horizon: int
    random_h: float
    teacher_h: float
    noise: float = 0.0
    constant_random: bool = False
    steps: int = 0
    results: list[tuple[Candidate, ProbeResult]] = field(default_factory=list)

    def __call__(self, candidate: Candidate) -> tuple[float, bool]:
        """Probe one candidate: its normalized zero-shot return and whether the probe was too short."""
        mapping = Mapping(obs=candidate.obs_map, action=candidate.action_map, source="found")
        result = self.target.probe(self.teacher, mapping, episodes=self.episodes, horizon=self.horizon)
        self.steps += result.env_steps
        self.results.append((candidate, result))
        normalized = normalized_return(result.mean, self.random_h, self.teacher_h)
        return normalized, probe_too_short(normalized, result, self.noise, constant_random=self.constant_random)

    def of(self, candidate: Candidate) -> ProbeResult | None:
        """The probe of `candidate`'s mapping, None when it was not probed."""
        key = (candidate.obs_map, candidate.action_map)
        return next((r for c, r in self.results if (c.obs_map, c.action_map) == key), None)


def _space_evidence(teacher: Teacher, target: Target) -> dict[str, Any]:
    card, env = teacher.card, target.env
    student_obs = SpaceSignature.of(env.observation_space)
    return {
        "compatibility": space_compatibility(card.observation_space, card.action_space, env),
        "teacher": f"{card.observation_space.describe()} → {card.action_space.describe()}",
        "target": f"{student_obs.describe()} → {SpaceSignature.of(env.action_space).describe()}",
        "student_dim": student_obs.dim,
    }


def _unscored(name: str, obs_map: ObsMap, evidence: dict[str, Any], reason: str, started: float) -> Ranking:
    evidence["reason"] = reason
    fallback = Mapping(obs=obs_map, confidence=0.0)
    return Ranking(teacher=name, score=0.0, mapping=fallback, evidence=evidence, seconds=time.time() - started)


def identity_allowed(teacher: Teacher, target: Target) -> bool:
    """Whether the signatures allow identity (rltransfer.mapping.identity_fits)."""
    card, env = teacher.card, target.env
    student_obs, student_action = SpaceSignature.of(env.observation_space), SpaceSignature.of(env.action_space)
    return identity_fits(student_obs, student_action, card.observation_space, card.action_space)


def _with_map(candidates: list[Candidate], mapping: Mapping | None) -> list[Candidate]:
    """The candidates whose observation and action maps are `mapping`'s."""
    return [c for c in candidates if mapping is not None and (c.obs_map, c.action_map) == (mapping.obs, mapping.action)]


def _candidates(
    teacher: Teacher, target: Target, transitions: Transitions | None, identity: Mapping, *, home: bool, seed: int
) -> tuple[list[Candidate], SourceModel | None]:
    """The mapping search's candidates (best first; on the teacher's `home` task identity alone) and their model."""
    card = teacher.card
    if transitions is None:  # no source data: only identity can be judged, by its zero-shot return
        same = SpaceSignature.of(target.env.observation_space).same_as(card.observation_space)
        identity_candidate = Candidate(
            obs_map=identity.obs, action_map=identity.action, model_error=float("nan"), complexity=0
        )
        return ([identity_candidate] if same else []), None
    model = fit_source_model(transitions, teacher.action_space, seed=seed)
    rows = reference_rows(transitions)
    source_stats = dim_stats(
        transitions.obs[rows].astype(np.float64).reshape(int(rows.sum()), -1),
        transitions.next_obs[rows].astype(np.float64).reshape(int(rows.sum()), -1),
        transitions.actions[rows],
        teacher.action_space,
        card.observation_space.low,
        card.observation_space.high,
    )
    search = MappingSearch(model, source_stats, target.rollouts, target.env.observation_space, target.env.action_space)
    candidates = search.candidates(identity=identity_allowed(teacher, target))
    return (_with_map(candidates, identity) if home else candidates), model


def _plan_probes(
    teacher: Teacher, target: Target, transitions: Transitions | None, *, allowance: int, plausible: int, episodes: int
) -> _Probes:
    """Episodes and horizon of the probes that fit `allowance`, and the returns they are normalized by."""
    horizon = min(target.horizon, max(allowance // max(plausible * episodes, 1), 0))
    if horizon < 20:
        episodes = 1
        horizon = min(target.horizon, allowance // plausible)
    if horizon < MIN_PROBE_HORIZON:
        return _Probes(target, teacher, episodes, horizon, float("nan"), float("nan"))
    # the H-step returns every probe is normalized by, computed once (the source ones scan every stored episode)
    at_home = source_returns(transitions, horizon=horizon) if transitions is not None else []
    random_returns = target.rollouts.random_returns(horizon)
    random_h = target.rollouts.random_return(horizon)
    teacher_h = float(np.mean(at_home)) if at_home else source_reference(teacher, None, horizon)
    noise = probe_noise(at_home, random_returns, teacher_h - random_h, episodes)
    constant = len(target.rollouts.rewards) >= horizon and float(np.ptp(target.rollouts.rewards)) == 0.0
    return _Probes(target, teacher, episodes, horizon, random_h, teacher_h, noise, constant)


def _candidate_evidence(candidate: Candidate, probes: _Probes, student_dim: int) -> dict[str, Any]:
    """What was measured on one candidate: its model error, parts, and its probe if it had one."""
    mapping = Mapping(obs=candidate.obs_map, action=candidate.action_map)
    block: dict[str, Any] = {
        "mapping": mapping.describe(student_dim),
        "model_error": candidate.model_error,
        "complexity": candidate.complexity,
        "zero_shot": candidate.zero_shot,
        "too_short": candidate.too_short,
    }
    result = probes.of(candidate) if candidate.zero_shot is not None else None
    if result is not None:
        block["probe"] = {
            "episodes": len(result.returns),
            "horizon": result.horizon,
            "episodes_ended": sum(not cut for cut in result.cut),
            "return": result.mean,
        }
    return block


def _chosen_mapping(
    confirmation: Confirmation,
    shown: list[Candidate],
    probes: _Probes,
    *,
    confidence: float,
    source: str,
    student_dim: int,
    random_steps: int,
) -> Mapping:
    """The chosen mapping, with the candidates it was chosen among, the runner-up and the rule as evidence."""
    chosen, runner_up = confirmation.chosen, confirmation.runner_up
    evidence = {
        "model_error": chosen.model_error,
        "rule": confirmation.reason,
        "candidates": [_candidate_evidence(c, probes, student_dim) for c in shown],
        "runner_up": None
        if runner_up is None
        else {
            **_candidate_evidence(runner_up, probes, student_dim),
            "map": Mapping(obs=runner_up.obs_map, action=runner_up.action_map, source="user").to_dict(),
        },
        "target_random_steps": random_steps,
    }
    return Mapping(
        obs=chosen.obs_map,
        action=chosen.action_map,
        confidence=confidence,
        source=source,
        evidence=json_safe(evidence),
    )


def assess(
    teacher: Teacher, target: Target, *, allowance: int, seed: int, episodes: int = 2, keep: Mapping | None = None
) -> Ranking:
    """Search the mapping, probe it within `allowance` target steps and score the teacher.

    `keep`: a mapping an earlier, shorter round confirmed (rltransfer.selection.halving). Only it is probed,
    in as many whole episodes as the allowance holds (at least one, cut at the allowance when shorter).
    """
    started = time.time()
    card = teacher.card
    evidence: dict[str, Any] = {"space": _space_evidence(teacher, target)}
    identity = Mapping.identity(card.observation_space) if card.observation_space.kind == "box" else None
    if evidence["space"]["compatibility"] == 0.0 or identity is None:
        obs_map = identity.obs if identity else ObsMap(index=(), scale=(), offset=())
        return _unscored(card.name, obs_map, evidence, "no mapping bridges the spaces", started)
    transitions, source_steps = source_transitions(teacher, seed=seed)
    home = identity_allowed(teacher, target) and target.is_home_of(teacher)
    candidates, model = _candidates(teacher, target, transitions, identity, home=home, seed=seed)
    if not candidates:
        reason = "no source transitions and different observation spaces"
        return _unscored(card.name, identity.obs, evidence, reason, started)
    kept = _with_map(candidates, keep)
    episodes = max(1, min(MAX_KEPT_EPISODES, allowance // max(target.horizon, 1))) if kept else episodes
    plausible = min(3, len(kept or candidates))
    probes = _plan_probes(teacher, target, transitions, allowance=allowance, plausible=plausible, episodes=episodes)
    confirmation = confirm(
        kept or candidates,
        probes if probes.horizon >= MIN_PROBE_HORIZON else None,
        identity=identity_allowed(teacher, target),
        most=plausible,
        noise=probes.noise,
        model_trusted=model is not None and model.heldout_error <= MODEL_TRUSTED,
    )
    if home:
        confirmation = replace(confirmation, reason="identity: the teacher was trained on this very task")
    chosen, probed = confirmation.chosen, confirmation.probed
    zero = chosen.zero_shot if chosen.zero_shot is not None else float("nan")
    student_obs = SpaceSignature.of(target.env.observation_space)
    confirming = float("nan") if chosen.too_short else zero
    confidence, source = mapping_confidence(chosen, candidates, confirming, student_obs, card.observation_space)
    dynamics = dynamics_evidence(model, transitions, chosen, target.rollouts)
    mapping = _chosen_mapping(
        confirmation,
        probed or candidates[:3],
        probes,
        confidence=confidence,
        source=source,
        student_dim=student_obs.dim,
        random_steps=target.rollouts.env_steps,
    )
    if kept and keep is not None and keep.evidence:  # round 1's choice and candidate probes stay the evidence
        rule = f"{keep.evidence.get('rule', '')}; probed longer in round 2 of successive halving"
        mapping = replace(mapping, evidence={**keep.evidence, "rule": rule})
    score, zero_shot_block, competence_block = _probe_verdict(
        teacher,
        target,
        probes,
        probes.of(chosen),
        probed=probed,
        zero=zero,
        too_short=chosen.too_short,
        transitions=transitions,
        compatibility=evidence["space"]["compatibility"],
        confidence=confidence,
        similarity=float(dynamics["similarity"]),
    )
    evidence["dynamics"] = dynamics
    evidence["zero_shot"] = zero_shot_block
    evidence["competence"] = competence_block
    evidence["mapping"] = {
        "summary": mapping.describe(student_obs.dim),
        "confidence": confidence,
        "probed": len(probed),
        "kept": bool(kept),
    }
    evidence["source_env_steps"] = source_steps
    evidence["probe_env_steps"] = probes.steps
    return Ranking(
        teacher=card.name,
        score=score,
        mapping=mapping,
        evidence=evidence,
        env_steps=probes.steps,
        seconds=time.time() - started,
    )


def _probe_verdict(
    teacher: Teacher,
    target: Target,
    probes: _Probes,
    chosen_probe: ProbeResult | None,
    *,
    probed: list[Candidate],
    zero: float,
    too_short: bool,
    transitions: Transitions | None,
    compatibility: float,
    confidence: float,
    similarity: float,
) -> tuple[float, dict[str, Any], dict[str, Any]]:
    """The score and the zero-shot and competence evidence of the chosen mapping's probe.

    Competence is judged on full target episodes (`full_returns`, `target_competence`); without a reward
    threshold it stays provisional until rank_teachers compares the candidates' gains over random. A probe
    that ran but cannot be normalized (the teacher's own first-H source return is no better than random's)
    or is flagged too short (`probe_too_short`) confirms nothing: min(mapping confidence, dynamics
    similarity) stands in for it, raised to TOO_SHORT_CREDIT where the mapped teacher still beat random's
    return over the probe (it did not fail, as far as it went), lowered to it where the probe was censored
    (it did not succeed either). Any zero-shot term is capped at 1.
    """
    random_h, teacher_h = probes.random_h, probes.teacher_h
    uninformative = bool(probed) and (not np.isfinite(zero) or too_short)
    stand_in = min(confidence, similarity) if uninformative else min(zero, 1.0)
    beat_random = chosen_probe is not None and np.isfinite(random_h) and chosen_probe.mean > random_h
    if uninformative and beat_random:
        stand_in = max(stand_in, TOO_SHORT_CREDIT)
    elif uninformative and probes.constant_random and chosen_probe is not None and all(chosen_probe.cut):
        stand_in = min(stand_in, TOO_SHORT_CREDIT)  # censored: not confirmed, not refuted
    threshold, limit = reward_threshold(target.env), episode_limit(target.env)
    source_tail = teacher.card.eval_mean - teacher_h if transitions is not None else float("nan")
    competence: dict[str, float] = {"value": 0.0, "own": 0.0, "gain": float("nan")}
    if chosen_probe is not None and chosen_probe.returns:
        random_full = random_full_return(target.rollouts, horizon=chosen_probe.horizon, limit=limit)
        full = full_returns(
            chosen_probe,
            random_h=random_h,
            teacher_h=teacher_h,
            random_full=random_full,
            source_tail=source_tail,
            limit=limit,
            trust=stand_in,
            informative=not uninformative,
        )
        competence = {
            **target_competence(full, random_full=random_full, source_full=teacher.card.eval_mean, threshold=threshold),
            "full_return": float(np.mean(full)),
            "random_full_return": random_full,
        }
    gain = (
        (chosen_probe.mean - random_h) / max(chosen_probe.horizon, 1)
        if chosen_probe is not None and probed and np.isfinite(random_h)
        else float("nan")
    )
    score = combine_score(compatibility, stand_in, competence["value"], similarity)
    zero_shot_block = {
        "normalized": zero,
        "episodes": probes.episodes if probed else 0,
        "horizon": probes.horizon if probed else 0,
        "return": chosen_probe.mean if chosen_probe is not None else float("nan"),
        "random_return": random_h if probed else float("nan"),
        "teacher_source_return": teacher_h if probed else float("nan"),
        "noise": probes.noise if probed else float("nan"),
        "gain_per_step": gain,
        "episodes_ended": sum(not cut for cut in chosen_probe.cut) if chosen_probe is not None else 0,
        "too_short": too_short,
        "note": TOO_SHORT_NOTE if too_short else "",
        "uninformative": uninformative,
        "score_term": stand_in,
    }
    competence_block = {
        **competence,
        "basis": "not probed"
        if chosen_probe is None
        else "reward_threshold"
        if threshold is not None
        else "source-normalized (provisional)",
        "reward_threshold": threshold,
        "source_tail": source_tail,
    }
    return score, zero_shot_block, competence_block
