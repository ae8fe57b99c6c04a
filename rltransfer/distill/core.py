"""`distill()`: the rounds of labelling and fitting, the gate, and deployment (see the package docstring)."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.policies import BasePolicy

from rltransfer.dagger import RoundStats, dagger
from rltransfer.distill.deploy import ONNX_FILE, check_output, deploy, slug, student_entry
from rltransfer.distill.export import (
    ActingNetwork,
    check_onnx,
    count_acting_parameters,
    export_onnx,
    onnx_latency_ms,
    require_onnx,
    torch_latency_ms,
)
from rltransfer.distill.learning import (
    Labeler,
    Trainer,
    agreement_of,
    build_student,
    check_family,
    rollout,
    sync_targets,
)
from rltransfer.distill.probe import TeacherCheck, check_teacher
from rltransfer.distill.report import (
    DistillConfig,
    DistillGateError,
    DistillReport,
    Gate,
    agreement_gate,
    onnx_gate,
    return_gate,
    teacher_gate,
)
from rltransfer.make import make_env
from rltransfer.mapping import Mapping
from rltransfer.rollouts import Evaluation, evaluate, random_act, recording
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo import Teacher, load_teacher

MIN_CHECK_STATES = 1000
PARAMS_COUNTED = (
    "acting network only (features extractor, hidden layers, action head); "
    "critics, value heads, target networks and log-std excluded"
)
_EVAL_SEED = 10_000_000


def distill(
    teacher: Teacher | str | os.PathLike[str],
    env_id: str,
    *,
    config: DistillConfig | None = None,
    env_kwargs: dict[str, Any] | None = None,
    zoo: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    mapping: Mapping | str | os.PathLike[str] | None = None,
    name: str | None = None,
    overwrite: bool = False,
    check: bool = True,
    logger: Logger | None = None,
) -> DistillReport:
    """Distil `teacher` into a small student for `env_id`; deploy it into the zoo folder `out` if it passes.

    Args:
        teacher: A loaded Teacher, or a zoo name or folder.
        env_id: Target task (any Gymnasium id, rltransfer/..., or module:EnvId).
        config: The distillation's settings (student size, thresholds, samples, seed ...); default
            ``DistillConfig()``.
        env_kwargs: gym.make kwargs of the target.
        zoo: Zoo to find `teacher` in.
        out: Zoo folder to deploy into (the student becomes `out/<name>`); None measures without deploying.
        mapping: None (identity when spaces match, else searched), "search", "identity", a YAML path or a Mapping.
        name: Student name (default "<env>-<algo>-student").
        overwrite: Replace an existing `out/<name>`.
        check: Raise TeacherCheckError when the teacher check fails, DistillGateError when a gate fails (else
            return the failed report).
        logger: SB3 Logger receiving transfer/distill_* figures per round.

    Returns:
        The report; `passed` is True and `deployed` lists the written paths when the student passed.

    Raises:
        TeacherCheckError: `check` is True and the mapped teacher (identity, then a searched mapping, or the
            mapping given) does no better than random in a few probe episodes (exit code 1), raised before any
            training. With `check` False the run goes on and the report's first gate is the failed check.
        DistillGateError: A gate failed and `check` is True (exit code 1); nothing was written.
    """
    started = time.perf_counter()
    config = config if config is not None else DistillConfig()
    require_onnx()
    source = teacher if isinstance(teacher, Teacher) else load_teacher(teacher, zoo)
    env = make_env(env_id, env_kwargs)
    try:
        student_name = name if name is not None else f"{slug(env_id)}-{source.card.algo}-student"
        target_dir = check_output(out, student_name, overwrite)
        check_family(source.card.algo, env.action_space)
        teacher_check = check_teacher(source, env, mapping, env_id=env_id, seed=config.seed, zoo=zoo, strict=check)
        fitted = _fit(source, teacher_check, env, config, logger)
        onnx_model = export_onnx(fitted.student)
        report = _report(
            fitted,
            onnx_model,
            env=env,
            env_id=env_id,
            env_kwargs=env_kwargs,
            student_name=student_name,
            target_dir=target_dir,
            config=config,
            started=started,
        )
        if logger is not None:
            for key, value in (("agreement", report.agreement), ("return_ratio", report.return_ratio)):
                logger.record(f"transfer/distill_{key}", value)
            logger.record("transfer/distill_passed", float(report.passed))
            logger.dump(step=len(fitted.rounds))
        if report.passed and target_dir is not None:
            _deploy_student(target_dir, fitted, onnx_model, report, env=env, config=config, overwrite=overwrite)
    finally:
        env.close()
    if check and not report.passed:
        raise DistillGateError(report)
    return report


@dataclass(kw_only=True, frozen=True)
class _Measured:
    """Evaluation figures of teacher, student and random policy on the same seeded episodes."""

    teacher: Evaluation
    student: Evaluation
    random: Evaluation
    agreement: float
    agreement_teacher_states: float
    agreement_student_states: float
    held_out: int
    check_states: np.ndarray
    env_steps: int


@dataclass(kw_only=True, frozen=True)
class _Fitted:
    """A student fitted to the mapped teacher, and what was measured of both on held-out episodes."""

    teacher: Teacher
    teacher_check: TeacherCheck
    labeler: Labeler
    student: BasePolicy
    student_kwargs: dict[str, Any]
    network: ActingNetwork
    rounds: list[RoundStats]
    measured: _Measured


def _fit(
    source: Teacher, teacher_check: TeacherCheck, env: gym.Env[Any, Any], config: DistillConfig, logger: Logger | None
) -> _Fitted:
    """Build the seeded student, run the labelling and fitting rounds, then measure it."""
    labeler = Labeler(source, teacher_check.mapping, env, config.temperature)
    with torch.random.fork_rng():  # seeded initial weights without touching the caller's global RNG
        torch.manual_seed(config.seed)
        student, student_kwargs = build_student(source, env, config.hidden)
    network = ActingNetwork(student)
    trainer = Trainer(network, config, dqn_student=source.card.algo == "dqn")
    rounds = _train(env, labeler, trainer, config, logger)
    sync_targets(student)
    return _Fitted(
        teacher=source,
        teacher_check=teacher_check,
        labeler=labeler,
        student=student,
        student_kwargs=student_kwargs,
        network=network,
        rounds=rounds,
        measured=_measure(env, labeler, network, config),
    )


def _report(
    fitted: _Fitted,
    onnx_model: bytes,
    *,
    env: gym.Env[Any, Any],
    env_id: str,
    env_kwargs: dict[str, Any] | None,
    student_name: str,
    target_dir: Path | None,
    config: DistillConfig,
    started: float,
) -> DistillReport:
    """Run the gates (teacher check, agreement, return, ONNX) and time both policies into the report."""
    measured, source, teacher_check = fitted.measured, fitted.teacher, fitted.teacher_check
    ratio, returns = return_gate(
        measured.teacher.mean, measured.student.mean, measured.random.mean, config.required_return_ratio
    )
    onnx_result = check_onnx(onnx_model, fitted.student, measured.check_states)
    gates = (
        *(() if teacher_check.passed else (_teacher_gate(teacher_check),)),
        agreement_gate(measured.agreement, config.threshold, measured.held_out),
        returns,
        onnx_gate(onnx_result),
    )
    passed = all(gate.passed for gate in gates)
    calls = config.latency_calls
    teacher_states = teacher_check.mapping.obs.apply(measured.check_states)
    latency = {
        "teacher_torch": torch_latency_ms(source.policy, teacher_states, calls=calls),
        "student_torch": torch_latency_ms(fitted.student, measured.check_states, calls=calls),
        "student_onnx": onnx_latency_ms(onnx_model, measured.check_states, calls=calls),
    }
    env_steps = teacher_check.env_steps + fitted.rounds[-1].env_steps + measured.env_steps
    if passed and target_dir is not None and config.transitions:
        env_steps += config.transitions  # sampled on deployment
    teacher_params, student_params = count_acting_parameters(source.policy), count_acting_parameters(fitted.student)
    return DistillReport(
        teacher=source.name,
        student=student_name,
        env_id=env_id,
        env_kwargs=dict(env_kwargs or {}),
        algo=source.card.algo,
        mapping=teacher_check.mapping.describe(SpaceSignature.of(env.observation_space).dim),
        hidden=config.hidden,
        agreement=measured.agreement,
        agreement_teacher_states=measured.agreement_teacher_states,
        agreement_student_states=measured.agreement_student_states,
        held_out_states=measured.held_out,
        teacher_return=measured.teacher.mean,
        student_return=measured.student.mean,
        random_return=measured.random.mean,
        return_ratio=ratio,
        eval_episodes=config.eval_episodes,
        teacher_params=teacher_params,
        student_params=student_params,
        param_ratio=student_params / teacher_params,
        params_counted=PARAMS_COUNTED,
        latency_ms=latency,
        gates=gates,
        passed=passed,
        rounds=tuple(fitted.rounds),
        env_steps=env_steps,
        seconds=time.perf_counter() - started,
        onnx_check=onnx_result.to_dict(),
        deployed=(str(target_dir), str(target_dir / ONNX_FILE)) if passed and target_dir is not None else (),
        config=asdict(config),
        teacher_check=teacher_check.to_dict(),
    )


def _deploy_student(
    target_dir: Path,
    fitted: _Fitted,
    onnx_model: bytes,
    report: DistillReport,
    *,
    env: gym.Env[Any, Any],
    config: DistillConfig,
    overwrite: bool,
) -> None:
    """Write the passed student into `target_dir` as a zoo entry of its own."""
    entry = student_entry(report, fitted.teacher, fitted.teacher_check.mapping, fitted.student_kwargs, config)
    deploy(
        target_dir,
        fitted.student,
        entry,
        onnx_model,
        report,
        env=env,
        act=fitted.network.act_one,
        evaluation=fitted.measured.student,
        transitions=config.transitions,
        transitions_seed=_EVAL_SEED - 1,
        overwrite=overwrite,
    )


def _teacher_gate(teacher_check: TeacherCheck) -> Gate:
    """A failed teacher check as the report's first gate."""
    last = teacher_check.trials[-1]
    return teacher_gate(last.teacher_return, last.random_return, f"{teacher_check.problem} — {teacher_check.fix}")


def _train(
    env: gym.Env[Any, Any], labeler: Labeler, trainer: Trainer, config: DistillConfig, logger: Logger | None
) -> list[RoundStats]:
    """Teacher rollouts, then DAgger rounds (rltransfer.dagger): collect states, label, aggregate, fit."""
    network = trainer.network
    n_actions = int(env.action_space.n) if isinstance(env.action_space, gym.spaces.Discrete) else 0
    targets: list[np.ndarray] = []

    def collect(index: int) -> tuple[np.ndarray, int]:
        act = labeler.act if index == 0 else network.act_one
        exploration = config.exploration if index == 0 else 0.0
        states = rollout(env, act, steps=config.samples, seed=config.seed * 1000 + index, exploration=exploration)
        targets.append(labeler.targets(states, n_actions))
        return states, len(states)

    def fit(states: np.ndarray) -> float:
        return trainer.fit(states, np.concatenate(targets))

    def agreement(states: np.ndarray) -> float:
        return agreement_of(network, labeler, states, config.tolerance)

    rounds = dagger(collect, fit, agreement, rounds=config.dagger_rounds)
    if logger is not None:
        for stats in rounds:
            for key in ("round", "samples", "loss", "train_agreement", "env_steps"):
                logger.record(f"transfer/distill_{key}", getattr(stats, key))
            logger.dump(step=stats.round)
    return rounds


def _measure(env: gym.Env[Any, Any], labeler: Labeler, network: ActingNetwork, config: DistillConfig) -> _Measured:
    """Returns over the same seeded episodes, and agreement on the states those episodes visited (held out)."""
    seed = _EVAL_SEED + 1000 * config.seed
    episodes = config.eval_episodes
    teacher_states: list[np.ndarray] = []
    student_states: list[np.ndarray] = []
    teacher = evaluate(env, recording(labeler.act, teacher_states), episodes=episodes, seed=seed)
    student = evaluate(env, recording(network.act_one, student_states), episodes=episodes, seed=seed)
    env.action_space.seed(seed)
    random = evaluate(env, random_act(env.action_space), episodes=episodes, seed=seed)
    env_steps = teacher.env_steps + student.env_steps + random.env_steps
    on_teacher, on_student = np.asarray(teacher_states), np.asarray(student_states)
    held_out = np.concatenate([on_teacher, on_student])
    check_states = held_out
    if len(held_out) < MIN_CHECK_STATES:  # short episodes: top up with noisy teacher states for the ONNX check
        extra = rollout(env, labeler.act, steps=MIN_CHECK_STATES - len(held_out), seed=seed - 1, exploration=0.3)
        env_steps += len(extra)
        check_states = np.concatenate([held_out, extra])
    return _Measured(
        teacher=teacher,
        student=student,
        random=random,
        agreement=agreement_of(network, labeler, held_out, config.tolerance),
        agreement_teacher_states=agreement_of(network, labeler, on_teacher, config.tolerance),
        agreement_student_states=agreement_of(network, labeler, on_student, config.tolerance),
        held_out=len(held_out),
        check_states=check_states,
        env_steps=env_steps,
    )
