"""RL Zoo's linear schedules ("lin_X") in hyperparameters: annealed to 0 over the run, bad ones refused in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
from conftest import one_error_line
from stable_baselines3 import PPO

from rltransfer.cli import main
from rltransfer.errors import ConfigError
from rltransfer.zoo.hyperparams import algo_kwargs, check_hyperparams


def test_lin_learning_rate_and_clip_range_anneal_over_the_run() -> None:
    hyperparams = {"learning_rate": "lin_0.001", "clip_range": "lin_0.2", "n_steps": 64, "batch_size": 64}
    check_hyperparams("ppo", hyperparams)
    model = PPO("MlpPolicy", gym.make("CartPole-v1"), seed=0, n_epochs=1, **algo_kwargs(hyperparams, 1))
    assert model.lr_schedule(1.0) == pytest.approx(0.001) and model.clip_range(0.5) == pytest.approx(0.1)
    model.learn(512)
    last = model.policy.optimizer.param_groups[0]["lr"]
    assert 0.0 <= last < 0.001 * 64 / 512 + 1e-12, "the last update ran at the end of the schedule"


@pytest.mark.parametrize("value", ["lin_fast", "lin_2.0", "cos_0.001"])
def test_bad_schedules_are_refused(value: str) -> None:
    with pytest.raises(ConfigError):
        check_hyperparams("ppo", {"learning_rate": value})


def test_cli_bad_schedule_is_one_line_and_writes_nothing(tmp_path: Path, capsys: Any) -> None:
    out, hyperparams = tmp_path / "run", tmp_path / "hp.yaml"
    hyperparams.write_text("learning_rate: lin_x\n")
    args = ["train", "--env", "CartPole-v1", "--algo", "ppo", "--steps", "256", "--out", str(out)]
    assert main([*args, "--hyperparams", str(hyperparams)]) == 2
    captured = capsys.readouterr()
    assert "linear schedule" in one_error_line(captured.err, captured.out) and not out.exists()
