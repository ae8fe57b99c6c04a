"""A ranking score read as a predicted benefit: the transfer ratio a student may expect, with an interval.

The map is fitted on measured transfer (the benchmark suite's teacher × target benefit matrix, scored by
`python -m benchmarks selection --calibrate`): a monotone (isotonic) fit of measured transfer ratio on score,
and the 10th and 90th percentiles of the residuals around it. The residuals are out of target, each pair's
against a fit without its target's pairs, since rank predicts for a target it has not measured (the in-sample
residuals of an isotonic fit, which follows the noise, held 73% on unseen targets). The fit ships as
`calibration.json` beside this module with the command, the matrix and the date it came from; its
leave-one-target-out coverage is in results/selection.md. A score the fit never saw is clamped to the fitted
range.
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


def fit_calibration(
    scores: list[float], benefits: list[float], *, source: dict[str, Any], groups: list[str] | None = None
) -> Calibration:
    """Isotonic fit of measured transfer ratio on ranking score, with its residuals' BAND percentiles.

    `groups` (each pair's target): the residuals are taken out of group, each pair's against the fit on the
    other groups' pairs (with fewer than 2 groups, in sample).
    """
    keys = groups if groups is not None else [""] * len(scores)
    rows = [(float(s), float(b), g) for s, b, g in zip(scores, benefits, keys, strict=True) if math.isfinite(b)]
    if len(rows) < 3:
        raise ValueError(f"a calibration needs at least 3 measured (score, benefit) pairs, got {len(rows)}")
    knots, values = _isotonic([(s, b) for s, b, _ in rows])
    names = set(g for _, _, g in rows)
    if len(names) >= 2:
        residuals = []
        for name in names:
            others = _isotonic([(s, b) for s, b, g in rows if g != name])
            residuals += [b - float(np.interp(s, *others)) for s, b, g in rows if g == name]
    else:
        residuals = [b - float(np.interp(s, knots, values)) for s, b, _ in rows]
    low, high = (float(np.percentile(residuals, q)) for q in BAND)
    return Calibration(
        scores=tuple(float(v) for v in knots),
        benefits=tuple(float(v) for v in values),
        low=low,
        high=high,
        points=len(rows),
        source=source,
    )


def _isotonic(pairs: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """The non-decreasing least-squares fit of benefit on score: (distinct scores, fitted benefit at each)."""
    ordered = sorted(pairs)
    x = np.array([p[0] for p in ordered])
    fitted = isotonic_regression(np.array([p[1] for p in ordered]), increasing=True).x
    knots = np.unique(x)
    return knots, np.array([fitted[x == knot].mean() for knot in knots])


@cache
def shipped_calibration() -> Calibration | None:
    """The calibration that ships with rltransfer (None when the file is absent)."""
    if not CALIBRATION_FILE.is_file():
        return None
    return Calibration.from_dict(json.loads(CALIBRATION_FILE.read_text(encoding="utf-8")))
