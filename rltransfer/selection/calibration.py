"""A ranking score read as a predicted benefit: the transfer ratio a student may expect, with an interval.

The map is fitted on measured transfer (the benchmark suite's teacher × target benefit matrix, scored by
`python -m benchmarks selection --calibrate`): a monotone (isotonic) fit of measured transfer ratio on score,
and the residuals' 10th and 90th percentiles around it. The fit ships as `calibration.json` beside this module
with the command, the matrix and the date it came from; its leave-one-target-out coverage is in
results/selection.md. A score the fit never saw is clamped to the fitted range.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import isotonic_regression

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
BAND = (10.0, 90.0)
"""Percentiles of the residuals that bound the predicted interval (an 80% interval)."""


@dataclass(kw_only=True, frozen=True)
class Calibration:
    """A fitted score → transfer-ratio map.

    Attributes:
        scores: Increasing score knots.
        benefits: The isotonic fit's transfer ratio at each knot (non-decreasing).
        low: Residual percentile BAND[0] (added to the fit for the interval's low end).
        high: Residual percentile BAND[1].
        points: How many (score, measured benefit) pairs the fit used.
        source: Where the pairs came from (command, matrix, date).
    """

    scores: tuple[float, ...]
    benefits: tuple[float, ...]
    low: float
    high: float
    points: int
    source: dict[str, Any]

    def predict(self, score: float) -> dict[str, float]:
        """{"mean", "low", "high"}: the fitted transfer ratio at `score` and its 80% interval."""
        mean = float(np.interp(score, self.scores, self.benefits))
        return {"mean": mean, "low": mean + self.low, "high": mean + self.high}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (the file's layout)."""
        return {
            "scores": list(self.scores),
            "benefits": list(self.benefits),
            "residual_percentiles": {"band": list(BAND), "low": self.low, "high": self.high},
            "points": self.points,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Read the file's layout."""
        band = data["residual_percentiles"]
        return cls(
            scores=tuple(float(v) for v in data["scores"]),
            benefits=tuple(float(v) for v in data["benefits"]),
            low=float(band["low"]),
            high=float(band["high"]),
            points=int(data["points"]),
            source=dict(data.get("source") or {}),
        )


def fit_calibration(scores: list[float], benefits: list[float], *, source: dict[str, Any]) -> Calibration:
    """Isotonic fit of measured transfer ratio on ranking score, with its residuals' BAND percentiles."""
    pairs = sorted((float(s), float(b)) for s, b in zip(scores, benefits, strict=True) if math.isfinite(b))
    if len(pairs) < 3:
        raise ValueError(f"a calibration needs at least 3 measured (score, benefit) pairs, got {len(pairs)}")
    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    fitted = isotonic_regression(y, increasing=True).x
    knots = np.unique(x)
    values = np.array([fitted[x == knot].mean() for knot in knots])
    residuals = y - fitted
    low, high = (float(np.percentile(residuals, q)) for q in BAND)
    return Calibration(
        scores=tuple(float(v) for v in knots),
        benefits=tuple(float(v) for v in values),
        low=low,
        high=high,
        points=len(pairs),
        source=source,
    )


@cache
def shipped_calibration() -> Calibration | None:
    """The calibration that ships with rltransfer (None when the file is absent)."""
    if not CALIBRATION_FILE.is_file():
        return None
    return Calibration.from_dict(json.loads(CALIBRATION_FILE.read_text(encoding="utf-8")))
