"""TensorBoard HParams of a run: target, method, teacher, mode and hyperparameters, one session per run.

`tensorboard --logdir OUT/tb` of a comparison then lists every run in the HParams dashboard with what it
was trained with, beside its return curve, so transfers are compared side by side.
"""

from __future__ import annotations

import json
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HParam

from rltransfer.training.config import TrainConfig

METRICS = {"rollout/ep_rew_mean": 0.0}
"""Scalars the dashboard shows per run (SB3 logs them; the value here is a placeholder HParam requires)."""


def run_hparams(config: TrainConfig, settings: dict[str, Any], teacher: str | None) -> dict[str, Any]:
    """Flat name → scalar of the run: identity first, then the hyperparameters and transfer options used."""
    values: dict[str, Any] = {
        "env_id": config.env_id,
        "algo": config.algo,
        "method": config.method,
        "teacher": teacher or "none",
        "mode": str(config.transfer_config.mode.value),
        "seed": config.seed,
        "total_timesteps": config.total_timesteps,
        "n_envs": int(settings.get("n_envs", 1)),
        "net_arch": json.dumps(settings.get("policy_kwargs", {}).get("net_arch")),
    }
    for name, value in sorted((settings.get("hyperparams") or {}).items()):
        values[f"hp/{name}"] = _scalar(value)
    for name, value in sorted(config.transfer_options().items()):
        values[f"transfer/{name}"] = _scalar(value)
    return values


def _scalar(value: Any) -> Any:
    """What HParams can hold: bool, int, float or str (anything else as its JSON or repr)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    try:
        return json.dumps(value, sort_keys=True)
    except TypeError:
        return repr(value)


class HParamsLogger(BaseCallback):
    """Writes the run's HParams once training starts (TensorBoard only, not stdout or CSV)."""

    def __init__(self, hparams: dict[str, Any]) -> None:
        super().__init__()
        self.hparams = hparams

    def _on_training_start(self) -> None:
        self.logger.record("hparams", HParam(self.hparams, METRICS), exclude=("stdout", "log", "json", "csv"))

    def _on_step(self) -> bool:
        return True
