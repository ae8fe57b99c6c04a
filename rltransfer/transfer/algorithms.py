"""SB3 algorithms with a teacher: TransferPPO, TransferA2C, TransferDQN, TransferSAC, TransferTD3.

Each is the SB3 class plus TransferMixin, which overrides only the hooks: `_setup_model` (resolve
teacher and mapping, build the engine), `train` (SB3's update, then the transfer step), `learn` (adds
the TransferController callback) and `_excluded_save_params`. Use them as SB3 classes:

    model = TransferPPO("MlpPolicy", env, teacher="cartpole-ppo", transfer=TransferConfig(mode="auto"))
    model.learn(total_timesteps=20_000)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ConvertCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.type_aliases import MaybeCallback

from rltransfer.data.store import Dataset
from rltransfer.errors import ConfigError
from rltransfer.mapping import Mapping
from rltransfer.policies import LayerNormDQNPolicy
from rltransfer.registry import lookup
from rltransfer.transfer.config import Mode, TransferConfig
from rltransfer.transfer.controller import TransferController
from rltransfer.transfer.engine import TransferEngine
from rltransfer.transfer.instance import MixedReplayBuffer
from rltransfer.transfer.teacher import ResolvedTeacher, resolve_teacher
from rltransfer.zoo import Teacher


def env_factory_of(env: Any) -> Callable[[], gym.Env[Any, Any]]:
    """A factory of fresh single copies of a (vectorised) training env, for probes and demonstrations."""
    if isinstance(env, str):
        return lambda: gym.make(env)
    spec = env.spec if isinstance(env, gym.Env) else env.get_attr("spec", [0])[0]
    if spec is not None:
        # gym.make re-applies TimeLimit and the spec's wrappers; SB3's Monitor cannot be re-created and is dropped
        kept = tuple(w for w in spec.additional_wrappers if w.name != "Monitor")
        spec = dataclasses.replace(spec, additional_wrappers=kept)
    else:
        raise ConfigError("the training env has no spec to make probe copies from", fix="pass env_factory=")
    return lambda: gym.make(spec)


class TransferMixin:
    """Adds a teacher to an SB3 algorithm through its hooks (see the module docstring)."""

    transfer_engine: TransferEngine
    transfer_controller: TransferController

    def __init__(
        self,
        policy: Any,
        env: Any,
        *,
        teacher: str | Teacher | Dataset | ResolvedTeacher,
        transfer: TransferConfig | None = None,
        mapping: Mapping | dict[str, Any] | None = None,
        zoo: str | None = None,
        env_factory: Callable[[], gym.Env[Any, Any]] | None = None,
        decisions_path: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        self.transfer_config = transfer or TransferConfig()
        self._transfer_args: dict[str, Any] = {
            "teacher": teacher,
            "mapping": mapping,
            "zoo": zoo,
            "env_factory": env_factory or env_factory_of(env),
            "decisions_path": decisions_path,
        }
        if isinstance(self, OffPolicyAlgorithm) and kwargs.get("replay_buffer_class") is None:
            kwargs["replay_buffer_class"] = MixedReplayBuffer
        if isinstance(self, DQN) and policy == "MlpPolicy" and _layer_norm(self.transfer_config, teacher):
            policy = LayerNormDQNPolicy
            kwargs["policy_kwargs"] = {**(kwargs.get("policy_kwargs") or {}), "layer_norm": True}
        super().__init__(policy, env, **kwargs)  # type: ignore[call-arg]

    def _setup_model(self) -> None:
        super()._setup_model()  # type: ignore[misc]
        args = self._transfer_args
        seed = int(getattr(self, "seed", 0) or 0)
        resolved = resolve_teacher(
            args["teacher"], env_factory=args["env_factory"], zoo=args["zoo"], mapping=args["mapping"], seed=seed
        )
        model: BaseAlgorithm = self  # type: ignore[assignment]
        # the transfer machinery must not shift the student's random stream (auto → none equals scratch)
        with torch.random.fork_rng():
            self.transfer_engine = TransferEngine(model, resolved, self.transfer_config, args["env_factory"])
        self.transfer_controller = TransferController(
            self.transfer_engine, decisions_path=args["decisions_path"], seed=seed
        )

    def train(self, *args: Any, **kwargs: Any) -> None:
        """SB3's update, then the transfer step on the student's states."""
        super().train(*args, **kwargs)  # type: ignore[misc]
        gradient_steps = args[0] if args else kwargs.get("gradient_steps")
        self.transfer_engine.after_train(self, gradient_steps)  # type: ignore[arg-type]

    def learn(self, total_timesteps: int, callback: MaybeCallback = None, **kwargs: Any) -> Any:
        """SB3's learn with the TransferController run before the user's callbacks."""
        callbacks: list[BaseCallback] = [self.transfer_controller]
        if isinstance(callback, list):
            callbacks += callback
        elif isinstance(callback, BaseCallback):
            callbacks.append(callback)
        elif callback is not None:
            callbacks.append(ConvertCallback(callback))
        return super().learn(total_timesteps, callback=CallbackList(callbacks), **kwargs)  # type: ignore[misc]

    def _sample_action(self, learning_starts: int, *args: Any, **kwargs: Any) -> Any:
        """SB3's warm-up acts at random before learning_starts; a teacher-initialised actor acts instead."""
        if self.transfer_engine.acts_in_warmup:
            learning_starts = 0
        return super()._sample_action(learning_starts, *args, **kwargs)  # type: ignore[misc]

    def _update_learning_rate(self, optimizers: Any) -> None:
        """SB3's schedule, then a learning rate of 0 for a distilled SAC/TD3 actor while its critic catches up."""
        super()._update_learning_rate(optimizers)  # type: ignore[misc]
        if self.transfer_engine.actor_frozen(int(self.num_timesteps)):  # type: ignore[attr-defined]
            for group in self.actor.optimizer.param_groups:  # type: ignore[attr-defined]
                group["lr"] = 0.0

    def _excluded_save_params(self) -> list[str]:
        return [
            *super()._excluded_save_params(),  # type: ignore[misc]
            "transfer_engine",
            "transfer_controller",
            "_transfer_args",
        ]

    @property
    def decisions(self) -> list[dict[str, Any]]:
        """Every decision of the controller so far (step, mode, weight, reason, signals)."""
        return self.transfer_controller.decisions


def _layer_norm(config: TransferConfig, teacher: Any) -> bool:
    """Whether a DQN student gets LayerNorm in its Q-network (TransferConfig.critic_layer_norm).

    Where the run starts in instance mode: fixed, or as auto does for data or a low-confidence mapping. Judged
    from the teacher as given, before SB3 seeds the student (resolving it then would shift the student's random
    stream): a resolved teacher, as `train` and `compare` pass, tells both; a name or Teacher only the mode.
    """
    if config.critic_layer_norm is not None:
        return config.critic_layer_norm
    if isinstance(teacher, ResolvedTeacher):
        replays = teacher.teacher is None or teacher.mapping.confidence < config.min_confidence
    else:
        replays = isinstance(teacher, Dataset)
    return config.mode == Mode.INSTANCE or (config.mode == Mode.AUTO and replays)


class TransferPPO(TransferMixin, PPO):  # type: ignore[misc]  # learn(**kwargs) forwards SB3's arguments
    """PPO with a teacher (kickstarting / representation / DAPG instance transfer, auto controller)."""


class TransferA2C(TransferMixin, A2C):  # type: ignore[misc]  # learn(**kwargs) forwards SB3's arguments
    """A2C with a teacher (kickstarting / representation / DAPG instance transfer, auto controller)."""


class TransferDQN(TransferMixin, DQN):  # type: ignore[misc]  # learn(**kwargs) forwards SB3's arguments
    """DQN with a teacher (QDagger distillation / mixed replay + DQfD margin, auto controller)."""


class TransferSAC(TransferMixin, SAC):  # type: ignore[misc]  # learn(**kwargs) forwards SB3's arguments
    """SAC with a teacher (actor regression / mixed replay, auto controller)."""


class TransferTD3(TransferMixin, TD3):  # type: ignore[misc]  # learn(**kwargs) forwards SB3's arguments
    """TD3 with a teacher (actor regression / mixed replay, auto controller)."""


TRANSFER_ALGOS: dict[str, type[BaseAlgorithm]] = {
    "ppo": TransferPPO,
    "a2c": TransferA2C,
    "dqn": TransferDQN,
    "sac": TransferSAC,
    "td3": TransferTD3,
}
"""Transfer algorithm class for each SB3 algorithm name."""


def transfer_algorithm(name: str) -> type[BaseAlgorithm]:
    """The Transfer* class for an algorithm name such as "ppo" (did-you-mean on typos)."""
    return lookup(TRANSFER_ALGOS, name, what="algorithm")
