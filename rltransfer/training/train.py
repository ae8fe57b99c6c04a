"""Train a student in a run folder: the contract every method, `train`, `compare` and the demo share."""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from rltransfer.errors import ConfigError, OutputError, RLTransferError, RunFailedError
from rltransfer.io import output_error
from rltransfer.make import GuardedEnv, check_env_id, make_env
from rltransfer.policies import check_action_space, decode_policy_kwargs, encode_policy_kwargs
from rltransfer.spaces import SpaceSignature
from rltransfer.training.checkpoint import load_checkpoint, save_checkpoint
from rltransfer.training.config import TrainConfig
from rltransfer.training.folder import (
    CHECKPOINT_DIR,
    DECISIONS_FILE,
    EPISODES_FILE,
    ERROR_FILE,
    STUDENT_DIR,
    TB_DIR,
    clear_run_folder,
    has_checkpoint,
    read_config,
    read_episodes,
    write_error,
    write_run_header,
)
from rltransfer.training.hparams import HParamsLogger, run_hparams
from rltransfer.training.result import RunResult, finish_run
from rltransfer.transfer.algorithms import env_factory_of
from rltransfer.transfer.builders import MethodContext, StudentSetup
from rltransfer.transfer.methods import method_builder
from rltransfer.zoo.hyperparams import algo_kwargs, default_hyperparams, merge
from rltransfer.zoo.publish import ZooEntry, publish_teacher

STUDENT_EVAL_EPISODES = 5


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


def make_student_env(config: TrainConfig, n_envs: int) -> Any:
    """The student's vectorised, Monitor-wrapped training environments (seeded from config.seed).

    Each env is guarded: an exception or a NaN/inf observation or reward stops the run with one line.
    """
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


def resolve_settings(config: TrainConfig) -> dict[str, Any]:
    """Hyperparams of record for (algo, env) overridden by the config: n_envs, policy_kwargs, hyperparams."""
    settings = merge(
        default_hyperparams(config.algo, config.env_id),
        {"policy_kwargs": config.policy_kwargs, "hyperparams": config.hyperparams},
    )
    if config.n_envs is not None:
        settings["n_envs"] = config.n_envs
    return settings


def save_student(model: Any, config: TrainConfig, run_path: Path, *, teacher: str | None) -> None:
    """Evaluate the final student briefly and save it as a zoo teacher in run_path/student."""
    entry = ZooEntry(
        name="student",
        env_id=config.env_id,
        env_kwargs=config.env_kwargs,
        algo=config.algo.lower(),
        policy_kwargs=encode_policy_kwargs(dict(model.policy_kwargs)),
        n_timesteps=config.total_timesteps,
        seed=config.seed,
        hyperparams={k: v for k, v in config.hyperparams.items() if isinstance(v, (int, float, str, bool))},
        notes=f"student trained by rltransfer train, method {config.method}, teacher {teacher}",
    )
    env = make_env(config.env_id, config.env_kwargs)
    try:
        publish_teacher(
            model.policy,
            run_path / STUDENT_DIR,
            entry=entry,
            env=env,
            eval_episodes=STUDENT_EVAL_EPISODES,
            eval_seed=10_000 + config.seed,
            overwrite=True,
        )
    finally:
        env.close()


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
        _check_resumable(config, run_path)
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


def _check_resumable(config: TrainConfig, run_path: Path) -> None:
    if not has_checkpoint(run_path):
        raise OutputError(
            f"nothing to resume in {run_path} (no checkpoint: the run stopped before its first one)",
            fix="run the same command without --resume to start it again",
        )
    if read_config(run_path) != json.loads(json.dumps(config.to_dict())):
        raise ConfigError(
            f"the settings differ from those of the run in {run_path}",
            fix="resume with the same arguments, or add --overwrite to start again with the new ones",
        )


def _crash_line(exc: BaseException, run_path: Path) -> str:
    text = str(exc).strip().splitlines()
    what = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return (
        f"the run crashed ({what}) — the traceback is in {run_path / ERROR_FILE}; fix the cause and run the same "
        "command again (the folder is reused)"
    )


def _build_student(config: TrainConfig, run_path: Path, settings: dict[str, Any]) -> StudentSetup:
    """The method's student on fresh, seeded training environments, with the resolved hyperparameters."""
    builder = method_builder(config.method)
    torch.manual_seed(config.seed)
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
            "tensorboard_log": str(run_path / TB_DIR),
            "policy_kwargs": decode_policy_kwargs(settings["policy_kwargs"]),
            **algo_kwargs(settings["hyperparams"], action_dim),
        },
    )
    try:
        setup: StudentSetup = builder(context)
    except TypeError as exc:
        raise ConfigError(f"bad hyperparameters for {config.algo} ({exc})", fix="check --hyperparams") from exc
    return setup


def _train_student(config: TrainConfig, run_path: Path, *, progress_bar: bool, command: str, resume: bool) -> RunResult:
    started = time.time()
    if not resume:
        clear_run_folder(run_path)
        write_run_header(run_path, config.to_dict(), command or f"train_student({config})")
    settings = resolve_settings(config)
    setup = _build_student(config, run_path, settings)
    model = setup.model
    done = load_checkpoint(run_path, model, setup.stateful) if resume else 0
    recorder = EpisodeRecorder(run_path / EPISODES_FILE, append=resume)
    hparams = HParamsLogger(run_hparams(config, settings, setup.teacher))
    learn_started = time.time()
    try:
        model.learn(
            total_timesteps=config.total_timesteps - done,
            callback=[recorder, hparams, *setup.callbacks],
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
    shutil.rmtree(run_path / CHECKPOINT_DIR, ignore_errors=True)
    return result
