"""Make environments from ids: rltransfer's own, any Gymnasium id, or a user's `module:EnvId`."""

from __future__ import annotations

import importlib
import json
from typing import Any

import gymnasium as gym

import envs  # noqa: F401  (registers the rltransfer/ ids)
from rltransfer.errors import EnvKwargsError, RLTransferError, UnknownEnvError
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


def env_family(env_id: str) -> str:
    """The task family of an id: rltransfer's catalogue entry, else the Gymnasium name without version."""
    from envs import CATALOGUE

    name = env_id.rpartition(":")[2]
    if name in CATALOGUE:
        return CATALOGUE[name].family
    base = name.rpartition("/")[2].split("-v")[0]
    return base.split("-")[0]
