"""DAgger (Ross et al. 2011): rounds of collecting states, labelling them with the teacher and fitting.

One loop serves `rltransfer distill` (a small student fitted from scratch) and the distil-initialise phase
of representation transfer (the RL student fitted before its first update). Round 0 holds states the
teacher visited; every later round holds states the student visited acting on its own, measured before
the student is fitted to them (held-out agreement), so the loop can stop once the student acts as the
teacher where it goes itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RoundStats:
    """One data round: who acted, how much data there is, and how well the student fits it.

    Attributes:
        round: 0 for the teacher's states, then 1, 2, ... for the student's.
        actor: "teacher" or "student".
        samples: Labelled states aggregated so far.
        env_steps: Target env steps spent on collection so far.
        loss: Distillation loss on all aggregated states after this round's fit (NaN: not fitted).
        train_agreement: Agreement with the teacher on all aggregated states after the fit.
        held_out_agreement: Agreement on this round's new states before the student was fitted to them
            (None for the teacher's round 0).
    """

    round: int
    actor: str
    samples: int
    env_steps: int
    loss: float
    train_agreement: float
    held_out_agreement: float | None = None


Collect = Callable[[int], tuple[np.ndarray, int]]
"""Round index → (states, env steps spent); round 0 collects with the teacher, later rounds with the student."""


def dagger(
    collect: Collect,
    fit: Callable[[np.ndarray], float],
    agreement: Callable[[np.ndarray], float],
    *,
    rounds: int,
    target: float | None = None,
    budget: int | None = None,
    round_steps: int = 0,
) -> list[RoundStats]:
    """Run round 0 and up to `rounds` student rounds; one RoundStats per round.

    Stops early when a student round's held-out agreement reaches `target` (that round is not fitted:
    the student already acts as the teacher), or when the next round of `round_steps` would take the
    collection past `budget` env steps.
    """
    data: list[np.ndarray] = []
    stats: list[RoundStats] = []
    env_steps = 0
    for index in range(rounds + 1):
        states, spent = collect(index)
        env_steps += spent
        held_out = agreement(states) if index > 0 else None
        data.append(states)
        all_states = np.concatenate(data)
        actor = "teacher" if index == 0 else "student"
        if target is not None and held_out is not None and held_out >= target:
            stats.append(RoundStats(index, actor, len(all_states), env_steps, math.nan, held_out, held_out))
            break
        loss = fit(all_states)
        stats.append(RoundStats(index, actor, len(all_states), env_steps, loss, agreement(all_states), held_out))
        if budget is not None and env_steps + round_steps > budget:
            break
    return stats
