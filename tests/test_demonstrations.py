"""Instance transfer's demonstrations: DART noise on the executed actions, the teacher's own actions as labels."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rltransfer.errors import ConfigError
from rltransfer.mapping import MappedTeacher, Mapping
from rltransfer.training import TrainConfig, train_student
from rltransfer.transfer import TransferConfig, TransferSAC
from rltransfer.transfer.imitation import demonstration_step
from rltransfer.transfer.instance import MixedReplayBuffer, collect_demonstrations, perturbed_act
from rltransfer.zoo import load_teacher


def test_perturbed_act_moves_the_executed_action_and_keeps_the_teachers() -> None:
    """Continuous: Gaussian noise inside the bounds; discrete: a random action at the given rate; labels intact."""
    box = gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32)
    intended: list[object] = []
    act = perturbed_act(lambda obs: np.array([1.5], dtype=np.float32), box, 0.5, seed=0, intended=intended)
    executed = np.array([act(np.zeros(3)) for _ in range(500)])
    assert np.all(executed >= -2.0) and np.all(executed <= 2.0) and executed.dtype == np.float32
    assert 0.7 < float(np.std(executed)) < 1.0, "0.5 half-ranges = std 1 before clipping at the upper bound"
    assert len(intended) == 500 and all(float(label[0]) == 1.5 for label in intended)  # type: ignore[index]
    labels: list[object] = []
    discrete = perturbed_act(lambda obs: 2, gym.spaces.Discrete(3), 0.3, seed=0, intended=labels)
    moved = np.array([discrete(np.zeros(3)) for _ in range(3000)])
    assert 0.15 < float(np.mean(moved != 2)) < 0.25, "30% random actions, a third of them the teacher's anyway"
    assert set(labels) == {2}
    still: list[object] = []
    assert perturbed_act(lambda obs: 1, gym.spaces.Discrete(3), 0.0, seed=0, intended=still)(np.zeros(3)) == 1


def test_noisy_demonstrations_carry_the_teachers_labels_into_replay() -> None:
    """Executed (perturbed) actions go into replay as transitions; the labels are what DQfD's margin imitates."""
    env_id = "rltransfer/Pendulum-v0"
    env = gym.make(env_id)
    teacher = load_teacher("pendulum-sac")
    mapped = MappedTeacher(teacher, Mapping.identity(teacher.card.observation_space), env.action_space)
    demos = collect_demonstrations(mapped, lambda: gym.make(env_id), steps=300, seed=0, noise=0.5)
    assert demos.labels is not None and demos.env_steps == 300 and len(demos) == 300
    assert float(np.mean(np.abs(demos.actions - demos.labels))) > 0.3, "the executed actions were perturbed"
    np.testing.assert_array_equal(demos.targets, demos.labels)
    clean = collect_demonstrations(mapped, lambda: gym.make(env_id), steps=300, seed=0)
    assert clean.labels is None and clean.targets is clean.actions
    buffer = MixedReplayBuffer(1000, gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (1,)))
    buffer.set_demonstrations(demos, demos.actions / 2.0, demos.labels / 2.0)
    states, labels = buffer.sample_labels(64)
    assert states.shape == (64, 3) and labels.shape == (64, 1)
    rows = [int(np.flatnonzero(np.all(np.isclose(demos.obs, state), axis=1))[0]) for state in states.numpy()]
    np.testing.assert_allclose(labels.numpy()[:, 0], demos.labels[rows, 0] / 2.0, rtol=1e-6)


@pytest.mark.parametrize(("noise", "updates"), [(None, 3000), (0.0, 300)])
def test_sac_cloned_from_dart_demonstrations_acts_like_its_teacher(
    noise: float | None, updates: int, tmp_path: Path
) -> None:
    """Instance's offline phase alone (no SAC update yet): cloned from 1,800 DART demonstrations, the student
    swings the pendulum up about as its teacher does (about -150); clean demonstrations and 300 updates, the
    earlier default, left it near a random policy's -1,200."""
    config = TrainConfig(
        env_id="rltransfer/Pendulum-v0",
        algo="sac",
        total_timesteps=3000,  # probes: 1 teacher + 1 random episode; 1,600 more demonstration steps; 5 episodes
        method="instance",
        teacher="pendulum-sac",
        seed=0,
        hyperparams={"learning_starts": 3000, "batch_size": 64},  # no SAC update: the offline phase is measured
        transfer={
            "probe_episodes": 1,
            "demo_steps": 2000,
            "demo_fraction": 0.6,
            "demo_noise": noise,
            "offline_updates": updates,
        },
    )
    train_student(config, tmp_path / "run")
    returns = [float(row.split(",")[1]) for row in (tmp_path / "run" / "episodes.csv").read_text().splitlines()[1:]]
    assert len(returns) == 5
    if noise is None:
        assert np.mean(returns) > -450, returns
    else:
        assert np.mean(returns) < -700, returns


def test_demo_noise_is_checked() -> None:
    """DART noise is a share of the action range or a probability: outside [0, 1] is refused in one line."""
    with pytest.raises(ConfigError, match="demo_noise"):
        TransferConfig(demo_noise=1.5)
    with pytest.raises(ConfigError, match="offline_updates"):
        TransferConfig(offline_updates=-1)
    box = gym.spaces.Box(-1.0, 1.0, shape=(1,))
    assert TransferConfig().demo_noise_for(box) == 0.5 and TransferConfig().demo_noise_for(gym.spaces.Discrete(2)) == 0
    assert TransferConfig(demo_noise=0.2).demo_noise_for(gym.spaces.Discrete(2)) == 0.2


@pytest.mark.parametrize("regression", [True, False])
def test_sac_actor_is_pulled_back_to_the_demonstrations(regression: bool, tiny_zoo: Path) -> None:
    """After RL moved a cloned actor, instance's step regresses its mean onto the teacher's labels (or, switched
    off, leaves it alone)."""
    model = TransferSAC(
        "MlpPolicy",
        gym.make("rltransfer/Pendulum-v0"),
        teacher=str(tiny_zoo / "tiny-sac"),
        transfer=TransferConfig(
            mode="instance",
            probe_episodes=1,
            demo_steps=600,
            demo_fraction=0.5,
            offline_updates=200,
            demo_regression=regression,
        ),
        learning_starts=100,
        batch_size=32,
        policy_kwargs={"net_arch": [16]},
        seed=0,
    )
    model.learn(total_timesteps=1400)  # probes 400 steps (teacher's clean episode first), 400 noisy ones
    engine = model.transfer_engine
    assert engine.demos is not None and engine.demos.labels is not None
    obs = torch.as_tensor(engine.demos.obs)
    labels = torch.as_tensor(model.policy.scale_action(engine.demos.labels))

    def distance() -> float:
        with torch.no_grad():
            return float(((model.actor(obs, deterministic=True) - labels) ** 2).mean())

    with torch.no_grad():
        model.actor.mu.bias.add_(0.8)  # as the critic's action gradient moves a released clone
    moved = distance()
    engine.set_mode(model, engine.mode, 0.0, 1.0)
    engine.freeze_until = 0
    for _ in range(60):
        demonstration_step(engine, model, 1)
    if regression:
        assert distance() < 0.5 * moved
    else:
        assert distance() == pytest.approx(moved)
