"""A policy's deterministic action function: as a torch module, counted, timed, and exported to ONNX.

What runs at inference is the *acting network* only: the features extractor, the hidden layers and the
head that produce the action (PPO/A2C: policy net + action net; DQN: the online Q-network; SAC: actor
trunk + mean layer; TD3: actor). Value functions, critics, target networks and log-std layers are not
counted and not exported.
"""

from __future__ import annotations

import io
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.sac.policies import SACPolicy
from torch import nn

from rltransfer.errors import ConfigError, IncompatibleSpacesError
from rltransfer.policies import anatomy, hidden_features


def acting_modules(policy: BasePolicy) -> list[nn.Module]:
    """The modules that run when the policy acts deterministically (features extractor, trunk, head)."""
    parts = anatomy(policy)
    extractor = _acting_extractor(policy)
    return [extractor, *parts.trunk, parts.head]


def _acting_extractor(policy: BasePolicy) -> nn.Module:
    owner: Any = policy
    if hasattr(policy, "q_net"):
        owner = policy.q_net
    elif hasattr(policy, "actor"):
        owner = policy.actor
    return owner.features_extractor


def acting_parameters(policy: BasePolicy) -> list[nn.Parameter]:
    """Parameters of the acting network (what distillation trains and what inference runs), deduplicated."""
    seen: set[int] = set()
    params: list[nn.Parameter] = []
    for module in acting_modules(policy):
        for param in module.parameters():
            if id(param) not in seen:
                seen.add(id(param))
                params.append(param)
    return params


def count_acting_parameters(policy: BasePolicy) -> int:
    """Number of scalar parameters in the acting network."""
    return int(sum(p.numel() for p in acting_parameters(policy)))


def box_bounds(space: gym.Space[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Flat finite (low, high) of a Box action space; unbounded dims raise IncompatibleSpacesError."""
    if not isinstance(space, gym.spaces.Box):
        raise IncompatibleSpacesError(f"{space} is not a Box action space", fix="use a continuous action space")
    low = np.asarray(space.low, dtype=np.float32).ravel()
    high = np.asarray(space.high, dtype=np.float32).ravel()
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise IncompatibleSpacesError(
            f"action space {space} has unbounded dimensions, so no tolerance relative to its range exists",
            fix="bound the action space (e.g. gymnasium.wrappers.ClipAction with finite bounds)",
        )
    return low, high


class ActingNetwork(nn.Module):
    """The deterministic action function of an SB3 policy, as one traceable module.

    ``normalized(obs)`` gives the differentiable output distillation trains: logits for discrete
    actor-critics, Q-values for DQN, and for continuous policies the action in [-1, 1] units of the
    action range (SAC: tanh of the mean; TD3: the actor's tanh output; PPO/A2C: the Gaussian mean
    rescaled). ``forward(obs)`` gives what ``policy.predict(obs, deterministic=True)`` returns: the
    greedy action index (int64) or the action in environment units (float32, clipped to the bounds).
    """

    def __init__(self, policy: BasePolicy) -> None:
        super().__init__()
        self.policy = policy
        self.output = anatomy(policy).output
        self.discrete = isinstance(policy.action_space, gym.spaces.Discrete)
        self.low: torch.Tensor
        self.high: torch.Tensor
        low, high = (np.zeros(1, np.float32), np.ones(1, np.float32))
        if not self.discrete:
            low, high = box_bounds(policy.action_space)
        self.register_buffer("low", torch.as_tensor(low))
        self.register_buffer("high", torch.as_tensor(high))
        self.squash = isinstance(policy, SACPolicy)

    def raw(self, obs: torch.Tensor) -> torch.Tensor:
        """The head's output (logits, Q-values, Gaussian mean, SAC pre-tanh mean or TD3 tanh output)."""
        return hidden_features(self.policy, obs)[1]

    def normalized(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits/Q-values (discrete) or the action in [-1, 1] range units (continuous), differentiable."""
        head = self.raw(obs)
        if self.discrete:
            return head
        if self.output == "gaussian_mean":
            return 2.0 * (head - self.low) / (self.high - self.low) - 1.0
        return torch.tanh(head) if self.squash else head

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Greedy action index (discrete) or clipped action in environment units (continuous)."""
        if self.discrete:
            return torch.argmax(self.raw(obs), dim=-1)
        unit = self.normalized(obs)
        action = self.low + 0.5 * (unit + 1.0) * (self.high - self.low)
        return torch.clamp(action, self.low, self.high)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Numpy convenience: actions for a batch of observations."""
        with torch.no_grad():
            return self(torch.as_tensor(np.asarray(obs, dtype=np.float32))).numpy()

    def act_one(self, obs: np.ndarray) -> Any:
        """The action for one observation (no batch dimension), as an environment takes it."""
        return self.act(np.asarray(obs, dtype=np.float32).reshape(1, -1))[0]


def require_onnx() -> None:
    """Raise ConfigError with the install line when onnx or onnxruntime is missing."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"ONNX export needs onnx and onnxruntime ({exc.name} is not installed)",
            fix='pip install "rltransfer[onnx]"',
        ) from exc


def export_onnx(policy: BasePolicy) -> bytes:
    """The deterministic action function as ONNX bytes: input "obs" (batch, obs_dim) float32, output "action"."""
    require_onnx()
    network = ActingNetwork(policy).eval()
    obs_dim = int(np.prod(policy.observation_space.shape or (1,)))
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(
            network,
            (torch.zeros(1, obs_dim),),
            buffer,  # type: ignore[arg-type]  # file-like objects work too
            input_names=["obs"],
            output_names=["action"],
            dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}},
            dynamo=False,
        )
    return buffer.getvalue()


def onnx_session(model: bytes) -> Any:
    """A single-threaded onnxruntime CPU session for ONNX bytes."""
    require_onnx()
    import onnxruntime as ort  # optional extra rltransfer[onnx], imported on use

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


@dataclass(kw_only=True, frozen=True)
class OnnxCheck:
    """onnxruntime's actions against torch's on the same states.

    Attributes:
        states: Number of states compared.
        matching: States whose actions are equal (discrete) or within `atol` on every dim (continuous).
        max_abs_diff: Largest absolute action difference.
        atol: Tolerance used for continuous actions (0 for discrete: exact equality).
        passed: True when every state matches.
    """

    states: int
    matching: int
    max_abs_diff: float
    atol: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "states": self.states,
            "matching": self.matching,
            "max_abs_diff": self.max_abs_diff,
            "atol": self.atol,
            "passed": self.passed,
        }


def check_onnx(model: bytes, policy: BasePolicy, states: np.ndarray, *, atol: float = 1e-5) -> OnnxCheck:
    """Run the ONNX model and the torch acting network on `states` and compare their actions."""
    states = np.asarray(states, dtype=np.float32).reshape(len(states), -1)
    network = ActingNetwork(policy).eval()
    torch_actions = network.act(states)
    onnx_actions = np.asarray(onnx_session(model).run(["action"], {"obs": states})[0])
    diff = np.abs(onnx_actions.astype(np.float64) - torch_actions.astype(np.float64)).reshape(len(states), -1)
    tolerance = 0.0 if network.discrete else atol
    matching = int(np.sum(np.all(diff <= tolerance, axis=1)))
    return OnnxCheck(
        states=len(states),
        matching=matching,
        max_abs_diff=float(diff.max(initial=0.0)),
        atol=tolerance,
        passed=matching == len(states) and len(states) > 0,
    )


def median_latency_ms(call: Callable[[np.ndarray], Any], states: np.ndarray, *, calls: int = 1000) -> float:
    """Median wall time in milliseconds of `call` on single states (batch 1), over `calls` calls after warm-up."""
    if calls < 1:
        raise ConfigError(f"latency needs at least one call, got {calls}", fix="pass calls >= 1")
    batch = np.asarray(states, dtype=np.float32).reshape(len(states), 1, -1)
    for index in range(min(20, len(batch))):
        call(batch[index])
    timings = []
    for index in range(calls):
        state = batch[index % len(batch)]
        start = time.perf_counter()
        call(state)
        timings.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(timings)


def torch_latency_ms(policy: BasePolicy, states: np.ndarray, *, calls: int = 1000) -> float:
    """Median batch-1 latency of the torch acting network (no autograd, one thread)."""
    network = ActingNetwork(policy).eval()

    def call(state: np.ndarray) -> Any:
        with torch.no_grad():
            return network(torch.from_numpy(state))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # single-threaded, as the onnxruntime session
    try:
        return median_latency_ms(call, states, calls=calls)
    finally:
        torch.set_num_threads(threads)


def onnx_latency_ms(model: bytes, states: np.ndarray, *, calls: int = 1000) -> float:
    """Median batch-1 latency of an ONNX acting network under a single-threaded onnxruntime session."""
    session = onnx_session(model)
    return median_latency_ms(lambda state: session.run(["action"], {"obs": state}), states, calls=calls)
