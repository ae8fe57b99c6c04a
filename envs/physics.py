"""Physics parameters of a task family: defaults, allowed ranges and per-reset randomization.

Each family declares one :class:`PhysicsParam` per physics kwarg of its base id. The same table
validates user kwargs (with :class:`~rltransfer.errors.EnvKwargsError`), documents the ranges that
``randomize=True`` samples from, and draws those samples from the environment's own ``np_random``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real

import numpy as np

from rltransfer.errors import EnvKwargsError


@dataclass(frozen=True, kw_only=True)
class PhysicsParam:
    """One physics kwarg of a family's base id."""

    default: float
    """Value of the unmodified Gymnasium environment."""
    help: str
    """What the value means, with its unit (shown in error messages)."""
    low: float = 0.0
    """Lower bound of the allowed values."""
    high: float = math.inf
    """Upper bound of the allowed values."""
    closed: bool = False
    """Whether ``low`` and ``high`` themselves are allowed (default: open interval)."""
    random_factors: tuple[float, float] | None = None
    """With ``randomize=True`` each reset draws ``nominal * U(*random_factors)``; None: fixed."""

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"PhysicsParam bounds must satisfy low < high, got {self.low}, {self.high}")
        if not self.allows(self.default):
            raise ValueError(f"PhysicsParam default {self.default} lies outside its own bounds")
        if self.random_factors is not None and not 0 < self.random_factors[0] <= self.random_factors[1]:
            raise ValueError(f"random_factors must be 0 < lo <= hi, got {self.random_factors}")

    def allows(self, value: float) -> bool:
        """Whether `value` lies within the allowed bounds."""
        if self.closed:
            return self.low <= value <= self.high
        return self.low < value < self.high

    def interval(self) -> str:
        """The allowed interval in mathematical notation, e.g. ``(0, inf)``."""
        left, right = ("[", "]") if self.closed else ("(", ")")
        return f"{left}{self.low:g}, {self.high:g}{right}"


def resolve_physics(family: str, params: Mapping[str, PhysicsParam], given: Mapping[str, object]) -> dict[str, float]:
    """Validate the physics kwargs of a family and return them as floats.

    Args:
        family: Family name for error messages, e.g. "CartPole".
        params: The family's parameter table.
        given: Value per parameter name (every name of `params`).

    Returns:
        The values as Python floats, in the order of `params`.

    Raises:
        EnvKwargsError: A value that is not a real number or lies outside its bounds.
    """
    resolved: dict[str, float] = {}
    for name, param in params.items():
        value = given[name]
        if isinstance(value, bool) or not isinstance(value, Real):
            raise EnvKwargsError(
                f"{family} kwarg {name}={value!r} is not a number",
                fix=f"pass {name} as a float ({param.help}; default {param.default:g})",
            )
        number = float(value)
        if not math.isfinite(number) or not param.allows(number):
            raise EnvKwargsError(
                f"{family} kwarg {name}={number:g} is outside {param.interval()}",
                fix=f"pass {name} in {param.interval()} ({param.help}; default {param.default:g})",
            )
        resolved[name] = number
    return resolved


def random_ranges(params: Mapping[str, PhysicsParam], nominal: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """The (low, high) interval each randomized parameter is drawn from around `nominal`."""
    ranges: dict[str, tuple[float, float]] = {}
    for name, param in params.items():
        if param.random_factors is None:
            continue
        ends = sorted(nominal[name] * factor for factor in param.random_factors)
        ranges[name] = (ends[0], ends[1])
    return ranges


def check_random_ranges(family: str, params: Mapping[str, PhysicsParam], nominal: Mapping[str, float]) -> None:
    """Raise EnvKwargsError when ``randomize=True`` could sample a value outside its bounds."""
    for name, (low, high) in random_ranges(params, nominal).items():
        param = params[name]
        if not (param.allows(low) and param.allows(high)):
            raise EnvKwargsError(
                f"with randomize=True, {family} {name}={nominal[name]:g} is resampled in "
                f"[{low:g}, {high:g}], which leaves the allowed {param.interval()}",
                fix=f"pass a nominal {name} closer to {param.default:g}, or randomize=False",
            )


def sample_physics(
    params: Mapping[str, PhysicsParam], nominal: Mapping[str, float], rng: np.random.Generator
) -> dict[str, float]:
    """Draw one physics setting: each randomized parameter uniform in its range, others nominal."""
    ranges = random_ranges(params, nominal)
    sample = dict(nominal)
    for name, (low, high) in ranges.items():
        sample[name] = float(rng.uniform(low, high))
    return sample
