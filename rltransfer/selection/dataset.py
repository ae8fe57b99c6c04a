"""Assess a teacher that is only data: a dataset scored by its dynamics similarity and its recorded return.

A dataset is replayed as recorded, so it must be in the target's spaces (its mapping is identity, made
when `rltransfer data export` recorded it). Dynamics: the one-step model fitted on its own transitions,
scored on the target's shared random rollouts over its held-out fit, plus state overlap (as for a policy
teacher's source model). Competence: its episodes' recorded return against the target's random return,
on the threshold scale when the target has one, else relative to the other candidates. Its recorded
return counts as a zero-shot return only when it was recorded in the target itself; otherwise it is a
return at home and the zero-shot term rests on the dynamics. It spends no target env step beyond the
shared random rollouts.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from rltransfer.data.store import Dataset
from rltransfer.mapping import Mapping
from rltransfer.rollouts import episode_limit, reward_threshold
from rltransfer.selection.model import fit_source_model
from rltransfer.selection.ranking import Ranking
from rltransfer.selection.scoring import MODEL_FIT_WEIGHT, OVERLAP_WEIGHT, combine_score, distribution_overlap
from rltransfer.selection.target import Target
from rltransfer.spaces import SpaceSignature
from rltransfer.transfer.instance import dataset_demonstrations
from rltransfer.transfer.probes import dataset_return

KIND = "dataset"
"""evidence["kind"] of a dataset's Ranking (policy teachers have none)."""


def _dynamics(dataset: Dataset, target: Target, *, seed: int) -> dict[str, Any]:
    transitions = dataset_demonstrations(dataset, steps=dataset.total_steps, in_target=False).as_rollout().transitions
    if len(transitions) < 20:
        return {"similarity": 0.0, "reason": f"{len(transitions)} transitions are too few for a one-step model"}
    model = fit_source_model(transitions, dataset.action_space, seed=seed)
    rollouts = target.rollouts
    z = model.standardize(rollouts.obs.astype(np.float64).reshape(len(rollouts.obs), -1))
    dz = (rollouts.next_obs.astype(np.float64).reshape(len(z), -1) - rollouts.obs.reshape(len(z), -1)) / model.std
    error = float(
        np.mean(np.mean((model.predict(z, model.encode(rollouts.actions)) - dz) ** 2, axis=0) / model.delta_var)
    )
    fit = float(np.clip((1.0 - error) / max(1.0 - model.heldout_error, 1e-6), 0.0, 1.0))
    overlap = distribution_overlap(
        model, transitions, Mapping.identity(SpaceSignature.of(dataset.observation_space)).obs, rollouts
    )
    return {
        "similarity": MODEL_FIT_WEIGHT * fit + OVERLAP_WEIGHT * overlap,
        "model_error": error,
        "source_model_error": model.heldout_error,
        "model_fit": fit,
        "distribution_overlap": overlap,
    }


def assess_dataset(dataset: Dataset, target: Target, *, seed: int) -> Ranking:
    """Score one dataset for the target (see the module docstring)."""
    started = time.time()
    name = dataset.dataset_id
    student_obs = SpaceSignature.of(target.env.observation_space)
    identity = Mapping.identity(student_obs)
    same = SpaceSignature.of(dataset.observation_space).same_as(student_obs) and SpaceSignature.of(
        dataset.action_space
    ).same_as(SpaceSignature.of(target.env.action_space))
    evidence: dict[str, Any] = {
        "kind": KIND,
        "path": str(dataset.path) if dataset.path is not None else None,
        "space": {"compatibility": 1.0 if same else 0.0, "student_dim": student_obs.dim},
        "probe_env_steps": 0,
    }
    if not same:
        evidence["reason"] = "a dataset in other spaces: record the teacher in the target with `rltransfer data export`"
        return Ranking(teacher=name, score=0.0, mapping=identity, evidence=evidence, seconds=time.time() - started)
    in_target = dataset.recorded_in(target.env)
    ended = dataset.ended_episodes
    recorded = dataset_return(dataset)
    length = float(np.mean([len(e) for e in ended]))
    limit = episode_limit(target.env)
    random_full = target.rollouts.random_return(limit or target.horizon)
    random_per_step = target.rollouts.random_return(target.horizon) / max(target.horizon, 1)
    threshold = reward_threshold(target.env)
    gain = recorded / max(length, 1.0) - random_per_step
    if threshold is not None and np.isfinite(random_full) and threshold - random_full > 1e-9:
        competence = float(np.clip((recorded - random_full) / (threshold - random_full), 0.0, 1.0))
        basis = "threshold"
    else:  # relative_competence puts it on the same scale as the other candidates
        competence = float(np.clip(gain, 0.0, 1.0)) if np.isfinite(gain) else 0.0
        basis = "source: recorded gain per step over random"
    dynamics = _dynamics(dataset, target, seed=seed)
    # recorded in the target its return is a zero-shot return: the term is its competence (1 without a
    # threshold, so relative_competence's value decides); recorded elsewhere it rests on the dynamics
    score_term = (competence if basis == "threshold" else 1.0) if in_target else float(dynamics["similarity"])
    evidence["dynamics"] = dynamics
    evidence["zero_shot"] = {
        "recorded_return": recorded,
        "recorded_in_target": in_target,
        "random_return": random_full,
        "gain_per_step": gain,
        "score_term": score_term,
        "normalized": float("nan"),
    }
    evidence["competence"] = {
        "value": competence,
        "basis": basis,
        "episodes": len(ended),
        "gain": recorded - random_full,  # over the target's whole episode, as the teachers' (relative_competence)
    }
    evidence["mapping"] = {"summary": "identity (a dataset is replayed as recorded)", "confidence": 1.0, "probed": 0}
    score = combine_score(1.0, score_term, competence, float(dynamics["similarity"]))
    return Ranking(teacher=name, score=score, mapping=identity, evidence=evidence, seconds=time.time() - started)
