"""Transfer metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rltransfer import metrics
from rltransfer.errors import ConfigError

# timesteps, return — five episodes over a 100-step budget
EPISODES = np.array([[10, 1.0], [20, 3.0], [35, 5.0], [80, 7.0], [100, 9.0]])


def test_step_grid_is_right_edges() -> None:
    assert metrics.step_grid(100, 4).tolist() == [25.0, 50.0, 75.0, 100.0]
    with pytest.raises(ConfigError):
        metrics.step_grid(0, 4)


def test_learning_curve_bins_means_and_carries_forward() -> None:
    # bins (0,25] (25,50] (50,75] (75,100]: {1,3} {5} {} {7,9}
    assert metrics.learning_curve(EPISODES, 100, bins=4).tolist() == [2.0, 5.0, 5.0, 8.0]


def test_learning_curve_backfills_leading_bins_and_clips_overshoot() -> None:
    late = np.array([[60, 4.0], [104, 6.0]])  # 104: a vectorised env overshooting the budget
    assert metrics.learning_curve(late, 100, bins=4).tolist() == [4.0, 4.0, 4.0, 6.0]
    edge = np.array([[25, 2.0], [26, 8.0]])  # 25 is in the first bin (right-closed)
    assert metrics.learning_curve(edge, 100, bins=4).tolist() == [2.0, 8.0, 8.0, 8.0]


def test_learning_curve_sorts_and_handles_empty() -> None:
    shuffled = EPISODES[[3, 0, 4, 2, 1]]
    assert metrics.learning_curve(shuffled, 100, bins=4).tolist() == [2.0, 5.0, 5.0, 8.0]
    assert np.isnan(metrics.learning_curve(np.zeros((0, 3)), 100, bins=4)).all()
    assert math.isnan(metrics.area_under_curve(np.zeros((0, 3)), 100))


def test_area_under_curve_is_mean_of_curve() -> None:
    assert metrics.area_under_curve(EPISODES, 100, bins=4) == pytest.approx((2 + 5 + 5 + 8) / 4)
    assert metrics.area_under_curve(np.array([[60, 4.0], [90, 6.0]]), 100, bins=4) == pytest.approx(4.5)


def test_initial_performance() -> None:
    assert metrics.initial_performance(EPISODES, first=2) == pytest.approx(2.0)
    assert metrics.initial_performance(EPISODES) == pytest.approx(5.0)  # fewer than 10 episodes: all
    assert math.isnan(metrics.initial_performance(np.zeros((0, 2))))


def test_asymptotic_performance() -> None:
    assert metrics.asymptotic_performance(EPISODES, 100) == pytest.approx(9.0)  # steps > 90
    assert metrics.asymptotic_performance(EPISODES, 100, tail_fraction=0.25) == pytest.approx(8.0)  # > 75
    # no episode finished in the tail: the last finished episode
    assert metrics.asymptotic_performance(np.array([[10, 1.0], [50, 2.0]]), 100) == pytest.approx(2.0)
    with pytest.raises(ConfigError):
        metrics.asymptotic_performance(EPISODES, 100, tail_fraction=0.0)


def test_time_to_threshold_needs_full_window() -> None:
    # moving means over 2 episodes: 2, 4, 6, 8 → 4 ≥ 4 first at the 3rd episode (step 35)
    assert metrics.time_to_threshold(EPISODES, 4.0, window=2) == 35.0
    assert metrics.time_to_threshold(EPISODES, 8.0, window=2) == 100.0
    # a single lucky first episode does not count: window 3 → means 3, 5, 7
    assert metrics.time_to_threshold(EPISODES, 3.0, window=3) == 35.0
    assert math.isnan(metrics.time_to_threshold(EPISODES, 100.0, window=2))
    assert math.isnan(metrics.time_to_threshold(EPISODES, None))
    # fewer episodes than the window (long, good episodes): the window is all of them
    assert metrics.time_to_threshold(EPISODES[:2], 2.0, window=3) == 20.0
    assert math.isnan(metrics.time_to_threshold(EPISODES[:2], 2.5, window=3))
    assert math.isnan(metrics.time_to_threshold(np.zeros((0, 2)), 0.0))


def test_transfer_ratio_definition() -> None:
    assert metrics.transfer_ratio(6.0, 4.0) == pytest.approx(0.5)
    assert metrics.transfer_ratio(-3.0, -4.0) == pytest.approx(0.25)  # less negative reward: helped
    assert metrics.transfer_ratio(2.0, 4.0) == pytest.approx(-0.5)  # negative transfer
    assert math.isnan(metrics.transfer_ratio(1.0, 0.0))
    assert math.isnan(metrics.transfer_ratio(math.nan, 1.0))


def test_interquartile_mean() -> None:
    assert metrics.interquartile_mean([1, 2, 3, 4, 100, 200, 300, 400]) == pytest.approx((3 + 4 + 100 + 200) / 4)
    assert metrics.interquartile_mean([100, 1, 3, 2, 4]) == pytest.approx(3.0)  # cut one each end of 5
    assert metrics.interquartile_mean([7.0, math.nan]) == pytest.approx(7.0)


def test_aggregate_bootstrap_ci_is_deterministic_and_brackets_mean() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    first = metrics.aggregate(values)
    assert first == metrics.aggregate(values)  # fixed RNG seed
    assert first.mean == pytest.approx(4.0)
    assert first.iqm == pytest.approx(3.0)
    assert first.n == 5
    assert 1.0 <= first.low < first.mean < first.high <= 10.0
    narrow = metrics.aggregate(values, confidence=0.5)
    assert first.low <= narrow.low and narrow.high <= first.high


def test_aggregate_degenerate_samples() -> None:
    same = metrics.aggregate([2.0, 2.0, 2.0])
    assert (same.mean, same.low, same.high) == (2.0, 2.0, 2.0)
    one = metrics.aggregate([5.0, math.nan])
    assert one.mean == 5.0 and one.n == 1 and math.isnan(one.low)
    assert math.isnan(metrics.aggregate([]).mean)


def test_time_to_threshold_over_seeds_is_censored_at_budget() -> None:
    estimate = metrics.aggregate_time_to_threshold([100.0, math.nan, 300.0], budget=1000)
    assert estimate.mean == pytest.approx((100 + 1000 + 300) / 3)
    assert estimate.reached == 2 and estimate.n == 3
    never = metrics.aggregate_time_to_threshold([math.nan, math.nan], budget=1000)
    assert math.isnan(never.mean) and never.reached == 0


def test_estimate_round_trips_through_its_json_dict() -> None:
    for estimate in (metrics.aggregate_time_to_threshold([100.0, math.nan, 300.0], budget=1000), metrics.aggregate([])):
        again = metrics.Estimate.from_dict(estimate.to_dict())
        assert again.to_dict() == estimate.to_dict() and again.reached == estimate.reached


def test_compare_to_scratch() -> None:
    jump = metrics.compare_to_scratch([3.0, 5.0], [1.0, 1.0], kind="difference")
    assert jump.mean == pytest.approx(3.0)
    assert 2.0 <= jump.low <= jump.high <= 4.0  # scratch constant: the CI is the transfer sample's
    ratio = metrics.compare_to_scratch([6.0, 6.0], [4.0, 4.0], kind="ratio")
    assert (ratio.mean, ratio.low, ratio.high) == (0.5, 0.5, 0.5)
    assert math.isnan(metrics.compare_to_scratch([1.0], [0.0], kind="ratio").mean)
    with pytest.raises(ConfigError):
        metrics.compare_to_scratch([1.0], [1.0], kind="product")


def test_curve_band() -> None:
    mean, low, high = metrics.curve_band(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert mean.tolist() == [2.0, 3.0]
    assert np.all(low >= [1.0, 2.0]) and np.all(high <= [3.0, 4.0]) and np.all(low <= mean)
    single_mean, single_low, _ = metrics.curve_band(np.array([[1.0, 2.0]]))
    assert single_low.tolist() == single_mean.tolist() == [1.0, 2.0]


def test_run_metrics_combines_everything() -> None:
    run = metrics.run_metrics(EPISODES, 100, threshold=5.0, bins=4)
    assert run.initial == pytest.approx(5.0)
    assert run.asymptote == pytest.approx(9.0)
    assert run.auc == pytest.approx(5.0)
    assert run.time_to_threshold == 100.0  # 5 episodes < window of 10: the window is all five, mean 5
    assert run.episodes == 5
