"""Policy → evaluated zoo entry: the one way a trained, imported or distilled policy joins a zoo."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from stable_baselines3.common.policies import BasePolicy

from rltransfer.errors import ConfigError
from rltransfer.make import env_family
from rltransfer.rollouts import ActFn, Evaluation, evaluate, policy_act, sample_transitions
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo.card import TeacherCard
from rltransfer.zoo.store import save_teacher


@dataclass(kw_only=True, frozen=True)
class ZooEntry:
    """What a publisher knows about a policy that neither the policy nor its evaluation can tell.

    Attributes:
        name: Folder name in the zoo.
        env_id: Gymnasium id of the task the policy acts in.
        env_kwargs: gym.make kwargs of that task.
        algo: SB3 algorithm name.
        policy_kwargs: SB3 policy kwargs (encoded for the card on save).
        n_timesteps: Env steps that made the policy.
        seed: Seed that made the policy.
        hyperparams: Settings of record.
        notes: One line about where the policy comes from.
        family: Task family (default: derived from the env id).
    """

    name: str
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    n_timesteps: int
    seed: int
    hyperparams: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    family: str = ""


def publish_teacher(
    policy: BasePolicy,
    out_dir: str | os.PathLike[str],
    *,
    entry: ZooEntry,
    env: gym.Env[Any, Any],
    act: ActFn | None = None,
    evaluation: Evaluation | None = None,
    eval_episodes: int = 0,
    eval_seed: int = 0,
    transitions: int = 0,
    transitions_seed: int = 0,
    overwrite: bool = False,
) -> TeacherCard:
    """Evaluate `policy` on `env`, fill its card, sample its transitions and write `out_dir`.

    Args:
        policy: The SB3 policy to save; its spaces go on the card.
        out_dir: The teacher folder to write (atomically).
        entry: The card fields the caller knows.
        env: The entry's task, open; used for evaluation and transitions, not closed here.
        act: How the policy acts in `env` (default: the deterministic policy).
        evaluation: Episodes already run (e.g. for a gate); None runs `eval_episodes` from `eval_seed`.
        eval_episodes: Evaluation episodes when `evaluation` is None.
        eval_seed: Seed of the first evaluation episode.
        transitions: Transitions to sample and store (half random policy, half `act`); 0 stores none.
        transitions_seed: Seed of the transition sampling.
        overwrite: Replace an existing `out_dir`.

    Returns:
        The card as written, checksums filled in.
    """
    act = act if act is not None else policy_act(policy)
    if evaluation is None:
        if eval_episodes < 1:
            raise ConfigError(
                f"{eval_episodes} is not a positive number of evaluation episodes", fix="evaluate 1 or more"
            )
        evaluation = evaluate(env, act, episodes=eval_episodes, seed=eval_seed)
    card = TeacherCard(
        name=entry.name,
        env_id=entry.env_id,
        env_kwargs=entry.env_kwargs,
        family=entry.family or env_family(entry.env_id),
        algo=entry.algo,
        policy_kwargs=_with_sde(policy, entry.policy_kwargs),
        observation_space=SpaceSignature.of(policy.observation_space),
        action_space=SpaceSignature.of(policy.action_space),
        n_timesteps=entry.n_timesteps,
        seed=entry.seed,
        evaluation=evaluation.to_dict(),
        hyperparams=entry.hyperparams,
        notes=entry.notes,
    )
    data = sample_transitions(env, act, steps=transitions, seed=transitions_seed) if transitions else None
    return save_teacher(policy, card, out_dir, transitions=data, overwrite=overwrite)


def _with_sde(policy: BasePolicy, policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The card's policy kwargs, with `use_sde` when the policy was built with gSDE.

    SB3 passes use_sde to the policy beside policy_kwargs, not in them; without it on the card the loader
    builds a plain Gaussian whose log_std ([action_dim]) cannot take the gSDE one ([latent, action_dim]).
    """
    actor = getattr(policy, "actor", policy)
    if getattr(policy, "use_sde", False) or getattr(actor, "use_sde", False):
        return {**policy_kwargs, "use_sde": True}
    return dict(policy_kwargs)
