"""Assess one teacher for a target: search its mapping, probe it within an allowance, score it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rltransfer.io import json_safe
from rltransfer.mapping import Mapping, ObsMap
from rltransfer.rollouts import Transitions, episode_limit, reward_threshold
from rltransfer.selection.model import SourceModel, dim_stats, fit_source_model, reference_rows
from rltransfer.selection.ranking import Ranking
from rltransfer.selection.scoring import (
    combine_score,
    dynamics_evidence,
    mapping_confidence,
    space_compatibility,
    threshold_competence,
)
from rltransfer.selection.search import Candidate, MappingSearch, confirm
from rltransfer.selection.target import (
    ProbeResult,
    Target,
    normalized_return,
    source_reference,
    source_transitions,
)
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo import Teacher

MIN_PROBE_HORIZON = 5
"""Below this many steps a zero-shot probe says nothing; the candidates are judged by the model alone."""


@dataclass
class _Probes:
    """The zero-shot probes of one assessment: what each returned and the env steps they spent."""

    target: Target
    teacher: Teacher
    episodes: int
    horizon: int
    random_h: float
    teacher_h: float
    steps: int = 0
    results: list[tuple[Candidate, ProbeResult]] = field(default_factory=list)

    def __call__(self, candidate: Candidate, _index: int) -> float:
        """Probe one candidate; its normalized zero-shot return."""
        mapping = Mapping(obs=candidate.obs_map, action=candidate.action_map, source="found")
        result = self.target.probe(self.teacher, mapping, episodes=self.episodes, horizon=self.horizon)
        self.steps += result.env_steps
        self.results.append((candidate, result))
        return normalized_return(result.mean, self.random_h, self.teacher_h)

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


def _candidates(
    teacher: Teacher, target: Target, transitions: Transitions | None, identity: Mapping, *, seed: int
) -> tuple[list[Candidate], SourceModel | None]:
    """The mapping search's candidates (best first) and the source model they were judged by."""
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
    return search.candidates(), model


def _plan_probes(
    teacher: Teacher, target: Target, transitions: Transitions | None, *, allowance: int, plausible: int, episodes: int
) -> _Probes:
    """Episodes and horizon of the probes that fit `allowance`, and the returns they are normalized by."""
    horizon = min(target.horizon, max(allowance // max(plausible * episodes, 1), 0))
    if horizon < 20:
        episodes = 1
        horizon = min(target.horizon, allowance // plausible)
    # the H-step returns every probe is normalized by, computed once (the source one scans every stored episode)
    random_h, teacher_h = (
        (target.rollouts.random_return(horizon), source_reference(teacher, transitions, horizon))
        if horizon >= MIN_PROBE_HORIZON
        else (float("nan"), float("nan"))
    )
    return _Probes(target, teacher, episodes, horizon, random_h, teacher_h)


def _chosen_mapping(
    chosen: Candidate, shown: list[Candidate], confidence: float, source: str, student_dim: int, random_steps: int
) -> Mapping:
    """The chosen mapping, with the candidates it was chosen among as evidence."""
    evidence = {
        "model_error": chosen.model_error,
        "candidates": [
            {
                "mapping": Mapping(obs=c.obs_map, action=c.action_map).describe(student_dim),
                "model_error": c.model_error,
                "zero_shot": c.zero_shot,
            }
            for c in shown
        ],
        "target_random_steps": random_steps,
    }
    return Mapping(
        obs=chosen.obs_map,
        action=chosen.action_map,
        confidence=confidence,
        source=source,
        evidence=json_safe(evidence),
    )


def assess(teacher: Teacher, target: Target, *, allowance: int, seed: int, episodes: int = 2) -> Ranking:
    """Search the mapping, probe it within `allowance` target steps and score the teacher."""
    started = time.time()
    card = teacher.card
    evidence: dict[str, Any] = {"space": _space_evidence(teacher, target)}
    identity = Mapping.identity(card.observation_space) if card.observation_space.kind == "box" else None
    if evidence["space"]["compatibility"] == 0.0 or identity is None:
        obs_map = identity.obs if identity else ObsMap(index=(), scale=(), offset=())
        return _unscored(card.name, obs_map, evidence, "no mapping bridges the spaces", started)
    transitions, source_steps = source_transitions(teacher, seed=seed)
    candidates, model = _candidates(teacher, target, transitions, identity, seed=seed)
    if not candidates:
        reason = "no source transitions and different observation spaces"
        return _unscored(card.name, identity.obs, evidence, reason, started)
    plausible = min(3, len(candidates))
    probes = _plan_probes(teacher, target, transitions, allowance=allowance, plausible=plausible, episodes=episodes)
    chosen, probed = confirm(candidates, probes if probes.horizon >= MIN_PROBE_HORIZON else None, most=plausible)
    zero = chosen.zero_shot if chosen.zero_shot is not None else float("nan")
    student_obs = SpaceSignature.of(target.env.observation_space)
    confidence, source = mapping_confidence(chosen, candidates, zero, student_obs, card.observation_space)
    dynamics = dynamics_evidence(model, transitions, chosen, target.rollouts)
    mapping = _chosen_mapping(
        chosen, probed or candidates[:3], confidence, source, student_obs.dim, target.rollouts.env_steps
    )
    score, zero_shot_block, competence_block = _probe_verdict(
        teacher,
        target,
        probes,
        probes.of(chosen),
        probed=probed,
        zero=zero,
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
    transitions: Transitions | None,
    compatibility: float,
    confidence: float,
    similarity: float,
) -> tuple[float, dict[str, Any], dict[str, Any]]:
    """The score and the zero-shot and competence evidence of the chosen mapping's probe.

    Without a reward threshold competence stays provisional (the source-normalized value) until
    rank_teachers compares the candidates' gains over random. A probe that ran but cannot be normalized
    (the teacher's own first-H source return is no better than random's) says nothing about the mapping:
    min(mapping confidence, dynamics similarity) stands in for it.
    """
    random_h, teacher_h = probes.random_h, probes.teacher_h
    has_probe = chosen_probe is not None
    source_tail = teacher.card.eval_mean - teacher_h if has_probe and transitions is not None else 0.0
    competence = (
        threshold_competence(
            chosen_probe,
            target.rollouts,
            threshold=reward_threshold(target.env),
            limit=episode_limit(target.env),
            source_tail=source_tail if np.isfinite(source_tail) else 0.0,
        )
        if chosen_probe is not None
        else None
    )
    gain = (
        (chosen_probe.mean - random_h) / max(chosen_probe.horizon, 1)
        if chosen_probe is not None and probed and np.isfinite(random_h)
        else float("nan")
    )
    competence_value = competence if competence is not None else (zero if np.isfinite(zero) else 0.0)
    uninformative = bool(probed) and not np.isfinite(zero)
    stand_in = min(confidence, similarity) if uninformative else zero
    score = combine_score(compatibility, stand_in, competence_value, similarity)
    zero_shot_block = {
        "normalized": zero,
        "episodes": probes.episodes if probed else 0,
        "horizon": probes.horizon if probed else 0,
        "return": chosen_probe.mean if chosen_probe is not None else float("nan"),
        "random_return": random_h if probed else float("nan"),
        "teacher_source_return": teacher_h if probed else float("nan"),
        "gain_per_step": gain,
        "uninformative": uninformative,
        "score_term": stand_in,
    }
    competence_block = {
        "value": competence_value,
        "basis": "reward_threshold" if competence is not None else "source-normalized (provisional)",
        "reward_threshold": reward_threshold(target.env),
        "source_tail": source_tail,
    }
    return score, zero_shot_block, competence_block
