"""rltransfer's task families: registers every ``rltransfer/`` id with Gymnasium, in this one place.

Each family has one parametric base id, ``rltransfer/<Family>-v0``, whose constructor takes the
physics kwargs (e.g. ``gym.make("rltransfer/CartPole-v0", gravity=15.0, length=0.8)``), the layout
kwargs of :mod:`rltransfer.envs.layout` and ``randomize``; every variant id is that base with fixed kwargs, as
in ``gymnasium/envs/__init__.py``. Importing this package only registers ids (string entry points:
the family modules load on the first ``gym.make``).

Attributes:
    CATALOGUE: Every registered id → its :class:`EnvInfo`.
    FAMILIES: The family names, in catalogue order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import gymnasium

NAMESPACE = "rltransfer"


@dataclass(frozen=True, kw_only=True)
class EnvInfo:
    """One registered id of the catalogue."""

    id: str
    """Full Gymnasium id, e.g. "rltransfer/CartPole-Reversed-v0"."""
    family: str
    """Task family, e.g. "CartPole"; the base id is ``rltransfer/<family>-v0``."""
    description: str
    """One line saying how the variant differs from the base."""
    kwargs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Constructor kwargs the id fixes (empty for the base id)."""
    misleading: bool = False
    """Whether the family's obvious teacher acts exactly wrongly here (reversed actions)."""

    @property
    def is_base(self) -> bool:
        """Whether this is the family's parametric base id."""
        return self.id == f"{NAMESPACE}/{self.family}-v0"


@dataclass(frozen=True, kw_only=True)
class _FamilySpec:
    name: str
    entry_point: str
    max_episode_steps: int
    reward_threshold: float | None
    base_description: str


_FAMILY_SPECS: tuple[_FamilySpec, ...] = (
    _FamilySpec(
        name="CartPole",
        entry_point="rltransfer.envs.cartpole:CartPoleVariant",
        max_episode_steps=500,
        reward_threshold=475.0,
        base_description="CartPole-v1 with gravity/masscart/masspole/length/force_mag kwargs",
    ),
    _FamilySpec(
        name="Acrobot",
        entry_point="rltransfer.envs.acrobot:AcrobotVariant",
        max_episode_steps=500,
        reward_threshold=-100.0,
        base_description="Acrobot-v1 with link length/mass/inertia kwargs",
    ),
    _FamilySpec(
        name="MountainCar",
        entry_point="rltransfer.envs.mountain_car:MountainCarVariant",
        max_episode_steps=200,
        reward_threshold=-110.0,
        base_description="MountainCar-v0 with force/gravity kwargs",
    ),
    _FamilySpec(
        name="MountainCarContinuous",
        entry_point="rltransfer.envs.mountain_car:MountainCarContinuousVariant",
        max_episode_steps=999,
        reward_threshold=90.0,
        base_description="MountainCarContinuous-v0 with a power kwarg",
    ),
    _FamilySpec(
        name="Pendulum",
        entry_point="rltransfer.envs.pendulum:PendulumVariant",
        max_episode_steps=200,
        reward_threshold=None,
        base_description="Pendulum-v1 with g/m/l/max_torque kwargs",
    ),
    _FamilySpec(
        name="LunarLander",
        entry_point="rltransfer.envs.lunar_lander:LunarLanderVariant",
        max_episode_steps=1000,
        reward_threshold=200.0,
        base_description="LunarLander-v3 with gravity/wind/turbulence/continuous kwargs",
    ),
)

# (family, variant, description, kwargs, misleading)
_VARIANTS: tuple[tuple[str, str, str, dict[str, Any], bool], ...] = (
    ("CartPole", "Heavy", "cart 2 kg and pole 0.3 kg", {"masscart": 2.0, "masspole": 0.3}, False),
    ("CartPole", "LongPole", "pole half-length 1.0 m (twice the default)", {"length": 1.0}, False),
    ("CartPole", "LowGravity", "gravity 4.9 m/s² (half the default)", {"gravity": 4.9}, False),
    (
        "CartPole",
        "Reversed",
        "push-left and push-right swapped: the obvious CartPole teacher is exactly wrong",
        {"action_permutation": (1, 0)},
        True,
    ),
    (
        "CartPole",
        "Permuted",
        "observation dims permuted to (theta, x, theta_dot, x_dot) and rescaled",
        {"obs_permutation": (2, 0, 3, 1), "obs_scale": (5.0, 0.5, 2.0, 0.25)},
        False,
    ),
    ("CartPole", "Distractor", "4 dims of N(0, 1) noise appended", {"distractor_dims": 4}, False),
    (
        "CartPole",
        "Continuous",
        "Box(-1, 1, (1,)) action, force = action * force_mag",
        {"continuous_actions": True},
        False,
    ),
    (
        "CartPole",
        "Random",
        "physics resampled at every reset around the defaults (generalist training)",
        {"randomize": True},
        False,
    ),
    (
        "Acrobot",
        "Heavy",
        "both links 1.5 kg",
        {"link_mass_1": 1.5, "link_mass_2": 1.5},
        False,
    ),
    (
        "Acrobot",
        "Permuted",
        "observation dims permuted and rescaled",
        {"obs_permutation": (4, 0, 5, 2, 1, 3), "obs_scale": (0.25, 2.0, 0.1, 3.0, 0.5, 1.5)},
        False,
    ),
    (
        "Acrobot",
        "Random",
        "link lengths and masses resampled at every reset",
        {"randomize": True},
        False,
    ),
    ("MountainCar", "Strong", "engine force 0.0015 (1.5x the default)", {"force": 0.0015}, False),
    (
        "MountainCar",
        "Reversed",
        "push-left and push-right swapped: the obvious teacher is exactly wrong",
        {"action_permutation": (2, 1, 0)},
        True,
    ),
    (
        "MountainCarContinuous",
        "Reversed",
        "throttle sign flipped: the obvious teacher is exactly wrong",
        {"action_sign": (-1.0,)},
        True,
    ),
    ("Pendulum", "Moon", "lunar gravity g = 1.62 m/s²", {"g": 1.62}, False),
    ("Pendulum", "Heavy", "mass 1.5 kg", {"m": 1.5}, False),
    (
        "Pendulum",
        "Reversed",
        "torque sign flipped: the obvious Pendulum teacher is exactly wrong",
        {"action_sign": (-1.0,)},
        True,
    ),
    (
        "Pendulum",
        "Permuted",
        "observation dims permuted to (theta_dot, cos, sin) and rescaled",
        {"obs_permutation": (2, 0, 1), "obs_scale": (0.125, 2.0, 3.0)},
        False,
    ),
    (
        "Pendulum",
        "Discrete",
        "Discrete(5) torques evenly spaced in [-max_torque, max_torque]",
        {"discrete_actions": 5},
        False,
    ),
    ("Pendulum", "Random", "g, m and l resampled at every reset", {"randomize": True}, False),
    (
        "LunarLander",
        "Windy",
        "wind (power 15) and turbulence (1.5) enabled",
        {"enable_wind": True, "wind_power": 15.0, "turbulence_power": 1.5},
        False,
    ),
    ("LunarLander", "LowGravity", "gravity -5 (half the default)", {"gravity": -5.0}, False),
)


def _build_catalogue() -> dict[str, EnvInfo]:
    catalogue: dict[str, EnvInfo] = {}
    for spec in _FAMILY_SPECS:
        base_id = f"{NAMESPACE}/{spec.name}-v0"
        catalogue[base_id] = EnvInfo(id=base_id, family=spec.name, description=spec.base_description)
    for family, variant, description, kwargs, misleading in _VARIANTS:
        env_id = f"{NAMESPACE}/{family}-{variant}-v0"
        catalogue[env_id] = EnvInfo(
            id=env_id,
            family=family,
            description=description,
            kwargs=MappingProxyType(dict(kwargs)),
            misleading=misleading,
        )
    return catalogue


def _register_all(catalogue: Mapping[str, EnvInfo]) -> None:
    """Register every catalogue id with Gymnasium (ids already registered are left alone)."""
    specs = {spec.name: spec for spec in _FAMILY_SPECS}
    for env_id, info in catalogue.items():
        if env_id in gymnasium.registry:
            continue
        family = specs[info.family]
        gymnasium.register(
            id=env_id,
            entry_point=family.entry_point,
            max_episode_steps=family.max_episode_steps,
            reward_threshold=family.reward_threshold,
            kwargs=dict(info.kwargs),
        )


CATALOGUE: dict[str, EnvInfo] = _build_catalogue()
FAMILIES: tuple[str, ...] = tuple(spec.name for spec in _FAMILY_SPECS)

_register_all(CATALOGUE)

__all__ = ["CATALOGUE", "FAMILIES", "NAMESPACE", "EnvInfo"]
