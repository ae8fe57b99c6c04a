"""`distill()`: the rounds of labelling and fitting, the gate, and deployment (see the package docstring)."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.policies import BasePolicy

from rltransfer.distill.learning import (
    Labeler,
    Trainer,
    agreement_of,
    build_student,
    check_family,
    recording,
    rollout,
    sync_targets,
)
from rltransfer.distill.probe import TeacherCheck, check_teacher
from rltransfer.distill.report import (
    DistillConfig,
    DistillGateError,
    DistillReport,
    Gate,
    RoundStats,
    agreement_gate,
    finite,
    onnx_gate,
    return_gate,
    teacher_gate,
)
from rltransfer.errors import OutputError
from rltransfer.evaluation import Evaluation, evaluate, random_act
from rltransfer.export import ActingNetwork, count_acting_parameters
from rltransfer.make import make_env
from rltransfer.mapping import Mapping
from rltransfer.spaces import SpaceSignature
from rltransfer.zoo import Teacher, TeacherCard, load_teacher, validate_entry_name

ONNX_FILE = "policy.onnx"
REPORT_FILE = "distill.json"
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
    env_kwargs: dict[str, Any] | None = None,
    hidden: tuple[int, ...] | list[int] = (32, 32),
    threshold: float = 0.95,
    samples: int = 4000,
    dagger_rounds: int = 4,
    seed: int = 0,
    zoo: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    eval_episodes: int = 20,
    return_threshold: float | None = None,
    tolerance: float = 0.05,
    mapping: Mapping | str | os.PathLike[str] | None = None,
    name: str | None = None,
    overwrite: bool = False,
    check: bool = True,
    logger: Logger | None = None,
    config: DistillConfig | None = None,
) -> DistillReport:
    """Distil `teacher` into a small student for `env_id`; deploy it into the zoo folder `out` if it passes.

    Args:
        teacher: A loaded Teacher, or a zoo name or folder.
        env_id: Target task (any Gymnasium id, rltransfer/..., or module:EnvId).
        env_kwargs: gym.make kwargs of the target.
        hidden: Student hidden sizes.
        threshold: Required agreement (and, unless `return_threshold` is given, return ratio).
        samples: Labelled states per round.
        dagger_rounds: DAgger rounds after the teacher's rollouts.
        seed: Seed of everything.
        zoo: Zoo to find `teacher` in.
        out: Zoo folder to deploy into (the student becomes `out/<name>`); None measures without deploying.
        eval_episodes: Episodes per return figure (>= 20).
        return_threshold: Required (student − random) / (teacher − random), default `threshold`.
        tolerance: Continuous agreement tolerance as a fraction of the action range.
        mapping: None (identity when spaces match, else searched), "search", a YAML path or a Mapping.
        name: Student name (default "<env>-<algo>-student").
        overwrite: Replace an existing `out/<name>`.
        check: Raise TeacherCheckError when the teacher check fails, DistillGateError when a gate fails (else
            return the failed report).
        logger: SB3 Logger receiving transfer/distill_* figures per round.
        config: Full settings; when given it replaces hidden … tolerance above.

    Returns:
        The report; `passed` is True and `deployed` lists the written paths when the student passed.

    Raises:
        TeacherCheckError: `check` is True and the mapped teacher (identity, then a searched mapping, or the
            mapping given) does no better than random in a few probe episodes (exit code 1), raised before any
            training. With `check` False the run goes on and the report's first gate is the failed check.
        DistillGateError: A gate failed and `check` is True (exit code 1); nothing was written.
    """
    from rltransfer.export import check_onnx, export_onnx, onnx_latency_ms, require_onnx, torch_latency_ms

    started = time.perf_counter()
    if config is None:
        config = DistillConfig(
            hidden=tuple(int(size) for size in hidden),
            threshold=threshold,
            return_threshold=return_threshold,
            tolerance=tolerance,
            samples=samples,
            dagger_rounds=dagger_rounds,
            eval_episodes=eval_episodes,
            seed=seed,
        )
    require_onnx()
    source = teacher if isinstance(teacher, Teacher) else load_teacher(teacher, zoo)
    env = make_env(env_id, env_kwargs)
    try:
        algo = source.card.algo
        student_name = name if name is not None else f"{slug(env_id)}-{algo}-student"
        target_dir = _check_output(out, student_name, overwrite)
        check_family(algo, env.action_space)
        teacher_check = check_teacher(source, env, mapping, env_id=env_id, seed=config.seed, zoo=zoo, strict=check)
        found = teacher_check.mapping
        labeler = Labeler(source, found, env, config.temperature)
        with torch.random.fork_rng():  # seeded initial weights without touching the caller's global RNG
            torch.manual_seed(config.seed)
            student, student_kwargs = build_student(source, env, config.hidden)
        network = ActingNetwork(student)
        rounds = _train(env, labeler, Trainer(network, config, dqn_student=algo == "dqn"), config, logger)
        sync_targets(student)
        measured = _measure(env, labeler, network, config)

        ratio, returns = return_gate(
            measured.teacher.mean, measured.student.mean, measured.random.mean, config.required_return_ratio
        )
        onnx_model = export_onnx(student)
        onnx_result = check_onnx(onnx_model, student, measured.check_states)
        gates = (
            *(() if teacher_check.passed else (_teacher_gate(teacher_check),)),
            agreement_gate(measured.agreement, config.threshold, measured.held_out),
            returns,
            onnx_gate(onnx_result),
        )
        passed = all(gate.passed for gate in gates)
        calls = config.latency_calls
        latency = {
            "teacher_torch": torch_latency_ms(source.policy, found.obs.apply(measured.check_states), calls=calls),
            "student_torch": torch_latency_ms(student, measured.check_states, calls=calls),
            "student_onnx": onnx_latency_ms(onnx_model, measured.check_states, calls=calls),
        }
        env_steps = teacher_check.env_steps + rounds[-1].env_steps + measured.env_steps
        transitions = None
        if passed and target_dir is not None and config.transitions:
            from rltransfer.recipes import sample_transitions

            transitions = sample_transitions(env, network.act_one, steps=config.transitions, seed=_EVAL_SEED - 1)
            env_steps += config.transitions
        teacher_params, student_params = count_acting_parameters(source.policy), count_acting_parameters(student)
        report = DistillReport(
            teacher=source.name,
            student=student_name,
            env_id=env_id,
            env_kwargs=dict(env_kwargs or {}),
            algo=algo,
            mapping=found.describe(SpaceSignature.of(env.observation_space).dim),
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
            rounds=tuple(rounds),
            env_steps=env_steps,
            seconds=time.perf_counter() - started,
            onnx_check=onnx_result.to_dict(),
            deployed=(str(target_dir), str(target_dir / ONNX_FILE)) if passed and target_dir is not None else (),
            config=asdict(config),
            teacher_check=teacher_check.to_dict(),
        )
        if logger is not None:
            for key, value in (("agreement", measured.agreement), ("return_ratio", ratio), ("passed", float(passed))):
                logger.record(f"transfer/distill_{key}", value)
            logger.dump(step=len(rounds))
        if passed and target_dir is not None:
            card = _student_card(report, source, found, student_kwargs, env, measured.student.to_dict(), config)
            _deploy(target_dir, student, card, transitions, onnx_model, report, overwrite=overwrite)
    finally:
        env.close()
    if check and not report.passed:
        raise DistillGateError(report)
    return report


def _teacher_gate(teacher_check: TeacherCheck) -> Gate:
    """A failed teacher check as the report's first gate."""
    last = teacher_check.trials[-1]
    return teacher_gate(last.teacher_return, last.random_return, f"{teacher_check.problem} — {teacher_check.fix}")


def _train(
    env: gym.Env[Any, Any], labeler: Labeler, trainer: Trainer, config: DistillConfig, logger: Logger | None
) -> list[RoundStats]:
    """Teacher rollouts, then DAgger rounds: collect states, label them, aggregate, fit; one RoundStats each."""
    network = trainer.network
    n_actions = int(env.action_space.n) if isinstance(env.action_space, gym.spaces.Discrete) else 0
    data_obs: list[np.ndarray] = []
    data_targets: list[np.ndarray] = []
    rounds: list[RoundStats] = []
    env_steps = 0
    for index in range(config.dagger_rounds + 1):
        actor, act = ("teacher", labeler.act) if index == 0 else ("student", network.act_one)
        exploration = config.exploration if index == 0 else 0.0
        states = rollout(env, act, steps=config.samples, seed=config.seed * 1000 + index, exploration=exploration)
        env_steps += len(states)
        data_obs.append(states)
        data_targets.append(labeler.targets(states, n_actions))
        all_obs, all_targets = np.concatenate(data_obs), np.concatenate(data_targets)
        loss = trainer.fit(all_obs, all_targets)
        fit = agreement_of(network, labeler, all_obs, config.tolerance)
        stats = RoundStats(
            round=index, actor=actor, samples=len(all_obs), env_steps=env_steps, loss=loss, train_agreement=fit
        )
        rounds.append(stats)
        if logger is not None:
            for key in ("round", "samples", "loss", "train_agreement", "env_steps"):
                logger.record(f"transfer/distill_{key}", getattr(stats, key))
            logger.dump(step=index)
    return rounds


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


def _student_card(
    report: DistillReport,
    teacher: Teacher,
    mapping: Mapping,
    policy_kwargs: dict[str, Any],
    env: gym.Env[Any, Any],
    evaluation: dict[str, float],
    config: DistillConfig,
) -> TeacherCard:
    """The deployed student's zoo card: a teacher in its own right, with its distillation on record."""
    from rltransfer.make import env_family

    return TeacherCard(
        name=report.student,
        env_id=report.env_id,
        env_kwargs=report.env_kwargs,
        family=env_family(report.env_id),
        algo=report.algo,
        policy_kwargs=policy_kwargs,
        observation_space=SpaceSignature.of(env.observation_space),
        action_space=SpaceSignature.of(env.action_space),
        n_timesteps=report.env_steps,
        seed=config.seed,
        evaluation=evaluation,
        hyperparams=finite(
            {
                "method": "distillation",
                "teacher": teacher.name,
                "teacher_sha256": teacher.card.weights_sha256,
                "mapping": mapping.to_dict(),
                **asdict(config),
            }
        ),
        notes=f"distilled from {teacher.name} on {report.env_id} (agreement {report.agreement:.4f}, return ratio "
        f"{report.return_ratio:.3f}); only the acting network is trained, critic/value networks are untrained",
    )


def _check_output(out: str | os.PathLike[str] | None, name: str, overwrite: bool) -> Path | None:
    """The student's folder inside the output zoo, checked before any work is done."""
    validate_entry_name(name, what="student name")
    if out is None:
        return None
    zoo_dir = Path(out)
    if zoo_dir.exists() and not zoo_dir.is_dir():
        raise OutputError(f"--out {zoo_dir} is a file", fix="give a folder (the zoo the student is deployed into)")
    target = zoo_dir / name
    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists", fix="pass --force to replace it, or choose another --name")
    return target


def _deploy(
    target: Path,
    student: BasePolicy,
    card: TeacherCard,
    transitions: dict[str, np.ndarray] | None,
    onnx_model: bytes,
    report: DistillReport,
    *,
    overwrite: bool,
) -> None:
    """Write the student's zoo folder (card, safetensors, transitions, ONNX, report) all at once or not at all."""
    from rltransfer.io import atomic_directory
    from rltransfer.zoo import save_teacher

    created = [parent for parent in (target.parent, *target.parent.parents) if not parent.exists()]
    try:
        with atomic_directory(target, overwrite=overwrite) as staging:
            save_teacher(student, card, staging, transitions=transitions, overwrite=True)
            (staging / ONNX_FILE).write_bytes(onnx_model)
            (staging / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
    except BaseException:
        for folder in created:  # leave no empty output folder behind
            if folder.is_dir() and not any(folder.iterdir()):
                shutil.rmtree(folder, ignore_errors=True)
        raise


def slug(env_id: str) -> str:
    """A folder-safe short name of an env id ("rltransfer/CartPole-LongPole-v0" → "cartpole-longpole-v0")."""
    return env_id.rpartition(":")[2].rpartition("/")[2].lower().replace("_", "-")
