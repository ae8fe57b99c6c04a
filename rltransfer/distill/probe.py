"""Check the mapped teacher before distilling: a few probe episodes against a random policy, counted steps.

A teacher that does no better than random in the target has nothing to teach, and finding that out
after the DAgger rounds wastes their whole budget. When the identity mapping (spaces that match) is what
fails, the mapping is searched as `rltransfer rank` does (rltransfer.selection.find_mapping) and the
found one is used if it beats random; otherwise distillation stops here with one line naming what was
tried and what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import gymnasium as gym

from rltransfer.distill.learning import resolve_mapping
from rltransfer.distill.report import TeacherCheckError
from rltransfer.mapping import MappedTeacher, Mapping
from rltransfer.rollouts import Evaluation, episode_limit, evaluate, random_act
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo import Teacher

PROBE_EPISODES = 5
"""Full episodes of the mapped teacher (and of the random policy) per probe."""
PROBE_SEED = 20_000_000
"""Probe episodes are reset with PROBE_SEED + 1000 × seed + i (apart from training and evaluation seeds)."""
UNLIMITED_EPISODE_STEPS = 1000
"""Probe episodes of an env without a time limit are cut here."""


class StepCounter(gym.Wrapper[Any, Any, Any, Any]):
    """Counts the env steps taken through it, so the checks report what they spent, not an estimate."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.steps = 0

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        """One env step, counted."""
        self.steps += 1
        return self.env.step(action)


@dataclass(kw_only=True, frozen=True)
class MappingTrial:
    """One mapping probed: how the mapped teacher did against the random policy on the same episodes."""

    mapping: str
    origin: str
    teacher_return: float
    random_return: float
    beats_random: bool
    env_steps: int

    def line(self) -> str:
        """E.g. 'identity mapping 9.6 vs random 21.6'."""
        name = "identity mapping" if self.origin == "identity" else f"{self.origin} mapping ({self.mapping})"
        return f"{name} {self.teacher_return:.4g} vs random {self.random_return:.4g}"


@dataclass(kw_only=True, frozen=True)
class TeacherCheck:
    """The mapping distillation goes on with, every mapping tried, and the env steps it all cost."""

    mapping: Mapping
    trials: tuple[MappingTrial, ...]
    episodes: int
    env_steps: int
    search_found_identity: bool = False
    problem: str = ""
    fix: str = ""

    @property
    def passed(self) -> bool:
        """Whether the mapping used beats random in the probe episodes."""
        return self.trials[-1].beats_random

    @property
    def searched_after_identity(self) -> bool:
        """Whether the identity mapping failed and a searched mapping is used instead."""
        return len(self.trials) > 1 and self.trials[0].origin == "identity" and self.trials[-1].beats_random

    def summary(self) -> str:
        """One line for the report: what was probed and what is used."""
        tried = "; ".join(
            f"{trial.line()} ({'beats random' if trial.beats_random else 'no better than random'})"
            for trial in self.trials
        )
        used = "using the searched mapping" if self.searched_after_identity else "using it"
        return f"{tried}, over {self.episodes} probe episodes; {used} ({self.env_steps} env steps)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record for distill.json."""
        return {
            "summary": self.summary(),
            "passed": self.passed,
            "episodes": self.episodes,
            "env_steps": self.env_steps,
            "searched_after_identity": self.searched_after_identity,
            "search_found_identity": self.search_found_identity,
            "trials": [
                {
                    "mapping": trial.mapping,
                    "origin": trial.origin,
                    "teacher_return": trial.teacher_return,
                    "random_return": trial.random_return,
                    "beats_random": trial.beats_random,
                    "env_steps": trial.env_steps,
                }
                for trial in self.trials
            ],
        }


def beats_random(teacher: float, random: float) -> bool:
    """The return gate's own test of 'better than random' (rltransfer.distill.report.return_gate)."""
    return bool(teacher - random > 1e-9 * max(1.0, abs(teacher), abs(random)))


def check_teacher(
    teacher: Teacher,
    env: gym.Env[Any, Any],
    mapping: Mapping | str | os.PathLike[str] | None,
    *,
    env_id: str,
    seed: int,
    zoo: str | os.PathLike[str] | None = None,
    episodes: int = PROBE_EPISODES,
    strict: bool = True,
) -> TeacherCheck:
    """Resolve the mapping and probe the mapped teacher; search it when identity is no better than random.

    With `strict` False a failed check is returned (its `problem` and `fix` filled in) instead of raised.

    Raises:
        TeacherCheckError: `strict`, and the teacher under every mapping tried is no better than random
            (exit code 1).
    """
    counter = StepCounter(env)
    dim = SpaceSignature.of(env.observation_space).dim
    probe_seed = PROBE_SEED + 1000 * seed
    max_steps = episode_limit(env) or UNLIMITED_EPISODE_STEPS
    env.action_space.seed(probe_seed)
    random = evaluate(counter, random_act(env.action_space), episodes=episodes, seed=probe_seed, max_steps=max_steps)

    def trial(candidate: Mapping, origin: str, since: int) -> MappingTrial:
        result = _probe(teacher, candidate, counter, episodes=episodes, seed=probe_seed, max_steps=max_steps)
        return MappingTrial(
            mapping=candidate.describe(dim),
            origin=origin,
            teacher_return=result.mean,
            random_return=random.mean,
            beats_random=beats_random(result.mean, random.mean),
            env_steps=counter.steps - since,
        )

    since = counter.steps
    chosen, origin = resolve_mapping(teacher, counter, mapping, seed=seed)
    trials = [trial(chosen, origin, since)]
    found_identity = False
    if not trials[0].beats_random and origin == "identity":
        since = counter.steps
        searched, _ = resolve_mapping(teacher, counter, "search", seed=seed)
        found_identity = searched.obs == chosen.obs and searched.action == chosen.action
        if not found_identity:
            trials.append(trial(searched, "searched", since))
            chosen = searched
    check = TeacherCheck(
        mapping=chosen,
        trials=tuple(trials),
        episodes=episodes,
        env_steps=counter.steps,
        search_found_identity=found_identity,
    )
    if check.passed:
        return check
    check = _explained(teacher, env_id, check, zoo=zoo)
    if strict:
        raise TeacherCheckError(f"{check.problem}; nothing trained or written", fix=check.fix, check=check.to_dict())
    return check


def _probe(
    teacher: Teacher, mapping: Mapping, env: gym.Env[Any, Any], *, episodes: int, seed: int, max_steps: int
) -> Evaluation:
    """Full episodes (up to `max_steps`) of the deterministic mapped teacher."""
    mapped = MappedTeacher(teacher, mapping, env.action_space)
    return evaluate(env, mapped.act, episodes=episodes, seed=seed, max_steps=max_steps)


def _explained(
    teacher: Teacher, env_id: str, check: TeacherCheck, *, zoo: str | os.PathLike[str] | None
) -> TeacherCheck:
    """The failed check with its problem (every mapping tried, its probe returns) and the one thing to do."""
    tried = ", ".join(trial.line() for trial in check.trials)
    if check.search_found_identity:
        tried += "; the mapping search found no other mapping"
    if check.trials[-1].origin == "given":
        fix = "try --mapping search"
    else:
        zoo_arg = f" --zoo {zoo}" if zoo is not None else ""
        fix = f"choose another teacher (rltransfer rank --env {env_id}{zoo_arg} ranks the zoo's teachers for it)"
    problem = (
        f"teacher {teacher.name} does no better than a random policy on {env_id} over {check.episodes} probe "
        f"episodes: {tried} ({check.env_steps} env steps)"
    )
    return replace(check, problem=problem, fix=fix)


__all__ = ["PROBE_EPISODES", "MappingTrial", "StepCounter", "TeacherCheck", "beats_random", "check_teacher"]
