"""Student hyperparameters of record (YAML per algorithm, keyed by family or env id)."""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rltransfer.errors import RecipeError
from rltransfer.make import env_family
from rltransfer.policies import ALGOS, algo_class

_HERE = Path(__file__).parent


@cache
def _table(algo: str) -> dict[str, Any]:
    return dict(yaml.safe_load((_HERE / f"{algo}.yml").read_text(encoding="utf-8")))


def default_hyperparams(algo: str, env_id: str) -> dict[str, Any]:
    """{"n_envs", "policy_kwargs", "hyperparams"} for an algorithm on an env (exact id, family, default)."""
    algo = algo.lower()
    if algo not in ALGOS:
        algo_class(algo)
    table = _table(algo)
    entry = table.get(env_id) or table.get(env_family(env_id)) or table["default"]
    return copy.deepcopy(entry)


def load_hyperparams_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A user's --hyperparams YAML: keys n_envs, policy_kwargs, hyperparams (RL Zoo style flat keys allowed)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise RecipeError(f"hyperparams file {path} not found", fix="give a path to a YAML file") from exc
    except yaml.YAMLError as exc:
        raise RecipeError(f"hyperparams file {path} is not valid YAML", fix="fix the YAML syntax") from exc
    if not isinstance(data, dict):
        raise RecipeError(f"hyperparams file {path} is not a mapping", fix="write key: value lines")
    out: dict[str, Any] = {"hyperparams": {}}
    for key, value in data.items():
        if key in ("n_envs", "policy_kwargs"):
            out[key] = value
        elif key == "hyperparams" and isinstance(value, dict):
            out["hyperparams"].update(value)
        else:
            out["hyperparams"][key] = value
    return out


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Override n_envs / policy_kwargs / hyperparams of `base` with those given in `override`."""
    merged = copy.deepcopy(base)
    for key in ("policy_kwargs", "hyperparams"):
        merged.setdefault(key, {}).update(override.get(key, {}) or {})
    if "n_envs" in override:
        merged["n_envs"] = int(override["n_envs"])
    return merged


def algo_kwargs(hyperparams: dict[str, Any], action_dim: int) -> dict[str, Any]:
    """SB3 constructor kwargs from a hyperparams block (action_noise_std → NormalActionNoise)."""
    kwargs = dict(hyperparams)
    noise_std = kwargs.pop("action_noise_std", None)
    if noise_std:
        from stable_baselines3.common.noise import NormalActionNoise

        kwargs["action_noise"] = NormalActionNoise(np.zeros(action_dim), float(noise_std) * np.ones(action_dim))
    return kwargs
