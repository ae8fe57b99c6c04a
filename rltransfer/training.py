"""Train a student in a run folder: the contract every method, `train`, `compare` and the demo share.

A run folder holds `config.json` (resolved), `command.txt`, `episodes.csv` (timesteps,return,length
per finished training episode), `decisions.jsonl` (transfer decisions), `tb/` (TensorBoard events),
`student/` (the final student as a zoo teacher) and, last, `result.json`, whose presence marks the
run as finished. A run that fails writes `error.txt` (the one-line error, then the traceback) instead.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import json
import os
import shutil
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rltransfer.errors import ConfigError, OutputError, RLTransferError, RunFailedError
from rltransfer.hyperparams import check_hyperparams, check_policy_kwargs
from rltransfer.io import atomic_write_json, atomic_write_text, output_error
from rltransfer.make import GuardedEnv, make_env
from rltransfer.policies import ALGOS, algo_class, check_action_space
from rltransfer.spaces import SpaceSignature
from rltransfer.transfer.checkpoint import has_checkpoint

RESULT_FILE = "result.json"
EPISODES_FILE = "episodes.csv"
DECISIONS_FILE = "decisions.jsonl"
ERROR_FILE = "error.txt"
CONFIG_FILE = "config.json"
STUDENT_EVAL_EPISODES = 5
MAX_TIMESTEPS = 10**10
"""Most environment steps one run may ask for (10 billion: days of training even for the fastest envs)."""
MAX_N_ENVS = 1024
"""Most parallel training environments of one run (each is a Python object stepped in this process)."""
MAX_SEED = 2**31 - 1 - MAX_N_ENVS
"""Largest seed: numpy takes seeds below 2**32, and env k of a run is seeded with seed + k."""
RUN_ENTRIES = (
    CONFIG_FILE,
    "command.txt",
    EPISODES_FILE,
    DECISIONS_FILE,
    RESULT_FILE,
    ERROR_FILE,
    "tb",
    "checkpoint",
    "student",
)
"""What a run writes into its folder (plus hidden temporary siblings of these while writing)."""


@dataclass(kw_only=True, frozen=True)
class TrainConfig:
    """A student run, fully resolved.

    Attributes:
        env_id: Target environment id.
        env_kwargs: gym.make kwargs of the target.
        algo: SB3 algorithm of the student.
        total_timesteps: Environment steps to train for.
        seed: Seed of environments, networks and sampling.
        method: "scratch", "finetune", "kickstart", "jsrl", "instance", "representation" or "auto".
        teacher: Teacher name or folder, "auto" for the top of the ranking, or None for scratch.
        zoo: Zoo folder (None: the default zoo).
        n_envs: Parallel training environments (None: the hyperparams of record).
        hyperparams: Algorithm kwargs overriding the hyperparams of record.
        policy_kwargs: Policy kwargs overriding the hyperparams of record.
        mapping: Mapping.to_dict() of teacher → student spaces; None: identity when the spaces match,
            else found by rltransfer.selection.find_mapping.
        transfer: Options of the transfer method (see rltransfer.transfer).
    """

    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    algo: str = "ppo"
    total_timesteps: int = 50_000
    seed: int = 0
    method: str = "scratch"
    teacher: str | None = None
    zoo: str | None = None
    n_envs: int | None = None
    hyperparams: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, Any] | None = None
    transfer: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.algo.lower() not in ALGOS:
            algo_class(self.algo)
        if not 0 < self.total_timesteps <= MAX_TIMESTEPS:
            raise ConfigError(
                f"--steps must be in [1, {MAX_TIMESTEPS:.0e}], got {self.total_timesteps}", fix="pass --steps N"
            )
        if self.n_envs is not None and not 0 < self.n_envs <= MAX_N_ENVS:
            raise ConfigError(
                f"n_envs must be in [1, {MAX_N_ENVS}], got {self.n_envs}", fix=f"pass --n-envs N with N <= {MAX_N_ENVS}"
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"--seed must be in [0, {MAX_SEED}], got {self.seed}", fix="pass --seed K, e.g. 0")
        check_hyperparams(self.algo, self.hyperparams)
        check_policy_kwargs(self.policy_kwargs)
        from rltransfer.transfer.config import TransferConfig
        from rltransfer.transfer.methods import method_builder

        method_builder(self.method)
        TransferConfig.from_dict(self.transfer)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (saved as config.json)."""
        return asdict(self)


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
    """Part of learn_seconds spent once on teacher probes and demonstrations (not per step)."""
    transfer_step_seconds: float = 0.0
    """Part of learn_seconds spent in transfer code after setup (extra steps, controller, replay mixing)."""
    learn_seconds: float = 0.0
    """Wall time of model.learn alone (this session's part on resume): the per-step cost of training."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return asdict(self)


class EpisodeRecorder(BaseCallback):
    """Append one `timesteps,return,length` row to episodes.csv per finished training episode.

    Reads the `episode` entry that SB3's Monitor wrapper puts in `info`, so it works for every
    algorithm and any number of environments. The file is flushed after each row: a run killed
    mid-way keeps every finished episode.
    """

    def __init__(self, path: Path, *, append: bool = False) -> None:
        super().__init__()
        self.path = path
        self.append = append
        self.returns: list[float] = []
        self._handle: Any = None
        self._writer: Any = None

    def _on_training_start(self) -> None:
        mode = "a" if self.append and self.path.exists() else "w"
        self._handle = open(self.path, mode, newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.writer(self._handle)
        if mode == "w":
            self._writer.writerow(["timesteps", "return", "length"])

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            episode = info.get("episode")
            if episode is not None:
                self.returns.append(float(episode["r"]))
                self._writer.writerow([self.num_timesteps, float(episode["r"]), int(episode["l"])])
                self._handle.flush()
        return True

    def _on_training_end(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_episodes(run_dir: str | Path) -> np.ndarray:
    """episodes.csv of a run as an (n, 3) float array: timesteps, return, length."""
    path = Path(run_dir) / EPISODES_FILE
    if not path.exists():
        return np.zeros((0, 3))
    rows = [row for row in csv.reader(path.open(encoding="utf-8"))][1:]
    return np.asarray([[float(v) for v in row] for row in rows if len(row) == 3], dtype=np.float64).reshape(-1, 3)


def is_finished(run_dir: str | Path) -> bool:
    """True when the run wrote result.json (finished runs are skipped on resume)."""
    return (Path(run_dir) / RESULT_FILE).is_file()


def write_run_header(run_dir: Path, config: TrainConfig, command: str) -> None:
    """config.json and command.txt, written atomically before training starts."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / "config.json", config.to_dict())
    atomic_write_text(run_dir / "command.txt", command + "\n")


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
    )
    atomic_write_json(run_dir / RESULT_FILE, result.to_dict(), sort_keys=False)
    return result


def make_student_env(config: TrainConfig, n_envs: int) -> Any:
    """The student's vectorised, Monitor-wrapped training environments (seeded from config.seed).

    Each env is guarded: an exception or a NaN/inf observation or reward stops the run with one line.
    """
    from stable_baselines3.common.env_util import make_vec_env

    from rltransfer.make import check_env_id

    check_env_id(config.env_id)
    return make_vec_env(
        lambda: GuardedEnv(make_env(config.env_id, config.env_kwargs), config.env_id), n_envs=n_envs, seed=config.seed
    )


def check_target(config: TrainConfig) -> None:
    """Before anything is written: the target env can be made and config.algo can act in its spaces."""
    check_target_env(config.env_id, config.env_kwargs, algo=config.algo)


def check_target_env(env_id: str, env_kwargs: dict[str, Any], *, algo: str) -> None:
    """The env can be made, its spaces are Box or Discrete, and `algo` can act in its action space."""
    env = make_env(env_id, env_kwargs)
    try:
        SpaceSignature.of(env.observation_space, role="observation")
        SpaceSignature.of(env.action_space, role="action")
        check_action_space(algo, env.action_space, env_id=env_id)
    finally:
        with contextlib.suppress(Exception):
            env.close()


def run_folder_state(run_dir: str | Path) -> str:
    """What a run folder holds: "empty", "finished", "interrupted", "failed", "unreadable" or "foreign".

    "interrupted" has a checkpoint to resume; "failed" stopped before its first checkpoint (it can be run
    again); "unreadable" has a config.json that is not a run's; "foreign" holds files that are not a run's.
    """
    path = Path(run_dir)
    if not path.is_dir() or not any(path.iterdir()):
        return "empty"
    if is_finished(path):
        return "finished"
    if (path / "checkpoint" / "state.json").is_file():
        return "interrupted"
    config = path / CONFIG_FILE
    if config.is_file():
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "unreadable"
        return "failed" if isinstance(data, dict) and {"env_id", "method", "seed"} <= set(data) else "unreadable"
    return "failed" if all(_is_run_entry(entry.name) for entry in path.iterdir()) else "foreign"


def _is_run_entry(name: str) -> bool:
    return name in RUN_ENTRIES or any(name.startswith(f".{entry}.") for entry in RUN_ENTRIES)


def clear_run_folder(run_dir: str | Path) -> None:
    """Remove everything a run wrote into `run_dir` (other files are kept): a fresh start."""
    path = Path(run_dir)
    if not path.is_dir():
        return
    for entry in path.iterdir():
        if _is_run_entry(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive_run_folder(run_dir: str | Path) -> Iterator[Path]:
    """Create `run_dir` and hold an exclusive lock on it while the block runs (another process is refused)."""
    path = Path(run_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise output_error(path, exc) from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise OutputError(
                f"{path} is in use by another rltransfer process", fix="wait for it to finish, or choose another --out"
            ) from exc
        yield path
    finally:
        os.close(handle)


def write_error(run_dir: Path, line: str) -> None:
    """Write run_dir/error.txt: the one-line error, then the traceback being handled (best effort)."""
    with contextlib.suppress(OSError):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ERROR_FILE).write_text(f"{line}\n\n{traceback.format_exc()}", encoding="utf-8")


def read_error(run_dir: str | Path) -> str:
    """The one-line error a failed run left in error.txt ("" when there is none)."""
    path = Path(run_dir) / ERROR_FILE
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    if not lines:
        return ""
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]


def resolve_settings(config: TrainConfig) -> dict[str, Any]:
    """Hyperparams of record for (algo, env) overridden by the config: n_envs, policy_kwargs, hyperparams."""
    from rltransfer.hyperparams import default_hyperparams, merge

    settings = merge(
        default_hyperparams(config.algo, config.env_id),
        {"policy_kwargs": config.policy_kwargs, "hyperparams": config.hyperparams},
    )
    if config.n_envs is not None:
        settings["n_envs"] = config.n_envs
    return settings


def save_student(model: Any, config: TrainConfig, run_path: Path, *, teacher: str | None) -> None:
    """Evaluate the final student briefly and save it as a zoo teacher in run_path/student."""
    from rltransfer.evaluation import evaluate, policy_act
    from rltransfer.make import env_family, make_env
    from rltransfer.policies import encode_policy_kwargs
    from rltransfer.spaces import SpaceSignature
    from rltransfer.zoo import TeacherCard, save_teacher

    env = make_env(config.env_id, config.env_kwargs)
    try:
        evaluation = evaluate(env, policy_act(model.policy), episodes=STUDENT_EVAL_EPISODES, seed=10_000 + config.seed)
    finally:
        env.close()
    card = TeacherCard(
        name="student",
        env_id=config.env_id,
        env_kwargs=config.env_kwargs,
        family=env_family(config.env_id),
        algo=config.algo.lower(),
        policy_kwargs=encode_policy_kwargs(dict(model.policy_kwargs)),
        observation_space=SpaceSignature.of(model.observation_space),
        action_space=SpaceSignature.of(model.action_space),
        n_timesteps=config.total_timesteps,
        seed=config.seed,
        evaluation=evaluation.to_dict(),
        hyperparams={k: v for k, v in config.hyperparams.items() if isinstance(v, (int, float, str, bool))},
        notes=f"student trained by rltransfer train, method {config.method}, teacher {teacher}",
    )
    save_teacher(model.policy, card, run_path / "student", overwrite=True)


def train_student(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    progress_bar: bool = False,
    command: str = "",
    resume: bool = False,
) -> RunResult:
    """Train a student in `run_dir` with `config.method` (see rltransfer.transfer.methods.METHODS).

    Ctrl-C (KeyboardInterrupt) saves run_dir/checkpoint and re-raises; `resume=True` restores the
    checkpoint and continues to the same total_timesteps, appending to episodes.csv and decisions.jsonl.
    Any other failure writes run_dir/error.txt and raises an RLTransferError: the env's or the run's
    own, OutputError for a full disk, RunFailedError (exit 1) for a crash.
    """
    run_path = Path(run_dir)
    if resume:
        if not has_checkpoint(run_path):
            raise OutputError(
                f"nothing to resume in {run_path} (no checkpoint: the run stopped before its first one)",
                fix="run the same command without --resume to start it again",
            )
        saved = json.loads((run_path / CONFIG_FILE).read_text(encoding="utf-8"))
        if saved != json.loads(json.dumps(config.to_dict())):
            raise ConfigError(
                f"the settings differ from those of the run in {run_path}",
                fix="resume with the same arguments, or add --overwrite to start again with the new ones",
            )
    try:
        return _train_student(config, run_path, progress_bar=progress_bar, command=command, resume=resume)
    except RLTransferError as exc:
        write_error(run_path, exc.line())
        raise
    except OSError as exc:
        error = output_error(run_path, exc) if exc.errno == errno.ENOSPC else None
        line = error.line() if error else _crash_line(exc, run_path)
        write_error(run_path, line)
        if error:
            raise error from exc
        raise RunFailedError(line.partition(" — ")[0], fix=line.partition(" — ")[2]) from exc
    except Exception as exc:  # a crash inside SB3, torch or an env: one line here, the traceback in error.txt
        line = _crash_line(exc, run_path)
        write_error(run_path, line)
        raise RunFailedError(line.partition(" — ")[0], fix=line.partition(" — ")[2]) from exc


def _crash_line(exc: BaseException, run_path: Path) -> str:
    text = str(exc).strip().splitlines()
    what = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return (
        f"the run crashed ({what}) — the traceback is in {run_path / ERROR_FILE}; fix the cause and run the same "
        "command again (the folder is reused)"
    )


def _train_student(config: TrainConfig, run_path: Path, *, progress_bar: bool, command: str, resume: bool) -> RunResult:
    import torch

    from rltransfer.hyperparams import algo_kwargs
    from rltransfer.policies import decode_policy_kwargs
    from rltransfer.transfer.algorithms import env_factory_of
    from rltransfer.transfer.checkpoint import load_checkpoint, save_checkpoint
    from rltransfer.transfer.methods import MethodContext, method_builder

    builder = method_builder(config.method)
    started = time.time()
    if not resume:
        clear_run_folder(run_path)
        write_run_header(run_path, config, command or f"train_student({config})")
    torch.manual_seed(config.seed)
    settings = resolve_settings(config)
    vec_env = make_student_env(config, int(settings["n_envs"]))
    action_dim = int(np.prod(vec_env.action_space.shape or (1,)))
    context = MethodContext(
        config=config,
        vec_env=vec_env,
        env_factory=env_factory_of(vec_env),
        decisions_path=run_path / DECISIONS_FILE,
        model_kwargs={
            "seed": config.seed,
            "device": "cpu",
            "verbose": 0,
            "tensorboard_log": str(run_path / "tb"),
            "policy_kwargs": decode_policy_kwargs(settings["policy_kwargs"]),
            **algo_kwargs(settings["hyperparams"], action_dim),
        },
    )
    try:
        setup = builder(context)
    except TypeError as exc:
        raise ConfigError(f"bad hyperparameters for {config.algo} ({exc})", fix="check --hyperparams") from exc
    model = setup.model
    done = load_checkpoint(run_path, model, setup.stateful) if resume else 0
    recorder = EpisodeRecorder(run_path / EPISODES_FILE, append=resume)
    learn_started = time.time()
    try:
        model.learn(
            total_timesteps=config.total_timesteps - done,
            callback=[recorder, *setup.callbacks],
            progress_bar=progress_bar,
            tb_log_name=config.method,
            reset_num_timesteps=not resume,
            # dump every iteration (on-policy) or episode (off-policy): SB3's defaults (A2C: 100 iterations,
            # off-policy: 4 episodes) leave short runs without TensorBoard scalars
            log_interval=1,
        )
    except KeyboardInterrupt:
        save_checkpoint(run_path, model, setup.stateful)
        raise
    finally:
        recorder._on_training_end()
        setup.vec_env.close()
    learn_seconds = time.time() - learn_started
    save_student(model, config, run_path, teacher=setup.teacher)
    engine = getattr(model, "transfer_engine", None)
    result = finish_run(
        run_path,
        config,
        # the whole episodes.csv: after a resume the recorder holds only this session's episodes
        [float(r) for r in read_episodes(run_path)[:, 1]],
        started,
        transfer_env_steps=engine.extra_env_steps if engine else 0,
        learn_seconds=learn_seconds,
        transfer_setup_seconds=engine.setup_seconds if engine else 0.0,
        transfer_step_seconds=engine.transfer_seconds(model) if engine else 0.0,
    )
    shutil.rmtree(run_path / "checkpoint", ignore_errors=True)
    return result
