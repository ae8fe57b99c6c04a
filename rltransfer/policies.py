"""Build SB3 policies from a card's description, and look inside them.

A teacher is stored as the state dict of an SB3 policy plus the arguments that rebuild it, so loading
never unpickles anything. The same module tells other parts of rltransfer where a policy's hidden
layers and action head are, for distillation and layer-wise representation matching.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy
from torch import nn

from rltransfer.errors import CardFormatError, IncompatibleSpacesError
from rltransfer.registry import lookup

ALGOS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "a2c": A2C, "dqn": DQN, "sac": SAC, "td3": TD3}
"""SB3 algorithms rltransfer trains and transfers into, by lower-case name."""

POLICY_CLASSES: dict[str, type[BasePolicy]] = {
    "ppo": ActorCriticPolicy,
    "a2c": ActorCriticPolicy,
    "dqn": DQNPolicy,
    "sac": SACPolicy,
    "td3": TD3Policy,
}


class LayerNormDQNPolicy(DQNPolicy):
    """SB3's DQN policy with, when `layer_norm`, a LayerNorm after each hidden Linear of both Q-networks.

    As in RLPD's critic (Ball et al. 2023): it bounds how far the Q-values extrapolate from the states a
    pre-training saw. A DQN student fitted to teacher demonstrations without it valued states off the
    demonstrations at 4x their return and diverged (docs/decisions.md). layer_norm=False is SB3's policy.
    """

    def __init__(self, *args: Any, layer_norm: bool = False, **kwargs: Any) -> None:
        self.layer_norm = layer_norm  # read by make_q_net, which DQNPolicy.__init__ calls
        super().__init__(*args, **kwargs)

    def make_q_net(self) -> QNetwork:
        """SB3's Q-network, a LayerNorm inserted after each hidden Linear when layer_norm."""
        q_net = super().make_q_net()
        if self.layer_norm:
            *hidden, head = q_net.q_net.children()
            layers: list[nn.Module] = []
            for layer in hidden:
                layers.append(layer)
                if isinstance(layer, nn.Linear):
                    layers.append(nn.LayerNorm(layer.out_features))
            q_net.q_net = nn.Sequential(*layers, head).to(self.device)
        return q_net

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "layer_norm": self.layer_norm}


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
}

# policy_kwargs keys that are plain JSON values and can be stored on a card.
_PLAIN_KWARGS = {
    "net_arch",
    "log_std_init",
    "ortho_init",
    "use_sde",
    "full_std",
    "squash_output",
    "use_expln",
    "clip_mean",
    "n_critics",
    "share_features_extractor",
    "normalize_images",
    "layer_norm",
}


ACTION_SPACES: dict[str, tuple[type[gym.Space[Any]], ...]] = {
    "ppo": (gym.spaces.Box, gym.spaces.Discrete),
    "a2c": (gym.spaces.Box, gym.spaces.Discrete),
    "dqn": (gym.spaces.Discrete,),
    "sac": (gym.spaces.Box,),
    "td3": (gym.spaces.Box,),
}
"""Action spaces each algorithm can act in (of the Box and Discrete spaces rltransfer handles)."""


def acts_in(algo: str, kind: str) -> bool:
    """Whether `algo` can act in an action space of signature kind "box" or "discrete" (unknown algos: True)."""
    spaces = ACTION_SPACES.get(algo.lower())
    return spaces is None or any(space.__name__.lower() == kind for space in spaces)


def check_action_space(algo: str, space: gym.Space[Any], *, env_id: str) -> None:
    """IncompatibleSpacesError when `algo` cannot act in `space`, naming the algorithms that can."""
    if isinstance(space, ACTION_SPACES[algo.lower()]):
        return
    fits = [name for name, kinds in ACTION_SPACES.items() if isinstance(space, kinds)]
    raise IncompatibleSpacesError(
        f"{algo} cannot act in the action space {space} of {env_id}",
        fix=f"use --algo {' or '.join(fits)}" if fits else "wrap the environment so its actions are Box or Discrete",
    )


def algo_class(name: str) -> type[BaseAlgorithm]:
    """The SB3 algorithm class for a name such as "ppo" (did-you-mean on typos)."""
    return lookup(ALGOS, name, what="algorithm")


def algo_name(model: BaseAlgorithm) -> str:
    """Lower-case registry name of an SB3 model's algorithm."""
    for name, cls in ALGOS.items():
        if type(model) is cls:
            return name
    for name, cls in ALGOS.items():
        if isinstance(model, cls):
            return name
    raise CardFormatError(f"unsupported algorithm {type(model).__name__}", fix=f"use one of {sorted(ALGOS)}")


def encode_policy_kwargs(policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Make policy kwargs JSON-safe (activation classes become names); unsupported keys raise."""
    encoded: dict[str, Any] = {}
    for key, value in policy_kwargs.items():
        if key == "activation_fn":
            names = [name for name, cls in ACTIVATIONS.items() if cls is value]
            if not names:
                raise CardFormatError(
                    f"activation {value} cannot be stored on a card",
                    fix=f"use one of {sorted(ACTIVATIONS)}",
                )
            encoded[key] = names[0]
        elif key in _PLAIN_KWARGS:
            encoded[key] = value
        elif key in ("optimizer_class", "optimizer_kwargs"):
            continue  # training-only settings, irrelevant for a frozen teacher
        else:
            raise CardFormatError(
                f'policy kwarg "{key}" cannot be stored on a card',
                fix=f"use only {sorted(_PLAIN_KWARGS | {'activation_fn'})}",
            )
    return encoded


def decode_policy_kwargs(encoded: dict[str, Any]) -> dict[str, Any]:
    """Inverse of encode_policy_kwargs."""
    decoded = dict(encoded)
    if "activation_fn" in decoded:
        decoded["activation_fn"] = lookup(ACTIVATIONS, str(decoded["activation_fn"]), what="activation")
    return decoded


def build_policy(
    algo: str, observation_space: gym.Space[Any], action_space: gym.Space[Any], policy_kwargs: dict[str, Any]
) -> BasePolicy:
    """Construct an untrained SB3 policy of `algo`'s MLP kind for the given spaces."""
    policy_class = lookup(POLICY_CLASSES, algo, what="algorithm")
    if algo.lower() == "dqn" and "layer_norm" in policy_kwargs:
        policy_class = LayerNormDQNPolicy
    policy = policy_class(observation_space, action_space, lambda _: 0.0, **decode_policy_kwargs(policy_kwargs))
    policy.set_training_mode(False)
    return policy


@dataclass(frozen=True)
class PolicyAnatomy:
    """Where the parts of an SB3 policy are.

    Attributes:
        trunk: The hidden layers of the acting network, lowest first (Linear + activation pairs).
        head: Maps the trunk's output to action logits, Q-values or the action mean.
        output: "logits", "q_values", "gaussian_mean" or "squashed_mean".
    """

    trunk: list[nn.Module]
    head: nn.Module
    output: str


def _linear_blocks(sequential: nn.Module) -> list[nn.Module]:
    """Group an nn.Sequential into blocks ending after each activation following a Linear (and its LayerNorm)."""
    blocks: list[nn.Module] = []
    current: list[nn.Module] = []
    for layer in sequential.children() if isinstance(sequential, nn.Sequential) else [sequential]:
        current.append(layer)
        if not isinstance(layer, (nn.Linear, nn.LayerNorm)):
            blocks.append(nn.Sequential(*current))
            current = []
    if current:
        blocks.append(nn.Sequential(*current))
    return blocks


_ANATOMIES: weakref.WeakKeyDictionary[BasePolicy, PolicyAnatomy] = weakref.WeakKeyDictionary()
"""anatomy() per live policy: its wrappers share the policy's own modules, which SB3 never replaces."""


def anatomy(policy: BasePolicy) -> PolicyAnatomy:
    """Locate the acting network's hidden layers and head in any rltransfer-supported SB3 policy.

    Computed once per policy object (it runs in every distillation step's forward pass).
    """
    found = _ANATOMIES.get(policy)
    if found is None:
        found = _ANATOMIES[policy] = _find_anatomy(policy)
    return found


def _find_anatomy(policy: BasePolicy) -> PolicyAnatomy:
    if isinstance(policy, ActorCriticPolicy):
        trunk = _linear_blocks(policy.mlp_extractor.policy_net)
        kind = "logits" if isinstance(policy.action_space, gym.spaces.Discrete) else "gaussian_mean"
        return PolicyAnatomy(trunk=trunk, head=policy.action_net, output=kind)
    if isinstance(policy, DQNPolicy):
        layers = list(policy.q_net.q_net.children())
        return PolicyAnatomy(trunk=_linear_blocks(nn.Sequential(*layers[:-1])), head=layers[-1], output="q_values")
    if isinstance(policy, SACPolicy):
        actor = policy.actor
        return PolicyAnatomy(trunk=_linear_blocks(actor.latent_pi), head=actor.mu, output="squashed_mean")
    if isinstance(policy, TD3Policy):
        layers = list(policy.actor.mu.children())
        # TD3's actor ends with Linear + Tanh; the head is both.
        return PolicyAnatomy(
            trunk=_linear_blocks(nn.Sequential(*layers[:-2])), head=nn.Sequential(*layers[-2:]), output="squashed_mean"
        )
    raise CardFormatError(f"unsupported policy {type(policy).__name__}", fix=f"use one of {sorted(ALGOS)}")


def hidden_features(policy: BasePolicy, obs: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Run the acting network on preprocessed-as-SB3 observations; return (hidden activations, head out).

    For SAC the head output is the pre-tanh mean, for TD3 the tanh output (both in [-1, 1] units
    after squashing); for PPO/A2C the logits or Gaussian mean; for DQN the Q-values.
    """
    parts = anatomy(policy)
    features = (
        policy.extract_features(obs, policy.features_extractor)
        if not isinstance(policy, (DQNPolicy, SACPolicy, TD3Policy))
        else _actor_features(policy, obs)
    )
    if isinstance(features, tuple):  # ActorCriticPolicy with separate extractors
        features = features[0]
    activations: list[torch.Tensor] = []
    hidden = features
    for block in parts.trunk:
        hidden = block(hidden)
        activations.append(hidden)
    return activations, parts.head(hidden)


def hidden_widths(policy: BasePolicy) -> list[int]:
    """Widths of a policy's acting hidden layers, lowest first."""
    space = policy.observation_space
    dim = int(space.shape[0]) if space.shape else 1
    with torch.no_grad():
        hidden, _ = hidden_features(policy, torch.zeros(1, dim))
    return [int(h.shape[-1]) for h in hidden]


def _actor_features(policy: BasePolicy, obs: torch.Tensor) -> torch.Tensor:
    if isinstance(policy, DQNPolicy):
        return policy.q_net.extract_features(obs, policy.q_net.features_extractor)
    actor: Any = getattr(policy, "actor")  # noqa: B009  (SACPolicy / TD3Policy)
    return actor.extract_features(obs, actor.features_extractor)


def rollout_states(model: BaseAlgorithm) -> np.ndarray:
    """Every observation in an on-policy student's current rollout buffer, flattened over envs."""
    buffer = model.rollout_buffer  # type: ignore[attr-defined]
    return np.asarray(buffer.observations[: buffer.size()]).reshape(-1, *model.observation_space.shape)  # type: ignore[misc]


def recent_states(model: BaseAlgorithm, count: int) -> np.ndarray:
    """Up to `count` of the student's most recent observations (rollout or replay buffer)."""
    if isinstance(model, OnPolicyAlgorithm):
        return rollout_states(model)[-count:]
    buffer = model.replay_buffer  # type: ignore[attr-defined]
    filled = buffer.size()
    if filled == 0:
        return np.zeros((0, *model.observation_space.shape))  # type: ignore[misc]
    rows = max(1, count // buffer.n_envs)
    index = (buffer.pos - 1 - np.arange(min(rows, filled))) % buffer.buffer_size
    return np.asarray(buffer.observations[index]).reshape(-1, *model.observation_space.shape)  # type: ignore[misc]
