"""Successive halving over the screened teachers: short probes for every candidate, longer ones for the best.

Jamieson & Talwalkar (2016): n candidates get ⌈log₂ n⌉ rounds that share the probe budget equally. Each
round splits its share among the candidates still in and keeps the better half for the next, so the last
two are told apart on the longest probes. The first round searches and confirms each teacher's mapping
(rltransfer.selection.assess); later rounds probe only the mapping it confirmed, in whole episodes where
the share allows. A teacher's score and evidence are those of its last round, its score capped below those
that outlasted it (`cap_dropped`); its env steps add up over all its rounds, so the ranking's cost stays exact.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from rltransfer.selection.assess import assess
from rltransfer.selection.ranking import NEAR_TIE, Ranking
from rltransfer.selection.target import Target
from rltransfer.zoo import Teacher

FIRST_ROUND_SHARE = 0.5
"""Share of the probe budget the first round (every candidate) gets; later rounds share the rest equally."""


def halving_rounds(candidates: int) -> int:
    """⌈log₂ n⌉ rounds for n candidates (one for one or two: there is no one to drop)."""
    return max(1, math.ceil(math.log2(candidates))) if candidates > 0 else 0


def successive_halving(teachers: list[Teacher], target: Target, *, probe_budget: int, seed: int) -> list[Ranking]:
    """Each teacher's ranking from the last round it took part in, with evidence["halving"] saying which.

    The first round's share is FIRST_ROUND_SHARE of the budget, later rounds share the rest equally, and the last
    also gets what earlier rounds left unspent. Between rounds the better half by score stays in, with any
    teacher within NEAR_TIE of the last one kept (scores that close do not say which is better).
    """
    rounds = halving_rounds(len(teachers))
    first = probe_budget if rounds == 1 else int(probe_budget * FIRST_ROUND_SHARE)
    share = (probe_budget - first) // max(rounds - 1, 1)
    survivors = list(teachers)
    latest: dict[str, Ranking] = {}
    spent = {teacher.name: 0 for teacher in teachers}
    seconds = {teacher.name: 0.0 for teacher in teachers}
    history: dict[str, list[dict[str, Any]]] = {teacher.name: [] for teacher in teachers}
    for index in range(rounds):
        last = index == rounds - 1
        pool = probe_budget - sum(spent.values()) if last else first if index == 0 else share
        allowance = max(pool, 0) // len(survivors)
        for teacher in survivors:
            previous = latest.get(teacher.name)
            ranking = assess(
                teacher, target, allowance=allowance, seed=seed, keep=None if previous is None else previous.mapping
            )
            steps = int(ranking.evidence.get("probe_env_steps", 0))
            spent[teacher.name] += steps
            seconds[teacher.name] += ranking.seconds
            history[teacher.name].append({"round": index + 1, "allowance": allowance, "env_steps": steps})
            latest[teacher.name] = ranking
        if not last:
            ordered = sorted(survivors, key=lambda t: (-latest[t.name].score, t.name))
            half = math.ceil(len(survivors) / 2)
            bar = latest[ordered[half - 1].name].score - NEAR_TIE  # a near-tie with the last one kept is no evidence
            survivors = [t for i, t in enumerate(ordered) if i < half or latest[t.name].score >= bar]
    return [_total(latest[t.name], spent[t.name], seconds[t.name], history[t.name], rounds) for t in teachers]


def _total(ranking: Ranking, spent: int, seconds: float, rounds_taken: list[dict[str, Any]], rounds: int) -> Ranking:
    """The last round's ranking, costed over every round it took part in."""
    evidence = {
        **ranking.evidence,
        "probe_env_steps": spent,
        "halving": {"round": len(rounds_taken), "rounds": rounds, "per_round": rounds_taken},
    }
    return Ranking(
        teacher=ranking.teacher,
        score=ranking.score,
        mapping=ranking.mapping,
        evidence=evidence,
        env_steps=spent,
        seconds=seconds,
    )


def cap_dropped(rankings: list[Ranking]) -> list[Ranking]:
    """Each teacher halving dropped, its score capped at the lowest of those that outlasted it.

    Its score comes from a shorter probe than theirs, on which it already lost to them; so it never ranks
    above one of them. Teachers outside the halving (not probed, datasets) keep their score; the uncapped
    score stays in evidence["halving"]["uncapped_score"].
    """
    reached = {r.teacher: int(r.evidence.get("halving", {}).get("round", 0)) for r in rankings}
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
