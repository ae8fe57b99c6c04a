"""MountainCar (discrete) and MountainCarContinuous with configurable physics and layouts.

Physics kwargs (defaults of Gymnasium's v0 envs) and the ranges ``randomize=True`` draws from at
every reset, as factors of the nominal value:

=================  ===========  =======  ===========================  ==============
family             kwarg        default  meaning                      random factors
=================  ===========  =======  ===========================  ==============
MountainCar        force        0.001    engine force per step        0.75 – 1.5
MountainCar        gravity      0.0025   hill gravity per step        0.8 – 1.2
MountainCarCont.   power        0.0015   engine power per step        0.75 – 1.5
=================  ===========  =======  ===========================  ==============
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gymnasium.envs.classic_control.continuous_mountain_car import Continuous_MountainCarEnv
from gymnasium.envs.classic_control.mountain_car import MountainCarEnv

from .base import VariantEnv
from .physics import PhysicsParam


class MountainCarVariant(VariantEnv, MountainCarEnv):
    """Discrete MountainCar (push left, none, right) whose force and gravity are kwargs.

    Args:
        force: Velocity change per step of a push.
        gravity: Strength of the hill's pull.
        randomize: Resample the physics at every reset (see the module docstring for the ranges).
        render_mode: Gymnasium render mode.
        **layout: Layout kwargs of :mod:`rltransfer.envs.layout` (action_permutation, obs_scale, ...).
    """

    FAMILY: ClassVar[str] = "MountainCar"
    PHYSICS: ClassVar[Mapping[str, PhysicsParam]] = {
        "force": PhysicsParam(default=0.001, help="engine force", random_factors=(0.75, 1.5)),
        "gravity": PhysicsParam(default=0.0025, help="hill gravity", random_factors=(0.8, 1.2)),
    }

    def __init__(
        self,
        *,
        force: float = 0.001,
        gravity: float = 0.0025,
        randomize: bool = False,
        render_mode: str | None = None,
        **layout: Any,
    ) -> None:
        super().__init__(render_mode=render_mode)
        physics = {"force": force, "gravity": gravity}
        self._setup_variant(physics=physics, randomize=randomize, layout_kwargs=layout)

    def _apply_physics(self, physics: Mapping[str, float]) -> None:
        self.force = physics["force"]
        self.gravity = physics["gravity"]


class MountainCarContinuousVariant(VariantEnv, Continuous_MountainCarEnv):
    """MountainCarContinuous whose engine power is a kwarg.

    Args:
        power: Velocity change per step at full throttle.
        randomize: Resample the physics at every reset (see the module docstring for the ranges).
        render_mode: Gymnasium render mode.
        **layout: Layout kwargs of :mod:`rltransfer.envs.layout` (action_sign, discrete_actions, ...).
    """

    FAMILY: ClassVar[str] = "MountainCarContinuous"
    PHYSICS: ClassVar[Mapping[str, PhysicsParam]] = {
        "power": PhysicsParam(default=0.0015, help="engine power", random_factors=(0.75, 1.5)),
    }

    def __init__(
        self,
        *,
        power: float = 0.0015,
        randomize: bool = False,
        render_mode: str | None = None,
        **layout: Any,
    ) -> None:
        super().__init__(render_mode=render_mode)
        self._setup_variant(physics={"power": power}, randomize=randomize, layout_kwargs=layout)

    def _apply_physics(self, physics: Mapping[str, float]) -> None:
        self.power = physics["power"]
