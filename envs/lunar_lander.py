"""LunarLander (Box2D) with configurable gravity and wind, plus the shared layout transforms.

Physics kwargs (defaults of Gymnasium's LunarLander-v3) and the ranges ``randomize=True`` draws from
at every reset, as factors of the nominal value. ``enable_wind`` and ``continuous`` are switches,
not physics, and stay fixed:

================  =======  ============================  ==============
kwarg             default  meaning                       random factors
================  =======  ============================  ==============
gravity           -10.0    gravity, in (-12, 0)          0.5 – 1.15
wind_power        15.0     wind strength, in [0, 20]     0.5 – 1.3
turbulence_power  1.5      turbulence, in [0, 2]         0.5 – 1.3
================  =======  ============================  ==============
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gymnasium.envs.box2d.lunar_lander import LunarLander
from gymnasium.utils import EzPickle

from rltransfer.errors import EnvKwargsError

from .base import VariantEnv
from .physics import PhysicsParam


class LunarLanderVariant(VariantEnv, LunarLander):
    """LunarLander whose gravity and wind are constructor kwargs.

    Args:
        gravity: Vertical gravity (negative), in (-12, 0).
        enable_wind: Apply wind and turbulence.
        wind_power: Maximum wind force, in [0, 20].
        turbulence_power: Maximum rotational turbulence, in [0, 2].
        continuous: Box(-1, 1, (2,)) engine throttles instead of Discrete(4).
        randomize: Resample the physics at every reset (see the module docstring for the ranges).
        render_mode: Gymnasium render mode.
        **layout: Layout kwargs of :mod:`rltransfer.envs.layout` (obs_permutation, action_permutation, ...).
    """

    FAMILY: ClassVar[str] = "LunarLander"
    PHYSICS: ClassVar[Mapping[str, PhysicsParam]] = {
        "gravity": PhysicsParam(default=-10.0, low=-12.0, high=0.0, help="gravity", random_factors=(0.5, 1.15)),
        "wind_power": PhysicsParam(
            default=15.0, high=20.0, closed=True, help="wind strength", random_factors=(0.5, 1.3)
        ),
        "turbulence_power": PhysicsParam(
            default=1.5, high=2.0, closed=True, help="turbulence", random_factors=(0.5, 1.3)
        ),
    }

    def __init__(
        self,
        *,
        gravity: float = -10.0,
        enable_wind: bool = False,
        wind_power: float = 15.0,
        turbulence_power: float = 1.5,
        continuous: bool = False,
        randomize: bool = False,
        render_mode: str | None = None,
        **layout: Any,
    ) -> None:
        for name, switch in (("enable_wind", enable_wind), ("continuous", continuous)):
            if not isinstance(switch, bool):
                raise EnvKwargsError(
                    f"LunarLander kwarg {name}={switch!r} is not a bool",
                    fix=f"pass {name}=True or False",
                )
        # The core gets its defaults (it asserts on gravity); the validated physics follow.
        super().__init__(render_mode=render_mode, continuous=continuous, enable_wind=enable_wind)
        physics = {
            "gravity": gravity,
            "wind_power": wind_power,
            "turbulence_power": turbulence_power,
        }
        self._setup_variant(physics=physics, randomize=randomize, layout_kwargs=layout)
        EzPickle.__init__(
            self,
            gravity=gravity,
            enable_wind=enable_wind,
            wind_power=wind_power,
            turbulence_power=turbulence_power,
            continuous=continuous,
            randomize=randomize,
            render_mode=render_mode,
            **layout,
        )

    def _apply_physics(self, physics: Mapping[str, float]) -> None:
        # The Box2D world is rebuilt with self.gravity at every reset.
        self.gravity = physics["gravity"]
        self.wind_power = physics["wind_power"]
        self.turbulence_power = physics["turbulence_power"]
