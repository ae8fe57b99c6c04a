"""Critic warm-up: the student's value function, Q-network or critics fitted to its own λ-returns.

Run by distil-initialise after the DAgger rounds, before the first RL update: a distilled policy whose critic
starts random is undone by its first policy-gradient steps (SB3 #543, imitation #862). The targets are the
TD(λ) returns of the distilled student's last round, bootstrapped from the network being fitted where an
episode was cut off, recomputed over CRITIC_PASSES passes; output biases first move to the returns' level.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from torch.nn import functional as F

from rltransfer.rollouts import Rollout
from rltransfer.transfer.engine import TransferEngine
from rltransfer.transfer.losses import margin_loss

BATCH_SIZE = 256
"""Minibatch of the critic warm-up and of distil-initialise's fits."""
CRITIC_PASSES = 4
"""Critic warm-up: times the λ-return targets are recomputed from the network being fitted."""


def episode_flags(roll: Rollout) -> tuple[np.ndarray, np.ndarray]:
    """Per step: (last step of its episode or of the roll-out, the env ended the episode there)."""
    last = np.zeros(len(roll.transitions), dtype=bool)
    ended = np.zeros(len(roll.transitions), dtype=bool)
    position = 0
    for rewards, finished in roll.episodes:
        position += len(rewards)
        last[position - 1] = True
        ended[position - 1] = finished
    return last, ended


def lambda_returns(
    rewards: np.ndarray, next_values: np.ndarray, terminated: np.ndarray, last: np.ndarray, gamma: float, lam: float
) -> np.ndarray:
    """TD(λ) returns of one roll-out; bootstrapped from next_values at cut-off ends, zero after termination."""
    returns = np.zeros(len(rewards), dtype=np.float32)
    following = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        if terminated[t]:
            tail = 0.0
        elif last[t]:
            tail = float(next_values[t])
        else:
            tail = (1.0 - lam) * float(next_values[t]) + lam * following
        returns[t] = float(rewards[t]) + gamma * tail
        following = returns[t]
    return returns


def warm_up_critic(model: BaseAlgorithm, engine: TransferEngine, roll: Rollout, *, updates: int, seed: int) -> str:
    """Fit the student's critic to the λ-returns of its own roll-out; one line on what was fitted."""
    critic = _Critic(model, engine, roll)
    rewards = roll.transitions.rewards
    terminated = roll.transitions.terminated
    last, _ = episode_flags(roll)
    gamma = float(getattr(model, "gamma", 0.99))
    generator = torch.Generator().manual_seed(seed + 1)
    optimizer = torch.optim.Adam(critic.parameters, lr=engine.config.init_learning_rate)
    first = final = math.nan
    targets = np.zeros(0)
    for index_pass in range(CRITIC_PASSES):
        targets = lambda_returns(rewards, critic.next_values(), terminated, last, gamma, critic.lam)
        target_tensor = torch.as_tensor(targets)
        if index_pass == 0:
            critic.shift(target_tensor)
        for _ in range(max(1, updates // CRITIC_PASSES)):
            index = torch.randint(len(targets), (min(BATCH_SIZE, len(targets)),), generator=generator)
            loss = critic.loss(index, target_tensor[index])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(critic.parameters, 10.0)
            optimizer.step()
            first = float(loss.detach()) if math.isnan(first) else first
            final = float(loss.detach())
    critic.sync_targets()
    return (
        f"{critic.what} fitted to the λ-returns (λ {critic.lam:g}, γ {gamma:g}) of {len(targets)} student steps, "
        f"mean target {float(np.mean(targets)):.1f}, loss {first:.3g} → {final:.3g}"
    )


class _Critic:
    """The critic of one algorithm kind on one roll-out: its parameters, predictions and bootstrap values."""

    def __init__(self, model: BaseAlgorithm, engine: TransferEngine, roll: Rollout) -> None:
        self.model, self.engine, self.kind = model, engine, engine.kind
        data = roll.transitions
        self.obs = torch.as_tensor(data.obs, dtype=torch.float32).reshape(len(data), -1)
        self.next_obs = torch.as_tensor(data.next_obs, dtype=torch.float32).reshape(len(data), -1)
        policy: Any = model.policy
        if self.kind == "on_policy":
            self.what = "value function"
            self.lam = float(getattr(model, "gae_lambda", 1.0))
            modules = [policy.mlp_extractor.value_net, policy.value_net]
            if not getattr(policy, "share_features_extractor", True):
                modules.append(policy.vf_features_extractor)
            self.parameters = [p for module in modules for p in module.parameters()]
        elif self.kind == "q_network":
            self.what = "Q-network"
            self.lam = 1.0
            self.actions = torch.as_tensor(data.actions, dtype=torch.long).reshape(-1, 1)
            if engine.has_policy:
                self.teacher_probs = engine.targets(self.obs).probs
            else:  # a dataset's recorded actions are its teacher's
                self.teacher_probs = F.one_hot(self.actions.squeeze(1), int(model.action_space.n)).float()  # type: ignore[attr-defined]
            self.parameters = list(model.q_net.parameters())  # type: ignore[attr-defined]
        else:
            self.what = "critics"
            self.lam = 1.0
            actions = np.asarray(data.actions, dtype=np.float32).reshape(len(data), -1)
            self.actions = torch.as_tensor(policy.scale_action(actions), dtype=torch.float32)
            self.parameters = list(model.critic.parameters())  # type: ignore[attr-defined]

    @torch.no_grad()
    def next_values(self) -> np.ndarray:
        policy: Any = self.model.policy
        if self.kind == "on_policy":
            values = policy.predict_values(self.next_obs).squeeze(-1)
        elif self.kind == "q_network":
            values = self.model.q_net(self.next_obs).max(dim=1).values  # type: ignore[attr-defined]
        else:
            next_actions = policy._predict(self.next_obs, deterministic=True)
            values = torch.cat(self.model.critic(self.next_obs, next_actions), dim=1).min(dim=1).values  # type: ignore[attr-defined]
        return values.numpy()

    def loss(self, index: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.kind == "q_network":
            q_values = self.model.q_net(self.obs[index])  # type: ignore[attr-defined]
            loss = F.smooth_l1_loss(q_values.gather(1, self.actions[index]).squeeze(1), targets)
            if self.teacher_probs is not None:  # keep the teacher's greedy actions ahead while the level is fitted
                greedy = self.teacher_probs[index].argmax(dim=-1)
                loss = loss + margin_loss(q_values, greedy, self.engine.config.margin)
            return loss
        return sum((F.mse_loss(p, targets) for p in self.predictions(index)), torch.zeros(()))

    def output_layers(self) -> list[torch.nn.Linear]:
        """The final Linear layer of each value / Q / critic network."""
        if self.kind == "on_policy":
            return [self.model.policy.value_net]  # type: ignore[list-item]
        nets = [self.model.q_net.q_net] if self.kind == "q_network" else list(self.model.critic.q_networks)  # type: ignore[attr-defined]
        return [[m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1] for net in nets]

    @torch.no_grad()
    def shift(self, targets: torch.Tensor) -> None:
        """Move each output bias by the mean gap to the targets: the level changes, the greedy actions do not.

        A distilled Q-network's values sit at the scale of τ·logits, far from returns of ~100; fitting that gap
        by gradient steps alone would move the distilled action preferences with it.
        """
        everything = torch.arange(len(targets))
        predictions = self.predictions(everything)
        for layer, prediction in zip(self.output_layers(), predictions, strict=True):
            layer.bias.add_(float((targets - prediction).mean()))

    def predictions(self, index: torch.Tensor) -> list[torch.Tensor]:
        """The critic's estimates for the roll-out's (state, action) pairs at `index` (one per critic network)."""
        policy: Any = self.model.policy
        obs = self.obs[index]
        if self.kind == "on_policy":
            return [policy.predict_values(obs).squeeze(-1)]
        if self.kind == "q_network":
            return [self.model.q_net(obs).gather(1, self.actions[index]).squeeze(1)]  # type: ignore[attr-defined]
        return [q.squeeze(-1) for q in self.model.critic(obs, self.actions[index])]  # type: ignore[attr-defined]

    def sync_targets(self) -> None:
        """Target networks start equal to the warmed-up online networks."""
        for online, target in (("q_net", "q_net_target"), ("critic", "critic_target")):
            if hasattr(self.model, online) and hasattr(self.model, target):
                getattr(self.model, target).load_state_dict(getattr(self.model, online).state_dict())
