"""Deployment of a passed student: its zoo entry, written with its ONNX file and report all at once."""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.policies import BasePolicy

from rltransfer.distill.report import DistillConfig, DistillReport, finite
from rltransfer.errors import OutputError
from rltransfer.io import atomic_directory, strict_json
from rltransfer.mapping import Mapping
from rltransfer.rollouts import ActFn, Evaluation
from rltransfer.zoo import Teacher, validate_entry_name
from rltransfer.zoo.publish import ZooEntry, publish_teacher

ONNX_FILE = "policy.onnx"
REPORT_FILE = "distill.json"


def student_entry(
    report: DistillReport, teacher: Teacher, mapping: Mapping, policy_kwargs: dict[str, Any], config: DistillConfig
) -> ZooEntry:
    """The deployed student's zoo entry: a teacher in its own right, with its distillation on record."""
    return ZooEntry(
        name=report.student,
        env_id=report.env_id,
        env_kwargs=report.env_kwargs,
        algo=report.algo,
        policy_kwargs=policy_kwargs,
        n_timesteps=report.env_steps,
        seed=config.seed,
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


def check_output(out: str | os.PathLike[str] | None, name: str, overwrite: bool) -> Path | None:
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


def deploy(
    target: Path,
    student: BasePolicy,
    entry: ZooEntry,
    onnx_model: bytes,
    report: DistillReport,
    *,
    env: gym.Env[Any, Any],
    act: ActFn,
    evaluation: Evaluation,
    transitions: int,
    transitions_seed: int,
    overwrite: bool,
) -> None:
    """Write the student's zoo folder (card, safetensors, transitions, ONNX, report) all at once or not at all."""
    created = [parent for parent in (target.parent, *target.parent.parents) if not parent.exists()]
    try:
        with atomic_directory(target, overwrite=overwrite) as staging:
            publish_teacher(
                student,
                staging,
                entry=entry,
                env=env,
                act=act,
                evaluation=evaluation,
                transitions=transitions,
                transitions_seed=transitions_seed,
                overwrite=True,
            )
            (staging / ONNX_FILE).write_bytes(onnx_model)
            (staging / REPORT_FILE).write_text(strict_json(report.to_dict(), indent=2) + "\n")
    except BaseException:
        for folder in created:  # leave no empty output folder behind
            if folder.is_dir() and not any(folder.iterdir()):
                shutil.rmtree(folder, ignore_errors=True)
        raise


def slug(env_id: str) -> str:
    """A folder-safe short name of an env id ("rltransfer/CartPole-LongPole-v0" → "cartpole-longpole-v0")."""
    return env_id.rpartition(":")[2].rpartition("/")[2].lower().replace("_", "-")
