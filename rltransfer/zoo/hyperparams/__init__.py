"""Student hyperparameters of record (YAML per algorithm, keyed by family or env id)."""

from __future__ import annotations

import copy
import inspect
import math
import os
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.utils import LinearSchedule

from rltransfer.errors import ConfigError, RecipeError, UnknownNameError
from rltransfer.make import env_family
from rltransfer.policies import ACTIVATIONS, ALGOS, algo_class
from rltransfer.registry import lookup, suggest

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
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(
            f"cannot read hyperparams file {path} ({exc})", fix="give a path to a UTF-8 YAML file"
        ) from exc
    except yaml.YAMLError as exc:
        raise RecipeError(f"hyperparams file {path} is not valid YAML", fix="fix the YAML syntax") from exc
    if not isinstance(data, dict):
        raise RecipeError(f"hyperparams file {path} is not a mapping", fix="write key: value lines")
    out: dict[str, Any] = {"hyperparams": {}}
    for key, value in data.items():
        if key == "n_envs":
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ConfigError(f"n_envs in {path} must be an integer, got {value!r}", fix="write e.g. n_envs: 4")
            out[key] = value
        elif key == "policy_kwargs":
            if value is not None and not isinstance(value, dict):
                raise ConfigError(
                    f"policy_kwargs in {path} must be a mapping, got {value!r}",
                    fix="write e.g. policy_kwargs: {net_arch: [64]}",
                )
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


SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")
"""Hyperparameters that take RL Zoo's linear schedule "lin_X": X at the start, annealed to 0 at the end."""


def linear_start(name: str, value: Any) -> float | None:
    """X of a "lin_X" value of a SCHEDULED hyperparameter (ConfigError when X is not a number); None otherwise."""
    if name not in SCHEDULED or not isinstance(value, str) or not value.startswith("lin_"):
        return None
    try:
        return float(value[len("lin_") :])
    except ValueError:
        raise ConfigError(
            f'hyperparameter {name} "{value}" is not a linear schedule', fix=f"write e.g. {name}: lin_0.001"
        ) from None


def algo_kwargs(hyperparams: dict[str, Any], action_dim: int) -> dict[str, Any]:
    """SB3 constructor kwargs from a hyperparams block.

    action_noise_std → NormalActionNoise; "lin_X" (learning_rate, clip_range) → SB3's LinearSchedule from
    X to 0 over the run, as RL Zoo reads it.
    """
    kwargs = dict(hyperparams)
    for name, value in hyperparams.items():
        start = linear_start(name, value)
        if start is not None:
            kwargs[name] = LinearSchedule(start, 0.0, 1.0)
    noise_std = kwargs.pop("action_noise_std", None)
    if noise_std:
        kwargs["action_noise"] = NormalActionNoise(np.zeros(action_dim), float(noise_std) * np.ones(action_dim))
    return kwargs


@dataclass(frozen=True)
class _Rule:
    """What one hyperparameter accepts: a kind ("int", "float", "bool" or "dict") within [low, high]."""

    kind: str
    low: float | None = None
    high: float | None = None
    positive: bool = False
    nullable: bool = False
    words: tuple[str, ...] = ()


_PROBABILITY = _Rule("float", 0.0, 1.0)
_BOOL = _Rule("bool")
MAX_SIZE = 10**8
"""Upper bound of buffer sizes and step intervals in --hyperparams (larger ones never finish or fit)."""

HYPERPARAM_RULES: dict[str, _Rule] = {
    "learning_rate": _Rule("float", 0.0, 1.0, positive=True),
    "n_steps": _Rule("int", 1, 10**5),
    "batch_size": _Rule("int", 1, 10**6),
    "n_epochs": _Rule("int", 1, 1000),
    "gamma": _PROBABILITY,
    "gae_lambda": _PROBABILITY,
    "clip_range": _Rule("float", 0.0, 1000.0, positive=True),
    "clip_range_vf": _Rule("float", 0.0, 1000.0, positive=True, nullable=True),
    "normalize_advantage": _BOOL,
    "ent_coef": _Rule("float", 0.0, 1000.0, words=("auto",)),
    "vf_coef": _Rule("float", 0.0, 1000.0),
    "max_grad_norm": _Rule("float", 0.0, 1e6, positive=True),
    "use_sde": _BOOL,
    "sde_sample_freq": _Rule("int", -1, 10**6),
    "target_kl": _Rule("float", 0.0, 1000.0, positive=True, nullable=True),
    "stats_window_size": _Rule("int", 1, 10**6),
    "rms_prop_eps": _Rule("float", 0.0, 1.0, positive=True),
    "use_rms_prop": _BOOL,
    "buffer_size": _Rule("int", 1, MAX_SIZE),
    "learning_starts": _Rule("int", 0, MAX_SIZE),
    "tau": _PROBABILITY,
    "train_freq": _Rule("int", 1, 10**6),
    "gradient_steps": _Rule("int", -1, 10**4),
    "optimize_memory_usage": _BOOL,
    "target_update_interval": _Rule("int", 1, MAX_SIZE),
    "exploration_fraction": _PROBABILITY,
    "exploration_initial_eps": _PROBABILITY,
    "exploration_final_eps": _PROBABILITY,
    "policy_delay": _Rule("int", 1, 10**4),
    "target_policy_noise": _Rule("float", 0.0, 1000.0),
    "target_noise_clip": _Rule("float", 0.0, 1000.0),
    "target_entropy": _Rule("float", -1e6, 1e6, words=("auto",)),
    "use_sde_at_warmup": _BOOL,
    "replay_buffer_kwargs": _Rule("dict", nullable=True),
    "rollout_buffer_kwargs": _Rule("dict", nullable=True),
    "action_noise_std": _Rule("float", 0.0, 1000.0),
}
"""Type and range of every hyperparameter --hyperparams may set (beyond these, only SB3 internals remain)."""

_SET_BY_RLTRANSFER = {
    "policy": "the policy is always MlpPolicy",
    "env": "pass --env",
    "seed": "pass --seed",
    "device": "rltransfer trains on the CPU",
    "verbose": "rltransfer sets it",
    "tensorboard_log": "runs log to OUT/tb",
    "_init_setup_model": "rltransfer sets it",
    "policy_kwargs": "write policy_kwargs as a top-level key of the YAML",
    "n_envs": "write n_envs as a top-level key of the YAML, or pass --n-envs",
}

MAX_LAYER_WIDTH = 8192
"""Widest hidden layer net_arch may ask for (wider MLPs do not fit a CPU run)."""
MAX_LAYERS = 32
"""Most hidden layers net_arch may ask for."""

POLICY_KWARG_RULES: dict[str, _Rule] = {
    "log_std_init": _Rule("float", -20.0, 20.0),
    "ortho_init": _BOOL,
    "use_sde": _BOOL,
    "full_std": _BOOL,
    "squash_output": _BOOL,
    "use_expln": _BOOL,
    "clip_mean": _Rule("float", 0.0, 1e6, positive=True),
    "n_critics": _Rule("int", 1, 100),
    "share_features_extractor": _BOOL,
    "normalize_images": _BOOL,
    "optimizer_kwargs": _Rule("dict", nullable=True),
}
"""policy_kwargs a run may set besides net_arch and activation_fn (the ones a teacher card can store)."""


def _check_value(where: str, name: str, value: Any, rule: _Rule) -> None:
    """ConfigError unless `value` is of the rule's kind and within its range."""
    if value is None and rule.nullable:
        return
    if isinstance(value, str) and rule.words and value.split("_")[0] in rule.words:
        return
    expected = {"int": "an integer", "float": "a number", "bool": "true or false", "dict": "a mapping"}[rule.kind]
    if rule.kind in ("int", "float"):
        expected += f" in {'(' if rule.positive else '['}{rule.low:g}, {rule.high:g}]"
    if rule.words:
        expected += " or " + " or ".join(f'"{word}"' for word in rule.words)
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (isinstance(value, int) or math.isfinite(value)),
        "bool": isinstance(value, bool),
        "dict": isinstance(value, dict),
    }[rule.kind]
    if ok and rule.kind in ("int", "float"):
        low = -math.inf if rule.low is None else rule.low
        high = math.inf if rule.high is None else rule.high
        ok = (low < value if rule.positive else low <= value) and value <= high
    if not ok:
        hint = " (YAML reads 1e-3 as text: write 1.0e-3)" if isinstance(value, str) and _is_number(value) else ""
        raise ConfigError(
            f"{where} {name} must be {expected}, got {value!r}{hint}", fix=f"fix {name} in the --hyperparams YAML"
        )


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def check_hyperparams(algo: str, hyperparams: dict[str, Any]) -> None:
    """ConfigError or UnknownNameError for a hyperparameter `algo` does not take, or of the wrong type or range."""
    if not isinstance(hyperparams, dict):
        raise ConfigError(f"hyperparams must be a mapping, got {hyperparams!r}", fix="write key: value lines")
    accepted = set(inspect.signature(algo_class(algo).__init__).parameters) | {"action_noise_std"}
    for name, value in hyperparams.items():
        name = str(name)
        if name in _SET_BY_RLTRANSFER:
            raise ConfigError(f"hyperparameter {name} cannot be set in --hyperparams", fix=_SET_BY_RLTRANSFER[name])
        rule = HYPERPARAM_RULES.get(name)
        if rule is not None and rule.words and algo.lower() != "sac":
            rule = replace(rule, words=())  # "auto" entropy is SAC's alone
        if name not in accepted or rule is None:
            known = sorted(key for key in accepted if key in HYPERPARAM_RULES)
            raise UnknownNameError(
                f'{algo} has no hyperparameter "{name}".{suggest(name, known)}',
                fix=f"use some of: {', '.join(known)}",
            )
        if name == "train_freq" and isinstance(value, (list, tuple)):
            if len(value) != 2 or value[1] not in ("step", "episode"):
                raise ConfigError(
                    f"train_freq must be N or [N, step|episode], got {value!r}", fix="fix train_freq in --hyperparams"
                )
            value = value[0]
        start = linear_start(name, value)
        _check_value("hyperparameter", name, value if start is None else start, rule)


def check_policy_kwargs(policy_kwargs: dict[str, Any]) -> None:
    """ConfigError for policy kwargs of the wrong type: net_arch takes positive widths only."""
    if not isinstance(policy_kwargs, dict):
        raise ConfigError(f"policy_kwargs must be a mapping, got {policy_kwargs!r}", fix="write e.g. {net_arch: [64]}")
    for name, value in policy_kwargs.items():
        name = str(name)
        if name == "net_arch":
            _check_net_arch(value)
        elif name == "activation_fn":
            lookup(ACTIVATIONS, str(value), what="activation_fn")
        elif name in POLICY_KWARG_RULES:
            _check_value("policy kwarg", name, value, POLICY_KWARG_RULES[name])
        else:
            known = sorted([*POLICY_KWARG_RULES, "net_arch", "activation_fn"])
            raise UnknownNameError(
                f'unknown policy kwarg "{name}".{suggest(name, known)}', fix=f"use some of: {', '.join(known)}"
            )


def _check_net_arch(value: Any) -> None:
    layers = value.values() if isinstance(value, dict) else [value]
    for widths in layers:
        if (
            not isinstance(widths, (list, tuple))
            or len(widths) > MAX_LAYERS
            or not all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= MAX_LAYER_WIDTH for w in widths)
        ):
            raise ConfigError(
                f"net_arch must list 0 to {MAX_LAYERS} layer widths, each an integer in [1, {MAX_LAYER_WIDTH}], "
                f"got {value!r}",
                fix="write e.g. net_arch: [64, 64] (or {pi: [64], vf: [64]})",
            )
    if isinstance(value, dict) and not set(value) <= {"pi", "vf", "qf"}:
        raise ConfigError(f"net_arch keys must be pi, vf or qf, got {sorted(value)}", fix="write {pi: [64], vf: [64]}")
