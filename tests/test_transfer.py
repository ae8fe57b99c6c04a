"""Transfer controller and baselines: every algorithm in every mode with tiny budgets, plus unit checks."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rltransfer.errors import ConfigError, UnknownNameError
from rltransfer.mapping import ActionMap, Mapping, ObsMap
from rltransfer.policies import build_policy
from rltransfer.training import TrainConfig, train_student
from rltransfer.transfer import TransferConfig, TransferPPO, TransferSAC
from rltransfer.transfer.config import Mode
from rltransfer.transfer.losses import layer_pairs
from rltransfer.transfer.methods import method_builder
from rltransfer.transfer.weights import copy_teacher_weights
from rltransfer.zoo import load_teacher

# Small, fast transfer settings for tests: short probes, few demonstrations, frequent windows.
FAST = {"probe_episodes": 2, "demo_steps": 300, "window": 200}
TINY_NET = {"net_arch": [16]}
OFF_POLICY = {"learning_starts": 100, "batch_size": 32, "buffer_size": 5000}


def _setup(algo: str) -> tuple[str, str, dict[str, object], int]:
    """(env, teacher, hyperparams, steps) of a tiny run for each algorithm."""
    # budgets include the transfer's own env steps (probes, demonstrations, DAgger), now on the student's clock
    if algo in ("sac", "td3"):
        return "rltransfer/Pendulum-v0", "tiny-sac", dict(OFF_POLICY), 1300
    if algo == "dqn":
        return "CartPole-v1", "tiny-ppo", {**OFF_POLICY, "train_freq": 16, "gradient_steps": 8}, 900
    return "CartPole-v1", "tiny-ppo", {"n_steps": 64} if algo == "ppo" else {"n_steps": 16}, 900


def _tiny_ppo(zoo: Path, transfer: TransferConfig, **kwargs: object) -> TransferPPO:
    """A CartPole PPO student of the tiny PPO teacher (64-step rollouts, a 16-unit net)."""
    env = gym.make("CartPole-v1")
    return TransferPPO(
        "MlpPolicy",
        env,
        teacher=str(zoo / "tiny-ppo"),
        transfer=transfer,
        n_steps=64,
        policy_kwargs=TINY_NET,
        seed=0,
        **kwargs,  # type: ignore[arg-type]
    )


def _events(run: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: set[str] = set()
    for events in run.glob("tb/*/events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        tags |= set(accumulator.Tags()["scalars"])
    return tags


def _decisions(run: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run / "decisions.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("mode", ["representation", "instance", "auto"])
@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn", "sac", "td3"])
def test_every_algorithm_in_every_mode(algo: str, mode: str, tiny_zoo: Path, tmp_path: Path) -> None:
    env_id, teacher, hyperparams, steps = _setup(algo)
    transfer = dict(FAST)
    if mode == "auto":
        transfer["useful_margin"] = 0.0  # a barely trained teacher: let auto start transfer, to exercise it
    config = TrainConfig(
        env_id=env_id,
        algo=algo,
        total_timesteps=steps,
        method=mode,
        teacher=teacher,
        zoo=str(tiny_zoo),
        seed=0,
        n_envs=2 if algo in ("ppo", "a2c") else 1,
        hyperparams=hyperparams,
        policy_kwargs=TINY_NET,
        transfer=transfer,
    )
    result = train_student(config, tmp_path / "run")
    run = tmp_path / "run"
    decisions = _decisions(run)
    assert decisions[0]["step"] == 0 and decisions[0]["reason"]
    assert len(decisions) >= 2, "the controller decides once per window"
    assert {row["mode"] for row in decisions} <= {"representation", "instance", "none"}
    if mode != "auto":
        assert all(row["mode"] == mode for row in decisions)
    assert {"transfer/mode", "transfer/weight", "transfer/teacher_return_estimate"} <= _events(run)
    card = json.loads((run / "student" / "card.json").read_text())
    assert card["algo"] == algo and card["env_id"] == env_id
    student = load_teacher(run / "student")
    assert student.policy is not None
    assert (run / "result.json").is_file() and result.transfer_env_steps > 0
    rows = (run / "episodes.csv").read_text().splitlines()
    assert rows[0] == "timesteps,return,length" and len(rows) > 1


@pytest.mark.parametrize("method", ["scratch", "finetune", "kickstart", "jsrl"])
@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_baseline_methods(algo: str, method: str, tiny_zoo: Path, tmp_path: Path) -> None:
    env_id, teacher, hyperparams, steps = _setup(algo)
    config = TrainConfig(
        env_id=env_id,
        algo=algo,
        total_timesteps=steps,
        method=method,
        teacher=None if method == "scratch" else teacher,
        zoo=str(tiny_zoo),
        seed=0,
        n_envs=2 if algo == "ppo" else 1,
        hyperparams=hyperparams,
        policy_kwargs=TINY_NET,
        transfer=FAST if method == "kickstart" else {},
    )
    result = train_student(config, tmp_path / "run")
    decisions = _decisions(tmp_path / "run")
    assert (
        decisions[0]["mode"]
        == {"scratch": "none", "finetune": "finetune", "kickstart": "representation", "jsrl": "jsrl"}[method]
    )
    if method == "finetune":
        assert "copied actor trunk" in str(decisions[0]["reason"]) or algo == "dqn"
    if method == "kickstart":
        weights = [float(row["weight"]) for row in decisions]  # type: ignore[arg-type]
        assert weights[0] == 1.0 and weights[-1] < weights[0], "kickstarting's weight decays"
    if method == "jsrl":
        assert decisions[0]["weight"] > 0, "the guide starts with a positive horizon"
    assert result.total_timesteps == steps and (tmp_path / "run" / "student" / "card.json").is_file()


@pytest.mark.parametrize("method", ["kickstart", "instance"])
def test_off_policy_schedules_start_at_learning_starts(method: str, tiny_zoo: Path, tmp_path: Path) -> None:
    """A decay that began at step 0 would be over before SAC's first gradient step at learning_starts."""
    hyperparams = {**OFF_POLICY, "learning_starts": 1100}
    runs = {}
    total = 2000
    for name in ("scratch", method):
        config = TrainConfig(
            env_id="rltransfer/Pendulum-v0",
            algo="sac",
            total_timesteps=total,
            method=name,
            teacher=None if name == "scratch" else "tiny-sac",
            zoo=str(tiny_zoo),
            seed=0,
            hyperparams=hyperparams,
            policy_kwargs=TINY_NET,
            transfer={**FAST, "window": 100, "decay_fraction": 0.5},
        )
        train_student(config, tmp_path / name)
        runs[name] = load_teacher(tmp_path / name / "student")
    rows = _decisions(tmp_path / method)
    weights = {int(row["step"]): float(row["weight"]) for row in rows}  # type: ignore[arg-type]
    # the transfer's own steps (probes, demonstrations) come first on the clock; the probes' 800 transitions
    # (2 teacher and 2 random 200-step episodes) replace 800 of the 1,100 warm-up steps; 300 of the student's own
    start = int(rows[0]["extra_env_steps"]) + 1100 - 800  # type: ignore[call-overload]
    end = start + 0.5 * (total - start)
    assert weights[start] == 1.0, "the schedule starts at the first gradient step"
    assert 0.0 < weights[start + 100] < 1.0, "and decays"
    assert all(w == 0.0 for step, w in weights.items() if step >= end), "over decay_fraction of the learning phase"
    scratch, transferred = (dict(runs[n].policy.actor.named_parameters()) for n in ("scratch", method))
    assert any(not torch.equal(scratch[k], transferred[k]) for k in scratch), "the transfer changed the student"


def test_python_api_feels_like_sb3(tiny_zoo: Path, tmp_path: Path) -> None:
    env = gym.make("CartPole-v1")
    model = TransferPPO(
        "MlpPolicy",
        env,
        teacher=str(tiny_zoo / "tiny-ppo"),
        transfer=TransferConfig(mode="representation", **FAST),
        n_steps=64,
        policy_kwargs=TINY_NET,
        seed=0,
        tensorboard_log=str(tmp_path),
    )
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    assert model.decisions[0]["mode"] == "representation"
    assert list(tmp_path.glob("*/events.out.tfevents.*")), "SB3's tensorboard_log works as in SB3"
    action, _ = model.predict(np.zeros(4, dtype=np.float32), deterministic=True)
    assert int(action) in (0, 1)


def test_demonstrations_scale_with_the_run(tiny_zoo: Path) -> None:
    """Demonstrations cost target env steps: at most demo_fraction of the run, at most demo_steps."""
    model = _tiny_ppo(tiny_zoo, TransferConfig(mode="instance", probe_episodes=1, demo_steps=2000, demo_fraction=0.1))
    model.learn(total_timesteps=1500)
    engine = model.transfer_engine
    probe = engine.probe_demos
    assert engine.demos is not None and probe is not None and 0 < len(probe.transitions) < 150
    # the teacher's probe episode is the first demonstration; collection tops it up to the budget
    np.testing.assert_array_equal(engine.demos.obs[: len(probe.transitions)], probe.transitions.obs)
    assert len(engine.demos.obs) == 150 and engine.demos.env_steps == 150 - len(probe.transitions)
    random_steps = engine.extra_env_steps - len(probe.transitions) - engine.demos.env_steps
    assert 0 < random_steps < 100, "every target step counted once: teacher probe, random probe, demonstrations"
    engine.total_timesteps = 40_000
    assert engine.demo_budget() == 2000, "demo_steps caps a long run"


def test_probe_transitions_go_into_off_policy_replay(tiny_zoo: Path) -> None:
    """The probes' target steps are paid for: an off-policy student replays them instead of random warm-up."""
    model = TransferSAC(
        "MlpPolicy",
        gym.make("rltransfer/Pendulum-v0"),
        teacher=str(tiny_zoo / "tiny-sac"),
        transfer=TransferConfig(mode="instance", probe_episodes=2, demo_steps=300, instance_pretrain=False),
        learning_starts=1000,
        batch_size=32,
        policy_kwargs=dict(TINY_NET),  # SB3's SAC adds use_sde to the dict it is given
        seed=0,
    )
    model.learn(total_timesteps=1500)
    engine, buffer = model.transfer_engine, model.replay_buffer
    probe = engine.probe_demos
    assert probe is not None and len(probe.transitions) == 400, "two 200-step teacher episodes"
    np.testing.assert_allclose(buffer.observations[:400, 0], probe.transitions.obs, rtol=1e-6)
    np.testing.assert_allclose(buffer.actions[:400, 0], model.policy.scale_action(probe.transitions.actions))
    assert engine.replayed == 800, "the teacher's and the random policy's probe episodes are in replay"
    assert engine.demos is not None and len(engine.demos) == 400 and engine.demos.env_steps == 0, (
        "the teacher's probe covers the demonstration budget (150): nothing more is collected"
    )
    # the 800 probe steps are on the clock; of the 1000 warm-up steps only 200 remain
    assert engine.extra_env_steps == 800 and model.learning_starts == 800 + 200


def test_weight_copy_through_permutation_and_scaling() -> None:
    """A student initialised through a mapping acts exactly as the teacher on mapped observations."""
    torch.manual_seed(0)
    teacher_obs = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    teacher = build_policy("ppo", teacher_obs, gym.spaces.Discrete(3), {"net_arch": [8, 8]})
    student = build_policy(
        "ppo", gym.spaces.Box(-np.inf, np.inf, (5,), np.float32), gym.spaces.Discrete(3), {"net_arch": [8, 8]}
    )
    mapping = Mapping(
        obs=ObsMap(index=(2, 0, -1, 4), scale=(2.0, -0.5, 1.0, 3.0), offset=(0.1, 0.0, 0.7, -0.2)),
        action=ActionMap(kind="permutation", permutation=(2, 0, 1)),
    )
    report = copy_teacher_weights(teacher, student, mapping)
    assert not any("actor" in s for s in report.skipped)
    student_obs = torch.randn(32, 5)
    with torch.no_grad():
        teacher_logits = teacher.action_net(teacher.mlp_extractor.policy_net(mapping.obs.apply_torch(student_obs)))
        student_logits = student.action_net(student.mlp_extractor.policy_net(student_obs))
    assert torch.allclose(student_logits[:, [2, 0, 1]], teacher_logits, atol=1e-5)


def test_weight_copy_reports_what_does_not_fit() -> None:
    space = gym.spaces.Box(-1, 1, (3,), np.float32)
    teacher = build_policy("ppo", space, gym.spaces.Discrete(2), {"net_arch": [16, 16]})
    student = build_policy("ppo", space, gym.spaces.Discrete(2), {"net_arch": [8]})
    report = copy_teacher_weights(
        teacher, student, Mapping.identity(__import__("rltransfer").spaces.SpaceSignature.of(space))
    )
    assert report.copied == [] or all("actor" not in c for c in report.copied)
    assert any("actor trunk" in s for s in report.skipped)


def test_layer_pairs_match_every_kth_teacher_layer() -> None:
    assert layer_pairs(2, 4) == [(0, 1), (1, 3)]
    assert layer_pairs(3, 6) == [(0, 1), (1, 3), (2, 5)]
    assert layer_pairs(2, 2) == [(0, 0), (1, 1)]
    assert layer_pairs(1, 2) == [(0, 1)]


def test_mixed_replay_buffer_mixes_at_the_ratio() -> None:
    from rltransfer.transfer.instance import Demonstrations, MixedReplayBuffer

    obs_space = gym.spaces.Box(-10, 10, (2,), np.float32)
    buffer = MixedReplayBuffer(100, obs_space, gym.spaces.Discrete(2), device="cpu")
    for _ in range(50):
        buffer.add(np.zeros((1, 2)), np.zeros((1, 2)), np.array([0]), np.array([0.0]), np.array([False]), [{}])
    demos = Demonstrations(
        obs=np.ones((20, 2), np.float32),
        actions=np.ones(20, np.int64),
        rewards=np.ones(20, np.float32),
        next_obs=np.ones((20, 2), np.float32),
        terminated=np.zeros(20, np.float32),
        episode_returns=[],
        env_steps=20,
    )
    buffer.set_demonstrations(demos, demos.actions)
    buffer.demo_ratio = 0.25
    batch = buffer.sample(64)
    assert int(batch.observations[:, 0].sum()) == 16
    buffer.demo_ratio = 0.0
    assert int(buffer.sample(64).observations.sum()) == 0


def test_bad_options_get_clear_errors() -> None:
    with pytest.raises(UnknownNameError, match="representation"):
        TransferConfig(mode="representaton")
    with pytest.raises(ConfigError, match="instance_ratio"):
        TransferConfig(instance_ratio=1.5)
    with pytest.raises(ConfigError, match="unknown transfer option"):
        TransferConfig.from_dict({"weigth": 1.0})
    with pytest.raises(UnknownNameError, match="kickstart"):
        method_builder("kickstrat")
    odd_case = TransferConfig(mode="Instance", weight_schedule="LINEAR")  # case-insensitive, stored as compared
    assert (odd_case.mode, odd_case.weight_schedule) == ("instance", "linear")
    with pytest.raises(UnknownNameError, match="kickstart"):
        TrainConfig(env_id="CartPole-v1", method="kickstrat")


@pytest.mark.parametrize("warmup", [True, False])
def test_teacher_initialised_sac_acts_during_warmup(warmup: bool, tmp_path: Path) -> None:
    """Plain SB3 SAC acts uniformly at random before learning_starts; a copied actor should act instead."""
    config = TrainConfig(
        env_id="rltransfer/Pendulum-v0",
        algo="sac",
        total_timesteps=1200,  # 800 probe steps (teacher and random, 2 episodes each) on the clock, then 2 episodes
        method="representation",
        teacher="pendulum-sac",  # the shipped teacher of this very task: about -150 per episode
        seed=0,
        # the probes' 800 transitions replace 800 warm-up steps: 400 remain, the two episodes after the probes
        hyperparams={"learning_starts": 1200, "batch_size": 32},
        # the weight copy alone (distil-initialise would make the student act whatever warmup_with_student says)
        transfer={**FAST, "warmup_with_student": warmup, "distil_init": False},
    )
    train_student(config, tmp_path / "run")
    first = [float(line.split(",")[1]) for line in (tmp_path / "run" / "episodes.csv").read_text().splitlines()[1:]]
    assert len(first) == 2
    if warmup:
        assert max(first) > -400 and "acts from the first step" in str(_decisions(tmp_path / "run")[0]["reason"])
    else:
        assert max(first) < -600, "uniformly random torques swing far from upright"


def test_switch_rows_carry_their_signals_in_the_file(tiny_zoo: Path, tmp_path: Path) -> None:
    """A switch into instance mode logs the signals that triggered it in decisions.jsonl, not only in memory."""
    decisions = tmp_path / "decisions.jsonl"
    model = _tiny_ppo(tiny_zoo, TransferConfig(mode="representation", **FAST), decisions_path=decisions)
    model.learn(total_timesteps=128)
    model.transfer_controller._enter("instance", "distillation stalled", {"agreement": 0.5, "distill_loss": 0.2})
    last = json.loads(decisions.read_text().splitlines()[-1])
    assert last["mode"] == "instance" and last["agreement"] == 0.5 and last["distill_loss"] == 0.2
    assert last == model.decisions[-1]


def _next_mode_while_distilling(zoo: Path, returns: list[float], losses: list[float]) -> tuple[Mode, str]:
    """auto's next mode for a student distilling a teacher of return 500 (random 20) with these window signals."""
    model = _tiny_ppo(zoo, TransferConfig(mode="auto", **FAST))
    controller = model.transfer_controller
    controller.mode, controller.tried = Mode.REPRESENTATION, [Mode.REPRESENTATION]
    controller.teacher_return, controller.random_return = 500.0, 20.0
    controller.num_timesteps, controller.hold_until = 1000, 10_000  # within distil-initialise's hold: no cutoff
    controller.history = [
        {"return": r, "distill": loss, "agreement": 0.8, "mode": Mode.REPRESENTATION}
        for r, loss in zip(returns, losses, strict=True)
    ]
    return controller._next_mode(returns[-1], 0.8)


@pytest.mark.parametrize(("returns", "switches"), [([100.0] * 4, True), ([480.0] * 4, False)])
def test_stalled_distillation_replays_only_below_the_teacher(
    returns: list[float], switches: bool, tiny_zoo: Path
) -> None:
    """Stalled distillation moves to instance when the student trails the teacher, not when it is at its return."""
    stalled = [0.05, 0.2, 0.19, 0.2]  # never below 0.95× the first
    mode, reason = _next_mode_while_distilling(tiny_zoo, returns, stalled)
    assert (mode == Mode.INSTANCE) is switches, reason
    assert mode in (Mode.INSTANCE, Mode.REPRESENTATION)


@pytest.mark.parametrize(
    ("returns", "guarded"), [([300.0, 250.0, 200.0, 150.0], True), ([500.0, 400.0, 300.0, 200.0], False)]
)
def test_guard_blames_the_teacher_only_for_a_fall_from_below_it(
    returns: list[float], guarded: bool, tiny_zoo: Path
) -> None:
    """A fall that starts below the teacher's return turns transfer off; one from its level is forgetting, kept on."""
    falling = [0.1, 0.05, 0.033, 0.025]  # distillation still improving: no stall
    mode, reason = _next_mode_while_distilling(tiny_zoo, returns, falling)
    assert (mode == Mode.NONE and "guard" in reason) is guarded, reason
    assert mode in (Mode.NONE, Mode.REPRESENTATION)
