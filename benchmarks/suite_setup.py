"""The suite's set-up: a teacher trained with plain SB3, outside rltransfer, brought in by `zoo import-sb3`.

This is the user's case the suite must cover: their own model, another network size, no rltransfer
recipe. It is trained once (deterministic on CPU) and imported into the zoo the suite runs on.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import gymnasium as gym
import torch
from stable_baselines3 import PPO

from rltransfer.zoo import default_zoo
from rltransfer.zoo.importing import import_sb3

USER_TEACHER = "cartpole-user-ppo"
"""Name of the imported teacher in the zoo."""
USER_STEPS = 40_000
"""Plain-SB3 training steps (SB3's PPO defaults, a [32, 32] network, seed 1: as a user would)."""


def ensure_user_teacher(zoo: str | None) -> bool:
    """Train and import USER_TEACHER into `zoo` (default: the default zoo) unless it is there; True if made."""
    folder = Path(zoo) if zoo else default_zoo()
    if (folder / USER_TEACHER / "card.json").is_file():
        return False
    print(f"suite set-up: training {USER_TEACHER} with plain SB3 ({USER_STEPS:,} steps), then zoo import-sb3")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = PPO("MlpPolicy", gym.make("CartPole-v1"), seed=1, policy_kwargs={"net_arch": [32, 32]}, verbose=0)
        model.learn(USER_STEPS)
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / f"{USER_TEACHER}.zip"
            model.save(path)
            import_sb3(path, env_id="CartPole-v1", env_kwargs={}, name=USER_TEACHER, zoo=folder)
    finally:
        torch.set_num_threads(threads)
    return True
