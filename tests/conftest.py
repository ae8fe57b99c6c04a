"""Shared fixtures: one thread for torch, seeds, and a tiny zoo trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import envs  # noqa: F401  (registers the rltransfer/ ids)


@pytest.fixture(scope="session", autouse=True)
def _single_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(params=[0])
def seed(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def write_recipe(path: Path, **fields: object) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(fields))
    return path


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zoo with two quickly trained teachers (PPO on CartPole-v1, SAC on Pendulum)."""
    from rltransfer.recipes import load_recipe, train_teacher

    root = tmp_path_factory.mktemp("zoo")
    recipes = root / "recipes"
    recipes.mkdir()
    zoo = root / "zoo"
    ppo = write_recipe(
        recipes / "tiny-ppo.yaml",
        name="tiny-ppo",
        algo="ppo",
        env="CartPole-v1",
        n_timesteps=1024,
        n_envs=2,
        policy_kwargs={"net_arch": [16]},
        hyperparams={"n_steps": 128},
        eval_episodes=2,
        transitions=300,
    )
    sac = write_recipe(
        recipes / "tiny-sac.yaml",
        name="tiny-sac",
        algo="sac",
        env="rltransfer/Pendulum-v0",
        n_timesteps=300,
        policy_kwargs={"net_arch": [16]},
        hyperparams={"learning_starts": 100},
        eval_episodes=1,
        transitions=200,
    )
    for recipe in (ppo, sac):
        train_teacher(load_recipe(recipe), zoo, progress_bar=False)
    return zoo
