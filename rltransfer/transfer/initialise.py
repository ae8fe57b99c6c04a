"""Distil-initialise and critic warm-up: representation transfer before the student's first RL update.

A behaviour-cloned policy is destroyed by the first RL updates when its critic starts random (SB3 #543,
imitation #862), and a teacher whose network differs from the student's cannot be copied. So, before RL:

1. Distil-initialise (DAgger, `rltransfer.dagger`): the student's acting network is fitted to the mapped
   teacher's outputs, first on the states of the teacher's probe episodes, then on states the student
   visits acting on its own, until its held-out agreement reaches `init_agreement` or the `init_steps`
   budget is spent. Each fit matches the hidden layers bottom-up through the engine's learned projections
   (output loss throughout); a DQN student also gets DQfD's large-margin loss on the teacher's greedy action.
2. Critic warm-up (`rltransfer.transfer.critic_warmup`): the value function (PPO/A2C), Q-network (DQN) or
   critics (SAC/TD3) are fitted to the λ-returns the distilled student got in its own rounds.
3. Off-policy students keep those transitions in replay and act with their own policy from the first step.

A Gaussian student (PPO/A2C on a Box, SAC) explores with `init_action_std` half-ranges of its action space
from the first DAgger round on, not with its initial std of 1 (PPO: a half-range of Pendulum's torque; SAC:
before the tanh), around which a distilled mean is as good as random and RL updates pull it away.

Every env step spent here is added to the engine's extra_env_steps, which go on the student's clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm

from rltransfer import rollouts
from rltransfer.dagger import RoundStats, dagger
from rltransfer.rollouts import ActFn, Rollout, policy_act
from rltransfer.transfer.critic_warmup import BATCH_SIZE, episode_flags, warm_up_critic
from rltransfer.transfer.engine import TransferEngine
from rltransfer.transfer.losses import margin_loss, policy_distillation_loss, student_output
from rltransfer.transfer.teacher import TeacherOutput


@dataclass(frozen=True, kw_only=True)
class InitReport:
    """What distil-initialise did: its DAgger rounds, env steps, the student's return and the critic fit."""

    rounds: tuple[RoundStats, ...]
    env_steps: int
    student_return: float
    critic: str
    replayed: int
    agreement_before: float
    """Agreement with the teacher on its own probe states before distil-initialise."""
    agreement_after: float
    """The same, after (the RL updates that follow should keep it)."""

    @property
    def agreement(self) -> float:
        """Held-out agreement of the last student round (NaN when no student round ran)."""
        held = [r.held_out_agreement for r in self.rounds if r.held_out_agreement is not None]
        return float(held[-1]) if held else math.nan

    def describe(self) -> str:
        """One line for decisions.jsonl."""
        held = " → ".join(f"{r.held_out_agreement:.2f}" for r in self.rounds if r.held_out_agreement is not None)
        student = f"{self.student_return:.1f}" if math.isfinite(self.student_return) else "n/a (no episode ended)"
        replay = f"; {self.replayed} of its transitions kept in replay" if self.replayed else ""
        return (
            f"distil-initialise: {len(self.rounds) - 1} DAgger round(s), {self.env_steps} env steps, agreement on "
            f"the teacher's states {self.agreement_before:.2f} → {self.agreement_after:.2f}, held-out agreement on "
            f"the student's own states {held or 'n/a'}, its return {student}{replay}; critic warm-up: {self.critic}"
        )


def distil_initialise(
    model: BaseAlgorithm, engine: TransferEngine, teacher_states: np.ndarray, *, seed: int
) -> InitReport:
    """Fit the student to the mapped teacher by DAgger, warm up its critic, then let it act (see module doc)."""
    config = engine.config
    if engine.kind == "q_network":
        engine.exploit(model)  # the DAgger rounds already act with the small ε the student will keep
    narrow_exploration(model, config.init_action_std)
    budget = min(config.init_steps, int(config.init_fraction * engine.total_timesteps))
    round_steps = min(config.init_round_steps, budget)  # a small run gets shorter rounds, not a larger share
    act = _student_act(model, engine.kind, seed + 41_000, noise=config.init_action_std)
    before = engine.compare(model, teacher_states)[0]
    student_rolls: list[Rollout] = []
    env = engine.env_factory()
    try:

        def collect(index: int) -> tuple[np.ndarray, int]:
            if index == 0:
                return teacher_states, 0  # the controller's probe episodes, already counted
            env.action_space.seed(seed + 40_000 + index)
            roll = rollouts.rollout(env, act, steps=round_steps, seed=seed + 40_000 + index)
            student_rolls.append(roll)
            return roll.transitions.obs.reshape(round_steps, -1), round_steps

        fit = ActorFit(model, engine, seed=seed)
        rounds = dagger(
            collect,
            fit,
            lambda states: engine.compare(model, states)[0],
            rounds=budget // round_steps if round_steps > 0 else 0,
            target=config.init_agreement,
            budget=budget,
            round_steps=round_steps,
        )
    finally:
        env.close()
    spent = rounds[-1].env_steps
    engine.extra_env_steps += spent
    engine.distilled = True
    critic = "off"
    if config.critic_warmup and student_rolls:
        critic = warm_up_critic(model, engine, student_rolls[-1], updates=config.critic_updates, seed=seed)
    replayed = sum(keep_in_replay(model, roll) for roll in student_rolls) if engine.kind != "on_policy" else 0
    engine.replayed += replayed
    if engine.kind != "on_policy":
        engine.exploit(model)
    returns = student_rolls[-1].episode_returns if student_rolls else []
    report = InitReport(
        rounds=tuple(rounds),
        env_steps=spent,
        student_return=float(np.mean(returns)) if returns else math.nan,
        critic=critic,
        replayed=replayed,
        agreement_before=before,
        agreement_after=engine.compare(model, teacher_states)[0],
    )
    engine.init_report = report
    return report


def narrow_exploration(model: BaseAlgorithm, std: float) -> None:
    """Set a Gaussian student's exploration std to `std` half-ranges of its action space (if it has one).

    PPO/A2C: log_std (state-independent; with gSDE the std of its feature weights, RL Zoo's log_std_init).
    SAC: the actor's log_std head becomes that constant (weights 0), in pre-tanh units, about half-ranges
    near the middle of the range. TD3 and discrete students have no std (TD3's action noise is its own).
    """
    space = model.action_space
    if not isinstance(space, gym.spaces.Box):
        return
    actor = getattr(model, "actor", None)
    head = getattr(actor, "log_std", None) if actor is not None else getattr(model.policy, "log_std", None)
    half = float(np.mean((space.high - space.low) / 2.0))
    with torch.no_grad():
        if isinstance(head, torch.nn.Linear):  # SAC without gSDE: a state-dependent head
            head.weight.zero_()
            head.bias.fill_(math.log(std))
        elif isinstance(head, torch.nn.Parameter):  # PPO/A2C in action units; SAC with gSDE before tanh
            head.fill_(math.log(std * (half if actor is None else 1.0)))


def _student_act(model: BaseAlgorithm, kind: str, seed: int, *, noise: float) -> ActFn:
    """The student as it acts in training: sampled (PPO/A2C), ε-greedy (DQN), or its actor's mean (SAC/TD3).

    SAC/TD3 add Gaussian noise of `noise` half-ranges (TD3's 0.1 by default), so the critic warm-up sees how Q
    changes with the action.
    """
    if kind != "actor":
        return policy_act(model, deterministic=False)
    space = model.action_space
    assert isinstance(space, gym.spaces.Box)
    rng = np.random.default_rng(seed)
    half = (space.high - space.low) / 2.0
    actor_mean = policy_act(model, deterministic=True)

    def act(obs: np.ndarray) -> np.ndarray:
        mean = actor_mean(obs)
        return np.clip(mean + noise * half * rng.standard_normal(mean.shape), space.low, space.high)

    return act


def _take(output: TeacherOutput, index: torch.Tensor) -> TeacherOutput:
    return TeacherOutput(
        [h[index] for h in output.hidden],
        output.probs[index] if output.probs is not None else None,
        output.action[index] if output.action is not None else None,
    )


class ActorFit:
    """Supervised fit of the student's acting network (and hidden projections) to the teacher's outputs."""

    def __init__(self, model: BaseAlgorithm, engine: TransferEngine, *, seed: int) -> None:
        self.model, self.engine, self.config = model, engine, engine.config
        parameters = engine.acting_parameters(model)
        if engine.matcher is not None:
            parameters += list(engine.matcher.parameters())
        self.parameters = parameters
        self.optimizer = torch.optim.Adam(parameters, lr=self.config.init_learning_rate)
        self.generator = torch.Generator().manual_seed(seed)

    def loss(self, states: torch.Tensor, teacher: TeacherOutput, stage: int) -> torch.Tensor:
        """Distillation (+ hidden matching at `stage`, + DQfD's margin for DQN) towards `teacher` on `states`."""
        policy, config = self.model.policy, self.config
        matcher = self.engine.matcher if teacher.hidden else None
        student = student_output(policy, states, temperature=config.temperature)
        loss = policy_distillation_loss(policy, student, teacher)
        if matcher is not None and stage < matcher.stages:
            loss = loss + config.hidden_coef * matcher.loss(student.hidden, teacher.hidden, stage)
        if self.engine.kind == "q_network" and teacher.probs is not None:
            loss = loss + margin_loss(student.raw, teacher.probs.argmax(dim=-1), config.margin)
        return loss

    def __call__(self, states: np.ndarray) -> float:
        """`init_updates` minibatch steps on the teacher's outputs; the distillation loss after them."""
        tensor = torch.as_tensor(states, dtype=torch.float32)
        matcher = self.engine.matcher
        self.fit(tensor, self.engine.targets(tensor, with_hidden=matcher is not None and matcher.stages > 0))
        return self.engine.compare(self.model, states)[1]

    def fit(self, tensor: torch.Tensor, teacher: TeacherOutput) -> None:
        """`init_updates` minibatch steps towards `teacher`; hidden pairs (if given) get their share, lowest first."""
        matcher = self.engine.matcher if teacher.hidden else None
        updates = self.config.init_updates
        chunk = max(1, updates // ((matcher.stages if matcher is not None else 0) + 1))
        for step in range(updates):
            index = torch.randint(len(tensor), (min(BATCH_SIZE, len(tensor)),), generator=self.generator)
            loss = self.loss(tensor[index], _take(teacher, index), step // chunk)
            self.optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.parameters, 10.0)
            self.optimizer.step()


def keep_in_replay(model: BaseAlgorithm, roll: Rollout) -> int:
    """Add a single-env roll-out's transitions to the student's replay buffer; the number added."""
    buffer = getattr(model, "replay_buffer", None)
    if buffer is None or buffer.n_envs != 1 or getattr(buffer, "optimize_memory_usage", False):
        return 0  # several envs' rows or a next-obs-sharing buffer cannot take one roll-out's order
    data = roll.transitions
    _, ended = episode_flags(roll)
    actions = np.asarray(data.actions).reshape(len(data), -1)
    if isinstance(model.action_space, gym.spaces.Box):
        actions = model.policy.scale_action(actions.astype(np.float32))  # type: ignore[attr-defined]
    for t in range(len(data)):
        done = bool(ended[t])
        truncated = done and not bool(data.terminated[t])
        buffer.add(
            data.obs[t][None],
            data.next_obs[t][None],
            actions[t][None],
            np.asarray([data.rewards[t]]),
            np.asarray([done]),
            [{"TimeLimit.truncated": truncated}],
        )
    return len(data)
