"""The transfer controller: an SB3 callback and state machine that sets the mode and weights of transfer.

At the start it measures the mapped teacher's zero-shot return in the target (and a random policy's),
then every window it reads the signals — student's recent return, teacher–student agreement and
distillation loss on the student's recent states, learning progress — and decides:

- start: representation when the teacher is clearly better than random and the mapping is trusted;
  instance when the mapping's confidence is low or the teacher is only data (a dataset is never
  distilled); none when the teacher is not better than random.
- representation → instance when the distillation loss has stalled for `patience` windows while
  agreement stays below target and the student's return is below the teacher's (the teacher's actions
  do not fit the student's network; replaying what it does in the target still carries its returns).
- instance → representation when the student's return has not improved for `patience` windows and
  representation has not been tried.
- any → none when the student's return reaches the teacher's estimate (QDagger's cutoff), or falls over
  `patience` windows from below it with transfer on (negative-transfer guard; a fall from it is forgetting).

In fixed modes only the weights change. Every window is one row of decisions.jsonl and the
scalars transfer/mode, weight, agreement, distill_loss, teacher_return_estimate.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from rltransfer.io import append_json_line, json_safe
from rltransfer.io import finite_or_none as _finite
from rltransfer.rollouts import Rollout
from rltransfer.transfer.config import MODE_CODES, Mode
from rltransfer.transfer.engine import TransferEngine
from rltransfer.transfer.initialise import distil_initialise, keep_in_replay
from rltransfer.transfer.offline import pretrain_on_demonstrations
from rltransfer.transfer.probes import dataset_return, random_episodes, teacher_episodes

_STATE_KEYS = (
    "started",
    "teacher_return",
    "random_return",
    "history",
    "switches",
    "mode",
    "weight",
    "instance_weight",
    "instance_start",
    "off_reason",
    "tried",
    "last_window_step",
    "start_offset",
    "hold_until",
)


class TransferController(BaseCallback):
    """Decides transfer mode and weight from measured signals; logs every decision with its reason."""

    def __init__(self, engine: TransferEngine, *, decisions_path: str | Path | None = None, seed: int = 0) -> None:
        super().__init__()
        self.engine = engine
        self.config = engine.config
        self.decisions_path = Path(decisions_path) if decisions_path is not None else None
        self.seed = seed
        self.decisions: list[dict[str, Any]] = []
        self.started = False
        self.teacher_return = math.nan
        self.random_return = math.nan
        self.history: list[dict[str, Any]] = []
        self.switches = 0
        self.mode: Mode = Mode.NONE
        self.weight = 0.0
        self.instance_weight = 0.0
        self.instance_start = 0
        self.off_reason = ""
        self.tried: list[Mode] = []
        self.last_window_step = 0
        self.start_offset = 0
        """Env steps the transfer spent before the student's first own step (probes, distil-initialise)."""
        self.hold_until = 0
        """After distil-initialise: step until which the distillation weight has a decaying floor."""
        self.teacher_states = np.zeros((0, 0), dtype=np.float32)
        self.window = 1000

    # ----------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """JSON-safe state for checkpoints (resume continues the same decisions)."""
        state = {key: getattr(self, key) for key in _STATE_KEYS}
        engine_keys = ("representation_steps", "acts_in_warmup", "charged_steps", "replayed", "exploiting")
        for key in (*engine_keys, "extra_env_steps", "freeze_until"):
            state[key] = getattr(self.engine, key)
        return json_safe(json.loads(json.dumps(state, default=float)))  # numpy scalars → float, NaN/inf → None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a checkpoint's state."""
        for key in _STATE_KEYS:
            if key in state:
                value = state[key]
                setattr(self, key, math.nan if value is None and key.endswith("_return") else value)
        self.mode = Mode(self.mode)
        self.tried = [Mode(mode) for mode in self.tried]
        for key in ("representation_steps", "charged_steps", "replayed", "extra_env_steps", "freeze_until"):
            setattr(self.engine, key, int(state.get(key, 0)))
        for key in ("acts_in_warmup", "exploiting"):
            setattr(self.engine, key, bool(state.get(key, False)))

    # ------------------------------------------------------------------------- callbacks
    def _on_training_start(self) -> None:
        total = int(getattr(self.model, "_total_timesteps", 0) or 1)
        self.engine.total_timesteps = total
        self.window = self.config.window or max(500, total // 40)
        if not self.started:
            self._start()
            self.started = True
            self.start_offset = self.engine.charge(self.model)
            self.num_timesteps = self.last_window_step = int(self.model.num_timesteps)
            if self.engine.distilled:
                remaining = max(0, self.engine.total_timesteps - self.num_timesteps)
                self.hold_until = self.num_timesteps + int(self.config.init_hold_fraction * remaining)
                learning = max(self.num_timesteps, self._learning_starts())
                self.engine.freeze_until = learning + max(0, self.hold_until - learning) // 2
            self._update_weights()
            self._apply(record=False)
        else:
            if self.engine.exploiting:
                self.engine.exploit(self.model)
            if self.mode == Mode.INSTANCE or self.config.mode == Mode.INSTANCE:
                demos = self.engine.demos
                self.engine.ensure_demonstrations(self.model, seed=self.seed)
                if demos is None:  # collected again after a resume: the steps were already on the clock
                    self.engine.charged_steps = self.engine.extra_env_steps
            self._apply(record=False)

    def _on_step(self) -> bool:
        # on-policy students are measured at rollout end, when the rollout buffer holds their states
        on_policy = isinstance(self.model, OnPolicyAlgorithm)
        if not on_policy and self.num_timesteps - self.last_window_step >= self.window:
            self._on_window()
        return True

    def _on_rollout_end(self) -> None:
        if isinstance(self.model, OnPolicyAlgorithm) and self.num_timesteps - self.last_window_step >= self.window:
            self._on_window()

    # ------------------------------------------------------------------------ decisions
    def _probe(self) -> None:
        """Zero-shot returns of the mapped teacher (a dataset's recorded one) and of a random policy.

        The probes' transitions are kept: the teacher's are the first demonstrations (engine.probe_demos)
        and an off-policy student's replay buffer gets both, in place of as much of its random warm-up.
        """
        started = time.time()
        env = self.engine.env_factory()
        episodes, teacher_steps = self.config.probe_episodes, 0
        kept: list[Rollout] = []
        try:
            dataset = self.engine.resolved.dataset
            if dataset is not None:
                self.teacher_return = dataset_return(dataset)
            else:
                teacher, played = teacher_episodes(env, self.engine.targets.mapped, episodes=episodes, seed=self.seed)
                self.teacher_return, teacher_steps = teacher.mean, teacher.env_steps
                self.teacher_states = played.transitions.obs.reshape(len(played.transitions), -1)
                self.engine.probe_demos = played
                kept.append(played)
            randomly, played = random_episodes(env, episodes=episodes, seed=self.seed)
            kept.append(played)
        finally:
            env.close()
        self.random_return = randomly.mean
        self.engine.extra_env_steps += teacher_steps + randomly.env_steps
        if self.engine.kind != "on_policy":
            self.engine.replayed += sum(keep_in_replay(self.model, roll) for roll in kept)
        self.engine.setup_seconds += time.time() - started

    def _spread(self) -> float:
        return max(abs(self.teacher_return - self.random_return), 1e-8)

    def _at_teacher(self, value: float) -> bool:
        return math.isfinite(value) and value >= self.teacher_return - self.config.tolerance * self._spread()

    def _teacher_useful(self) -> bool:
        scale = max(abs(self.random_return), abs(self.teacher_return), 1.0)
        return self.teacher_return - self.random_return > self.config.useful_margin * scale

    def _start(self) -> None:
        wanted = self.config.mode
        if wanted == Mode.NONE:
            self._decide(Mode.NONE, f"transfer off by configuration; {self.engine.resolved.how}")
            return
        self._probe()
        probes = f"mapped teacher's zero-shot return {self.teacher_return:.1f}, random {self.random_return:.1f}"
        confidence = self.engine.resolved.mapping.confidence
        if wanted == Mode.AUTO:
            if not self._teacher_useful():
                self.off_reason = "guard"
                self._decide(Mode.NONE, f"negative-transfer guard: {probes} — the teacher is not clearly better")
                return
            if not self.engine.has_policy:
                how = self.engine.resolved.how
                self._enter(Mode.INSTANCE, f"{probes}; the teacher is only data → replay its transitions; {how}")
                return
            if confidence < self.config.min_confidence:
                self._enter(Mode.INSTANCE, f"{probes}; mapping confidence {confidence:.2f} is low → replay its data")
                return
            self._enter(
                Mode.REPRESENTATION, f"{probes}; mapping confidence {confidence:.2f} → distil policy and layers"
            )
            return
        self._enter(wanted, f"fixed mode {wanted}; {probes}; {self.engine.resolved.how}")

    def _enter(self, mode: Mode, reason: str, signals: dict[str, Any] | None = None) -> None:
        extra = ""
        if mode not in self.tried:
            self.tried.append(mode)
            if mode == Mode.REPRESENTATION and self.config.init_from_teacher and self.num_timesteps == 0:
                report = self.engine.initialize_student(self.model)
                extra = f"; init from teacher: {report.describe()}"
                if self.engine.acts_in_warmup:
                    extra += "; the teacher-initialised policy acts from the first step (no random warm-up)"
            if mode == Mode.REPRESENTATION and self.config.distil_init and self.num_timesteps == 0:
                started = time.time()
                initialised = distil_initialise(self.model, self.engine, self.teacher_states, seed=self.seed)
                self.engine.setup_seconds += time.time() - started  # one-time, like the probes
                extra += f"; {initialised.describe()}"
        if mode == Mode.INSTANCE:
            demos = self.engine.ensure_demonstrations(self.model, seed=self.seed)
            self.instance_start = self.num_timesteps
            extra += f"; {demos.describe(from_dataset=self.engine.resolved.dataset is not None)}"
            if self.config.instance_pretrain and self.num_timesteps == 0:
                started = time.time()
                extra += f"; {pretrain_on_demonstrations(self.model, self.engine, seed=self.seed)}"
                self.engine.setup_seconds += time.time() - started
            if self.started:
                self.engine.charge(self.model)
        self._decide(mode, reason + extra, signals)

    def _decide(self, mode: Mode, reason: str, signals: dict[str, Any] | None = None) -> None:
        if mode != self.mode and self.started:
            self.switches += 1
        self.mode = mode
        self._update_weights()
        self._apply(record=True, reason=reason, signals=signals or {})

    def _student_return(self) -> float:
        buffer = getattr(self.model, "ep_info_buffer", None)
        if not buffer:
            return math.nan
        recent = [float(info["r"]) for info in list(buffer)[-10:]]
        return float(np.mean(recent))

    def _update_weights(self) -> None:
        # Schedules run on the learning clock: an off-policy student makes no gradient step before
        # learning_starts, so a decay that started at step 0 could end before the first update.
        config, start = self.config, self._learning_starts()
        span = config.decay_fraction * max(1, self.engine.total_timesteps - start)
        elapsed = max(0, self.num_timesteps - start) / span
        if config.weight_schedule == "return":
            student = self._student_return()
            if math.isnan(student) or math.isnan(self.teacher_return):
                share = 1.0
            else:
                share = float(np.clip(1.0 - (student - self.random_return) / self._spread(), 0.0, 1.0))
            self.weight = config.weight * share
        elif config.weight_schedule == "linear":
            self.weight = config.weight * max(0.0, 1.0 - elapsed)
        elif config.weight_schedule == "exponential":
            self.weight = config.weight * math.exp(-5.0 * elapsed)
        else:
            self.weight = config.weight
        if self.hold_until > self.start_offset:
            floor = 1.0 - (self.num_timesteps - self.start_offset) / (self.hold_until - self.start_offset)
            self.weight = max(self.weight, config.weight * min(1.0, max(0.0, floor)))
        since = max(0, self.num_timesteps - max(self.instance_start, start)) / span
        self.instance_weight = max(0.0, 1.0 - since)

    def _learning_starts(self) -> int:
        """First step with a gradient update (off-policy learning_starts; 0 on-policy)."""
        if isinstance(self.model, OnPolicyAlgorithm):
            return self.start_offset
        return int(getattr(self.model, "learning_starts", 0) or 0)

    def _apply(self, *, record: bool, reason: str = "", signals: dict[str, Any] | None = None) -> None:
        self.engine.set_mode(self.model, self.mode, self.weight, self.instance_weight)
        if not record:
            return
        active = {Mode.REPRESENTATION: self.weight, Mode.INSTANCE: self.instance_weight}.get(self.mode, 0.0)
        row = {
            "step": int(self.num_timesteps),
            "mode": self.mode,
            "weight": float(active),
            "reason": reason,
            **{key: _finite(value) for key, value in (signals or {}).items()},
            "teacher_return_estimate": _finite(self.teacher_return),
            "random_return": _finite(self.random_return),
            "extra_env_steps": int(self.engine.extra_env_steps),
        }
        self.decisions.append(row)
        if self.decisions_path is not None:
            append_json_line(self.decisions_path, row)
        logger = self.model.logger
        logger.record("transfer/mode", MODE_CODES[self.mode])
        logger.record("transfer/weight", float(active))
        logger.record("transfer/teacher_return_estimate", _finite(self.teacher_return) or 0.0)
        for key in ("agreement", "distill_loss"):
            value = (signals or {}).get(key)
            if value is not None and math.isfinite(value):
                logger.record(f"transfer/{key}", float(value))

    def _on_window(self) -> None:
        started = time.perf_counter()
        self._window()
        self.engine.step_seconds += time.perf_counter() - started

    def _window(self) -> None:
        steps = self.num_timesteps - self.last_window_step
        self.last_window_step = self.num_timesteps
        if self.mode == Mode.REPRESENTATION:
            self.engine.representation_steps += steps
        if self.config.mode == Mode.NONE:
            return
        agreement_value, distill = self.engine.measure(self.model)
        student = self._student_return()
        self.history.append(
            {
                "step": self.num_timesteps,
                "return": student,
                "agreement": agreement_value,
                "distill": distill,
                "mode": self.mode,
            }
        )
        signals = {"agreement": agreement_value, "distill_loss": distill, "student_return": student}
        mode, reason = self._next_mode(student, agreement_value) if self.config.mode == Mode.AUTO else (self.mode, "")
        if mode != self.mode:
            if mode == Mode.NONE:
                self._decide(mode, reason, signals)
            else:
                self._enter(mode, reason, signals)
        else:
            self._decide(self.mode, reason or f"keep {self.mode}", signals)

    def _recent(self, key: str, count: int) -> list[float]:
        values = [float(row[key]) for row in self.history[-count:]]
        return values if len(values) == count and all(math.isfinite(v) for v in values) else []

    def _next_mode(self, student: float, agreement_value: float) -> tuple[Mode, str]:
        config, patience = self.config, self.config.patience
        caught_up = self._at_teacher(student) and self.num_timesteps >= self.hold_until  # distilled: at it from step 0
        if self.mode != Mode.NONE and caught_up:
            self.off_reason = "caught_up"
            return Mode.NONE, (
                f"student return {student:.1f} reached the teacher's estimate {self.teacher_return:.1f}: "
                "transfer off (QDagger cutoff)"
            )
        returns = self._recent("return", patience + 1)
        falling = bool(returns) and all(b < a for a, b in itertools.pairwise(returns))
        dropped = falling and returns[0] - returns[-1] > 0.1 * self._spread() and not self._at_teacher(returns[0])
        if self.mode != Mode.NONE and dropped:
            self.off_reason = "guard"
            return Mode.NONE, (
                f"negative-transfer guard: return fell {returns[0]:.1f} → {returns[-1]:.1f} over {patience} "
                f"windows with {self.mode} transfer on"
            )
        if self.switches >= config.max_switches:
            return self.mode, f"keep {self.mode} (switch limit {config.max_switches} reached)"
        if self.mode == Mode.REPRESENTATION:
            losses = self._recent("distill", patience + 1)
            stalled = bool(losses) and min(losses[1:]) >= 0.95 * losses[0]
            # a distilled student's loss is flat from the start: switch only when its return is not rising either
            rising = bool(returns) and returns[-1] > returns[0]
            # a student already at the teacher's return has nothing to gain from its replay (and would pay its demos)
            wanting = not self._at_teacher(student) and agreement_value < config.agreement_target
            if stalled and not rising and wanting and Mode.INSTANCE not in self.tried:
                return Mode.INSTANCE, (
                    f"distillation stalled (loss {losses[0]:.3g} → {losses[-1]:.3g} over {patience} windows), "
                    f"agreement {agreement_value:.2f} < {config.agreement_target}; teacher's return "
                    f"{self.teacher_return:.1f} is high → replay its transitions"
                )
        elif self.mode == Mode.INSTANCE:
            flat = bool(returns) and max(returns[1:]) <= returns[0]
            if flat and Mode.REPRESENTATION not in self.tried and self.engine.has_policy:
                return Mode.REPRESENTATION, f"no return progress over {patience} windows with instance transfer"
        elif (
            self.off_reason == "caught_up"
            and math.isfinite(student)
            and student < self.teacher_return - 0.5 * self._spread()
        ):
            self.off_reason = ""
            mode, verb = (Mode.REPRESENTATION, "distil") if self.engine.has_policy else (Mode.INSTANCE, "replay")
            return mode, (
                f"student return {student:.1f} fell far below the teacher's {self.teacher_return:.1f} → {verb} again"
            )
        return self.mode, ""
