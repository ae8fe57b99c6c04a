"""RunResult: what a finished run reports, written last as its result.json."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rltransfer.experiments.provenance import code_fingerprint
from rltransfer.io import atomic_write_json
from rltransfer.training.config import TrainConfig
from rltransfer.training.folder import RESULT_FILE


@dataclass(frozen=True)
class RunResult:
    """What a finished run reports (also result.json)."""

    run_dir: str
    env_id: str
    method: str
    seed: int
    total_timesteps: int
    episodes: int
    final_return: float
    wall_seconds: float
    teacher: str | None = None
    transfer_env_steps: int = 0
    """Target env steps spent outside training: teacher probes and demonstrations (guide steps of
    jsrl are training steps and counted in total_timesteps)."""
    transfer_setup_seconds: float = 0.0
    """Part of learn_seconds spent once on teacher probes, demonstrations and distil-initialise (not per step)."""
    transfer_step_seconds: float = 0.0
    """Part of learn_seconds spent in transfer code after setup (extra steps, controller, replay mixing)."""
    learn_seconds: float = 0.0
    """Wall time of model.learn alone (this session's part on resume): the per-step cost of training."""
    code: str = ""
    """Fingerprint of the code that trained it (provenance.code_fingerprint): a grid reuses it only under that code."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return asdict(self)


def finish_run(
    run_dir: Path,
    config: TrainConfig,
    returns: list[float],
    started: float,
    *,
    transfer_env_steps: int = 0,
    learn_seconds: float = 0.0,
    transfer_setup_seconds: float = 0.0,
    transfer_step_seconds: float = 0.0,
) -> RunResult:
    """Write result.json (atomically, last) and return it."""
    tail = returns[-10:]
    result = RunResult(
        run_dir=str(run_dir),
        env_id=config.env_id,
        method=config.method,
        seed=config.seed,
        total_timesteps=config.total_timesteps,
        episodes=len(returns),
        final_return=float(np.mean(tail)) if tail else float("nan"),
        wall_seconds=time.time() - started,
        teacher=config.teacher,
        transfer_env_steps=transfer_env_steps,
        learn_seconds=learn_seconds,
        transfer_setup_seconds=transfer_setup_seconds,
        transfer_step_seconds=transfer_step_seconds,
        code=code_fingerprint(),
    )
    atomic_write_json(run_dir / RESULT_FILE, result.to_dict(), sort_keys=False)
    return result
