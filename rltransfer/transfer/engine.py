"""The transfer engine: the state a Transfer* algorithm carries and the step it adds after SB3's train().

Design choice (documented, see STYLE.md): SB3's training loops are not copied. The kickstarting /
QDagger auxiliary loss is applied as a separate gradient step right after `super().train()`, on the
states the *student* just visited (on-policy: the rollout buffer; off-policy: replay samples of the
student's own transitions). This alternates RL and distillation updates instead of summing them into
one loss; with a decaying weight the two are equivalent to first order, and the RL update is exactly
SB3's.

- representation: λ·[KL(π_T‖π_S) (×3.0 and τ = 0.1 for DQN) + hidden_coef·layer matching].
- instance, on-policy (DAPG, Rajeswaran et al. 2018): −λ·log π_S(a_teacher | s_teacher) on teacher
  transitions; off-policy: teacher transitions mixed into replay batches (MixedReplayBuffer) plus,
  for DQN, DQfD's large-margin loss on them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import ConstantSchedule
from stable_baselines3.dqn.policies import DQNPolicy

from rltransfer.policies import hidden_widths, recent_states, rollout_states
from rltransfer.rollouts import Rollout
from rltransfer.transfer.config import Mode, TransferConfig
from rltransfer.transfer.imitation import demonstration_step
from rltransfer.transfer.instance import (
    Demonstrations,
    MixedReplayBuffer,
    collect_demonstrations,
    dataset_demonstrations,
)
from rltransfer.transfer.losses import (
    HiddenMatcher,
    agreement,
    policy_distillation_loss,
    student_output,
)
from rltransfer.transfer.teacher import ResolvedTeacher, TeacherTargets
from rltransfer.transfer.weights import WeightCopyReport, copy_teacher_weights

TRANSFERRED_SAC_ALPHA = 0.05
"""Initial entropy coefficient of a SAC student whose actor came from the teacher (SB3's auto starts at 1)."""

EnvFactory = Callable[[], gym.Env[Any, Any]]


def algorithm_kind(model: BaseAlgorithm) -> str:
    """Kind of algorithm: "on_policy" (PPO, A2C), "q_network" (DQN) or "actor" (SAC, TD3)."""
    if isinstance(model, OnPolicyAlgorithm):
        return "on_policy"
    return "q_network" if isinstance(model.policy, DQNPolicy) else "actor"


class TransferEngine:
    """Teacher targets, current mode and weights, hidden matcher and demonstrations of one student."""

    def __init__(
        self, model: BaseAlgorithm, resolved: ResolvedTeacher, config: TransferConfig, env_factory: EnvFactory
    ) -> None:
        self.config = config
        self.resolved = resolved
        self.env_factory = env_factory
        self.kind = algorithm_kind(model)
        self._targets: TeacherTargets | None = None
        if resolved.teacher is not None:
            self._targets = TeacherTargets(
                resolved.teacher,
                resolved.mapping,
                model.action_space,
                temperature=config.temperature,
                greedy=self.kind == "q_network",
            )
        self.mode: Mode = Mode.NONE
        self.weight = 0.0
        self.instance_weight = 0.0
        self.representation_steps = 0
        self.acts_in_warmup = False
        """Off-policy: the student's actor came from the teacher, so it acts before learning_starts (not random)."""
        self.total_timesteps = 1
        self.demos: Demonstrations | None = None
        self.probe_demos: Rollout | None = None
        """The controller's teacher probe episodes, already on the clock: the first demonstrations."""
        self.extra_env_steps = 0
        """Target env steps the transfer spent outside the student's own training steps (probes, DAgger, demos)."""
        self.charged_steps = 0
        """Of extra_env_steps, those already added to the student's clock (model.num_timesteps)."""
        self.replayed = 0
        """Transfer transitions put into the student's replay buffer (they count as its own experience)."""
        self.exploiting = False
        """Off-policy: the student acts with its transferred policy from the first step (small ε for DQN)."""
        self.base_learning_starts = int(getattr(model, "learning_starts", 0) or 0)
        self.distilled = False
        """Distil-initialise ran: the controller holds the distillation term for a while (init_hold_fraction)."""
        self.freeze_until = 0
        """SAC/TD3 after distil-initialise: the actor's updates wait until this step while the critic learns."""
        self.init_report: Any = None
        """The distil-initialise InitReport (rltransfer.transfer.initialise), when it ran."""
        ratio = config.distill_steps_ratio
        self.distill_steps_ratio = ratio if ratio is not None else (1.0 if self.kind == "q_network" else 0.25)
        self.setup_seconds = 0.0
        self.step_seconds = 0.0
        self.matcher: HiddenMatcher | None = None
        self.matcher_optimizer: torch.optim.Optimizer | None = None
        if config.hidden_matching and self.has_policy:
            self.matcher = HiddenMatcher(hidden_widths(model.policy), self.targets.hidden_widths())
            if self.matcher.stages:
                self.matcher_optimizer = torch.optim.Adam(self.matcher.parameters(), lr=1e-3)

    @property
    def has_policy(self) -> bool:
        """Whether the teacher is a policy (False for a teacher that is only data: instance transfer only)."""
        return self._targets is not None

    @property
    def targets(self) -> TeacherTargets:
        """The policy teacher's batched outputs; ConfigError for a teacher that is only data."""
        if self._targets is None:
            self.resolved.policy("representation transfer")
        assert self._targets is not None
        return self._targets

    # ----------------------------------------------------------------------------------- setup
    def initialize_student(self, model: BaseAlgorithm) -> WeightCopyReport:
        """Copy the teacher's weights into the student through the mapping (what fits).

        When a SAC/TD3 actor is copied whole (trunk and output head) and `config.warmup_with_student`
        holds, the student acts with that actor during SB3's warm-up instead of uniformly at random, so
        the first learning_starts steps of replay hold the transferred behaviour.
        """
        report = copy_teacher_weights(self.resolved.policy("a weight copy").policy, model.policy, self.resolved.mapping)
        whole_actor = any(p.startswith("actor trunk") for p in report.copied) and any(
            p.startswith("output head") for p in report.copied
        )
        if whole_actor and self.config.warmup_with_student and self.kind != "on_policy":
            self.exploit(model)
        return report

    def exploit(self, model: BaseAlgorithm) -> None:
        """A transferred off-policy student acts with its own policy from the first step.

        SAC/TD3 skip SB3's uniform warm-up; DQN also keeps its final ε from the start instead of the
        ε = 1 → final schedule, which would overwrite the transferred behaviour with random play (RL Zoo #490).
        A SAC student with a learned entropy coefficient starts it at TRANSFERRED_SAC_ALPHA instead of 1: at
        α = 1 the entropy term pulls the squashed actor's mean to the middle of the action range, away from the
        teacher's actions, within a few hundred updates.
        """
        self.exploiting = True
        self.acts_in_warmup = self.kind != "on_policy"
        log_alpha = getattr(model, "log_ent_coef", None)
        if isinstance(log_alpha, torch.Tensor):  # SAC with a learned entropy coefficient (SB3's "auto", α0 = 1)
            with torch.no_grad():
                log_alpha.fill_(math.log(TRANSFERRED_SAC_ALPHA))
        if self.kind == "q_network":
            epsilon = float(model.exploration_final_eps)  # type: ignore[attr-defined]
            model.exploration_schedule = ConstantSchedule(epsilon)  # type: ignore[attr-defined]
            model.exploration_rate = epsilon  # type: ignore[attr-defined]

    def actor_frozen(self, step: int) -> bool:
        """Whether a distilled SAC/TD3 actor still waits for its critic before being updated.

        The critic first learns how Q changes with the action; before that, policy gradients follow noise and
        undo the distillation.
        """
        return self.kind == "actor" and step < self.freeze_until

    def charge(self, model: BaseAlgorithm) -> int:
        """Put the env steps the transfer spent since the last charge on the student's clock; the steps added.

        model.num_timesteps (episodes.csv, TensorBoard, the run's budget) then counts every target env step
        of the method. An off-policy student charged before it started learning still collects its own
        learning_starts steps first, less the transfer transitions already in its replay buffer.
        """
        delta = self.extra_env_steps - self.charged_steps
        if delta <= 0:
            return 0
        before = int(model.num_timesteps)
        model.num_timesteps = before + delta
        self.charged_steps += delta
        if self.kind != "on_policy":
            starts = int(model.learning_starts)  # type: ignore[attr-defined]
            if before == 0:
                model.learning_starts = delta + max(0, self.base_learning_starts - self.replayed)  # type: ignore[attr-defined]
            elif before < starts:
                model.learning_starts = starts + delta  # type: ignore[attr-defined]
        return delta

    def demo_budget(self) -> int:
        """Teacher steps to collect: demo_steps, at most demo_fraction of the run (at least 1)."""
        return max(1, min(self.config.demo_steps, int(self.config.demo_fraction * self.total_timesteps)))

    def ensure_demonstrations(self, model: BaseAlgorithm, *, seed: int) -> Demonstrations:
        """Collect teacher transitions in the target once (and hand them to a MixedReplayBuffer).

        The controller's teacher probe episodes come first (already paid for); collection tops them up to
        the budget. A dataset teacher's transitions are read from it instead, up to the same budget; they
        count as target env steps when the dataset was recorded in the target.
        """
        if self.demos is None:
            started = time.time()
            dataset = self.resolved.dataset
            if dataset is not None:
                self.demos = dataset_demonstrations(
                    dataset, steps=self.demo_budget(), in_target=self.resolved.dataset_in_target
                )
            else:
                self.demos = collect_demonstrations(
                    self.targets.mapped,
                    self.env_factory,
                    steps=self.demo_budget(),
                    seed=seed + 20_000,
                    probe=self.probe_demos,
                    noise=self.config.demo_noise_for(model.action_space),
                )
            self.extra_env_steps += self.demos.env_steps
            buffer = getattr(model, "replay_buffer", None)
            if isinstance(buffer, MixedReplayBuffer):
                to_buffer = model.policy.scale_action if isinstance(model.action_space, gym.spaces.Box) else np.asarray
                labels = None if self.demos.labels is None else to_buffer(self.demos.labels)
                buffer.set_demonstrations(self.demos, to_buffer(self.demos.actions), labels)
            self.setup_seconds += time.time() - started
        return self.demos

    def set_mode(self, model: BaseAlgorithm, mode: Mode, weight: float, instance_weight: float) -> None:
        """Apply the controller's decision: mode, distillation weight, instance weight and replay ratio."""
        self.mode = mode
        self.weight = weight if mode == Mode.REPRESENTATION else 0.0
        self.instance_weight = instance_weight if mode == Mode.INSTANCE else 0.0
        buffer = getattr(model, "replay_buffer", None)
        if isinstance(buffer, MixedReplayBuffer):
            buffer.demo_ratio = self.config.instance_ratio * self.instance_weight

    def hidden_stage(self) -> int:
        """Index of the layer pair matched now (bottom-up); ≥ matcher.stages means output only."""
        stage_steps = max(1, int(self.config.hidden_stage_fraction * self.total_timesteps))
        return self.representation_steps // stage_steps

    # ------------------------------------------------------------------------------ the step
    def after_train(self, model: BaseAlgorithm, gradient_steps: int | None = None) -> None:
        """The distillation / demonstration step that follows SB3's train()."""
        started = time.perf_counter()
        if self.mode == Mode.REPRESENTATION and self.weight > 0.0:
            self._representation_step(model, gradient_steps)
        elif self.mode == Mode.INSTANCE and self.instance_weight > 0.0 and self.demos is not None:
            demonstration_step(self, model, gradient_steps)
        self.step_seconds += time.perf_counter() - started

    def transfer_seconds(self, model: BaseAlgorithm) -> float:
        """Time spent per step in transfer code so far: extra steps, controller windows, replay mixing."""
        buffer = getattr(model, "replay_buffer", None)
        return self.step_seconds + float(getattr(buffer, "mix_seconds", 0.0))

    def _optimizer(self, model: BaseAlgorithm) -> torch.optim.Optimizer:
        if self.kind == "actor":
            return model.actor.optimizer  # type: ignore[attr-defined,no-any-return]
        return model.policy.optimizer

    def acting_parameters(self, model: BaseAlgorithm) -> list[torch.nn.Parameter]:
        """Parameters that decide the student's actions (SAC/TD3: the actor; else the whole policy)."""
        module = model.actor if self.kind == "actor" else model.policy  # type: ignore[attr-defined]
        return list(module.parameters())

    def apply(self, model: BaseAlgorithm, loss: torch.Tensor, with_matcher: bool) -> None:
        """One step of the student's optimizer (and the hidden matcher's) on a transfer loss, gradients clipped."""
        optimizer = self._optimizer(model)
        optimizer.zero_grad()
        if with_matcher and self.matcher_optimizer is not None:
            self.matcher_optimizer.zero_grad()
        loss.backward()
        max_norm = float(getattr(model, "max_grad_norm", 10.0) or 10.0)
        torch.nn.utils.clip_grad_norm_(self.acting_parameters(model), max_norm)
        optimizer.step()
        if with_matcher and self.matcher_optimizer is not None:
            self.matcher_optimizer.step()

    def _batches(self, model: BaseAlgorithm, gradient_steps: int | None) -> list[torch.Tensor]:
        """Student states for this step: the rollout (on-policy) or fresh replay samples of own transitions."""
        size = self.config.distill_batch_size or int(getattr(model, "batch_size", 0) or 0)
        if self.kind == "on_policy":
            states = torch.as_tensor(rollout_states(model))
            size = size or len(states)
            batches: list[torch.Tensor] = []
            for _ in range(self.config.distill_epochs):
                order = torch.randperm(len(states))
                batches += [states[order[i : i + size]] for i in range(0, len(states), size)]
            return batches
        buffer = model.replay_buffer  # type: ignore[attr-defined]
        steps = max(1, round((gradient_steps or 1) * self.distill_steps_ratio))
        sample = buffer.sample_online if isinstance(buffer, MixedReplayBuffer) else buffer.sample
        return [sample(size or 64).observations for _ in range(steps)]

    def distill_coef(self) -> float:
        """Factor on the distillation loss during RL, by student kind.

        DQN: QDagger's coefficient. SAC/TD3: 1 / (2σ²) with σ the student's exploration noise
        (init_action_std), i.e. the MSE read as the teacher action's Gaussian negative log-likelihood. At
        σ = 0.1 that is 50: with the plain MSE, the critic's action gradient (same Adam state, the critic
        fitted on a narrow set of actions) pulled a distilled actor from agreement 0.99 to 0.85 within
        300 steps and its return below random's (docs/decisions.md).
        """
        if self.kind == "q_network":
            return self.config.dqn_distill_coef
        if self.kind == "actor":
            return 1.0 / (2.0 * self.config.init_action_std**2)
        return 1.0

    def _representation_step(self, model: BaseAlgorithm, gradient_steps: int | None) -> None:
        policy = model.policy
        stage = self.hidden_stage()
        use_matcher = self.matcher is not None and stage < self.matcher.stages
        coef = self.weight * self.distill_coef()
        losses, hidden_losses = [], []
        for states in self._batches(model, gradient_steps):
            teacher = self.targets(states, with_hidden=use_matcher)
            student = student_output(policy, states.float(), temperature=self.config.temperature)
            distill = policy_distillation_loss(policy, student, teacher)
            loss = coef * distill
            if use_matcher:
                assert self.matcher is not None
                hidden = self.matcher.loss(student.hidden, teacher.hidden, stage)
                loss = loss + self.weight * self.config.hidden_coef * hidden
                hidden_losses.append(float(hidden.detach()))
            self.apply(model, loss, use_matcher)
            losses.append(float(distill.detach()))
        model.logger.record("transfer/distill_step_loss", float(np.mean(losses)) if losses else math.nan)
        if hidden_losses:
            model.logger.record("transfer/hidden_loss", float(np.mean(hidden_losses)))
            model.logger.record("transfer/hidden_stage", stage)

    # ------------------------------------------------------------------------------ signals
    @torch.no_grad()
    def measure(self, model: BaseAlgorithm, *, max_states: int = 512) -> tuple[float, float]:
        """(agreement, distillation loss) of student vs teacher on the student's recent states."""
        return self.compare(model, recent_states(model, max_states))

    @torch.no_grad()
    def compare(self, model: BaseAlgorithm, states: np.ndarray) -> tuple[float, float]:
        """(agreement, distillation loss) of student vs teacher on `states` (NaN, NaN when empty or only data)."""
        if len(states) == 0 or not self.has_policy:
            return math.nan, math.nan
        tensor = torch.as_tensor(states, dtype=torch.float32)
        teacher = self.targets(tensor)
        student = student_output(model.policy, tensor, temperature=self.config.temperature)
        loss = float(policy_distillation_loss(model.policy, student, teacher))
        return agreement(model.policy, student, teacher), loss
