"""Successive halving over the screened teachers: short probes for every candidate, longer ones for the best.

One halving step of Jamieson & Talwalkar's (2016) successive halving. Round 1 gives every candidate an equal
share of half the probe budget: each teacher's mapping is searched and confirmed (rltransfer.selection.assess).
Round 2 gives the other half to the better half by score, and to any teacher within NEAR_TIE of the last one
kept (scores that close are not evidence), so each probe is at least as long as in round 1 and usually twice.
A kept teacher whose round-1 probe confirmed its mapping, or whose mapping is CONFIDENT, is probed on that
mapping alone, in whole episodes where its share allows; the others have their plausible mappings probed
again, longer. A dropped teacher is capped below the survivors (`cap_dropped`). Env steps add up over both
rounds, so the ranking's cost stays exact. More rounds were measured and not kept: their first round was too
short to tell (docs/decisions.md).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from rltransfer.mapping import Mapping
from rltransfer.selection.assess import assess
from rltransfer.selection.ranking import NEAR_TIE, Ranking, halving_round
from rltransfer.selection.target import Target
from rltransfer.zoo import Teacher

FIRST_ROUND_SHARE = 0.5
"""Share of the probe budget round 1 (every candidate) gets; round 2 (the better half) gets the rest."""


CONFIDENT = 0.8
"""Mapping confidence from which round 2 probes round 1's mapping alone even when round 1's probe told nothing
(identity between equal spaces has 1.0; found maps of 0.5-0.8 were right 97% of the time, results/mapping.md)."""


def halving_rounds(candidates: int) -> int:
    """Rounds for n candidates: 2 from three on, 1 for one or two (there is no one to drop), 0 for none."""
    return 0 if candidates <= 0 else 1 if candidates <= 2 else 2


def successive_halving(teachers: list[Teacher], target: Target, *, probe_budget: int, seed: int) -> list[Ranking]:
    """Each teacher's ranking from the last round it took part in, with evidence["halving"] saying which.

    Nobody is dropped after a round 1 that could not probe any teacher (too small a budget): then the
    round-1 rankings stand and round 2's half is not spent.
    """
    rounds = halving_rounds(len(teachers))
    first = probe_budget if rounds == 1 else int(probe_budget * FIRST_ROUND_SHARE)
    latest: dict[str, Ranking] = {}
    history: dict[str, list[dict[str, Any]]] = {teacher.name: [] for teacher in teachers}
    survivors = list(teachers)
    for index in range(rounds):
        pool = first if index == 0 else probe_budget - _spent(history)
        allowance = max(pool, 0) // len(survivors)
        for teacher in survivors:
            previous = latest.get(teacher.name)
            ranking = assess(teacher, target, allowance=allowance, seed=seed, keep=_confirmed(previous))
            steps = int(ranking.evidence.get("probe_env_steps", 0))
            history[teacher.name].append(
                {"round": index + 1, "allowance": allowance, "env_steps": steps, "seconds": ranking.seconds}
            )
            latest[teacher.name] = ranking
        if index + 1 < rounds:
            if not any(latest[t.name].evidence.get("probe_env_steps", 0) for t in survivors):
                break
            ordered = sorted(survivors, key=lambda t: (-latest[t.name].score, t.name))
            half = math.ceil(len(survivors) / 2)
            bar = latest[ordered[half - 1].name].score - NEAR_TIE
            survivors = [t for i, t in enumerate(ordered) if i < half or latest[t.name].score >= bar]
    return [_total(latest[t.name], history[t.name], rounds) for t in teachers]


def _spent(history: dict[str, list[dict[str, Any]]]) -> int:
    return sum(int(step["env_steps"]) for steps in history.values() for step in steps)


def _confirmed(previous: Ranking | None) -> Mapping | None:
    """Round 1's mapping when its probe confirmed it or its confidence is CONFIDENT; else None: confirm again."""
    if previous is None:
        return None
    block = previous.evidence.get("zero_shot", {})
    probed = bool(block.get("episodes", 0)) and not block.get("uninformative", True)
    return previous.mapping if probed or previous.mapping.confidence >= CONFIDENT else None


def _total(ranking: Ranking, rounds_taken: list[dict[str, Any]], rounds: int) -> Ranking:
    """The last round's ranking, costed over every round it took part in."""
    spent = sum(int(step["env_steps"]) for step in rounds_taken)
    seconds = sum(float(step["seconds"]) for step in rounds_taken)
    evidence = {
        **ranking.evidence,
        "probe_env_steps": spent,
        "halving": {"round": len(rounds_taken), "rounds": rounds, "per_round": rounds_taken},
    }
    return replace(ranking, evidence=evidence, env_steps=spent, seconds=seconds)


def cap_dropped(rankings: list[Ranking]) -> list[Ranking]:
    """Each teacher halving dropped, its score capped at the lowest of those that outlasted it.

    Its score comes from a shorter probe than theirs, on which it already lost to them; so it never ranks
    above one of them. Teachers outside the halving (not probed, datasets) keep their score; the uncapped
    score stays in evidence["halving"]["uncapped_score"].
    """
    reached = {r.teacher: halving_round(r) for r in rankings}
    capped = []
    for ranking in rankings:
        mine = reached[ranking.teacher]
        later = [r.score for r in rankings if mine > 0 and reached[r.teacher] > mine]
        score = min([ranking.score, *later])
        if score < ranking.score:
            halving = {**ranking.evidence["halving"], "uncapped_score": ranking.score}
            ranking = replace(ranking, score=score, evidence={**ranking.evidence, "halving": halving})
        capped.append(ranking)
    return capped
