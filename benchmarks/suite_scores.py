"""The suite's one normalisation of scores, shared by the aggregate and the controller figures."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

NORMALISATION = (
    "score' = (score − scratch's initial return) / (threshold − scratch's initial return), per target: 0 is where "
    "scratch starts (mean over scratch's seeds of the mean return of its first 10 episodes), 1 is the threshold"
)


def normalise(values: Any, *, low: float, high: float) -> np.ndarray:
    """The suite's one normalisation: 0 at `low` (scratch's initial return), 1 at `high` (the threshold)."""
    data = np.asarray(values, dtype=np.float64)
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return np.full(data.shape, math.nan)
    return (data - low) / (high - low)


def target_bounds(result: dict[str, Any]) -> tuple[float, float]:
    """(scratch's initial return, the threshold): the normalisation's 0 and 1 on one target."""
    initial = result["methods"]["scratch"]["estimates"]["initial"]["mean"]
    return (math.nan if initial is None else float(initial)), float(result["target"]["threshold"])


def normalisable(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The targets whose scratch starts below the threshold, so that their normalised scores are defined."""
    return [r for r in results if np.isfinite(normalise(0.0, low=target_bounds(r)[0], high=target_bounds(r)[1]))]


def finite_values(values: list[Any]) -> list[float]:
    """The finite numbers of a list that may hold None and NaN."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]
