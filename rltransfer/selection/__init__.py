"""Rank the zoo's teachers for a target environment without a single gradient step.

Per teacher: search the mapping onto the target (rltransfer.selection.search, from a one-step model of
its source task), probe the mapped teacher zero-shot in the target, and score compatibility, competence
and dynamics similarity (rltransfer.selection.scoring). Every target env step goes through
rltransfer.selection.target within one budget, so a ranking's cost is exact. Why the score is made as
it is: docs/decisions.md, "Selection".
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from rltransfer.data.store import Dataset
from rltransfer.errors import IncompatibleSpacesError, UnknownTeacherError
from rltransfer.make import make_env
from rltransfer.mapping import Mapping
from rltransfer.policies import check_action_space
from rltransfer.selection.assess import assess
from rltransfer.selection.calibration import shipped_calibration
from rltransfer.selection.dataset import assess_dataset
from rltransfer.selection.halving import cap_dropped, successive_halving
from rltransfer.selection.ranking import (
    NEAR_TIE,
    ROUTES,
    SCRATCH_THRESHOLD,
    Ranking,
    order_rankings,
    ranking_cost,
    recommendation,
)
from rltransfer.selection.scoring import (
    ZERO_SHOT_WEIGHT,
    combine_score,
    relative_competence,
    space_compatibility,
    target_competence,
)
from rltransfer.selection.student import Student, with_routes
from rltransfer.selection.target import (
    DEFAULT_BUDGET,
    RANDOM_SHARE,
    SOURCE_STEPS,
    TOO_SHORT_NOTE,
    Target,
    env_horizon,
    source_transitions,
    split_budget,
)
from rltransfer.zoo import Teacher, list_teacher_names, load_teacher, load_teachers

__all__ = [
    "DEFAULT_BUDGET",
    "NEAR_TIE",
    "RANDOM_SHARE",
    "ROUTES",
    "SCRATCH_THRESHOLD",
    "SCREEN_SHARE",
    "SOURCE_STEPS",
    "TOO_SHORT_NOTE",
    "ZERO_SHOT_WEIGHT",
    "Ranking",
    "Student",
    "combine_score",
    "find_mapping",
    "order_rankings",
    "rank_teachers",
    "ranking_cost",
    "recommendation",
    "relative_competence",
    "source_transitions",
    "space_compatibility",
    "target_competence",
]


def find_mapping(teacher: Teacher, env: gym.Env[Any, Any], *, seed: int = 0, budget: int = 1000) -> Mapping:
    """The best mapping of `teacher` onto `env`, found with at most `budget` target env steps.

    The source one-step model's plausible candidates, confirmed by zero-shot episodes; identity, when the
    spaces allow it, is always probed and kept unless another mapping is clearly better
    (rltransfer.selection.confirm). The evidence names the rule applied and the runner-up. Raises
    IncompatibleSpacesError when no mapping bridges the spaces.
    """
    random_steps, allowance = split_budget(budget, env_horizon(env), 1, random_share=0.5)
    target = Target(env, random_steps=random_steps, seed=seed)
    ranking = assess(teacher, target, allowance=allowance, seed=seed)
    if ranking.evidence["space"]["compatibility"] == 0.0 or "reason" in ranking.evidence:
        raise IncompatibleSpacesError(
            f"no mapping bridges teacher {teacher.name} ({ranking.evidence['space']['teacher']}) and the target "
            f"({ranking.evidence['space']['target']})",
            fix="choose a teacher whose action space can be mapped, or give a mapping in YAML",
        )
    return ranking.mapping


SCREEN_SHARE = 0.6
"""A teacher is probed when its free score (space compatibility × dynamics similarity, found without a target
step) is at least this share of the best one's; the probe budget is split among those alone."""


def _screen(loaded: list[Teacher], target: Target, *, seed: int) -> tuple[list[Ranking], set[str]]:
    """Every teacher assessed without probes, and the names of those worth probing (SCREEN_SHARE)."""
    screened = [assess(teacher, target, allowance=0, seed=seed) for teacher in loaded]
    free = {
        r.teacher: float(r.evidence["space"]["compatibility"])
        * float(r.evidence.get("dynamics", {}).get("similarity", 0.0))
        for r in screened
    }
    best = max(free.values(), default=0.0)
    kept = {name for name, value in free.items() if value > 0 and value >= SCREEN_SHARE * best}
    marked = [
        Ranking(
            teacher=r.teacher,
            score=r.score,
            mapping=r.mapping,
            evidence={
                **r.evidence,
                "screen": {
                    "free_score": free[r.teacher],
                    "best_free_score": best,
                    "probed": r.teacher in kept,
                    "note": "" if r.teacher in kept else f"not probed: free score below {SCREEN_SHARE} of the best",
                },
            },
            env_steps=r.env_steps,
            seconds=r.seconds,
        )
        for r in screened
    ]
    return marked, kept


def _with_screen(probed: Ranking, screen: Ranking) -> Ranking:
    """A probed teacher's ranking, carrying its screening evidence and the screening's time."""
    evidence = {**probed.evidence, "screen": screen.evidence["screen"]}
    return Ranking(
        teacher=probed.teacher,
        score=probed.score,
        mapping=probed.mapping,
        evidence=evidence,
        env_steps=probed.env_steps,
        seconds=probed.seconds + screen.seconds,
    )


def _predicted(ranking: Ranking) -> dict[str, Any]:
    """evidence["predicted_benefit"]: the shipped calibration's transfer ratio for this score, with its interval."""
    calibration = shipped_calibration()
    if calibration is None or "reason" in ranking.evidence:
        return {}
    return {
        "predicted_benefit": {
            **calibration.predict(ranking.score),
            "interval": "80%",
            "basis": f"{calibration.points} measured teacher-target pairs of "
            f"{calibration.source.get('method', 'representation')} transfer "
            f"({calibration.source.get('matrix_date', 'date unknown')}; rltransfer.selection.calibration)",
        }
    }


def rank_teachers(
    env: str | gym.Env[Any, Any],
    zoo: str | Path | None = None,
    *,
    env_kwargs: dict[str, Any] | None = None,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    teachers: list[str] | None = None,
    random_share: float = RANDOM_SHARE,
    datasets: Sequence[Dataset] = (),
    student: Student | None = None,
) -> list[Ranking]:
    """Rank the zoo's teachers (or the named ones) and `datasets` for a target env, best first, within `budget`.

    `random_share` of the budget goes to the shared random rollouts (at least one horizon's worth). Every
    teacher is first screened for free (signatures, mapping search on its stored transitions, dynamics
    similarity on the shared rollouts); the rest of the budget goes to the zero-shot probes of those the
    screen keeps (SCREEN_SHARE), by successive halving (rltransfer.selection.halving): the best of them are
    probed longest. A dataset is scored without probes
    (rltransfer.selection.dataset). With a `student`, each ranking's evidence["transfer"] says how the teacher
    would reach it (weights copy, distillation, data only), and near-ties go to the cheaper route (order_rankings).
    """
    target_env = make_env(env, env_kwargs) if isinstance(env, str) else env
    spaces = target_env.observation_space, target_env.action_space
    env_id = env if isinstance(env, str) else (target_env.spec.id if target_env.spec is not None else None)
    names = list(dict.fromkeys(teachers)) if teachers is not None else list_teacher_names(zoo)
    if not names and not datasets:
        raise UnknownTeacherError(
            f"no teachers in zoo {zoo if zoo is not None else 'default'}",
            fix="pass --zoo DIR, or train teachers with `rltransfer zoo train`",
        )
    loaded = [load_teacher(name, zoo) for name in names] if teachers is not None else load_teachers(zoo)
    try:
        if student is not None:
            check_action_space(student.algo, target_env.action_space, env_id=env_id or "the target")
        started = time.time()
        bridgeable = [
            t for t in loaded if space_compatibility(t.card.observation_space, t.card.action_space, target_env) > 0
        ]
        random_steps, _ = split_budget(budget, env_horizon(target_env), len(bridgeable), random_share=random_share)
        target = Target(target_env, random_steps=random_steps, seed=seed)
        shared_seconds = time.time() - started
        screened, kept = _screen(loaded, target, seed=seed)
        candidates = [teacher for teacher in loaded if teacher.name in kept]
        probed = successive_halving(candidates, target, probe_budget=budget - random_steps, seed=seed)
        by_name = {r.teacher: r for r in probed}
        rankings = [
            _with_screen(by_name[screen.teacher], screen) if screen.teacher in by_name else screen
            for screen in screened
        ]
        rankings += [assess_dataset(dataset, target, seed=seed) for dataset in datasets]
    finally:
        if isinstance(env, str):
            target_env.close()
    rankings = cap_dropped(relative_competence(rankings))
    share_steps, remainder = divmod(random_steps, len(rankings))  # the shared rollouts' steps, summing exactly
    share_seconds = shared_seconds / len(rankings)
    rankings = [
        Ranking(
            teacher=r.teacher,
            score=r.score,
            mapping=r.mapping,
            evidence={**r.evidence, "shared_random_steps": random_steps, **_predicted(r)},
            env_steps=r.env_steps + share_steps + (i < remainder),
            seconds=r.seconds + share_seconds,
        )
        for i, r in enumerate(rankings)
    ]
    if student is not None:
        teachers_by_name = {teacher.name: teacher for teacher in loaded}
        rankings = with_routes(rankings, teachers_by_name, student, *spaces, env_id=env_id)
    return order_rankings(rankings)
