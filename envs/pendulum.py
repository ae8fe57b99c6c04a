"""Pendulum with configurable gravity, mass, length and torque limit, plus the shared layouts.

Physics kwargs (defaults of Gymnasium's Pendulum-v1) and the ranges ``randomize=True`` draws from
at every reset, as factors of the nominal value (``max_torque`` sets the action bounds: fixed):

==========  =======  ==================  ==============
kwarg       default  meaning             random factors
==========  =======  ==================  ==============
g           10.0     gravity, m/s²       0.15 – 1.5
m           1.0      mass, kg            0.75 – 1.5
l           1.0      length, m           0.75 – 1.25
max_torque  2.0      torque bound, N·m   fixed
==========  =======  ==================  ==============
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.pendulum import PendulumEnv

from .base import VariantEnv
from .physics import PhysicsParam


class PendulumVariant(VariantEnv, PendulumEnv):
    """Pendulum swing-up whose physics are constructor kwargs.

    Args:
        g: Gravitational acceleration, m/s².
        m: Mass of the pendulum, kg.
        l: Length of the pendulum, m.
        max_torque: Torque bound, N·m; the action space is Box(-max_torque, max_torque, (1,)).
        randomize: Resample g, m and l at every reset (see the module docstring for the ranges).
        render_mode: Gymnasium render mode.
        **layout: Layout kwargs of :mod:`rltransfer.envs.layout` (action_sign, discrete_actions, ...).
    """

    FAMILY: ClassVar[str] = "Pendulum"
    PHYSICS: ClassVar[Mapping[str, PhysicsParam]] = {
        "g": PhysicsParam(default=10.0, help="gravity, m/s²", random_factors=(0.15, 1.5)),
        "m": PhysicsParam(default=1.0, help="mass, kg", random_factors=(0.75, 1.5)),
        "l": PhysicsParam(default=1.0, help="length, m", random_factors=(0.75, 1.25)),
        "max_torque": PhysicsParam(default=2.0, help="torque bound, N·m"),
    }

    def __init__(
        self,
        *,
        g: float = 10.0,
        m: float = 1.0,
        l: float = 1.0,  # noqa: E741  (Gymnasium's name)
        max_torque: float = 2.0,
        randomize: bool = False,
        render_mode: str | None = None,
        **layout: Any,
    ) -> None:
        super().__init__(render_mode=render_mode)
        physics = {"g": g, "m": m, "l": l, "max_torque": max_torque}
        self._setup_variant(physics=physics, randomize=randomize, layout_kwargs=layout)

    def _apply_physics(self, physics: Mapping[str, float]) -> None:
        self.g = physics["g"]
        self.m = physics["m"]
        self.l = physics["l"]
        self.max_torque = physics["max_torque"]

    def _build_core_spaces(self) -> None:
        self.action_space = spaces.Box(low=-self.max_torque, high=self.max_torque, shape=(1,), dtype=np.float32)
