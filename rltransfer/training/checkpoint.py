"""Checkpoints of a run (written on Ctrl-C) and resuming from them.

A checkpoint folder holds the SB3 model's parameters and optimizer states (`model.zip`, without the
teacher), the replay buffer for off-policy students, the hidden matcher's projections (safetensors)
and `state.json` (step counters, controller or JSRL curriculum state). It is written atomically.
Resuming restores all of it and continues with the same total steps, so schedules (exploration,
learning rate, transfer weights) continue where they stopped instead of restarting.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from rltransfer.errors import OutputError
from rltransfer.io import atomic_directory, strict_json
from rltransfer.training.folder import CHECKPOINT_DIR, CHECKPOINT_STATE, has_checkpoint


def save_checkpoint(run_dir: Path, model: BaseAlgorithm, stateful: dict[str, Any]) -> Path:
    """Write run_dir/checkpoint atomically; return its path."""
    target = run_dir / CHECKPOINT_DIR
    with atomic_directory(target, overwrite=True) as staging:
        model.save(staging / "model.zip")
        if isinstance(model, OffPolicyAlgorithm) and model.replay_buffer is not None:
            model.save_replay_buffer(staging / "replay_buffer.pkl")
        engine = getattr(model, "transfer_engine", None)
        if engine is not None and engine.matcher is not None:
            tensors = {k: v.detach().contiguous() for k, v in engine.matcher.state_dict().items()}
            if tensors:
                save_file(tensors, str(staging / "projections.safetensors"))
        state = {
            "num_timesteps": int(model.num_timesteps),
            "n_updates": int(getattr(model, "_n_updates", 0)),
            "episode_num": int(getattr(model, "_episode_num", 0)),
            "components": {name: component.state_dict() for name, component in stateful.items()},
        }
        (staging / CHECKPOINT_STATE).write_text(strict_json(state, indent=2) + "\n", encoding="utf-8")
    return target


def load_checkpoint(run_dir: Path, model: BaseAlgorithm, stateful: dict[str, Any]) -> int:
    """Restore a checkpoint into a freshly built model; return the steps already done."""
    folder = run_dir / CHECKPOINT_DIR
    if not has_checkpoint(run_dir):
        raise OutputError(f"no checkpoint in {run_dir}", fix="run without --resume to start a new run")
    state = json.loads((folder / CHECKPOINT_STATE).read_text(encoding="utf-8"))
    model.set_parameters(str(folder / "model.zip"), exact_match=True, device="cpu")
    if isinstance(model, OffPolicyAlgorithm) and (folder / "replay_buffer.pkl").is_file():
        buffer_class = type(model.replay_buffer)
        model.load_replay_buffer(folder / "replay_buffer.pkl")
        if not isinstance(model.replay_buffer, buffer_class):
            raise OutputError("checkpoint replay buffer has another type", fix="start a new run without --resume")
    engine = getattr(model, "transfer_engine", None)
    if engine is not None and engine.matcher is not None and (folder / "projections.safetensors").is_file():
        engine.matcher.load_state_dict(load_file(str(folder / "projections.safetensors")))
    model.num_timesteps = int(state["num_timesteps"])
    model._n_updates = int(state.get("n_updates", 0))  # type: ignore[attr-defined]
    model._episode_num = int(state.get("episode_num", 0))
    for name, component in stateful.items():
        if name in state.get("components", {}):
            component.load_state_dict(state["components"][name])
    return model.num_timesteps
