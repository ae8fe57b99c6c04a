"""LayerNorm in a DQN student's Q-network when it is pre-trained on demonstrations (RLPD's critic)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gymnasium as gym
import pytest
import torch
from stable_baselines3 import DQN
from torch import nn

from rltransfer.errors import CardFormatError, ConfigError
from rltransfer.mapping import Mapping
from rltransfer.policies import LayerNormDQNPolicy, anatomy
from rltransfer.spaces import SpaceSignature
from rltransfer.training import TrainConfig, train_student
from rltransfer.transfer.algorithms import TransferDQN
from rltransfer.transfer.config import TransferConfig
from rltransfer.transfer.teacher import resolve_teacher
from rltransfer.transfer.weights import copy_teacher_weights
from rltransfer.zoo import load_teacher
from rltransfer.zoo.card import check_policy_kwargs
from rltransfer.zoo.importing import import_sb3


def _norms(module: nn.Module) -> int:
    return sum(isinstance(m, nn.LayerNorm) for m in module.modules())


def _student(zoo: Path, transfer: TransferConfig, **kwargs: object) -> TransferDQN:
    """A CartPole DQN student of the tiny PPO teacher, built and not trained."""
    env = gym.make("CartPole-v1")
    return TransferDQN("MlpPolicy", env, teacher="tiny-ppo", zoo=str(zoo), transfer=transfer, seed=0, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"mode": "instance"}, 2),
        ({"mode": "representation"}, 0),
        ({"mode": "auto"}, 0),  # a policy teacher: auto may copy weights into SB3's network
        ({"mode": "instance", "critic_layer_norm": False}, 0),
        ({"mode": "representation", "critic_layer_norm": True}, 2),
    ],
)
def test_layer_norm_goes_where_demonstrations_fit_the_q_network(
    options: dict[str, object], expected: int, tiny_zoo: Path
) -> None:
    model = _student(tiny_zoo, TransferConfig(**options))  # type: ignore[arg-type]
    assert _norms(model.q_net) == _norms(model.q_net_target) == expected
    assert model.policy_kwargs.get("layer_norm", False) is (expected > 0)
    assert len(anatomy(model.policy).trunk) == 2  # each hidden block: Linear (+ LayerNorm) + activation


def test_instance_student_with_layer_norm_loads_back_and_stays_bounded(tiny_zoo: Path, tmp_path: Path) -> None:
    """The saved student's card rebuilds its LayerNorms (trained, not at their initial 1 and 0), and its
    Q-values do not grow with the distance of a state from those it was fitted on, as a plain MLP's do."""
    config = TrainConfig(
        env_id="CartPole-v1",
        algo="dqn",
        total_timesteps=1500,
        method="instance",
        teacher="tiny-ppo",
        zoo=str(tiny_zoo),
        seed=0,
        hyperparams={"learning_starts": 200, "batch_size": 32},
        transfer={"probe_episodes": 1, "demo_steps": 300, "demo_fraction": 0.3, "offline_updates": 100},
    )
    train_student(config, tmp_path / "run")
    teacher = load_teacher(tmp_path / "run" / "student")
    assert teacher.card.policy_kwargs["layer_norm"] is True
    q_net = teacher.policy.q_net  # type: ignore[attr-defined]
    norms = [m for m in q_net.modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 2
    assert any(not torch.allclose(norm.weight, torch.ones_like(norm.weight)) for norm in norms)
    states = torch.randn(256, 4, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        near, far = q_net(states).abs().max(), q_net(states * 1000).abs().max()
    assert float(far) < 10 * float(near) + 10


def test_a_card_asks_for_layer_norm_only_for_dqn() -> None:
    check_policy_kwargs("dqn", {"layer_norm": True}, "discrete", where="card")
    with pytest.raises(CardFormatError, match="layer_norm is for DQN only"):
        check_policy_kwargs("ppo", {"layer_norm": True}, "discrete", where="card")


def test_weights_copy_only_between_networks_normalised_alike(tiny_zoo: Path) -> None:
    """A LayerNorm student copies a LayerNorm teacher whole; between a normalised and a plain network the
    Linear weights would compute another function, so the trunk is left to distillation."""
    plain, normed, other = (
        _student(tiny_zoo, TransferConfig(mode=mode), policy_kwargs={"net_arch": [16]})
        for mode in ("representation", "instance", "instance")
    )
    with torch.no_grad():
        for module in normed.q_net.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.uniform_(0.5, 2.0)
    identity = Mapping.identity(SpaceSignature.of(normed.observation_space))
    report = copy_teacher_weights(normed.policy, other.policy, identity)
    assert "actor trunk (1 layers)" in report.copied
    states = torch.randn(8, 4)
    assert torch.allclose(other.q_net(states), normed.q_net(states))
    for teacher, student in ((normed, plain), (plain, other)):
        report = copy_teacher_weights(teacher.policy, student.policy, identity)
        assert any("LayerNorms" in part for part in report.skipped) and not report.copied


def test_critic_layer_norm_takes_only_a_bool_or_null() -> None:
    with pytest.raises(ConfigError, match="critic_layer_norm must be true, false or null"):
        TransferConfig.from_dict({"critic_layer_norm": "yes"})


def test_a_layer_norm_dqn_zip_imports_as_a_teacher(tmp_path: Path) -> None:
    """An SB3 zip of a LayerNorm student (e.g. from a checkpoint) imports with its norms and acts the same."""
    env = gym.make("CartPole-v1")
    model = DQN(LayerNormDQNPolicy, env, policy_kwargs={"layer_norm": True, "net_arch": [16]}, seed=0)
    model.save(tmp_path / "model.zip")
    card = import_sb3(
        tmp_path / "model.zip", env_id="CartPole-v1", env_kwargs={}, name="normed", zoo=tmp_path / "zoo", episodes=1
    )
    assert card.policy_kwargs["layer_norm"] is True
    teacher = load_teacher(tmp_path / "zoo" / "normed")
    states = torch.randn(8, 4)
    with torch.no_grad():
        assert torch.allclose(teacher.policy.q_net(states), model.q_net(states))  # type: ignore[attr-defined]


def test_auto_with_a_low_confidence_mapping_gets_layer_norm(tiny_zoo: Path) -> None:
    """auto starts in instance (replay, offline pre-training) below min_confidence, so its Q-network is normalised
    (the teacher resolved first, as `train` and `compare` pass it)."""
    env = gym.make("CartPole-v1")
    built = {}
    for confidence in (0.1, 1.0):
        mapping = dataclasses.replace(Mapping.identity(SpaceSignature.of(env.observation_space)), confidence=confidence)
        resolved = resolve_teacher(
            "tiny-ppo", env_factory=lambda: gym.make("CartPole-v1"), zoo=str(tiny_zoo), mapping=mapping
        )
        model = TransferDQN("MlpPolicy", env, teacher=resolved, transfer=TransferConfig(), seed=0)
        built[confidence] = _norms(model.q_net)
    assert built == {0.1: 2, 1.0: 0}
