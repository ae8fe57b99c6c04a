"""Acrobot with configurable link lengths, masses and inertia, plus the shared layout transforms.

Physics kwargs (defaults of Gymnasium's Acrobot-v1) and the ranges ``randomize=True`` draws from at
every reset, as factors of the nominal value. Each link's centre of mass stays at its midpoint.

=============  =======  =======================  ==============
kwarg          default  meaning                  random factors
=============  =======  =======================  ==============
link_length_1  1.0      first link length, m     0.75 – 1.25
link_length_2  1.0      second link length, m    0.75 – 1.25
link_mass_1    1.0      first link mass, kg      0.75 – 1.5
link_mass_2    1.0      second link mass, kg     0.75 – 1.5
link_moi       1.0      moment of inertia, kg·m² 0.75 – 1.25
=============  =======  =======================  ==============
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gymnasium.envs.classic_control.acrobot import AcrobotEnv

from .base import VariantEnv
from .physics import PhysicsParam


class AcrobotVariant(VariantEnv, AcrobotEnv):
    """Acrobot whose link geometry and masses are constructor kwargs.

    Args:
        link_length_1: Length of the first link, m (its centre of mass sits at half of it).
        link_length_2: Length of the second link, m.
        link_mass_1: Mass of the first link, kg.
        link_mass_2: Mass of the second link, kg.
        link_moi: Moment of inertia of each link, kg·m².
        randomize: Resample the physics at every reset (see the module docstring for the ranges).
        render_mode: Gymnasium render mode.
        **layout: Layout kwargs of :mod:`rltransfer.envs.layout` (obs_permutation, action_permutation, ...).
    """

    FAMILY: ClassVar[str] = "Acrobot"
    PHYSICS: ClassVar[Mapping[str, PhysicsParam]] = {
        "link_length_1": PhysicsParam(default=1.0, help="first link length, m", random_factors=(0.75, 1.25)),
        "link_length_2": PhysicsParam(default=1.0, help="second link length, m", random_factors=(0.75, 1.25)),
        "link_mass_1": PhysicsParam(default=1.0, help="first link mass, kg", random_factors=(0.75, 1.5)),
        "link_mass_2": PhysicsParam(default=1.0, help="second link mass, kg", random_factors=(0.75, 1.5)),
        "link_moi": PhysicsParam(default=1.0, help="moment of inertia per link, kg·m²", random_factors=(0.75, 1.25)),
    }

    def __init__(
        self,
        *,
        link_length_1: float = 1.0,
        link_length_2: float = 1.0,
        link_mass_1: float = 1.0,
        link_mass_2: float = 1.0,
        link_moi: float = 1.0,
        randomize: bool = False,
        render_mode: str | None = None,
        **layout: Any,
    ) -> None:
        super().__init__(render_mode=render_mode)
        physics = {
            "link_length_1": link_length_1,
            "link_length_2": link_length_2,
            "link_mass_1": link_mass_1,
            "link_mass_2": link_mass_2,
            "link_moi": link_moi,
        }
        self._setup_variant(physics=physics, randomize=randomize, layout_kwargs=layout)

    def _apply_physics(self, physics: Mapping[str, float]) -> None:
        # Instance attributes shadow AcrobotEnv's class constants, which its dynamics read.
        self.LINK_LENGTH_1 = physics["link_length_1"]
        self.LINK_LENGTH_2 = physics["link_length_2"]
        self.LINK_MASS_1 = physics["link_mass_1"]
        self.LINK_MASS_2 = physics["link_mass_2"]
        self.LINK_COM_POS_1 = physics["link_length_1"] / 2
        self.LINK_COM_POS_2 = physics["link_length_2"] / 2
        self.LINK_MOI = physics["link_moi"]
