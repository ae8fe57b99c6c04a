"""Representation transfer without a weight copy: distil-initialise, critic warm-up, step counting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from rltransfer import metrics
from rltransfer.training import TrainConfig, train_student
from rltransfer.training.folder import read_episodes
from rltransfer.transfer import TransferConfig, transfer_algorithm
from rltransfer.transfer.critic_warmup import lambda_returns
from rltransfer.transfer.losses import student_output

SMALL = {
    "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 4},
    "a2c": {"n_steps": 8},
    "dqn": {"learning_starts": 200, "batch_size": 64, "train_freq": 4, "gradient_steps": 1},
    "sac": {"learning_starts": 200, "batch_size": 64},
    "td3": {"learning_starts": 200, "batch_size": 64},
}
FAST = {
    "init_from_teacher": False,  # the test is about distillation: no pair shares its shape with its teacher here
    "probe_episodes": 2,
    "init_round_steps": 400,
    "init_updates": 300,
    "critic_updates": 200,
    "init_fraction": 0.5,
}


FIRST_UPDATES = 300
"""Env steps of RL updates after which the agreement is measured again ("the first RL updates")."""


class _AgreementAfterFirstUpdates(BaseCallback):
    """Agreement on the teacher's probe states once the first RL updates of the student have run."""

    def __init__(self) -> None:
        super().__init__()
        self.value: float | None = None
        self.clear: float | None = None

    def _on_step(self) -> bool:
        engine, controller = self.model.transfer_engine, self.model.transfer_controller
        learning = max(engine.freeze_until, int(getattr(self.model, "learning_starts", 0)), controller.start_offset)
        if self.value is None and engine.init_report is not None and self.num_timesteps >= learning + FIRST_UPDATES:
            self.value = engine.compare(self.model, controller.teacher_states)[0]
            self.clear = clear_choice_agreement(self.model)
        return True


def clear_choice_agreement(model) -> float | None:
    """Discrete: agreement on the teacher's probe states where it prefers one action with p ≥ 0.8.

    Where the teacher itself is close to indifferent, RL updates flip the student's argmax without changing what
    the policy does; the clear choices are the teacher's knowledge.
    """
    engine = model.transfer_engine
    states = torch.as_tensor(model.transfer_controller.teacher_states)
    teacher = engine.targets(states)
    if teacher.probs is None:
        return None
    clear = teacher.probs.max(dim=-1).values >= 0.8
    student = student_output(model.policy, states, temperature=engine.config.temperature)
    same = student.log_probs.argmax(dim=-1) == teacher.probs.argmax(dim=-1)
    return float(same[clear].float().mean())


def _student(teacher: str, algo: str, env_id: str, steps: int, **transfer: object):
    venv = make_vec_env(env_id, n_envs=2 if algo in ("ppo", "a2c") else 1, seed=0)
    cls = transfer_algorithm(algo)
    model = cls(  # type: ignore[call-arg]
        "MlpPolicy",
        venv,
        teacher=teacher,
        zoo="agents",
        transfer=TransferConfig(mode="representation", **{**FAST, **transfer}),
        seed=0,
        policy_kwargs={"net_arch": [64, 64]},
        **SMALL[algo],
    )
    probe = _AgreementAfterFirstUpdates()
    model.learn(steps, callback=probe)
    return model, probe


PAIRS = [
    ("cartpole-ppo-small", "ppo", "rltransfer/CartPole-Permuted-v0", 0.85),  # [32, 32] into [64, 64], mapped
    ("cartpole-ppo-1layer", "a2c", "rltransfer/CartPole-v0", 0.85),  # one layer into two
    ("cartpole-ppo-small", "dqn", "rltransfer/CartPole-v0", 0.75),  # logits → a greedy Q-network
    ("cartpole-dqn", "ppo", "rltransfer/CartPole-v0", 0.85),  # Q-values → softmax policy
    ("pendulum-sac", "ppo", "rltransfer/Pendulum-Moon-v0", 0.8),  # squashed actor → Gaussian mean
    ("pendulum-td3", "sac", "rltransfer/Pendulum-Moon-v0", 0.8),
    ("pendulum-sac", "td3", "rltransfer/Pendulum-Moon-v0", 0.8),
    ("pendulum-ppo", "sac", "rltransfer/Pendulum-Moon-v0", 0.8),  # Gaussian (gSDE) mean → squashed actor
    ("pendulum-ppo", "td3", "rltransfer/Pendulum-Moon-v0", 0.8),
]


KNOWN_FAILURES: set[tuple[str, str]] = set()
"""Pairs whose agreement rises but does not survive the first RL updates yet (none now; PPO → SAC/TD3 were, until
the actor's distillation term became a Gaussian log-likelihood, docs/decisions.md)."""
PARAMS = [
    pytest.param(
        *pair,
        id=f"{pair[0]}->{pair[1]}",
        marks=pytest.mark.xfail(strict=True, reason="issue 11: not kept by RL updates yet")
        if pair[:2] in KNOWN_FAILURES
        else (),
    )
    for pair in PAIRS
]


@pytest.mark.parametrize(("teacher", "algo", "env_id", "level"), PARAMS)
def test_agreement_rises_in_distil_init_and_survives_rl_updates(
    teacher: str, algo: str, env_id: str, level: float
) -> None:
    model, probe = _student(teacher, algo, env_id, 3500)
    report = model.transfer_engine.init_report
    assert report is not None and "distil-initialise" in model.decisions[0]["reason"]
    assert report.agreement_after > report.agreement_before
    assert report.agreement_after >= level
    assert probe.value is not None, "the first RL updates ran within the budget"
    # kept on all the teacher's states, or (discrete) on its clear choices while still closer than before
    kept = probe.value >= report.agreement_after - 0.1
    clear = probe.clear is not None and probe.clear >= 0.95 and probe.value > report.agreement_before
    assert kept or clear, (report.agreement_after, probe.value, probe.clear)


def test_every_transfer_step_is_on_the_students_clock(tmp_path) -> None:
    """Probes and DAgger steps are charged to num_timesteps: episodes.csv starts after them, the budget holds."""
    config = TrainConfig(
        env_id="rltransfer/CartPole-Permuted-v0",
        method="representation",
        teacher="cartpole-ppo-small",
        zoo="agents",
        total_timesteps=4000,
        seed=0,
        n_envs=2,
        transfer=FAST,
    )
    result = train_student(config, tmp_path / "run", progress_bar=False)
    episodes = read_episodes(tmp_path / "run")
    assert result.transfer_env_steps > 0
    assert episodes[0, 0] > result.transfer_env_steps  # the first own episode ends after the transfer's steps
    assert episodes[-1, 0] <= 4000 + 256  # one rollout past the budget at most: the budget includes them


def test_dqn_student_keeps_a_small_epsilon_after_distil_init() -> None:
    model, _probe = _student("cartpole-ppo-small", "dqn", "rltransfer/CartPole-v0", 1500)
    assert model.exploration_rate == pytest.approx(model.exploration_final_eps)
    assert model.transfer_engine.acts_in_warmup and model.transfer_engine.replayed > 0


def test_lambda_returns_bootstrap_only_where_an_episode_was_cut() -> None:
    rewards = np.ones(4, dtype=np.float32)
    next_values = np.full(4, 10.0)
    terminated = np.array([False, True, False, False])
    last = np.array([False, True, False, True])
    returns = lambda_returns(rewards, next_values, terminated, last, 0.5, 1.0)
    assert returns[1] == 1.0 and returns[0] == 1.5  # terminated: no bootstrap
    assert returns[3] == 1.0 + 0.5 * 10.0 and returns[2] == 1.0 + 0.5 * returns[3]


@pytest.mark.slow
def test_small_ppo_teacher_brings_wider_student_to_threshold_far_sooner(tmp_path) -> None:
    """[32, 32] PPO teacher → default [64, 64] PPO student on permuted CartPole, every env step counted.

    The student reaches the threshold with its first full window of episodes (the earliest the metric allows:
    8 envs finish 8 episodes of 500 steps per 4,000 steps), and starts at the teacher's level; scratch starts
    near random and reaches it later or not at all.
    """
    episodes = {}
    for method in ("scratch", "representation"):
        config = TrainConfig(
            env_id="rltransfer/CartPole-Permuted-v0",
            method=method,
            teacher="cartpole-ppo-small" if method != "scratch" else None,
            zoo="agents",
            total_timesteps=16_000,
            seed=0,
        )
        train_student(config, tmp_path / method, progress_bar=False)
        episodes[method] = read_episodes(tmp_path / method)
    student, scratch = episodes["representation"], episodes["scratch"]
    reached = metrics.time_to_threshold(student, 475.0)
    assert reached == student[metrics.DEFAULT_WINDOW - 1, 0], "reached with the first full window"
    assert metrics.initial_performance(student) >= 475.0 > 100.0 >= metrics.initial_performance(scratch)
    scratch_reached = metrics.time_to_threshold(scratch, 475.0)
    assert math.isnan(scratch_reached) or scratch_reached > reached
