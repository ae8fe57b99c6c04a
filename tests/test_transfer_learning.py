"""Learning tests on CartPole-class tasks: transfer from a competent teacher beats scratch at an equal
small budget, and the negative-transfer guard turns transfer off for a misleading teacher."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rltransfer.mapping import Mapping
from rltransfer.training import TrainConfig, read_episodes, train_student

pytestmark = pytest.mark.slow

FAST = {"probe_episodes": 3, "demo_steps": 500}
PPO = {
    "n_steps": 64,
    "batch_size": 128,
    "n_epochs": 10,
    "learning_rate": 0.001,
    "gamma": 0.98,
    "gae_lambda": 0.8,
    "clip_range": 0.2,
}


@pytest.fixture(scope="session")
def competent_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """agents/ when it holds a competent cartpole-ppo, else a PPO teacher trained here (~30 s)."""
    from rltransfer.errors import RLTransferError
    from rltransfer.zoo import default_zoo, load_teacher

    try:
        teacher = load_teacher("cartpole-ppo", default_zoo())
        if teacher.card.eval_mean >= 400:
            return default_zoo()
    except RLTransferError:
        pass
    from rltransfer.zoo.recipes import Recipe, train_teacher

    zoo = tmp_path_factory.mktemp("competent")
    recipe = Recipe(
        name="cartpole-ppo",
        algo="ppo",
        env="rltransfer/CartPole-v0",
        n_timesteps=40_000,
        n_envs=8,
        policy_kwargs={"net_arch": [64, 64]},
        hyperparams={**PPO, "n_steps": 32, "batch_size": 256, "n_epochs": 20},
        eval_episodes=5,
        transitions=0,
    )
    train_teacher(recipe, zoo, progress_bar=False)
    return zoo


def _mean_return(run: Path) -> float:
    return float(np.mean(read_episodes(run)[:, 1]))


def test_transfer_beats_scratch_on_a_related_target(competent_zoo: Path, tmp_path: Path) -> None:
    """CartPole with a heavier cart: auto (weights + distillation) vs scratch, same budget, two seeds."""
    means: dict[str, list[float]] = {"scratch": [], "auto": []}
    for seed in (0, 1):
        for method in means:
            config = TrainConfig(
                env_id="rltransfer/CartPole-Heavy-v0",
                algo="ppo",
                total_timesteps=4000,
                seed=seed,
                method=method,
                teacher=None if method == "scratch" else "cartpole-ppo",
                zoo=str(competent_zoo),
                n_envs=4,
                hyperparams=PPO,
                transfer=FAST if method != "scratch" else {},
            )
            train_student(config, tmp_path / f"{method}{seed}")
            means[method].append(_mean_return(tmp_path / f"{method}{seed}"))
    assert min(means["auto"]) > 2 * max(means["scratch"]), means


def test_kickstart_beats_scratch_without_weight_copy(competent_zoo: Path, tmp_path: Path) -> None:
    """Distillation alone (kickstarting, no weight copy, smaller student) still gives a jump-start."""
    means: dict[str, list[float]] = {"scratch": [], "kickstart": []}
    for seed in (0, 1):
        for method in means:
            config = TrainConfig(
                env_id="rltransfer/CartPole-Heavy-v0",
                algo="ppo",
                total_timesteps=5000,
                seed=seed,
                method=method,
                teacher=None if method == "scratch" else "cartpole-ppo",
                zoo=str(competent_zoo),
                n_envs=4,
                hyperparams=PPO,
                policy_kwargs={"net_arch": [32]},
                transfer=FAST if method != "scratch" else {},
            )
            train_student(config, tmp_path / f"{method}{seed}")
            means[method].append(_mean_return(tmp_path / f"{method}{seed}"))
    assert min(means["kickstart"]) > max(means["scratch"]), means


def test_guard_turns_transfer_off_for_a_misleading_teacher(competent_zoo: Path, tmp_path: Path) -> None:
    """CartPole with swapped actions and an identity mapping forced: auto turns transfer off, with a reason,
    and so learns like scratch, while forced representation transfer is clearly harmful."""
    from rltransfer.zoo import load_teacher

    identity = Mapping.identity(load_teacher("cartpole-ppo", competent_zoo).card.observation_space).to_dict()
    means: dict[str, float] = {}
    for method in ("scratch", "auto", "representation"):
        config = TrainConfig(
            env_id="rltransfer/CartPole-Reversed-v0",
            algo="ppo",
            total_timesteps=3000,
            seed=0,
            method=method,
            teacher=None if method == "scratch" else "cartpole-ppo",
            zoo=str(competent_zoo),
            n_envs=4,
            hyperparams=PPO,
            mapping=None if method == "scratch" else identity,
            transfer=FAST if method != "scratch" else {},
        )
        train_student(config, tmp_path / method)
        means[method] = _mean_return(tmp_path / method)
    decisions = [json.loads(line) for line in (tmp_path / "auto" / "decisions.jsonl").read_text().splitlines()]
    assert decisions[0]["mode"] == "none" and "guard" in decisions[0]["reason"]
    assert all(row["mode"] == "none" for row in decisions)
    assert means["auto"] >= 0.95 * means["scratch"], means
    assert means["representation"] < 0.7 * means["scratch"], means
