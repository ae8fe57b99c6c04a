from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rltransfer.errors import CardFormatError, ChecksumError, ForeignFileError, RecipeError, UnknownTeacherError
from rltransfer.policies import hidden_features
from rltransfer.training import TrainConfig, train_student
from rltransfer.zoo import list_cards, load_teacher, verify_zoo
from rltransfer.zoo.recipes import load_recipe


def copy_zoo(zoo: Path, tmp_path: Path) -> Path:
    target = tmp_path / "zoo"
    shutil.copytree(zoo, target)
    return target


def test_cards_hold_what_a_teacher_is(tiny_zoo: Path) -> None:
    cards = {card.name: card for card in list_cards(tiny_zoo)}
    assert set(cards) == {"tiny-ppo", "tiny-sac"}
    ppo = cards["tiny-ppo"]
    assert ppo.algo == "ppo" and ppo.env_id == "CartPole-v1" and ppo.family == "CartPole"
    assert ppo.observation_space.kind == "box" and ppo.observation_space.shape == (4,)
    assert ppo.action_space.kind == "discrete" and ppo.action_space.n == 2
    assert ppo.evaluation["episodes"] == 2 and np.isfinite(ppo.eval_mean)
    assert len(ppo.weights_sha256) == 64 and ppo.transitions_sha256
    assert {"torch", "stable_baselines3", "gymnasium"} <= set(ppo.libraries)
    assert cards["tiny-sac"].family == "Pendulum" and cards["tiny-sac"].action_space.kind == "box"


def test_loaded_teacher_acts_like_the_trained_policy(tiny_zoo: Path) -> None:
    teacher = load_teacher("tiny-ppo", tiny_zoo)
    obs = np.zeros((5, 4), dtype=np.float32)
    actions = teacher.predict(obs)
    assert actions.shape == (5,) and set(actions.tolist()) <= {0, 1}
    transitions = teacher.load_transitions()
    assert transitions is not None and transitions["obs"].shape == (300, 4)
    assert set(np.unique(transitions["source"])) == {0, 1}


@pytest.mark.parametrize("name", ["tiny-ppo", "tiny-sac"])
def test_anatomy_exposes_hidden_layers(tiny_zoo: Path, name: str) -> None:
    teacher = load_teacher(name, tiny_zoo)
    obs = torch.zeros((3, *teacher.observation_space.shape))
    hidden, head = hidden_features(teacher.policy, obs)
    assert len(hidden) == 1 and hidden[0].shape == (3, 16)
    assert head.shape[0] == 3


def test_verify_passes_then_fails_after_one_byte_changes(tiny_zoo: Path, tmp_path: Path) -> None:
    zoo = copy_zoo(tiny_zoo, tmp_path)
    assert all(result.ok for result in verify_zoo(zoo))
    weights = zoo / "tiny-ppo" / "policy.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    results = {r.name: r for r in verify_zoo(zoo)}
    assert not results["tiny-ppo"].ok and "sha256" in results["tiny-ppo"].problem
    assert results["tiny-sac"].ok
    with pytest.raises(ChecksumError):
        load_teacher("tiny-ppo", zoo)


def test_tampered_transitions_fail(tiny_zoo: Path, tmp_path: Path) -> None:
    zoo = copy_zoo(tiny_zoo, tmp_path)
    path = zoo / "tiny-sac" / "transitions.npz"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError):
        load_teacher("tiny-sac", zoo).load_transitions()


def test_newer_card_format_is_refused(tiny_zoo: Path, tmp_path: Path) -> None:
    zoo = copy_zoo(tiny_zoo, tmp_path)
    card_path = zoo / "tiny-ppo" / "card.json"
    card = json.loads(card_path.read_text())
    card["format_version"] = 99
    card_path.write_text(json.dumps(card))
    with pytest.raises(CardFormatError, match="newer"):
        load_teacher("tiny-ppo", zoo)


def test_pickled_zip_is_refused(tiny_zoo: Path, tmp_path: Path) -> None:
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": [8]}, n_steps=64, device="cpu")
    model.save(tmp_path / "model.zip")
    with pytest.raises(ForeignFileError, match="import-sb3"):
        load_teacher(tmp_path / "model.zip")
    zoo = copy_zoo(tiny_zoo, tmp_path)
    shutil.copy(tmp_path / "model.zip", zoo / "tiny-ppo" / "policy.safetensors")
    with pytest.raises((ForeignFileError, ChecksumError)):
        load_teacher("tiny-ppo", zoo)


def test_unknown_teacher_suggests_a_close_name(tiny_zoo: Path) -> None:
    with pytest.raises(UnknownTeacherError, match='Did you mean "tiny-ppo"'):
        load_teacher("tiny-pop", tiny_zoo)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("algo: ppo\nenv: CartPole-v1\n", "lacks"),
        ("algo: ppo\nenv: CartPole-v1\nn_timesteps: 10\nlearning_rat: 3\n", "unknown keys"),
        ("algo: pop\nenv: CartPole-v1\nn_timesteps: 10\n", "ppo"),
        ("algo: ppo\nenv: CartPole-v1\nn_timesteps: [1\n", "not valid YAML"),
        ("algo: ppo\nenv: CartPol-v1\nn_timesteps: 10\n", "unknown environment"),
        ("- a\n- b\n", "not a mapping"),
    ],
)
def test_malformed_recipes_are_refused(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises((RecipeError, Exception), match=match) as info:
        load_recipe(path)
    from rltransfer.errors import RLTransferError

    assert isinstance(info.value, RLTransferError)


def test_shipped_recipes_parse() -> None:
    recipes = sorted(Path(__file__).resolve().parents[1].joinpath("agents", "recipes").glob("*.yaml"))
    assert len(recipes) >= 8
    algos = {load_recipe(path).algo for path in recipes}
    assert {"ppo", "dqn", "sac"} <= algos


@pytest.mark.parametrize("algo", ["ppo", "sac"])
def test_a_gsde_student_loads_as_a_teacher(algo: str, tmp_path: Path) -> None:
    """SB3 passes use_sde beside policy_kwargs: the card must carry it, or the gSDE log_std cannot be loaded."""
    extra = {"n_steps": 64, "batch_size": 32} if algo == "ppo" else {"learning_starts": 100, "batch_size": 32}
    config = TrainConfig(
        env_id="rltransfer/Pendulum-v0",
        algo=algo,
        total_timesteps=300,
        seed=0,
        n_envs=1,
        hyperparams={"use_sde": True, **extra},
    )
    train_student(config, tmp_path / "run", progress_bar=False)
    teacher = load_teacher(tmp_path / "run" / "student")
    assert teacher.card.policy_kwargs["use_sde"] is True
    obs = torch.zeros(1, 3)
    assert torch.isfinite(hidden_features(teacher.policy, obs)[1]).all()
