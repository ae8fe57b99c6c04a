"""The ranking score read as a predicted benefit: a monotone fit on measured transfer with an 80% interval."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.selection_calibration import leave_one_target_out
from rltransfer.mapping import Mapping, ObsMap
from rltransfer.selection import Ranking, recommendation
from rltransfer.selection.calibration import Calibration, fit_calibration, shipped_calibration


def test_fit_is_monotone_and_its_interval_holds_most_points() -> None:
    """Noisy benefits that rise with the score: the fit rises, and the 80% band holds about 80% of the points."""
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.0, 1.0, 400)
    benefits = 0.8 * scores - 0.2 + rng.normal(0.0, 0.1, 400)
    calibration = fit_calibration(list(scores), list(benefits), source={"method": "representation"})
    assert np.all(np.diff(calibration.benefits) >= 0)
    low, high = calibration.predict(0.1), calibration.predict(0.9)
    assert low["mean"] < high["mean"] and abs(high["mean"] - 0.52) < 0.1
    inside = [
        calibration.predict(s)["low"] <= b <= calibration.predict(s)["high"]
        for s, b in zip(scores, benefits, strict=True)
    ]
    assert 0.7 < float(np.mean(inside)) < 0.9
    assert calibration.predict(5.0)["mean"] == calibration.benefits[-1], "clamped beyond the fitted range"
    assert Calibration.from_dict(calibration.to_dict()) == calibration


def test_out_of_target_band_holds_on_targets_it_has_not_seen() -> None:
    """Targets that differ by more than the noise within one (each its own offset): residuals taken against fits
    without their target widen the band, so on a left-out target the 80% interval holds about 80% (in-sample
    residuals held 56% on this data)."""
    rng = np.random.default_rng(0)
    rows, scores, benefits, targets = [], [], [], []
    for target in range(10):
        score = rng.uniform(0.0, 1.0, 8)
        benefit = score + rng.normal(0.0, 0.3) + rng.normal(0.0, 0.05, 8)
        rows.append(
            {
                "target": str(target),
                "teachers": [{"score": s, "transfer_ratio": {"mean": b}} for s, b in zip(score, benefit, strict=True)],
            }
        )
        scores += list(score)
        benefits += list(benefit)
        targets += [str(target)] * 8
    in_sample = fit_calibration(scores, benefits, source={})
    out_of_target = fit_calibration(scores, benefits, source={}, groups=targets)
    assert out_of_target.high - out_of_target.low > in_sample.high - in_sample.low + 0.1
    assert out_of_target.benefits == in_sample.benefits, "the fit itself is the same"
    assert 0.75 <= leave_one_target_out(rows)["coverage"] <= 0.85


def test_a_calibration_needs_measurements() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        fit_calibration([0.1, 0.9], [0.0, 0.5], source={})


def test_leave_one_target_out_scores_each_target_on_a_fit_without_it() -> None:
    """A target unlike the others is predicted badly: its error shows, the others' stays small."""
    rows = []
    for target, shift in (("A", 0.0), ("B", 0.0), ("C", 0.0), ("Odd", 1.0)):
        teachers = [{"score": s, "transfer_ratio": {"mean": s + shift}} for s in np.linspace(0.0, 1.0, 6, dtype=float)]
        rows.append({"target": target, "teachers": teachers})
    check = leave_one_target_out(rows)
    assert check["pairs"] == 24
    assert check["per_target"]["Odd"]["mae"] > 0.8 > check["per_target"]["A"]["mae"]
    assert check["per_target"]["Odd"]["coverage"] < 0.5


def test_rankings_carry_the_shipped_prediction_and_scratch_its_evidence() -> None:
    """rank's predicted benefit comes from the shipped calibration; "train from scratch" names the evidence."""
    calibration = shipped_calibration()
    assert calibration is not None, "rltransfer/selection/calibration.json ships with the package"
    assert calibration.points >= 20 and calibration.source.get("matrix_date")
    low, high = calibration.predict(0.2), calibration.predict(0.95)
    assert low["low"] <= low["mean"] <= low["high"] and low["mean"] <= high["mean"]
    weak = Ranking(
        teacher="weak",
        score=0.1,
        mapping=Mapping(obs=ObsMap.identity(4)),
        evidence={"zero_shot": {"return": -480.0, "random_return": -470.0}},
    )
    line = recommendation([weak])
    assert line.startswith("train from scratch") and "-480.0, is not above a random policy's -470.0" in line
