"""The suite's targets: a zoo teacher moved to a changed task, with the budget and threshold of record.

Budgets are the RL-Zoo budgets of record of the student algorithm on the base task, capped where
scratch's curve has clearly flattened; the student's hyperparameters are the hyperparams of record
(rltransfer/zoo/hyperparams, resolved per env family by rltransfer.training.resolve_settings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rltransfer.errors import ConfigError
from rltransfer.make import env_family
from rltransfer.registry import lookup

METHOD_ORDER = ("scratch", "finetune", "kickstart", "jsrl", "instance", "representation", "auto")
"""Methods of every target's grid, in table order."""
BENEFIT_METHOD = "representation"
"""The one method of the teacher × target benefit matrix."""
QUICK_TARGETS = ("CartPole-LongPole", "MountainCar-Strong", "Pendulum-Moon")
"""`--quick`'s targets: one discrete PPO, one DQN and one SAC student."""
QUICK_STEPS = 1_500
"""Env steps per run under `--quick` (a test of the suite's structure, not a measurement)."""
QUICK_TRANSFER = {"probe_episodes": 1, "demo_steps": 200}
"""Transfer options under `--quick`: the default probes and demonstrations alone would spend more than QUICK_STEPS."""


@dataclass(kw_only=True, frozen=True)
class SuiteTarget:
    """One target of the suite.

    Attributes:
        name: Short name (results/suite/<name>.md and .json, folder in --work).
        env_id: Target environment id.
        algo: Student algorithm.
        teacher: Zoo teacher that every method of the main grid transfers from.
        steps: Environment steps per run.
        threshold: Return threshold of time to threshold (and the top of the normalised score).
        about: What changed from the teacher's task, in a few words.
        budget: Where `steps` comes from (the RL-Zoo budget of record, and the cap if any).
    """

    name: str
    env_id: str
    algo: str
    teacher: str
    steps: int
    threshold: float
    about: str
    budget: str

    def __post_init__(self) -> None:
        if self.steps <= 0 or not math.isfinite(self.threshold):
            raise ConfigError(
                f"suite target {self.name}: steps {self.steps} and threshold {self.threshold}",
                fix="give positive steps and a finite threshold",
            )

    @property
    def family(self) -> str:
        """The target's task family (CartPole, Acrobot, ...)."""
        return env_family(self.env_id)


_CARTPOLE_BUDGET = (
    "RL Zoo PPO CartPole-v1: 1e5; capped at 5e4, where scratch has reached 475 "
    "(≈ 25k–30k steps on permuted CartPole, results/representation.md)"
)
_ACROBOT_BUDGET = (
    "RL Zoo PPO Acrobot-v1: 1e6 with observation normalisation; 1.5e5 without it, PPO with 8 vectorised envs "
    "(a DQN student runs ~5× fewer steps per second here)"
)
_DQN_BUDGET = "RL Zoo DQN {task}: {steps} (the recipe's hyperparameters)"
_PENDULUM_BUDGET = "RL Zoo SAC Pendulum-v1: 2e4; threshold −200 (RL Zoo's SAC scores about −176 there)"

TARGETS: tuple[SuiteTarget, ...] = (
    SuiteTarget(
        name="CartPole-LongPole",
        env_id="rltransfer/CartPole-LongPole-v0",
        algo="ppo",
        teacher="cartpole-ppo",
        steps=50_000,
        threshold=475.0,
        about="pole twice as long; same spaces, so the weights copy",
        budget=_CARTPOLE_BUDGET,
    ),
    SuiteTarget(
        name="CartPole-Permuted",
        env_id="rltransfer/CartPole-Permuted-v0",
        algo="ppo",
        teacher="cartpole-ppo-small",
        steps=50_000,
        threshold=475.0,
        about="observations permuted and rescaled, a [32, 32] teacher: no weight copy, mapping from selection",
        budget=_CARTPOLE_BUDGET,
    ),
    SuiteTarget(
        name="CartPole-Heavy",
        env_id="rltransfer/CartPole-Heavy-v0",
        algo="ppo",
        teacher="cartpole-ppo",
        steps=50_000,
        threshold=475.0,
        about="cart 2 kg, pole 0.3 kg",
        budget=_CARTPOLE_BUDGET,
    ),
    SuiteTarget(
        name="CartPole-LowGravity",
        env_id="rltransfer/CartPole-LowGravity-v0",
        algo="ppo",
        teacher="cartpole-generalist-ppo",
        steps=50_000,
        threshold=475.0,
        about="gravity 4.9 m/s²; the [256, 256] generalist into the [64, 64] student: no weight copy",
        budget=_CARTPOLE_BUDGET,
    ),
    SuiteTarget(
        name="Acrobot-Heavy",
        env_id="rltransfer/Acrobot-Heavy-v0",
        algo="ppo",
        teacher="acrobot-ppo",
        steps=150_000,
        threshold=-100.0,
        about="both links 1.5 kg; a [32, 32] PPO teacher into the [64, 64] student: no weight copy",
        budget=_ACROBOT_BUDGET,
    ),
    SuiteTarget(
        name="Acrobot-Permuted",
        env_id="rltransfer/Acrobot-Permuted-v0",
        algo="ppo",
        teacher="acrobot-dqn",
        steps=150_000,
        threshold=-100.0,
        about="observations permuted and rescaled, a DQN teacher for a PPO student: mapping from selection",
        budget=_ACROBOT_BUDGET,
    ),
    SuiteTarget(
        name="MountainCar-Strong",
        env_id="rltransfer/MountainCar-Strong-v0",
        algo="dqn",
        teacher="mountaincar-dqn",
        steps=120_000,
        threshold=-110.0,
        about="engine 1.5× stronger; sparse reward, where scratch often never reaches the threshold",
        budget=_DQN_BUDGET.format(task="MountainCar-v0", steps="1.2e5"),
    ),
    SuiteTarget(
        name="LunarLander-LowGravity",
        env_id="rltransfer/LunarLander-LowGravity-v0",
        algo="dqn",
        teacher="lunarlander-dqn",
        steps=100_000,
        threshold=200.0,
        about="gravity −5 (half the default)",
        budget=_DQN_BUDGET.format(task="LunarLander", steps="1e5"),
    ),
    SuiteTarget(
        name="LunarLander-Windy",
        env_id="rltransfer/LunarLander-Windy-v0",
        algo="dqn",
        teacher="lunarlander-dqn",
        steps=100_000,
        threshold=200.0,
        about="wind (power 15) and turbulence (1.5)",
        budget=_DQN_BUDGET.format(task="LunarLander", steps="1e5"),
    ),
    SuiteTarget(
        name="Pendulum-Moon",
        env_id="rltransfer/Pendulum-Moon-v0",
        algo="sac",
        teacher="pendulum-sac",
        steps=20_000,
        threshold=-200.0,
        about="lunar gravity g = 1.62",
        budget=_PENDULUM_BUDGET,
    ),
    SuiteTarget(
        name="Pendulum-Heavy",
        env_id="rltransfer/Pendulum-Heavy-v0",
        algo="sac",
        teacher="pendulum-sac",
        steps=20_000,
        threshold=-200.0,
        about="mass 1.5 kg",
        budget=_PENDULUM_BUDGET,
    ),
)
"""The suite: 10 targets over 5 families (CartPole, Acrobot, MountainCar, LunarLander, Pendulum)."""


def select_targets(names: list[str] | tuple[str, ...]) -> list[SuiteTarget]:
    """The named targets (case-insensitive, did-you-mean on typos), in the order given."""
    table = {target.name.lower(): target for target in TARGETS}
    return [lookup(table, name, what="suite target") for name in dict.fromkeys(names)]


def target_order(name: str) -> int:
    """Position of a target in TARGETS (unknown names last), so every table lists targets alike."""
    names = [target.name for target in TARGETS]
    return names.index(name) if name in names else len(names)
