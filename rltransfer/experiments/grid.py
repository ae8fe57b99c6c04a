"""A comparison grid: targets × methods × seeds, and where each run's folder lives.

Runs live in `OUT/runs/<env-safe-name>/<method>/seed<k>/` (the run-folder contract of
rltransfer.training); a hidden `.seed<k>.lock` beside each folder is held while the run trains.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rltransfer.errors import CardFormatError, ConfigError
from rltransfer.training import TrainConfig
from rltransfer.transfer.config import TransferConfig
from rltransfer.transfer.methods import METHODS, get_method
from rltransfer.zoo import default_zoo

RUNS_DIR = "runs"
GRID_FILE = "grid.json"


def env_safe_name(env_id: str) -> str:
    """A folder name for an env id: `rltransfer/CartPole-v0` → `rltransfer_CartPole-v0`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", env_id).strip("_") or "env"


def parse_list(text: str, *, what: str) -> tuple[str, ...]:
    """Split a comma-separated option (`--env A,B`, `--methods x,y`) into unique, non-empty names."""
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if not names:
        raise ConfigError(f"--{what} is empty", fix=f"give one or more {what} separated by commas")
    return names


def check_methods(methods: tuple[str, ...]) -> tuple[str, ...]:
    """Validate method names against METHODS; unknown ones raise UnknownNameError with a hint."""
    return tuple(get_method(name).name for name in methods)


@dataclass(kw_only=True, frozen=True)
class RunSpec:
    """One cell of the grid.

    Attributes:
        config: The resolved TrainConfig of the run.
        run_dir: Absolute path of the run folder.
    """

    config: TrainConfig
    run_dir: Path

    @property
    def key(self) -> str:
        """`<env-safe-name>/<method>/seed<k>`: the run's name in folders, TensorBoard and logs."""
        return f"{env_safe_name(self.config.env_id)}/{self.config.method}/seed{self.config.seed}"

    @property
    def lock_path(self) -> Path:
        """The lock file held while the run trains (beside the folder, so cleaning it keeps the lock)."""
        return self.run_dir.with_name(f".{self.run_dir.name}.lock")


@dataclass(kw_only=True, frozen=True)
class GridSpec:
    """What a comparison runs.

    Attributes:
        env_ids: Target environment ids.
        methods: Method names (see rltransfer.transfer.methods.METHODS).
        seeds: Seeds; every (target, method) runs each of them.
        total_timesteps: Environment steps of every run.
        algo: SB3 algorithm of the students.
        teacher: Teacher name or folder, or "auto" for the top of the ranking; unused by scratch.
        zoo: Zoo folder (None: the default zoo).
        env_kwargs: gym.make kwargs applied to every target.
        threshold: Return threshold of time to threshold (None: each env spec's reward_threshold).
        n_envs: Parallel training environments per run (None: the hyperparams of record).
        hyperparams: Algorithm kwargs overriding the hyperparams of record.
        policy_kwargs: Policy kwargs overriding the hyperparams of record.
        transfer: Transfer options (TrainConfig.transfer) of every method that uses the teacher; they
            override each method's defaults, so an ablation is a grid with one option changed.
    """

    env_ids: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: tuple[int, ...]
    total_timesteps: int
    algo: str = "ppo"
    teacher: str | None = "auto"
    zoo: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None
    n_envs: int | None = None
    hyperparams: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    transfer: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.env_ids:
            raise ConfigError("no target environment given", fix="pass --env ID[,ID...]")
        object.__setattr__(self, "methods", check_methods(tuple(self.methods)))
        if not self.seeds:
            raise ConfigError("no seeds given", fix="pass --seeds N with N >= 1")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"duplicate seeds in {list(self.seeds)}", fix="give each seed once")
        if self.total_timesteps <= 0:
            raise ConfigError(f"--steps must be positive, got {self.total_timesteps}", fix="pass --steps N")
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ConfigError(
                f"--threshold must be a finite number, got {self.threshold}", fix="pass --threshold X, e.g. 475"
            )
        TransferConfig.from_dict(self.transfer)  # an unknown or out-of-range option fails before any run
        needs_teacher = [m for m in self.methods if METHODS[m].needs_teacher]
        if needs_teacher and not self.teacher:
            raise ConfigError(
                f"methods {', '.join(needs_teacher)} need a teacher", fix="pass --teacher NAME or --teacher auto"
            )

    def runs(self, out: str | Path) -> list[RunSpec]:
        """Every run of the grid, in a stable order (env, method, seed), with absolute run folders."""
        root = Path(out).resolve() / RUNS_DIR
        # an absolute zoo: workers (Ray's especially) may not share the caller's working directory
        zoo = (
            str(Path(self.zoo or default_zoo()).resolve())
            if any(METHODS[m].needs_teacher for m in self.methods)
            else None
        )
        specs = []
        for env_id in self.env_ids:
            for method in self.methods:
                for seed in self.seeds:
                    config = TrainConfig(
                        env_id=env_id,
                        env_kwargs=dict(self.env_kwargs),
                        algo=self.algo,
                        total_timesteps=self.total_timesteps,
                        seed=seed,
                        method=method,
                        teacher=self.teacher if METHODS[method].needs_teacher else None,
                        zoo=zoo,
                        n_envs=self.n_envs,
                        hyperparams=dict(self.hyperparams),
                        policy_kwargs=dict(self.policy_kwargs),
                        transfer=dict(self.transfer) if METHODS[method].needs_teacher else {},
                    )
                    run_dir = root / env_safe_name(env_id) / method / f"seed{seed}"
                    specs.append(RunSpec(config=config, run_dir=run_dir))
        return specs

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (saved in grid.json)."""
        return {
            "env_ids": list(self.env_ids),
            "methods": list(self.methods),
            "seeds": list(self.seeds),
            "total_timesteps": self.total_timesteps,
            "algo": self.algo,
            "teacher": self.teacher,
            "zoo": self.zoo,
            "env_kwargs": self.env_kwargs,
            "threshold": self.threshold,
            "n_envs": self.n_envs,
            "hyperparams": self.hyperparams,
            "policy_kwargs": self.policy_kwargs,
            "transfer": self.transfer,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GridSpec:
        """Inverse of to_dict."""
        return cls(
            env_ids=tuple(data["env_ids"]),
            methods=tuple(data["methods"]),
            seeds=tuple(int(s) for s in data["seeds"]),
            total_timesteps=int(data["total_timesteps"]),
            algo=data.get("algo", "ppo"),
            teacher=data.get("teacher"),
            zoo=data.get("zoo"),
            env_kwargs=dict(data.get("env_kwargs") or {}),
            threshold=data.get("threshold"),
            n_envs=data.get("n_envs"),
            hyperparams=dict(data.get("hyperparams") or {}),
            policy_kwargs=dict(data.get("policy_kwargs") or {}),
            transfer=dict(data.get("transfer") or {}),
        )


IDENTITY_FIELDS = (
    "env_id", "env_kwargs", "algo", "total_timesteps", "seed", "method", "teacher", "n_envs", "transfer",
)  # fmt: skip
"""Config fields that must agree between a finished run and the grid that would reuse it."""


def config_conflict(recorded: dict[str, Any], wanted: TrainConfig) -> str | None:
    """Describe how a finished run's config.json differs from the config the grid wants (None: same)."""
    wanted_dict = wanted.to_dict()
    for name in IDENTITY_FIELDS:
        if recorded.get(name) != wanted_dict.get(name):
            return f"{name} {recorded.get(name)!r} ≠ {wanted_dict.get(name)!r}"
    return None


def read_grid_file(out: str | Path) -> dict[str, Any]:
    """OUT/grid.json (the spec and the invocations that ran it), or {} when there is none."""
    path = Path(out) / GRID_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CardFormatError(f"{path} is not valid JSON", fix=f"delete {path}; runs are kept") from exc
    return data if isinstance(data, dict) else {}
