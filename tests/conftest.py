"""Shared fixtures: one thread for torch, seeds, and a tiny zoo trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import rltransfer  # noqa: F401  (registers the rltransfer/ ids)


@pytest.fixture(scope="session", autouse=True)
def _single_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(params=[0])
def seed(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def one_error_line(err: str, out: str = "") -> str:
    """The single `rltransfer: error:` line on stderr; fails on more lines or a traceback in err or out."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rltransfer: error:"), err
    assert "Traceback" not in err and "Traceback" not in out
    return lines[0]


def suite_header(**overrides: object) -> dict[str, object]:
    """The header `suite run` gives a target file, with test values (benchmarks/suite_run.py)."""
    header: dict[str, object] = {
        "command": "python -m benchmarks suite run CartPole", "seeds": [0], "benefit_seeds": [0],
        "machine": "test", "date": "today", "wall_seconds": 1.0, "recorded_run_seconds": 1.0, "workers": 1,
        "runs": 1, "runs_trained": 1, "runs_reused": 0, "failed": [], "quick": False, "work": "work",
    }  # fmt: skip
    return {**header, **overrides}


def write_recipe(path: Path, **fields: object) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(fields))
    return path


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zoo with two quickly trained teachers (PPO on CartPole-v1, SAC on Pendulum)."""
    from rltransfer.zoo.recipes import load_recipe, train_teacher

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


@pytest.fixture(scope="session")
def selection_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Teachers for selection and mapping tests: a CartPole PPO good enough for zero-shot probes, plus a
    barely trained Pendulum SAC and MountainCar DQN whose stored transitions serve the mapping search."""
    from rltransfer.zoo.recipes import load_recipe, train_teacher

    root = tmp_path_factory.mktemp("selection_zoo")
    recipes = root / "recipes"
    recipes.mkdir()
    zoo = root / "zoo"
    common = {"eval_episodes": 3, "transitions": 1600}
    paths = [
        write_recipe(
            recipes / "cartpole.yaml",
            name="cartpole",
            algo="ppo",
            env="rltransfer/CartPole-v0",
            n_timesteps=20_000,
            n_envs=8,
            policy_kwargs={"net_arch": [32]},
            hyperparams={
                "n_steps": 32,
                "batch_size": 256,
                "gae_lambda": 0.8,
                "gamma": 0.98,
                "n_epochs": 20,
                "ent_coef": 0.0,
                "learning_rate": 0.001,
            },
            **common,
        ),
        write_recipe(
            recipes / "pendulum.yaml",
            name="pendulum",
            algo="sac",
            env="rltransfer/Pendulum-v0",
            n_timesteps=200,
            policy_kwargs={"net_arch": [16]},
            hyperparams={"learning_starts": 100},
            **common,
        ),
        write_recipe(
            recipes / "mountaincar.yaml",
            name="mountaincar",
            algo="dqn",
            env="rltransfer/MountainCar-v0",
            n_timesteps=300,
            policy_kwargs={"net_arch": [16]},
            hyperparams={"learning_starts": 100},
            **common,
        ),
    ]
    for recipe in paths:
        train_teacher(load_recipe(recipe), zoo, progress_bar=False)
    return zoo
