"""Training recipes (YAML, RL Zoo style) and the teacher training that turns one into a zoo entry."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger

from rltransfer.errors import OutputError, RecipeError, RLTransferError
from rltransfer.make import check_env_id, make_env
from rltransfer.policies import ALGOS, algo_class, decode_policy_kwargs
from rltransfer.zoo.card import TeacherCard, validate_entry_name
from rltransfer.zoo.hyperparams import algo_kwargs
from rltransfer.zoo.publish import ZooEntry, publish_teacher

_FIELDS = {
    "name",
    "algo",
    "env",
    "env_kwargs",
    "n_timesteps",
    "seed",
    "n_envs",
    "policy_kwargs",
    "hyperparams",
    "eval_episodes",
    "transitions",
    "family",
    "description",
}


@dataclass(kw_only=True, frozen=True)
class Recipe:
    """How to train one teacher.

    Attributes:
        name: Teacher folder name in the zoo.
        algo: SB3 algorithm name.
        env: Gymnasium id of the source task (rltransfer/..., Gymnasium, or module:EnvId).
        env_kwargs: gym.make kwargs.
        n_timesteps: Training steps.
        seed: Training seed.
        n_envs: Parallel environments (DummyVecEnv).
        policy_kwargs: SB3 policy kwargs (net_arch, activation_fn name, ...).
        hyperparams: SB3 algorithm kwargs (learning_rate, n_steps, ...).
        eval_episodes: Deterministic evaluation episodes recorded on the card.
        transitions: Source transitions stored for selection and instance transfer (half random
            policy, half teacher).
        family: Task family (default: derived from the env id).
        description: One line about the teacher.
    """

    name: str
    algo: str
    env: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    n_timesteps: int
    seed: int = 0
    n_envs: int = 1
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    hyperparams: dict[str, Any] = field(default_factory=dict)
    eval_episodes: int = 20
    transitions: int = 4000
    family: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if self.algo.lower() not in ALGOS:
            algo_class(self.algo)  # raises with a did-you-mean hint
        if self.n_timesteps <= 0 or self.n_envs <= 0 or self.eval_episodes <= 0 or self.transitions < 0:
            raise RecipeError(
                f"recipe {self.name}: n_timesteps, n_envs and eval_episodes must be positive",
                fix="fix the numbers in the YAML",
            )
        validate_entry_name(self.name, what="recipe name")


def load_recipe(path: str | os.PathLike[str]) -> Recipe:
    """Parse and validate a recipe YAML file; any problem raises RecipeError naming the file."""
    recipe_path = Path(path)
    try:
        data = yaml.safe_load(recipe_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RecipeError(f"recipe {recipe_path} not found", fix="give a path to a .yaml recipe") from exc
    except yaml.YAMLError as exc:
        raise RecipeError(
            f"recipe {recipe_path} is not valid YAML ({str(exc).splitlines()[0]})", fix="fix the YAML syntax"
        ) from exc
    if not isinstance(data, dict):
        raise RecipeError(f"recipe {recipe_path} is not a mapping", fix="write key: value lines")
    unknown = set(data) - _FIELDS
    if unknown:
        raise RecipeError(f"recipe {recipe_path} has unknown keys {sorted(unknown)}", fix=f"use only {sorted(_FIELDS)}")
    missing = {"algo", "env", "n_timesteps"} - set(data)
    if missing:
        raise RecipeError(f"recipe {recipe_path} lacks {sorted(missing)}", fix="add them")
    data.setdefault("name", recipe_path.stem)
    try:
        data["n_timesteps"] = int(float(data["n_timesteps"]))
        for key in ("env_kwargs", "policy_kwargs", "hyperparams"):
            if not isinstance(data.get(key, {}) or {}, dict):
                raise RecipeError(f"recipe {recipe_path}: {key} must be a mapping", fix="write key: value lines")
            data[key] = data.get(key) or {}
        recipe = Recipe(**data)
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"recipe {recipe_path} has a bad value ({exc})", fix="check the field types") from exc
    except RLTransferError as exc:
        raise RecipeError(f"recipe {recipe_path}: {exc.problem}", fix=exc.fix) from exc
    check_env_id(recipe.env)
    return recipe


def train_teacher(
    recipe: Recipe,
    zoo: str | os.PathLike[str],
    *,
    progress_bar: bool = True,
    overwrite: bool = False,
    tensorboard_log: str | None = None,
) -> TeacherCard:
    """Train a teacher from a recipe, evaluate it, sample transitions and write it into the zoo."""
    out_dir = Path(zoo) / recipe.name
    if out_dir.exists() and not overwrite:
        raise OutputError(f"teacher {out_dir} already exists", fix="pass --force to re-train it")
    vec_env = make_vec_env(lambda: make_env(recipe.env, recipe.env_kwargs), n_envs=recipe.n_envs, seed=recipe.seed)
    try:
        model = algo_class(recipe.algo)(
            "MlpPolicy",
            vec_env,
            seed=recipe.seed,
            device="cpu",
            verbose=0,
            policy_kwargs=decode_policy_kwargs(recipe.policy_kwargs),
            tensorboard_log=tensorboard_log,
            **algo_kwargs(recipe.hyperparams, int(np.prod(vec_env.action_space.shape or (1,)))),
        )
    except TypeError as exc:
        raise RecipeError(f"recipe {recipe.name}: {exc}", fix="check the hyperparams against the SB3 docs") from exc
    if tensorboard_log is None:
        # without a log folder SB3 would make an empty /tmp/SB3-<date> folder on every learn()
        model.set_logger(Logger(folder=None, output_formats=[]))
    model.learn(total_timesteps=recipe.n_timesteps, progress_bar=progress_bar)
    vec_env.close()
    env = make_env(recipe.env, recipe.env_kwargs)
    entry = ZooEntry(
        name=recipe.name,
        env_id=recipe.env,
        env_kwargs=recipe.env_kwargs,
        family=recipe.family,
        algo=recipe.algo.lower(),
        policy_kwargs=dict(model.policy_kwargs),
        n_timesteps=recipe.n_timesteps,
        seed=recipe.seed,
        hyperparams=recipe.hyperparams,
        notes=recipe.description,
    )
    try:
        return publish_teacher(
            model.policy,
            out_dir,
            entry=entry,
            env=env,
            eval_episodes=recipe.eval_episodes,
            eval_seed=10_000 + recipe.seed,
            transitions=recipe.transitions,
            transitions_seed=recipe.seed,
            overwrite=overwrite,
        )
    finally:
        env.close()
