"""Make environments from ids: rltransfer's own, any Gymnasium id, or a user's `module:EnvId`."""

from __future__ import annotations

import importlib
import json
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from rltransfer.envs import CATALOGUE
from rltransfer.errors import EnvKwargsError, RLTransferError, RunFailedError, UnknownEnvError
from rltransfer.registry import suggest


def parse_env_kwargs(text: str | None) -> dict[str, Any]:
    """Parse --env-kwargs: JSON ('{"gravity": 15}') or comma-separated key=value pairs."""
    if not text:
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EnvKwargsError(
                f"--env-kwargs is not valid JSON ({exc.msg})",
                fix="write e.g. '{\"gravity\": 15.0}' or gravity=15.0,length=0.8",
            ) from exc
        if not isinstance(parsed, dict):
            raise EnvKwargsError("--env-kwargs must be a JSON object", fix='write {"key": value}')
        return parsed
    kwargs: dict[str, Any] = {}
    for item in text.split(","):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise EnvKwargsError(
                f'cannot parse "{item}" in --env-kwargs', fix="write key=value pairs separated by commas"
            )
        try:
            kwargs[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            kwargs[key.strip()] = raw.strip()
    return kwargs


def check_env_id(env_id: str) -> gym.envs.registration.EnvSpec:
    """Return the EnvSpec of `env_id`, importing `module:` prefixes; unknown ids raise UnknownEnvError."""
    module, _, name = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UnknownEnvError(
                f'cannot import module "{module}" of env id "{env_id}" ({exc})',
                fix="install the module or put it on PYTHONPATH; the syntax is module:EnvId",
            ) from exc
    if name in gym.registry:
        return gym.registry[name]
    hint = suggest(name, gym.registry.keys())
    raise UnknownEnvError(
        f'unknown environment id "{env_id}".{hint}',
        fix="run `rltransfer envs` for rltransfer's ids, or give a registered Gymnasium id",
    )


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None, **make_kwargs: Any) -> gym.Env[Any, Any]:
    """gym.make with rltransfer's errors: unknown ids and bad kwargs give one clear line."""
    spec = check_env_id(env_id)
    try:
        return gym.make(spec.id, **(env_kwargs or {}), **make_kwargs)
    except RLTransferError:
        raise
    except TypeError as exc:
        raise EnvKwargsError(
            f"{env_id} rejected its kwargs {env_kwargs} ({exc})",
            fix="check the kwarg names with `rltransfer envs` or the environment's docs",
        ) from exc
    except Exception as exc:  # an env's constructor may raise anything on a bad value
        what = f"with kwargs {env_kwargs}" if env_kwargs else "without kwargs"
        raise EnvKwargsError(
            f"{env_id} cannot be made {what}: {_first_line(exc)}",
            fix="check the kwarg values with `rltransfer envs` or the environment's docs",
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


class GuardedEnv(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Turn an env's exceptions and NaN/inf observations or rewards into one clear RunFailedError.

    The per-env counterpart of SB3's VecCheckNan: the error names the env, the step and the field,
    instead of a traceback from deep inside the algorithm (or silently NaN weights).
    """

    def __init__(self, env: gym.Env[Any, Any], env_id: str = "") -> None:
        gym.utils.RecordConstructorArgs.__init__(self, env_id=env_id)
        gym.Wrapper.__init__(self, env)
        self.env_id = env_id or (env.spec.id if env.spec is not None else type(env.unwrapped).__name__)
        self.steps = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset, then check the first observation."""
        try:
            obs, info = self.env.reset(**kwargs)
        except RLTransferError:
            raise
        except Exception as exc:
            raise self._raised("reset()", exc) from exc
        self._check(obs, "observation", "reset()")
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step, then check the observation and the reward."""
        try:
            obs, reward, terminated, truncated, info = self.env.step(action)
        except RLTransferError:
            raise
        except Exception as exc:
            raise self._raised(f"step() at step {self.steps + 1}", exc) from exc
        self.steps += 1
        where = f"step {self.steps}"
        self._check(obs, "observation", where)
        self._check(reward, "reward", where)
        return obs, reward, terminated, truncated, info

    def _raised(self, where: str, exc: Exception) -> RunFailedError:
        return RunFailedError(
            f"environment {self.env_id} raised {_first_line(exc)} in {where}",
            fix="fix the environment or its --env-kwargs, then run the same command again",
        )

    def _check(self, value: Any, field: str, where: str) -> None:
        parts = value.values() if isinstance(value, dict) else [value]
        for part in parts:
            array = np.asarray(part)
            if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
                bad = "NaN" if np.any(np.isnan(array)) else "inf"
                raise RunFailedError(
                    f"environment {self.env_id} returned {bad} in its {field} at {where}",
                    fix="fix the environment (or its --env-kwargs) so that observations and rewards stay finite, "
                    "then run the same command again",
                )


def env_family(env_id: str) -> str:
    """The task family of an id: rltransfer's catalogue entry, else the Gymnasium name without version."""
    name = env_id.rpartition(":")[2]
    if name in CATALOGUE:
        return CATALOGUE[name].family
    base = name.rpartition("/")[2].split("-v")[0]
    return base.split("-")[0]
