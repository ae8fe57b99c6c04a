"""CartPole with configurable physics, a continuous-force option and the shared layout transforms.

Physics kwargs (defaults of Gymnasium's CartPole-v1) and the ranges ``randomize=True`` draws from at
every reset, as factors of the nominal value:

=========  =======  ===================  ===============
kwarg      default  meaning              random factors
=========  =======  ===================  ===============
gravity    9.8      m/s²                 0.5 – 1.5
masscart   1.0      kg                   0.5 – 2.0
masspole   0.1      kg                   0.5 – 3.0
length     0.5      pole half-length, m  0.5 – 2.0
force_mag  10.0     push force, N        0.75 – 1.5
=========  =======  ===================  ===============
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from .base import StepResult, VariantEnv
from .physics import PhysicsParam


class CartPoleVariant(VariantEnv, CartPoleEnv):
    """CartPole whose physics are constructor kwargs; derived masses are recomputed.

    With ``continuous_actions=True`` the action is Box(-1, 1, (1,)) and the cart is pushed with
    ``action * force_mag`` (sign gives the direction).

    Args:
        gravity: Gravitational acceleration, m/s².
        masscart: Mass of the cart, kg.
        masspole: Mass of the pole, kg.
        length: Half the pole's length, m.
        force_mag: Magnitude of the push, N.
        randomize: Resample the physics at every reset (see the module docstring for the ranges).
        render_mode: Gymnasium render mode.
        **layout: Layout kwargs of :mod:`rltransfer.envs.layout` (obs_permutation, continuous_actions, ...).
    """

    FAMILY: ClassVar[str] = "CartPole"
    PHYSICS: ClassVar[Mapping[str, PhysicsParam]] = {
        "gravity": PhysicsParam(default=9.8, help="m/s²", random_factors=(0.5, 1.5)),
        "masscart": PhysicsParam(default=1.0, help="cart mass, kg", random_factors=(0.5, 2.0)),
        "masspole": PhysicsParam(default=0.1, help="pole mass, kg", random_factors=(0.5, 3.0)),
        "length": PhysicsParam(default=0.5, help="pole half-length, m", random_factors=(0.5, 2.0)),
        "force_mag": PhysicsParam(default=10.0, help="push force, N", random_factors=(0.75, 1.5)),
    }

    def __init__(
        self,
        *,
        gravity: float = 9.8,
        masscart: float = 1.0,
        masspole: float = 0.1,
        length: float = 0.5,
        force_mag: float = 10.0,
        randomize: bool = False,
        render_mode: str | None = None,
        **layout: Any,
    ) -> None:
        super().__init__(render_mode=render_mode)
        self.continuous_actions = bool(layout.get("continuous_actions", False))
        physics = {
            "gravity": gravity,
            "masscart": masscart,
            "masspole": masspole,
            "length": length,
            "force_mag": force_mag,
        }
        self._setup_variant(physics=physics, randomize=randomize, layout_kwargs=layout)

    def _apply_physics(self, physics: Mapping[str, float]) -> None:
        self.gravity = physics["gravity"]
        self.masscart = physics["masscart"]
        self.masspole = physics["masspole"]
        self.length = physics["length"]
        self.force_mag = physics["force_mag"]
        self.total_mass = self.masspole + self.masscart
        self.polemass_length = self.masspole * self.length

    def _native_action_space(self, continuous_actions: bool) -> spaces.Space[Any]:
        if continuous_actions:
            return spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        return super()._native_action_space(continuous_actions)

    def _step_native(self, native_action: Any) -> StepResult:
        if not self.continuous_actions:
            return super()._step_native(native_action)
        push = float(np.clip(np.asarray(native_action).reshape(-1)[0], -1.0, 1.0))
        full_force = self.force_mag
        # The core pushes with ±force_mag; scale it by |push| for this one step.
        self.force_mag = abs(push) * full_force
        try:
            return super()._step_native(1 if push >= 0 else 0)
        finally:
            self.force_mag = full_force
