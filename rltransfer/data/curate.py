"""Curate what a student learns from: record a teacher in a target, keep the episodes that matter, relabel actions.

A teacher is recorded in the *target* env through the mapping `rltransfer.transfer.teacher.resolve_teacher`
finds (identity when the spaces match, `rltransfer.selection.find_mapping` otherwise), with the target's own
rewards; every env step that costs, the mapping search's included, is in the dataset's metadata.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

import rltransfer
from rltransfer.data.episodes import Episode, EpisodeRecorder
from rltransfer.data.store import LABELS_INFO, Dataset, check_dataset_id
from rltransfer.distill.probe import StepCounter
from rltransfer.errors import ConfigError, DatasetError, UnknownEnvError
from rltransfer.make import make_env
from rltransfer.mapping import MappedTeacher
from rltransfer.rollouts import evaluate
from rltransfer.spaces import SpaceSignature
from rltransfer.transfer.instance import perturbed_act
from rltransfer.transfer.teacher import ResolvedTeacher, resolve_teacher
from rltransfer.zoo import CARD_FILE, sha256_file

DEFAULT_EPISODES = 10
"""Episodes `data export` records when neither --episodes nor --steps is given."""
NOISE_SEED = 70_000
"""Offset of the DART noise's seed from the recording seed."""


@dataclass(kw_only=True, frozen=True)
class EpisodeFilter:
    """Which episodes of a dataset to keep: every bound must hold, then the best `top` by return.

    Attributes:
        min_return: Keep episodes whose return is at least this.
        max_return: Keep episodes whose return is at most this.
        min_length: Keep episodes of at least this many steps.
        max_length: Keep episodes of at most this many steps.
        top: Of the episodes within the bounds, keep the `top` of highest return (ties: the earlier).
    """

    min_return: float | None = None
    max_return: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    top: int | None = None

    def __post_init__(self) -> None:
        for name in ("min_return", "max_return"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ConfigError(f"--{name.replace('_', '-')} must be a finite number, got {value}", fix="give one")
        for name in ("min_length", "max_length"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"--{name.replace('_', '-')} {value} is negative", fix="give 0 or more steps")
        if self.top is not None and self.top < 1:
            raise ConfigError(f"--top {self.top} keeps no episode", fix="give --top 1 or more")
        for low, high in (("min_return", "max_return"), ("min_length", "max_length")):
            least, most = getattr(self, low), getattr(self, high)
            if least is not None and most is not None and least > most:
                raise ConfigError(
                    f"--{low.replace('_', '-')} {least} is above --{high.replace('_', '-')} {most}",
                    fix="give a minimum no larger than the maximum",
                )

    def select(self, episodes: tuple[Episode, ...] | list[Episode]) -> list[int]:
        """Indices of the kept episodes, in their recorded order."""
        kept = [
            index
            for index, episode in enumerate(episodes)
            if (self.min_return is None or episode.episode_return >= self.min_return)
            and (self.max_return is None or episode.episode_return <= self.max_return)
            and (self.min_length is None or len(episode) >= self.min_length)
            and (self.max_length is None or len(episode) <= self.max_length)
        ]
        if self.top is not None:
            kept = sorted(sorted(kept, key=lambda index: -episodes[index].episode_return)[: self.top])
        return kept

    def describe(self) -> str:
        """E.g. 'min_return=450, top=5', or 'all episodes'."""
        given = [f"{name}={value:g}" for name, value in asdict(self).items() if value is not None]
        return ", ".join(given) if given else "all episodes"


def _resolve_counted(
    teacher: str, env_factory: Any, *, zoo: str | os.PathLike[str] | None, seed: int
) -> tuple[ResolvedTeacher, int]:
    """The teacher and its mapping onto the env `env_factory` makes, and the env steps the mapping search took."""
    if teacher == "auto":
        raise ConfigError(
            'teacher "auto" is not supported here: its ranking would spend uncounted env steps',
            fix="run `rltransfer rank --env ID` and pass the teacher it recommends",
        )
    counters: list[StepCounter] = []

    def counted() -> gym.Env[Any, Any]:
        counters.append(StepCounter(env_factory()))
        return counters[-1]

    resolved = resolve_teacher(teacher, env_factory=counted, zoo=str(zoo) if zoo is not None else None, seed=seed)
    return resolved, sum(counter.steps for counter in counters)


def _teacher_block(resolved: ResolvedTeacher, student_dim: int, search_steps: int) -> dict[str, Any]:
    """The provenance of a teacher through its mapping: name, card checksums, mapping and its cost."""
    teacher, mapping = resolved.policy("data export"), resolved.mapping
    card, card_path = teacher.card, teacher.path / CARD_FILE
    return {
        "name": card.name,
        "algo": card.algo,
        "source_env_id": card.env_id,
        "card_sha256": sha256_file(card_path) if card_path.is_file() else None,
        "weights_sha256": card.weights_sha256,
        "transitions_sha256": card.transitions_sha256,
        "mapping_summary": mapping.describe(student_dim),
        "mapping_how": resolved.how,
        "mapping": mapping.to_dict(),
        "mapping_search_env_steps": search_steps,
    }


def record_teacher(
    teacher: str,
    env_id: str,
    *,
    env_kwargs: dict[str, Any] | None = None,
    zoo: str | os.PathLike[str] | None = None,
    episodes: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    dataset_id: str = "dataset-v0",
    noise: float = 0.0,
) -> Dataset:
    """The deterministic mapped teacher's episodes in `env_id`: `episodes` full ones, or exactly `steps` steps.

    Episode i is reset with seed + i (as `rltransfer.rollouts.evaluate` seeds them); with `steps`, the last
    episode is cut at the budget and marked truncated. With `noise` > 0 the executed actions carry DART's noise
    (rltransfer.transfer.instance.perturbed_act) and each episode keeps the teacher's own actions as labels.
    """
    if not 0.0 <= noise <= 1.0:
        raise ConfigError(f"--noise {noise} is outside [0, 1]", fix="give half-ranges (continuous) or a probability")
    if episodes is not None and steps is not None:
        raise ConfigError("--episodes and --steps were both given", fix="give one of them")
    for name, value in (("episodes", episodes), ("steps", steps)):
        if value is not None and value < 1:
            raise ConfigError(f"--{name} {value} is not a positive number", fix=f"give --{name} 1 or more")
    check_dataset_id(dataset_id)
    resolved, search_steps = _resolve_counted(teacher, lambda: make_env(env_id, env_kwargs), zoo=zoo, seed=seed)
    env = make_env(env_id, env_kwargs)
    recorder = EpisodeRecorder(env)
    intended: list[Any] = []
    mapped = MappedTeacher(resolved.policy("data export"), resolved.mapping, env.action_space)
    act = perturbed_act(mapped.act_one, env.action_space, noise, seed=seed + NOISE_SEED, intended=intended)
    try:
        if steps is None:
            evaluate(recorder, act, episodes=episodes or DEFAULT_EPISODES, seed=seed)
        else:
            while recorder.steps < steps:
                index = len(recorder.episodes)
                evaluate(recorder, act, episodes=1, seed=seed + index, max_steps=steps - recorder.steps)
        recorded = tuple(recorder.finish())
        if noise > 0.0:
            labels = np.split(np.asarray(intended), np.cumsum([len(episode) for episode in recorded])[:-1])
            recorded = tuple(episode.with_labels(own) for episode, own in zip(recorded, labels, strict=True))
        spec = env.spec
        observation_space, action_space = env.observation_space, env.action_space
    finally:
        env.close()
    block = _teacher_block(resolved, SpaceSignature.of(observation_space).dim, search_steps)
    recorded_steps = sum(len(episode) for episode in recorded)
    metadata = {
        "kind": "teacher rollouts",
        "rltransfer_version": rltransfer.__version__,
        "algorithm": f"{block['algo']} teacher {resolved.name} (greedy, mapped"
        + (f", DART noise {noise}; labels in infos['{LABELS_INFO}'])" if noise > 0 else ")"),
        "description": f"{resolved.name} recorded on {env_id} ({block['mapping_summary']}), seed {seed}, "
        "with the target's own rewards",
        "noise": noise,
        "teacher": block,
        "env_id": env_id,
        "env_kwargs": dict(env_kwargs or {}),
        "seed": seed,
        "requested": {"episodes": episodes, "steps": steps},
        "env_steps": {
            "mapping_search": search_steps,
            "recorded": recorded_steps,
            "total": search_steps + recorded_steps,
        },
    }
    return Dataset(
        episodes=recorded,
        observation_space=observation_space,
        action_space=action_space,
        env_spec=spec,
        dataset_id=dataset_id,
        metadata=metadata,
    )


def _relabelled(episode: Episode, actions: np.ndarray) -> Episode:
    """New imitation targets: the labels of a DART episode (its executed actions stay, its transitions need them).

    An episode without labels gets the new actions in place of its own.
    """
    return episode.with_actions(actions) if episode.labels is None else episode.with_labels(actions)


def _dataset_env(spec: EnvSpec | None, where: str) -> gym.Env[Any, Any]:
    if spec is None:
        raise DatasetError(
            f"{where} does not record the env it ran in, which relabelling needs to find the teacher's mapping",
            fix="relabel a dataset written by `rltransfer data export` (its metadata names the env)",
        )
    if spec.id in gym.registry:
        return make_env(spec.id, dict(spec.kwargs))
    try:
        return gym.make(spec)
    except Exception as exc:  # an env's constructor may raise anything
        raise UnknownEnvError(
            f'cannot make the env "{spec.id}" of {where} ({type(exc).__name__}: {exc})',
            fix="install or import the package that registers it",
        ) from exc


def relabel(dataset: Dataset, teacher: str, *, zoo: str | os.PathLike[str] | None = None, seed: int = 0) -> Dataset:
    """`dataset` with every action replaced by the deterministic mapped `teacher`'s action on that observation.

    Observations, rewards and episode ends stay those of the recorded behaviour; an episode recorded with DART
    noise keeps its executed actions and gets the new ones as labels.
    """
    where = str(dataset.path or dataset.dataset_id)
    resolved, search_steps = _resolve_counted(
        teacher, lambda: _dataset_env(dataset.env_spec, where), zoo=zoo, seed=seed
    )
    mapped = MappedTeacher(resolved.policy("data filter --relabel"), resolved.mapping, dataset.action_space)
    try:
        episodes = tuple(_relabelled(episode, mapped.act(episode.observations[:-1])) for episode in dataset.episodes)
    except (ValueError, IndexError) as exc:
        raise DatasetError(
            f"teacher {resolved.name} cannot act on the observations of {where} ({exc})",
            fix="relabel with a teacher whose mapping fits the dataset's observation space",
        ) from exc
    block = _teacher_block(resolved, SpaceSignature.of(dataset.observation_space).dim, search_steps)
    if isinstance(dataset.action_space, gym.spaces.Discrete):
        same = sum(int(np.sum(old.actions == new.actions)) for old, new in zip(dataset.episodes, episodes, strict=True))
        block["agreement_with_recorded"] = same / max(dataset.total_steps, 1)
    metadata = {**dataset.metadata, "relabel": block}
    return Dataset(
        episodes=episodes,
        observation_space=dataset.observation_space,
        action_space=dataset.action_space,
        env_spec=dataset.env_spec,
        dataset_id=dataset.dataset_id,
        metadata=metadata,
    )


def filter_dataset(dataset: Dataset, episode_filter: EpisodeFilter, *, dataset_id: str) -> Dataset:
    """The episodes of `dataset` that `episode_filter` keeps, with where they came from in the metadata.

    Raises DatasetError when no episode is kept.
    """
    check_dataset_id(dataset_id)
    kept = episode_filter.select(dataset.episodes)
    returns = dataset.returns
    if not kept:
        raise DatasetError(
            f"the filter ({episode_filter.describe()}) keeps none of the {len(dataset.episodes)} episodes of "
            f"{dataset.path or dataset.dataset_id} (returns {returns.min():.4g} to {returns.max():.4g}, lengths "
            f"{min(map(len, dataset.episodes))} to {max(map(len, dataset.episodes))})",
            fix="loosen the bounds; nothing was written",
        )
    metadata = {
        "kind": "filtered",
        "rltransfer_version": rltransfer.__version__,
        "algorithm": str(dataset.metadata.get("algorithm", "rltransfer")),
        "description": f"{len(kept)} of {len(dataset.episodes)} episodes of {dataset.dataset_id} "
        f"({episode_filter.describe()})",
        "source": {
            "dataset_id": dataset.dataset_id,
            "path": str(dataset.path) if dataset.path is not None else None,
            "format": dataset.format,
            "episodes": len(dataset.episodes),
            "steps": dataset.total_steps,
            "mean_return": float(returns.mean()),
            "metadata": dataset.metadata,
        },
        "filter": asdict(episode_filter),
        "kept_episodes": kept,
        "mean_return": float(returns[kept].mean()),
    }
    return Dataset(
        episodes=tuple(dataset.episodes[index] for index in kept),
        observation_space=dataset.observation_space,
        action_space=dataset.action_space,
        env_spec=dataset.env_spec,
        dataset_id=dataset_id,
        metadata=metadata,
    )


def summary(dataset: Dataset) -> dict[str, Any]:
    """What `data show` prints: size, return and length statistics, env, spaces and provenance."""
    returns, lengths = dataset.returns, np.asarray([len(episode) for episode in dataset.episodes])
    return {
        "dataset_id": dataset.dataset_id,
        "path": str(dataset.path) if dataset.path is not None else None,
        "format": dataset.format,
        "env_id": dataset.env_id,
        "observation_space": SpaceSignature.of(dataset.observation_space).describe(),
        "action_space": SpaceSignature.of(dataset.action_space).describe(),
        "episodes": len(dataset.episodes),
        "steps": dataset.total_steps,
        "return": {"mean": returns.mean(), "std": returns.std(), "min": returns.min(), "max": returns.max()},
        "length": {"mean": lengths.mean(), "min": int(lengths.min()), "max": int(lengths.max())},
        "terminated": int(sum(bool(episode.terminations[-1]) for episode in dataset.episodes)),
        "metadata": dataset.metadata,
    }
