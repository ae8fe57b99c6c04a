"""Layout transforms shared by every family: permuted/scaled obs, distractors, remapped actions.

A variant's observation is built from the core (Gymnasium) observation as::

    obs[i] = core_obs[obs_permutation[i]] * obs_scale[i]      for i < core dims
    obs[core dims:] = N(0, 1) noise (distractor_dims values, drawn from the env's np_random)

and the agent's action is executed as::

    discrete: core_action = action_permutation[action]
    Box:      core_action = action * action_sign              (elementwise)

``discrete_actions=n`` exposes a Box(1) action as Discrete(n) levels evenly spaced over its bounds
(the permutation picks the level, the sign applies to the level). :class:`Layout` is the ground
truth other modules compare a recovered mapping with; :class:`LayoutTransform` builds the spaces and
applies the mapping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from gymnasium import spaces

from rltransfer.errors import EnvKwargsError

LAYOUT_KWARGS: tuple[str, ...] = (
    "obs_permutation",
    "obs_scale",
    "distractor_dims",
    "action_permutation",
    "action_sign",
    "discrete_actions",
    "continuous_actions",
)
"""The layout kwargs every base id accepts."""


@dataclass(frozen=True, kw_only=True)
class Layout:
    """Ground truth of how a variant's observations and actions relate to the core environment."""

    obs_permutation: tuple[int, ...]
    """``obs[i] = core_obs[obs_permutation[i]] * obs_scale[i]`` (identity: ``0..n-1``)."""
    obs_scale: tuple[float, ...]
    """Per-dimension factor applied after the permutation (identity: all 1.0)."""
    distractor_dims: int
    """Number of N(0, 1) noise dimensions appended after the core dimensions."""
    action_permutation: tuple[int, ...] | None
    """Agent action ``a`` runs as ``action_permutation[a]``; None when the agent acts with a Box."""
    action_sign: tuple[float, ...] | None
    """Box action multiplied by these ±1 signs; None when the native action is discrete."""
    discrete_actions: int | None
    """Number of evenly spaced levels a Box(1) action was discretized into, or None."""
    continuous_actions: bool
    """Whether a discrete push action (CartPole) was made a Box(-1, 1, (1,)) force fraction."""

    @property
    def core_obs_dims(self) -> int:
        """Dimensions of the core observation (without distractors)."""
        return len(self.obs_permutation)

    @property
    def is_identity(self) -> bool:
        """Whether observations and actions are exactly those of the core environment."""
        identity_obs = self.obs_permutation == tuple(range(self.core_obs_dims)) and all(
            scale == 1.0 for scale in self.obs_scale
        )
        identity_actions = (
            self.action_permutation is None or self.action_permutation == tuple(range(len(self.action_permutation)))
        ) and (self.action_sign is None or all(sign == 1.0 for sign in self.action_sign))
        return (
            identity_obs
            and identity_actions
            and self.distractor_dims == 0
            and self.discrete_actions is None
            and not self.continuous_actions
        )

    def obs_from_core(self, core_obs: np.ndarray) -> np.ndarray:
        """Permute and scale a core observation (distractor dims are not appended)."""
        core = np.asarray(core_obs)
        scale = np.asarray(self.obs_scale, dtype=core.dtype)
        return np.asarray(core[..., list(self.obs_permutation)] * scale)


def _sequence(family: str, name: str, value: object, expected: str) -> Sequence[Any]:
    if isinstance(value, np.ndarray):
        return list(value.tolist())
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise EnvKwargsError(
            f"{family} kwarg {name}={value!r} is not a list",
            fix=f"pass {name} as a list of {expected}",
        )
    return value


def _permutation(family: str, name: str, value: object, size: int, what: str) -> tuple[int, ...]:
    items = _sequence(family, name, value, "ints")
    example = [*range(1, size), 0]
    if len(items) != size:
        raise EnvKwargsError(
            f"{family} kwarg {name}={list(items)} has {len(items)} entries but {what} has {size}",
            fix=f"give each index 0..{size - 1} exactly once, e.g. {name}={example}",
        )
    if any(isinstance(item, bool) or not isinstance(item, Integral) for item in items) or sorted(
        int(item) for item in items
    ) != list(range(size)):
        raise EnvKwargsError(
            f"{family} kwarg {name}={list(items)} is not a permutation of 0..{size - 1}",
            fix=f"give each index 0..{size - 1} exactly once, e.g. {name}={example}",
        )
    return tuple(int(item) for item in items)


def _factors(family: str, name: str, value: object, size: int, what: str) -> tuple[float, ...]:
    items = _sequence(family, name, value, "floats")
    if len(items) != size:
        raise EnvKwargsError(
            f"{family} kwarg {name}={list(items)} has {len(items)} entries but {what} has {size}",
            fix=f"give {size} non-zero finite floats, e.g. {name}={[1.0] * size}",
        )
    if any(
        isinstance(item, bool) or not isinstance(item, Real) or not math.isfinite(float(item)) or item == 0
        for item in items
    ):
        raise EnvKwargsError(
            f"{family} kwarg {name}={list(items)} has an entry that is not a non-zero finite float",
            fix=f"give {size} non-zero finite floats, e.g. {name}={[1.0] * size}",
        )
    return tuple(float(item) for item in items)


def _count(family: str, name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < minimum:
        raise EnvKwargsError(
            f"{family} kwarg {name}={value!r} is not an integer >= {minimum}",
            fix=f"pass {name} as an integer >= {minimum}",
        )
    return int(value)


class LayoutTransform:
    """Builds a variant's spaces from the core spaces and maps observations and actions.

    Args:
        family: Family name for error messages, e.g. "CartPole".
        observation_space: The core observation space (a 1-D Box).
        action_space: The native action space (Discrete, or Box for continuous control).
        obs_permutation: ``obs[i] = core_obs[obs_permutation[i]]``; None: identity.
        obs_scale: Factor per dimension, applied after the permutation; None: all 1.0.
        distractor_dims: Number of N(0, 1) noise dimensions appended to the observation.
        action_permutation: The agent's discrete action ``a`` runs as ``action_permutation[a]``.
        action_sign: ±1 per Box action dimension, multiplied into the agent's action.
        discrete_actions: Expose a Box(1) action as Discrete(n) evenly spaced levels.
        continuous_actions: Recorded in the layout; the family supplies the Box native space.

    Raises:
        EnvKwargsError: A kwarg of the wrong length, type or value, or one that does not apply to
            the family's spaces.
    """

    def __init__(
        self,
        *,
        family: str,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        obs_permutation: object = None,
        obs_scale: object = None,
        distractor_dims: object = 0,
        action_permutation: object = None,
        action_sign: object = None,
        discrete_actions: object = None,
        continuous_actions: object = False,
    ) -> None:
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
            raise TypeError(f"{family}: layout transforms need a 1-D Box observation space")
        dims = observation_space.shape[0]
        what = f"the {family} observation"
        permutation = (
            tuple(range(dims))
            if obs_permutation is None
            else _permutation(family, "obs_permutation", obs_permutation, dims, what)
        )
        scale = (1.0,) * dims if obs_scale is None else _factors(family, "obs_scale", obs_scale, dims, what)
        noise_dims = _count(family, "distractor_dims", distractor_dims, minimum=0)
        if not isinstance(continuous_actions, bool):
            raise EnvKwargsError(
                f"{family} kwarg continuous_actions={continuous_actions!r} is not a bool",
                fix="pass continuous_actions=True or False",
            )
        self._native_dtype = action_space.dtype
        self._levels: np.ndarray | None = None
        if discrete_actions is not None:
            levels = _count(family, "discrete_actions", discrete_actions, minimum=2)
            if not isinstance(action_space, spaces.Box) or action_space.shape != (1,):
                raise EnvKwargsError(
                    f"{family} kwarg discrete_actions={levels} needs a Box action of shape (1,), "
                    f"but the action space is {action_space}",
                    fix="drop discrete_actions for this family",
                )
            self._levels = np.linspace(action_space.low[0], action_space.high[0], levels)
            exposed_action: spaces.Space[Any] = spaces.Discrete(levels)
        else:
            exposed_action = action_space
        self._dtype = observation_space.dtype
        self.observation_space = self._observation_space(observation_space, permutation, scale, noise_dims)
        self.action_space, action_perm, sign = self._action_space(
            family, exposed_action, action_space, action_permutation, action_sign
        )
        self.layout = Layout(
            obs_permutation=permutation,
            obs_scale=scale,
            distractor_dims=noise_dims,
            action_permutation=action_perm,
            action_sign=sign,
            discrete_actions=None if self._levels is None else len(self._levels),
            continuous_actions=continuous_actions,
        )

    def _observation_space(
        self,
        core: spaces.Box,
        permutation: tuple[int, ...],
        scale: tuple[float, ...],
        noise_dims: int,
    ) -> spaces.Box:
        factors = np.asarray(scale, dtype=core.dtype)
        scaled_low = core.low[list(permutation)] * factors
        scaled_high = core.high[list(permutation)] * factors
        # A negative factor mirrors the interval; infinite bounds stay infinite.
        low = np.where(factors > 0, scaled_low, scaled_high)
        high = np.where(factors > 0, scaled_high, scaled_low)
        if noise_dims:
            low = np.concatenate([low, np.full(noise_dims, -np.inf, dtype=core.dtype)])
            high = np.concatenate([high, np.full(noise_dims, np.inf, dtype=core.dtype)])
        return spaces.Box(low.astype(core.dtype), high.astype(core.dtype), dtype=core.dtype)

    def _action_space(
        self,
        family: str,
        exposed: spaces.Space[Any],
        native: spaces.Space[Any],
        action_permutation: object,
        action_sign: object,
    ) -> tuple[spaces.Space[Any], tuple[int, ...] | None, tuple[float, ...] | None]:
        permutation: tuple[int, ...] | None = None
        if isinstance(exposed, spaces.Discrete):
            size = int(exposed.n)
            permutation = (
                tuple(range(size))
                if action_permutation is None
                else _permutation(family, "action_permutation", action_permutation, size, f"Discrete({size})")
            )
        elif action_permutation is not None:
            raise EnvKwargsError(
                f"{family} kwarg action_permutation={action_permutation!r} needs a discrete "
                f"action, but the action space is {exposed}",
                fix="use action_sign for Box actions, or discrete_actions=n first",
            )
        sign: tuple[float, ...] | None = None
        if isinstance(native, spaces.Box):
            size = int(np.prod(native.shape))
            sign = (
                (1.0,) * size
                if action_sign is None
                else _factors(family, "action_sign", action_sign, size, "the Box action")
            )
            if any(value not in (-1.0, 1.0) for value in sign):
                raise EnvKwargsError(
                    f"{family} kwarg action_sign={list(sign)} must contain only 1.0 and -1.0",
                    fix=f"give {size} signs, e.g. action_sign={[-1.0] * size}",
                )
        elif action_sign is not None:
            raise EnvKwargsError(
                f"{family} kwarg action_sign={action_sign!r} needs a Box action, but the action space is {native}",
                fix="use action_permutation for discrete actions",
            )
        if isinstance(exposed, spaces.Box) and sign is not None:
            signs = np.asarray(sign, dtype=exposed.dtype).reshape(exposed.shape)
            low = np.where(signs > 0, exposed.low, -exposed.high).astype(exposed.dtype)
            high = np.where(signs > 0, exposed.high, -exposed.low).astype(exposed.dtype)
            exposed = spaces.Box(low, high, dtype=exposed.dtype)
        self._sign = np.asarray(sign if sign is not None else (), dtype=np.float64)
        return exposed, permutation, sign

    def observe(self, core_obs: Any, rng: np.random.Generator) -> np.ndarray:
        """The variant's observation for a core observation; distractors come from `rng`."""
        obs = self.layout.obs_from_core(np.asarray(core_obs, dtype=self._dtype))
        if self.layout.distractor_dims:
            noise = rng.standard_normal(self.layout.distractor_dims)
            obs = np.concatenate([obs, noise.astype(self._dtype)])
        return obs.astype(self._dtype, copy=False)

    def to_native(self, action: Any) -> Any:
        """The native action to execute for the agent's action (a new object, never `action`)."""
        permutation = self.layout.action_permutation
        if permutation is not None:
            index = permutation[int(np.asarray(action).item())]
            if self._levels is None:
                return index
            action = np.array([self._levels[index]])
        # Native Box action (the discrete cases returned above).
        values = np.asarray(action, dtype=self._native_dtype)
        return (values * self._sign.reshape(values.shape)).astype(self._native_dtype)
