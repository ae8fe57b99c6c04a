"""The target side of a ranking: its budget, its shared random rollouts, the zero-shot probes and what they tell.

Every target env step a ranking spends goes through `Target`, so what a ranking cost is counted in one
place. Returns are compared over a common *horizon* H (the first H steps of each episode): the random
policy's return in the target, the mapped teacher's return in the target and the teacher's own return
on its source task, read from its stored transitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rltransfer.errors import ConfigError, RLTransferError
from rltransfer.make import make_env
from rltransfer.mapping import MappedTeacher, Mapping
from rltransfer.rollouts import (
    ActFn,
    Transitions,
    episode_limit,
    evaluate,
    policy_act,
    random_act,
    rollout,
    sample_transitions,
)
from rltransfer.zoo import Teacher

DEFAULT_BUDGET = 1000
"""Target env steps a whole ranking may spend (random rollouts + zero-shot probes); see docs/decisions.md."""
RANDOM_SHARE = 1 / 3
"""Share of the budget spent on the shared random-policy rollouts (the rest on zero-shot probes)."""
DEFAULT_HORIZON = 200
"""Probe episodes are cut after this many steps (or the env's own limit, if shorter)."""
SOURCE_STEPS = 2000
"""Source transitions sampled for a teacher that has none stored (source env steps, not target)."""
_PROBE_SEED_OFFSET = 7919


@dataclass(frozen=True, eq=False, kw_only=True)
class Rollouts(Transitions):
    """Transitions of a random policy in the target (the target side of every dynamics comparison).

    Attributes:
        episode_rewards: Rewards of each episode, and whether it ended (terminated or truncated).
    """

    episode_rewards: tuple[tuple[np.ndarray, bool], ...] = ()

    @property
    def env_steps(self) -> int:
        """Environment steps the rollouts cost."""
        return len(self.obs)

    def random_returns(self, horizon: int) -> list[float]:
        """Random-policy returns over the first `horizon` steps of the episodes that reached it or ended."""
        return [float(r[:horizon].sum()) for r, ended in self.episode_rewards if ended or len(r) >= horizon]

    def random_return(self, horizon: int) -> float:
        """Mean of `random_returns`; nan when no episode qualifies."""
        returns = self.random_returns(horizon)
        return float(np.mean(returns)) if returns else float("nan")


def env_horizon(env: gym.Env[Any, Any], cap: int = DEFAULT_HORIZON) -> int:
    """min(cap, the env's max_episode_steps) — the horizon of returns compared by selection."""
    limit = episode_limit(env)
    return min(int(cap), limit) if limit else int(cap)


def random_rollouts(env: gym.Env[Any, Any], *, steps: int, seed: int) -> Rollouts:
    """Run a uniformly random policy for `steps` env steps (natural episodes, seeded), kept in float64."""
    env.action_space.seed(seed)
    run = rollout(env, random_act(env.action_space), steps=steps, seed=seed, dtype=np.float64)
    return Rollouts(**run.arrays, episode_rewards=run.episodes)


@dataclass(frozen=True)
class ProbeResult:
    """Zero-shot episodes of a (mapped) teacher in the target, each cut at `horizon` steps.

    `cut[i]` is True when episode i was stopped by the probe's horizon (it had neither terminated nor been
    truncated by the env): its return covers only the first `horizon` steps of a longer episode.
    """

    returns: tuple[float, ...]
    horizon: int
    env_steps: int
    cut: tuple[bool, ...] = ()

    @property
    def mean(self) -> float:
        """Mean return over the probe episodes."""
        return float(np.mean(self.returns)) if self.returns else float("nan")


def zero_shot(env: gym.Env[Any, Any], act: ActFn, *, episodes: int, horizon: int, seed: int) -> ProbeResult:
    """Run `episodes` deterministic episodes of `act`, cut at `horizon` ≥ 1 steps (episode i reset with seed + i)."""
    run = evaluate(env, act, episodes=episodes, seed=seed, max_steps=horizon)
    return ProbeResult(returns=run.returns, horizon=horizon, env_steps=run.env_steps, cut=run.cut)


def source_returns(transitions: Transitions, *, horizon: int, source: int = 1) -> list[float]:
    """First-`horizon` returns of the episodes in stored transitions with the given source flag.

    Episodes are cut where `terminated` is set or where an observation does not continue the previous
    next_obs (a reset); an episode cut off by the end of the data before `horizon` steps is dropped.
    """
    rows = np.flatnonzero(transitions.source == source)
    if rows.size == 0:
        return []
    obs = transitions.obs[rows]
    next_obs = transitions.next_obs[rows]
    rewards = transitions.rewards[rows].astype(np.float64)
    terminated = transitions.terminated[rows].astype(bool)
    returns: list[float] = []
    total, length = 0.0, 0
    for i in range(len(rows)):
        if i > 0 and (
            terminated[i - 1] or rows[i] != rows[i - 1] + 1 or not np.allclose(obs[i], next_obs[i - 1], atol=1e-6)
        ):
            if not terminated[i - 1] and 0 < length < horizon:
                returns.append(total)  # truncated by the source's own time limit
            total, length = 0.0, 0
        length += 1
        if length <= horizon:
            total += float(rewards[i])
        if length == horizon or (terminated[i] and length < horizon):
            returns.append(total)
    return returns


def source_reference(teacher: Teacher, transitions: Transitions | None, horizon: int) -> float:
    """The teacher's own first-`horizon` return on its source task (card's eval mean without transitions)."""
    if transitions is not None:
        returns = source_returns(transitions, horizon=horizon)
        if returns:
            return float(np.mean(returns))
    return teacher.card.eval_mean


def normalized_return(value: float, random_return: float, teacher_return: float) -> float:
    """(value − random) / (teacher − random): 0 = the random policy, 1 = the teacher on its own task.

    nan when the teacher is no better than random (the scale is undefined).
    """
    gap = teacher_return - random_return
    if not np.isfinite(gap) or not np.isfinite(value) or gap <= 1e-9 * max(1.0, abs(teacher_return)):
        return float("nan")
    return float((value - random_return) / gap)


def split_budget(budget: int, horizon: int, teachers: int, *, random_share: float = RANDOM_SHARE) -> tuple[int, int]:
    """(random rollout steps, probe allowance per teacher)."""
    if not 0.0 < random_share < 1.0:
        raise ConfigError(f"random share {random_share} outside (0, 1)", fix="give a fraction such as 0.25")
    if budget < 50:
        raise ConfigError(f"budget {budget} is too small", fix=f"give at least 50 env steps (default {DEFAULT_BUDGET})")
    random_steps = min(budget, max(min(horizon, budget // 2), int(budget * random_share)))
    return random_steps, (budget - random_steps) // max(teachers, 1)


def source_transitions(teacher: Teacher, *, seed: int) -> tuple[Transitions | None, int]:
    """The teacher's stored source transitions, else SOURCE_STEPS sampled in its source env (and how many)."""
    stored = teacher.load_transitions()
    if stored is not None:
        return Transitions.from_arrays(stored), 0
    try:
        env = make_env(teacher.card.env_id, teacher.card.env_kwargs)
    except RLTransferError:
        return None, 0
    try:
        sampled = sample_transitions(env, policy_act(teacher.policy), steps=SOURCE_STEPS, seed=seed)
        return Transitions.from_arrays(sampled), SOURCE_STEPS
    finally:
        env.close()


class Target:
    """The target env with its shared random rollouts; every probe goes through here."""

    def __init__(self, env: gym.Env[Any, Any], *, random_steps: int, seed: int) -> None:
        self.env = env
        self.seed = seed
        self.horizon = env_horizon(env)
        self.rollouts: Rollouts = random_rollouts(env, steps=random_steps, seed=seed)

    def is_home_of(self, teacher: Teacher) -> bool:
        """Whether the teacher was trained on this very task (same id and the same resolved kwargs).

        There identity is the mapping by construction: a symmetric system's mirror map fits the one-step
        model as well or, by sampling noise, better (Pendulum: the teacher on its own task was mapped
        flipped, docs/decisions.md).
        """
        spec, card = self.env.spec, teacher.card
        if spec is None or spec.id != card.env_id:
            return False
        try:
            home = {**gym.spec(card.env_id).kwargs, **card.env_kwargs}
        except gym.error.Error:
            return False
        return home == {**spec.kwargs}

    def probe(self, teacher: Teacher, mapping: Mapping, *, episodes: int, horizon: int) -> ProbeResult:
        """`episodes` zero-shot episodes of the mapped teacher, cut at `horizon`."""
        mapped = MappedTeacher(teacher, mapping, self.env.action_space)
        return zero_shot(
            self.env,
            lambda obs: mapped.act(obs),
            episodes=episodes,
            horizon=horizon,
            seed=self.seed + _PROBE_SEED_OFFSET,
        )


TOO_SHORT = 1.25
"""A normalized zero-shot return above this from episodes the probe horizon cut flags the probe too short..."""
NOISY = 0.5
"""...as does a probe noise (`probe_noise`) above this, in normalized-return units."""
TOO_SHORT_NOTE = "probe too short: episodes did not end"


def probe_noise(at_home: list[float], random_in_target: list[float], gap: float, episodes: int) -> float:
    """Standard error of one normalized zero-shot return (0 when it cannot be estimated).

    How much first-H returns vary from episode to episode, at home (the teacher's stored source episodes)
    and in the target (the shared random episodes), over the teacher-random gap and √episodes.
    """
    spreads = [float(np.var(r, ddof=1)) for r in (at_home, random_in_target) if len(r) >= 2]
    if not spreads or not np.isfinite(gap) or gap <= 1e-9:
        return 0.0
    return float(np.sqrt(sum(spreads)) / gap / np.sqrt(max(episodes, 1)))


def probe_too_short(normalized: float, result: ProbeResult, noise: float, *, constant_random: bool = False) -> bool:
    """Whether a probe was too short to tell: episodes still running, and far above 1, too noisy or censored.

    Far above 1: normalized return above TOO_SHORT; too noisy: `probe_noise` above NOISY. Over the first
    few steps of a long episode the teacher's own source return hardly differs from random's, so the
    ratio is noise (LunarLander: 2.74 after 27 steps); it confirms nothing. Censored: every episode cut, no
    better than random, where random's reward per step never varies (a constant reward until a
    goal, Acrobot's −1): it shows only that the goal was not reached within H, not that the teacher acts
    like random.
    """
    censored = constant_random and all(result.cut) and normalized <= 0
    far_above = np.isfinite(normalized) and normalized > TOO_SHORT
    return bool(any(result.cut) and np.isfinite(normalized) and (far_above or noise > NOISY or censored))
