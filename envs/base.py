"""The mixin every family class puts before its Gymnasium core class.

``class CartPoleVariant(VariantEnv, CartPoleEnv)`` keeps Gymnasium's dynamics and adds:

* physics kwargs validated against the family's :class:`~rltransfer.envs.physics.PhysicsParam` table and set
  as instance attributes (``_apply_physics``), optionally resampled at every reset
  (``randomize=True``) from the env's own ``np_random``;
* the layout transforms of :mod:`rltransfer.envs.layout`, reflected in ``observation_space`` and
  ``action_space``, with the ground truth in :attr:`VariantEnv.layout`.

The core class runs with the spaces it was written for (its own asserts check them), and a core
``reset`` that calls ``self.step`` (LunarLander does) reaches the core step untransformed.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rltransfer.errors import EnvKwargsError
from rltransfer.registry import suggest

from .layout import LAYOUT_KWARGS, Layout, LayoutTransform
from .physics import (
    PhysicsParam,
    check_random_ranges,
    random_ranges,
    resolve_physics,
    sample_physics,
)

StepResult = tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]


class VariantEnv(gym.Env[np.ndarray, Any]):
    """Physics kwargs, per-reset randomization and layout transforms over a Gymnasium core env.

    Attributes:
        nominal_physics: The physics given at construction (centre of the randomization ranges).
        randomize: Whether the physics are resampled at every reset.
        core_observation_space: The Gymnasium core's observation space (before the layout).
        core_action_space: The Gymnasium core's action space (before any action conversion).
    """

    FAMILY: ClassVar[str]
    """Family name, e.g. "CartPole"."""
    PHYSICS: ClassVar[Mapping[str, PhysicsParam]]
    """The family's physics kwargs: defaults, bounds, randomization factors."""

    def _setup_variant(
        self, *, physics: Mapping[str, object], randomize: bool, layout_kwargs: Mapping[str, Any]
    ) -> None:
        """Validate kwargs, set the physics and wrap the core spaces; call after the core __init__.

        Args:
            physics: Value per name of ``PHYSICS``.
            randomize: Resample physics at every reset.
            layout_kwargs: Remaining kwargs; must be names of ``LAYOUT_KWARGS``.

        Raises:
            EnvKwargsError: An unknown kwarg or an invalid value.
        """
        self._check_kwarg_names(layout_kwargs)
        if not isinstance(randomize, bool):
            raise EnvKwargsError(
                f"{self.FAMILY} kwarg randomize={randomize!r} is not a bool",
                fix="pass randomize=True or False",
            )
        self.nominal_physics: dict[str, float] = resolve_physics(self.FAMILY, self.PHYSICS, physics)
        self.randomize = randomize
        if randomize:
            check_random_ranges(self.FAMILY, self.PHYSICS, self.nominal_physics)
        self._set_physics(self.nominal_physics)
        self._build_core_spaces()
        self.core_observation_space: spaces.Space[Any] = self.observation_space
        self.core_action_space: spaces.Space[Any] = self.action_space
        continuous = bool(layout_kwargs.get("continuous_actions", False))
        self._transform = LayoutTransform(
            family=self.FAMILY,
            observation_space=self.observation_space,
            action_space=self._native_action_space(continuous),
            **layout_kwargs,
        )
        self.observation_space = self._transform.observation_space
        self.action_space = self._transform.action_space
        self._inside_core = False

    def _check_kwarg_names(self, layout_kwargs: Mapping[str, Any]) -> None:
        unknown = [name for name in layout_kwargs if name not in LAYOUT_KWARGS]
        if not unknown:
            return
        signature = inspect.signature(type(self).__init__)
        accepted = [
            name for name, parameter in signature.parameters.items() if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        ] + list(LAYOUT_KWARGS)
        raise EnvKwargsError(
            f'unknown {self.FAMILY} kwarg "{unknown[0]}".{suggest(unknown[0], accepted)}',
            fix=f"accepted kwargs: {', '.join(accepted)}",
        )

    @property
    def layout(self) -> Layout:
        """Ground truth of the observation and action layout relative to the core environment."""
        return self._transform.layout

    @property
    def physics(self) -> dict[str, float]:
        """The physics of the current episode (a copy)."""
        return dict(self._physics)

    @property
    def random_ranges(self) -> dict[str, tuple[float, float]]:
        """The (low, high) each parameter is drawn from when ``randomize=True``."""
        return random_ranges(self.PHYSICS, self.nominal_physics)

    def _set_physics(self, physics: Mapping[str, float]) -> None:
        self._physics = dict(physics)
        self._apply_physics(self._physics)

    def _apply_physics(self, physics: Mapping[str, float]) -> None:
        """Set the core's attributes (and derived quantities) from the physics values."""
        raise NotImplementedError

    def _build_core_spaces(self) -> None:
        """Rebuild core spaces that depend on the physics (called once, after the first physics)."""

    def _native_action_space(self, continuous_actions: bool) -> spaces.Space[Any]:
        """The action space the layout transform starts from (override for continuous_actions)."""
        if continuous_actions:
            raise EnvKwargsError(
                f"{self.FAMILY} does not support continuous_actions=True (its action space is {self.action_space})",
                fix="drop continuous_actions; it applies to CartPole only",
            )
        return self.action_space

    @contextmanager
    def _core_call(self) -> Iterator[None]:
        """Run core code with the core spaces and with ``self.step`` passing straight through."""
        exposed = (self.observation_space, self.action_space)
        self.observation_space, self.action_space = (
            self.core_observation_space,
            self.core_action_space,
        )
        self._inside_core = True
        try:
            yield
        finally:
            self.observation_space, self.action_space = exposed
            self._inside_core = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Seed, resample the physics if randomized, reset the core, transform its observation."""
        # Seed first so that the physics sample depends on `seed` (the core reset then gets None).
        gym.Env.reset(self, seed=seed)
        if self.randomize:
            self._set_physics(sample_physics(self.PHYSICS, self.nominal_physics, self.np_random))
        with self._core_call():
            core_obs, info = super().reset(seed=None, options=options)
        return self._transform.observe(core_obs, self.np_random), dict(info)

    def step(self, action: Any) -> StepResult:
        """Map the agent's action to the core action, step the core, transform the observation."""
        if self._inside_core:  # the core's own reset stepping itself (LunarLander)
            return super().step(action)
        core_obs, reward, terminated, truncated, info = self._step_native(self._transform.to_native(action))
        obs = self._transform.observe(core_obs, self.np_random)
        return obs, reward, bool(terminated), bool(truncated), dict(info)

    def _step_native(self, native_action: Any) -> StepResult:
        """Step the core with a native action (override to interpret a converted action)."""
        with self._core_call():
            return super().step(native_action)
