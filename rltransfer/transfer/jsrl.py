"""Jump-Start RL (Uchendu et al., ICML 2023): a guide acts for the first h steps of each episode.

Reference: the SB3 package `jsrl` (steventango/jumpstart-rl) — horizons from the maximum down to 0,
advance when the moving mean return ≥ best − tolerance·|best|.

Implementation: a VecEnv wrapper runs the guide's roll-in *inside* reset, batched over the envs that
just started an episode, so the learner sees the episode from step h on. Differences from the
reference, chosen for honest comparisons:

- Guide steps are real env steps: the JumpStartCallback adds them to the model's num_timesteps, so
  they count against the training budget.
- On-policy learners (PPO, A2C) never see the guide's steps (they are masked: not the student's
  on-policy actions). Off-policy learners with one env get them in their replay buffer, as in the
  reference.
- The curriculum reads the moving mean of training-episode returns (guide + learner, as the
  environment experienced them) instead of separate evaluation episodes; the reference evaluates the
  combined policy too. Those returns are what episodes.csv records for jsrl runs.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper

from rltransfer.errors import ConfigError
from rltransfer.io import append_json_line
from rltransfer.io import finite_or_none as _finite
from rltransfer.mapping import MappedTeacher


class JumpStartVecEnv(VecEnvWrapper):
    """Runs the mapped teacher for the first `horizon` steps of every episode of a DummyVecEnv."""

    def __init__(self, venv: VecEnv, guide: MappedTeacher) -> None:
        if not isinstance(venv, DummyVecEnv):
            raise ConfigError("jsrl needs a DummyVecEnv (it steps single envs for the roll-in)", fix="use n_envs ≥ 1")
        super().__init__(venv)
        self.guide = guide
        self.horizon = 0
        self.guide_steps = 0
        self.guide_transitions: list[tuple[np.ndarray, Any, float, np.ndarray, bool, dict[str, Any]]] = []
        self.keep_transitions = False
        self._pending: list[list[dict[str, Any]]] = [[] for _ in range(venv.num_envs)]

    def _roll_in(self, obs: np.ndarray, which: np.ndarray) -> np.ndarray:
        """Let the guide act `horizon` steps in envs `which`, batched; return the observations after."""
        venv = self.venv
        assert isinstance(venv, DummyVecEnv)
        active = [int(i) for i in which]
        for _ in range(self.horizon):
            if not active:
                break
            actions = self.guide.act(obs[active])
            still = []
            for i, action in zip(active, actions, strict=True):
                env = venv.envs[i]
                before = obs[i].copy()
                next_obs, reward, terminated, truncated, info = env.step(action)
                self.guide_steps += 1
                if self.keep_transitions:
                    self.guide_transitions.append(
                        (before, action, float(reward), np.asarray(next_obs), terminated, info)
                    )
                if terminated or truncated:
                    if "episode" in info:
                        self._pending[i].append(info["episode"])
                    next_obs, _ = env.reset()
                else:
                    still.append(i)
                obs[i] = next_obs
            active = still
        return obs

    def reset(self) -> np.ndarray:
        """Reset every env, then the guide's roll-in in all of them."""
        obs = np.asarray(self.venv.reset())
        return self._roll_in(obs, np.arange(self.num_envs)) if self.horizon > 0 else obs

    def step_wait(self) -> Any:
        """Step the learner's actions; envs that start a new episode get the guide's roll-in first."""
        obs, rewards, dones, infos = self.venv.step_wait()
        if self.horizon > 0 and np.any(dones):
            obs = self._roll_in(np.asarray(obs), np.flatnonzero(dones))
        for i, pending in enumerate(self._pending):
            if pending and "episode" not in infos[i]:
                infos[i]["episode"] = pending.pop(0)
        return obs, rewards, dones, infos


class JumpStartCallback(BaseCallback):
    """JSRL curriculum: shrinks the guide's horizon when the moving return holds up; counts guide steps."""

    def __init__(
        self,
        wrapper: JumpStartVecEnv,
        *,
        max_horizon: int,
        stages: int,
        tolerance: float,
        window: int,
        decisions_path: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.wrapper = wrapper
        step = max(1, math.ceil(max_horizon / stages))
        self.horizons = [*range(max_horizon, 0, -step), 0]
        self.stage = 0
        self.tolerance = tolerance
        self.returns: deque[float] = deque(maxlen=window)
        self.best = -math.inf
        self.tolerated = -math.inf
        self.decisions_path = Path(decisions_path) if decisions_path is not None else None
        self.decisions: list[dict[str, Any]] = []
        wrapper.horizon = self.horizons[0]

    def state_dict(self) -> dict[str, Any]:
        """JSON-safe curriculum state for checkpoints."""
        return {"stage": self.stage, "best": _finite(self.best), "tolerated": _finite(self.tolerated)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint's curriculum state."""
        self.stage = int(state.get("stage", 0))
        self.best = -math.inf if state.get("best") is None else float(state["best"])
        self.tolerated = -math.inf if state.get("tolerated") is None else float(state["tolerated"])
        self.wrapper.horizon = self.horizons[self.stage]

    def _on_training_start(self) -> None:
        self.wrapper.keep_transitions = isinstance(self.model, OffPolicyAlgorithm) and self.wrapper.num_envs == 1
        if not self.decisions:
            self._record(f"guide horizon {self.wrapper.horizon} (stage 0 of {len(self.horizons) - 1})")

    def _record(self, reason: str) -> None:
        row = {
            "step": int(self.num_timesteps),
            "mode": "jsrl",
            "weight": float(self.wrapper.horizon),
            "reason": reason,
            "guide_steps": int(self.wrapper.guide_steps),
        }
        self.decisions.append(row)
        if self.decisions_path is not None:
            append_json_line(self.decisions_path, row)

    def _on_step(self) -> bool:
        model: BaseAlgorithm = self.model
        if self.wrapper.guide_steps:
            model.num_timesteps += self.wrapper.guide_steps
            self.wrapper.guide_steps = 0
        if self.wrapper.guide_transitions:
            self._store_guide_transitions(model)
        for info in self.locals.get("infos", []):
            if "episode" in info:
                self.returns.append(float(info["episode"]["r"]))
                self._advance()
        self.logger.record("transfer/jsrl_horizon", self.wrapper.horizon)
        return True

    def _advance(self) -> None:
        if len(self.returns) < (self.returns.maxlen or 1) or self.wrapper.horizon == 0:
            return
        moving = float(np.mean(self.returns))
        if self.best == -math.inf:
            self.best = moving
            self.tolerated = moving - self.tolerance * abs(moving)
            return
        if moving >= self.tolerated:
            self.stage = min(self.stage + 1, len(self.horizons) - 1)
            self.wrapper.horizon = self.horizons[self.stage]
            self.returns.clear()
            self._record(
                f"moving return {moving:.1f} ≥ best {self.best:.1f} − {self.tolerance}·|best| → horizon "
                f"{self.wrapper.horizon} (stage {self.stage})"
            )
        if moving >= self.best:
            self.best = moving
            self.tolerated = moving - self.tolerance * abs(moving)

    def _store_guide_transitions(self, model: BaseAlgorithm) -> None:
        buffer = getattr(model, "replay_buffer", None)
        transitions, self.wrapper.guide_transitions = self.wrapper.guide_transitions, []
        if buffer is None or buffer.n_envs != 1:
            return
        for obs, action, reward, next_obs, terminated, info in transitions:
            stored = np.asarray(action)
            if isinstance(model.action_space, gym.spaces.Box):
                stored = model.policy.scale_action(stored)
            buffer.add(
                obs[None],
                next_obs[None],
                np.asarray(stored)[None],
                np.asarray([reward]),
                np.asarray([terminated]),
                [info],
            )
