"""Rank the zoo's teachers for a target environment without a single gradient step.

Three training-free signals, measured per teacher:

1. **Space compatibility** (0..1, from the space signatures alone): 1 for identical spaces, less for
   each conversion the mapping needs (other bounds −0.1, other observation size −0.2, binning
   between discrete and continuous actions −0.2), 0 when no mapping bridges the action spaces.
2. **Dynamics similarity** (0..1): the teacher's one-step source model (fitted on its stored
   transitions) scored on mapped random-policy target data — its R² there over its held-out R² on
   the source (Ammar et al. 2014, MASTER) — 0.7 of the weight; and the overlap exp(−W₁) of the mapped
   target and source state distributions (scipy's wasserstein_distance per dimension, in teacher std
   units) — 0.3.
3. **Zero-shot probes** of the mapped teacher in the target, a few episodes cut at a probe horizon H.
   Two numbers come out of them:

   - ``zero_shot`` (the issue's normalized zero-shot return, kept in evidence and JSON): 0 = the random
     policy in the target, 1 = the teacher's own return on its source task over the same H steps. It
     says whether the *mapping* works — a weak teacher that is as weak in the target as at home gets 1.
   - ``competence``: how good the mapped teacher is *in the target*. When the target's spec has a
     reward_threshold, per probe episode i: competence_i = clip((R_i − R_rand)/(threshold − R_rand), 0, 1)
     over *full* episodes, so that like is compared with like: an episode that ended (terminated, or
     truncated by the env) is a full episode; an episode stopped by the probe horizon H is completed with
     the teacher's own source tail (its card's full-episode return minus its first-H return in its
     stored source episodes) — it behaved as at home for H steps, so the rest is estimated as at home, at
     no extra env step. R_rand is the random policy's full-episode return in the target. (Scaling the
     threshold by H / max_episode_steps instead was tried and rejected: with the default budget H is
     ~100 steps on CartPole, which a DQN teacher with a 129 return also survives, so it got 1.0.) The
     tail assumes the source and target episode limits agree; where they do not it is an estimate. Competence
     is the mean over the episodes. Without a threshold (e.g. Pendulum), competence is the spread among the
     probed candidate teachers of this ranking: g = (R_zero_shot − R_rand)/H, the gain over random per
     step (comparable across teachers probed at different H), and competence = clip(g / max g, 0, 1), so
     the teacher best in the target gets 1 (0 for all when none beats random). Why the relative spread
     and not the source-normalized value: the latter is exactly what cannot tell a weak teacher from a
     strong one; the spread at least orders teachers by what they achieve in the target. With a single
     teacher it is 1, and the score falls back to the source-normalized value.

They combine as::

    score = compatibility × (0.7 · min(clip(zero_shot, 0, 1), competence) + 0.3 · dynamics_similarity)

When a probe ran but its zero_shot is undefined — within the probe horizon H the teacher's own source
return is no better than random's, as on Acrobot and MountainCar (−1 per step until the goal) when the
budget split among many teachers leaves H shorter than the teacher needs — the probe says nothing about
the mapping, and min(mapping confidence from the search, dynamics similarity under the mapping) takes
zero_shot's place in the formula (the confidence alone would trust a degenerate map that feeds the
teacher constants; the dynamics model does not); competence is then the source-tail estimate above. Before
this, such a teacher scored 0 on that term and the teacher trained on the very target was ranked
below the scratch threshold.

Why: a zero-shot rollout is the cheapest strong predictor of transfer benefit — it measures the
teacher's behaviour where the student will learn, through exactly the mapping the controller will use
— so it carries most of the weight. The minimum asks for both: the mapping must work (zero_shot) and
what it delivers must be good in the target (competence); a teacher that matches a poor source return
is still poor. The term saturates at 0 for every teacher that fails outright, and it is noisy with few
episodes; dynamics similarity orders those teachers (a teacher whose world behaves like the target's
still carries useful features and values) and breaks ties. Compatibility multiplies because every
conversion loses information and an unbridgeable gap rules a teacher out. When the best score is below
SCRATCH_THRESHOLD no teacher fits: the recommendation is to train from scratch.

Every target env step is spent in rltransfer.probes (random rollouts shared by all teachers, then
zero-shot probes within the budget), so a ranking's cost is exact.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from scipy.stats import wasserstein_distance

from rltransfer.errors import ConfigError, RLTransferError, UnknownTeacherError
from rltransfer.evaluation import policy_act
from rltransfer.mapping import MappedTeacher, Mapping, ObsMap
from rltransfer.mapping_model import reference_rows
from rltransfer.mapping_search import (
    Candidate,
    MappingSearch,
    SourceModel,
    action_kind,
    confirm,
    dim_stats,
    fit_source_model,
)
from rltransfer.probes import (
    ProbeResult,
    Rollouts,
    env_horizon,
    episode_limit,
    normalized_return,
    random_rollouts,
    reward_threshold,
    source_returns,
    zero_shot,
)
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo import Teacher, list_teacher_names, load_teacher, load_teachers

DEFAULT_BUDGET = 1000
"""Target env steps a whole ranking may spend (random rollouts + zero-shot probes). Lowered from 2000:
on the CartPole targets with the shipped zoo, 1000 (random share 1/3) gave the same order and mappings
as 2000; 1000 with share 0.2 mis-mapped a teacher and 600 lost the zero-shot signal (results/selection.md)."""
RANDOM_SHARE = 1 / 3
"""Share of the budget spent on the shared random-policy rollouts (the rest on zero-shot probes)."""
SCRATCH_THRESHOLD = 0.3
"""Below this best score no teacher fits the target: train from scratch."""
ZERO_SHOT_WEIGHT = 0.7
"""Weight of the normalized zero-shot return in the score (the rest goes to dynamics similarity)."""
SOURCE_STEPS = 2000
"""Source transitions sampled for a teacher that has none stored (source env steps, not target)."""


@dataclass(kw_only=True, frozen=True)
class Ranking:
    """One teacher's place in a ranking.

    Attributes:
        teacher: Teacher name (zoo folder).
        score: 0..1, higher is better (see the module docstring for how it is made).
        mapping: The chosen teacher ↔ target mapping (to_dict() is what the controller uses).
        evidence: Every signal measured: "space", "dynamics", "zero_shot", "mapping" blocks.
        env_steps: Target env steps spent on this teacher (its probes plus its share of the
            shared random rollouts; the sum over a ranking is the ranking's cost).
        seconds: Wall time spent on this teacher (same sharing).
    """

    teacher: str
    score: float
    mapping: Mapping
    evidence: dict[str, Any] = field(default_factory=dict)
    env_steps: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if not np.isfinite(self.score) or not 0.0 <= self.score <= 1.0:
            raise ConfigError(f"ranking score {self.score} outside 0..1", fix="scores are clipped to 0..1")

    @property
    def zero_shot_return(self) -> float:
        """Normalized zero-shot return of the mapped teacher (nan when not probed)."""
        return float(self.evidence.get("zero_shot", {}).get("normalized", float("nan")))

    @property
    def mapping_summary(self) -> str:
        """Mapping.describe with the student's dropped dims named ("no mapping" for unbridged spaces)."""
        if "reason" in self.evidence:
            return "no mapping"
        return self.mapping.describe(self.evidence.get("space", {}).get("student_dim"))

    @property
    def fits(self) -> bool:
        """Whether the score clears SCRATCH_THRESHOLD."""
        return self.score >= SCRATCH_THRESHOLD

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "teacher": self.teacher,
            "score": self.score,
            "mapping": self.mapping.to_dict(),
            "mapping_summary": self.mapping_summary,
            "zero_shot_return": self.zero_shot_return,
            "evidence": self.evidence,
            "env_steps": self.env_steps,
            "seconds": self.seconds,
        }


def json_safe(value: Any) -> Any:
    """Evidence made JSON-safe: non-finite floats become None (config.json is written with allow_nan=False)."""
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def recommendation(rankings: list[Ranking]) -> str:
    """One line: which teacher to start from, or to train from scratch when none fits."""
    if not rankings or not rankings[0].fits:
        best = f" (best: {rankings[0].teacher}, score {rankings[0].score:.2f})" if rankings else ""
        return f"train from scratch: no teacher fits this target{best}; scores below {SCRATCH_THRESHOLD}"
    top = rankings[0]
    return f'start from "{top.teacher}" (score {top.score:.2f}, mapping: {top.mapping_summary})'


def space_compatibility(card_obs: SpaceSignature, card_action: SpaceSignature, env: gym.Env[Any, Any]) -> float:
    """0..1 from the space signatures alone (see the module docstring)."""
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


def source_transitions(teacher: Teacher, *, seed: int) -> tuple[dict[str, np.ndarray] | None, int]:
    """The teacher's stored source transitions, else SOURCE_STEPS sampled in its source env (and how many)."""
    stored = teacher.load_transitions()
    if stored is not None:
        return stored, 0
    from rltransfer.make import make_env
    from rltransfer.recipes import sample_transitions

    try:
        env = make_env(teacher.card.env_id, teacher.card.env_kwargs)
    except RLTransferError:
        return None, 0
    try:
        return sample_transitions(env, policy_act(teacher.policy), steps=SOURCE_STEPS, seed=seed), SOURCE_STEPS
    finally:
        env.close()


class _Target:
    """The target env with its shared random rollouts; every probe goes through here."""

    def __init__(self, env: gym.Env[Any, Any], *, random_steps: int, seed: int) -> None:
        self.env = env
        self.seed = seed
        self.horizon = env_horizon(env)
        self.rollouts: Rollouts = random_rollouts(env, steps=random_steps, seed=seed)

    def probe(self, teacher: Teacher, mapping: Mapping, *, episodes: int, horizon: int) -> ProbeResult:
        """`episodes` zero-shot episodes of the mapped teacher, cut at `horizon`."""
        mapped = MappedTeacher(teacher, mapping, self.env.action_space)
        return zero_shot(
            self.env, lambda obs: mapped.act(obs), episodes=episodes, horizon=horizon, seed=self.seed + 7919
        )

    def competence(self, result: ProbeResult, *, source_tail: float) -> float | None:
        """Threshold-based competence of a probe (module docstring); None when the spec has no threshold."""
        return threshold_competence(
            result,
            self.rollouts,
            threshold=reward_threshold(self.env),
            limit=episode_limit(self.env),
            source_tail=source_tail,
        )


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


def _teacher_reference(teacher: Teacher, transitions: dict[str, np.ndarray] | None, horizon: int) -> float:
    """The teacher's own first-`horizon` return on its source task (card's eval mean without transitions)."""
    if transitions is not None:
        returns = source_returns(transitions, horizon=horizon)
        if returns:
            return float(np.mean(returns))
    return teacher.card.eval_mean


def _distribution_overlap(
    model: SourceModel, transitions: dict[str, np.ndarray], obs_map: ObsMap, target: Rollouts
) -> float:
    """exp(−mean W₁) between source and mapped target states, in teacher std units (matched dims)."""
    source_z = model.standardize(transitions["obs"][reference_rows(transitions)].astype(np.float64))
    target_z = model.standardize(obs_map.apply(target.obs).astype(np.float64))
    distances = [
        wasserstein_distance(source_z[:, j], target_z[:, j]) if index >= 0 else 1.0
        for j, index in enumerate(obs_map.index)
    ]
    return float(np.exp(-np.mean(distances)))


def _assess(teacher: Teacher, target: _Target, *, allowance: int, seed: int, episodes: int = 2) -> Ranking:
    """Search the mapping, probe it within `allowance` target steps and score the teacher."""
    started = time.time()
    card = teacher.card
    compat = space_compatibility(card.observation_space, card.action_space, target.env)
    student_obs = SpaceSignature.of(target.env.observation_space)
    evidence: dict[str, Any] = {
        "space": {
            "compatibility": compat,
            "teacher": f"{card.observation_space.describe()} → {card.action_space.describe()}",
            "target": f"{student_obs.describe()} → {SpaceSignature.of(target.env.action_space).describe()}",
            "student_dim": student_obs.dim,
        }
    }
    identity = Mapping.identity(card.observation_space) if card.observation_space.kind == "box" else None
    if compat == 0.0 or identity is None:
        evidence["reason"] = "no mapping bridges the spaces"
        fallback = Mapping(obs=identity.obs if identity else ObsMap(index=(), scale=(), offset=()), confidence=0.0)
        return Ranking(teacher=card.name, score=0.0, mapping=fallback, evidence=evidence, seconds=time.time() - started)
    transitions, source_steps = source_transitions(teacher, seed=seed)
    probe_steps = 0
    horizon = target.horizon
    probe_results: list[tuple[Candidate, ProbeResult]] = []

    def probe(candidate: Candidate, _index: int) -> float:
        nonlocal probe_steps
        mapping = Mapping(obs=candidate.obs_map, action=candidate.action_map, source="found")
        result = target.probe(teacher, mapping, episodes=probe_episodes, horizon=probe_horizon)
        probe_steps += result.env_steps
        probe_results.append((candidate, result))
        return normalized_return(result.mean, random_h, teacher_h)

    if transitions is None:  # no source data: only identity can be judged, by its zero-shot return
        candidates = (
            [Candidate(obs_map=identity.obs, action_map=identity.action, model_error=float("nan"), complexity=0)]
            if student_obs.same_as(card.observation_space)
            else []
        )
        model = None
    else:
        model = fit_source_model(transitions, teacher.action_space, seed=seed)
        rows = reference_rows(transitions)
        source_stats = dim_stats(
            transitions["obs"][rows].astype(np.float64).reshape(int(rows.sum()), -1),
            transitions["next_obs"][rows].astype(np.float64).reshape(int(rows.sum()), -1),
            transitions["actions"][rows],
            teacher.action_space,
            card.observation_space.low,
            card.observation_space.high,
        )
        search = MappingSearch(
            model, source_stats, target.rollouts, target.env.observation_space, target.env.action_space
        )
        candidates = search.candidates()
    if not candidates:
        evidence["reason"] = "no source transitions and different observation spaces"
        fallback = Mapping(obs=identity.obs, confidence=0.0)
        return Ranking(teacher=card.name, score=0.0, mapping=fallback, evidence=evidence, seconds=time.time() - started)
    plausible = min(3, len(candidates))
    probe_episodes = episodes
    probe_horizon = min(horizon, max(allowance // max(plausible * probe_episodes, 1), 0))
    if probe_horizon < 20:
        probe_episodes = 1
        probe_horizon = min(horizon, allowance // plausible)
    # the H-step returns every probe is normalized by, computed once (the source one scans every stored episode)
    random_h, teacher_h = (
        (target.rollouts.random_return(probe_horizon), _teacher_reference(teacher, transitions, probe_horizon))
        if probe_horizon >= 5
        else (float("nan"), float("nan"))
    )
    chosen, probed = confirm(candidates, probe if probe_horizon >= 5 else None, most=plausible)
    zero = chosen.zero_shot if chosen.zero_shot is not None else float("nan")
    is_identity = chosen.obs_map.is_identity(student_obs.dim) and chosen.action_map.kind == "identity"
    runner_up = next((c for c in candidates if (c.obs_map, c.action_map) != (chosen.obs_map, chosen.action_map)), None)
    margin = (
        1.0 if runner_up is None else float(np.clip(1.0 - chosen.penalized / max(runner_up.penalized, 1e-12), 0, 1))
    )
    if is_identity and student_obs.same_as(card.observation_space):
        mapping_confidence, source = 1.0, "identity"
    else:
        z_part = float(np.clip(zero, 0.0, 1.0)) if np.isfinite(zero) else margin
        mapping_confidence, source = float(np.clip(0.5 * margin + 0.5 * z_part, 0.0, 1.0)), "found"
    dynamics: dict[str, Any] = {"similarity": 0.0}
    if model is not None and transitions is not None and np.isfinite(chosen.model_error):
        fit = float(np.clip((1.0 - chosen.model_error) / max(1.0 - model.heldout_error, 1e-6), 0.0, 1.0))
        overlap = _distribution_overlap(model, transitions, chosen.obs_map, target.rollouts)
        dynamics = {
            "similarity": 0.7 * fit + 0.3 * overlap,
            "model_error": chosen.model_error,
            "source_model_error": model.heldout_error,
            "model_fit": fit,
            "distribution_overlap": overlap,
        }
    mapping = Mapping(
        obs=chosen.obs_map,
        action=chosen.action_map,
        confidence=mapping_confidence,
        source=source,
        evidence=json_safe(
            {
                "model_error": chosen.model_error,
                "candidates": [
                    {
                        "mapping": Mapping(obs=c.obs_map, action=c.action_map).describe(student_obs.dim),
                        "model_error": c.model_error,
                        "zero_shot": c.zero_shot,
                    }
                    for c in (probed or candidates[:3])
                ],
                "target_random_steps": target.rollouts.env_steps,
            }
        ),
    )
    chosen_probe = next(
        (r for c, r in probe_results if (c.obs_map, c.action_map) == (chosen.obs_map, chosen.action_map)), None
    )
    source_tail = (
        card.eval_mean - teacher_h  # chosen_probe.horizon is probe_horizon
        if chosen_probe is not None and transitions is not None
        else 0.0
    )
    competence = (
        target.competence(chosen_probe, source_tail=source_tail if np.isfinite(source_tail) else 0.0)
        if chosen_probe is not None
        else None
    )
    gain = (
        (chosen_probe.mean - random_h) / max(chosen_probe.horizon, 1)
        if chosen_probe is not None and probed and np.isfinite(random_h)
        else float("nan")
    )
    # Without a threshold, competence is provisional (the source-normalized value) until rank_teachers
    # compares the candidates' gains over random (module docstring).
    competence_value = competence if competence is not None else (zero if np.isfinite(zero) else 0.0)
    # A probe that ran but cannot be normalized (the teacher's own first-H source return is no better than
    # random's: −1 per step until the goal on Acrobot or MountainCar, with H shorter than the teacher needs)
    # says nothing about the mapping; the mapping search's own confidence stands in for it (module docstring).
    uninformative = bool(probed) and not np.isfinite(zero)
    similarity = float(dynamics["similarity"])
    stand_in = min(mapping_confidence, similarity) if uninformative else zero
    score = combine_score(compat, stand_in, competence_value, similarity)
    evidence["dynamics"] = dynamics
    evidence["zero_shot"] = {
        "normalized": zero,
        "episodes": probe_episodes if probed else 0,
        "horizon": probe_horizon if probed else 0,
        "return": chosen_probe.mean if chosen_probe is not None else float("nan"),
        "random_return": random_h if probed else float("nan"),
        "teacher_source_return": teacher_h if probed else float("nan"),
        "gain_per_step": gain,
        "uninformative": uninformative,
        "score_term": stand_in,
    }
    evidence["competence"] = {
        "value": competence_value,
        "basis": "reward_threshold" if competence is not None else "source-normalized (provisional)",
        "reward_threshold": reward_threshold(target.env),
        "source_tail": source_tail,
    }
    evidence["mapping"] = {
        "summary": mapping.describe(student_obs.dim),
        "confidence": mapping_confidence,
        "probed": len(probed),
    }
    evidence["source_env_steps"] = source_steps
    evidence["probe_env_steps"] = probe_steps
    return Ranking(
        teacher=card.name,
        score=score,
        mapping=mapping,
        evidence=evidence,
        env_steps=probe_steps,
        seconds=time.time() - started,
    )


def _split_budget(budget: int, horizon: int, teachers: int, *, random_share: float = RANDOM_SHARE) -> tuple[int, int]:
    """(random rollout steps, probe allowance per teacher)."""
    if not 0.0 < random_share < 1.0:
        raise ConfigError(f"random share {random_share} outside (0, 1)", fix="give a fraction such as 0.25")
    if budget < 50:
        raise ConfigError(f"budget {budget} is too small", fix=f"give at least 50 env steps (default {DEFAULT_BUDGET})")
    random_steps = min(budget, max(min(horizon, budget // 2), int(budget * random_share)))
    return random_steps, (budget - random_steps) // max(teachers, 1)


def find_mapping(teacher: Teacher, env: gym.Env[Any, Any], *, seed: int = 0, budget: int = 1000) -> Mapping:
    """The best mapping of `teacher` onto `env`, found with at most `budget` target env steps.

    Identity (confidence 1.0) when the spaces match and identity is best; otherwise the candidate the
    source one-step model prefers, confirmed by zero-shot episodes where the model finds several
    plausible (e.g. equal spaces with swapped actions). Raises IncompatibleSpacesError when no mapping
    bridges the spaces.
    """
    from rltransfer.errors import IncompatibleSpacesError

    random_steps, allowance = _split_budget(budget, env_horizon(env), 1, random_share=0.5)
    target = _Target(env, random_steps=random_steps, seed=seed)
    ranking = _assess(teacher, target, allowance=allowance, seed=seed)
    if ranking.evidence["space"]["compatibility"] == 0.0 or "reason" in ranking.evidence:
        raise IncompatibleSpacesError(
            f"no mapping bridges teacher {teacher.name} ({ranking.evidence['space']['teacher']}) and the target "
            f"({ranking.evidence['space']['target']})",
            fix="choose a teacher whose action space can be mapped, or give a mapping in YAML",
        )
    return ranking.mapping


def rank_teachers(
    env: str | gym.Env[Any, Any],
    zoo: str | Path | None = None,
    *,
    env_kwargs: dict[str, Any] | None = None,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    teachers: list[str] | None = None,
    random_share: float = RANDOM_SHARE,
) -> list[Ranking]:
    """Rank the zoo's teachers (or the named ones) for a target env, best first, within `budget` env steps.

    `random_share` of the budget goes to the shared random rollouts (at least one horizon's worth), the
    rest is split among the bridgeable teachers' zero-shot probes.
    """
    from rltransfer.make import make_env

    target_env = make_env(env, env_kwargs) if isinstance(env, str) else env
    names = list(teachers) if teachers is not None else list_teacher_names(zoo)
    if not names:
        raise UnknownTeacherError(
            f"no teachers in zoo {zoo if zoo is not None else 'default'}",
            fix="pass --zoo DIR, or train teachers with `rltransfer zoo train`",
        )
    loaded = [load_teacher(name, zoo) for name in names] if teachers is not None else load_teachers(zoo)
    try:
        started = time.time()
        bridgeable = [
            t for t in loaded if space_compatibility(t.card.observation_space, t.card.action_space, target_env) > 0
        ]
        random_steps, allowance = _split_budget(
            budget, env_horizon(target_env), len(bridgeable), random_share=random_share
        )
        target = _Target(target_env, random_steps=random_steps, seed=seed)
        shared_seconds = time.time() - started
        rankings = [_assess(teacher, target, allowance=allowance, seed=seed) for teacher in loaded]
    finally:
        if isinstance(env, str):
            target_env.close()
    rankings = _relative_competence(rankings)
    share_steps, share_seconds = random_steps / len(rankings), shared_seconds / len(rankings)
    rankings = [
        Ranking(
            teacher=r.teacher,
            score=r.score,
            mapping=r.mapping,
            evidence={**r.evidence, "shared_random_steps": random_steps},
            env_steps=round(r.env_steps + share_steps),
            seconds=r.seconds + share_seconds,
        )
        for r in rankings
    ]
    return sorted(rankings, key=lambda r: (-r.score, r.teacher))


def _relative_competence(rankings: list[Ranking]) -> list[Ranking]:
    """Without a reward threshold: competence = gain over random per step / the best candidate's (docstring)."""
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


def ranking_cost(rankings: list[Ranking]) -> int:
    """Total target env steps a ranking spent (shared random rollouts + every probe)."""
    if not rankings:
        return 0
    shared = int(rankings[0].evidence.get("shared_random_steps", 0))
    return shared + sum(int(r.evidence.get("probe_env_steps", 0)) for r in rankings)
