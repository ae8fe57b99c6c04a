"""Transfer metrics from a run's episodes.csv, and their aggregation over seeds.

The per-run metrics follow Taylor & Stone (JMLR 2009, "Transfer Learning for Reinforcement Learning
Domains: A Survey"): jumpstart, asymptotic performance, total reward (area under the learning curve),
time to threshold and transfer ratio. Source-task training time is *not* counted: every curve starts
at the student's first environment step. Aggregation over seeds reports the mean with a 95%
percentile-bootstrap confidence interval (`scipy.stats.bootstrap`, fixed RNG seed) and the
interquartile mean (IQM) of Agarwal et al. (NeurIPS 2021, rliable).

An episode table is an (n, 2+) array of rows `timesteps, return[, length]`, where `timesteps` is the
student's total environment step count when the episode finished (as `EpisodeRecorder` writes it).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import stats

from rltransfer.errors import ConfigError

DEFAULT_BINS = 50
"""Points of the common step grid of learning curves."""
DEFAULT_FIRST_EPISODES = 10
"""Episodes whose mean return is a run's initial performance (the basis of jumpstart)."""
DEFAULT_TAIL_FRACTION = 0.1
"""Last fraction of the step budget whose episodes give the asymptotic performance."""
DEFAULT_WINDOW = 10
"""Episodes in the moving average that time to threshold compares with the threshold."""
BOOTSTRAP_SEED = 0
"""Fixed RNG seed of every bootstrap: the same runs always give the same intervals."""

HIGHER_IS_BETTER: dict[str, bool] = {
    "initial": True,
    "jumpstart": True,
    "asymptote": True,
    "auc": True,
    "time_to_threshold": False,
    "transfer_ratio": True,
}
"""Direction of each summary metric (time to threshold: fewer steps is better)."""


def _episodes(episodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    table = np.asarray(episodes, dtype=np.float64)
    if table.size == 0:
        return np.zeros(0), np.zeros(0)
    if table.ndim != 2 or table.shape[1] < 2:
        raise ConfigError(
            f"an episode table needs columns timesteps, return; got shape {table.shape}",
            fix="pass the array read_episodes(run_dir) returns",
        )
    order = np.argsort(table[:, 0], kind="stable")
    return table[order, 0], table[order, 1]


def step_grid(total_steps: int, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Right edges of `bins` equal bins over (0, total_steps]: the x axis every curve shares."""
    if total_steps <= 0 or bins <= 0:
        raise ConfigError(
            f"need total_steps > 0 and bins > 0, got {total_steps} and {bins}", fix="pass positive values"
        )
    return np.linspace(0.0, float(total_steps), bins + 1)[1:]


def learning_curve(episodes: np.ndarray, total_steps: int, *, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Learning curve of one run on the common step grid `step_grid(total_steps, bins)`.

    Bin i covers steps (edge[i-1], edge[i]]; its value is the mean return of the episodes that finished
    in it. An empty bin carries the previous bin's value forward; empty bins before the first finished
    episode take the first non-empty bin's value (the earliest estimate of the starting policy).
    Episodes finishing after `total_steps` (vectorised envs overshoot by < n_envs steps) count in the
    last bin. A run without any finished episode gives all NaN.
    """
    steps, returns = _episodes(episodes)
    edges = step_grid(total_steps, bins)
    curve = np.full(bins, np.nan)
    if steps.size == 0:
        return curve
    index = np.clip(np.searchsorted(edges, steps, side="left"), 0, bins - 1)
    sums = np.bincount(index, weights=returns, minlength=bins)
    counts = np.bincount(index, minlength=bins)
    filled = counts > 0
    curve[filled] = sums[filled] / counts[filled]
    first = int(np.argmax(filled))
    curve[:first] = curve[first]
    for i in range(first + 1, bins):
        if not filled[i]:
            curve[i] = curve[i - 1]
    return curve


def initial_performance(episodes: np.ndarray, *, first: int = DEFAULT_FIRST_EPISODES) -> float:
    """Mean return of the first `first` finished episodes (all of them if fewer); NaN without any."""
    _, returns = _episodes(episodes)
    if first <= 0:
        raise ConfigError(f"first must be positive, got {first}", fix="pass first >= 1")
    return float(np.mean(returns[:first])) if returns.size else math.nan


def asymptotic_performance(
    episodes: np.ndarray, total_steps: int, *, tail_fraction: float = DEFAULT_TAIL_FRACTION
) -> float:
    """Mean return of the episodes that finished in the last `tail_fraction` of the step budget.

    That is, episodes with timesteps > (1 - tail_fraction) * total_steps. When none finished there
    (episodes longer than the tail), the return of the last finished episode; NaN without any.
    """
    if not 0.0 < tail_fraction <= 1.0:
        raise ConfigError(f"tail_fraction must be in (0, 1], got {tail_fraction}", fix="pass e.g. 0.1")
    steps, returns = _episodes(episodes)
    if returns.size == 0:
        return math.nan
    tail = returns[steps > (1.0 - tail_fraction) * total_steps]
    return float(np.mean(tail)) if tail.size else float(returns[-1])


def area_under_curve(episodes: np.ndarray, total_steps: int, *, bins: int = DEFAULT_BINS) -> float:
    """Total reward normalised by steps: the mean of `learning_curve` over its equal-width bins.

    Equals (1 / total_steps) · ∫ curve(t) dt for the piecewise-constant curve, so it is in return
    units and comparable across step budgets.
    """
    curve = learning_curve(episodes, total_steps, bins=bins)
    return float(np.mean(curve)) if np.all(np.isfinite(curve)) else math.nan


def time_to_threshold(episodes: np.ndarray, threshold: float | None, *, window: int = DEFAULT_WINDOW) -> float:
    """First step count at which the mean return of the last `window` episodes is ≥ `threshold`.

    The average needs a full window, so one lucky early episode does not count. A run that finished
    fewer than `window` episodes (long, successful episodes: a good teacher's weights in CartPole)
    uses all of its episodes as the window. NaN when the threshold is never reached or is None.
    """
    if window <= 0:
        raise ConfigError(f"window must be positive, got {window}", fix="pass window >= 1")
    steps, returns = _episodes(episodes)
    if threshold is None or returns.size == 0:
        return math.nan
    width = min(window, returns.size)
    moving = np.convolve(returns, np.ones(width) / width, mode="valid")
    reached = np.flatnonzero(moving >= threshold)
    return float(steps[reached[0] + width - 1]) if reached.size else math.nan


def transfer_ratio(auc_transfer: float, auc_scratch: float) -> float:
    """Transfer ratio r = (AUC_transfer − AUC_scratch) / |AUC_scratch| (Taylor & Stone 2009, §2.1).

    Taylor & Stone divide by the area of the no-transfer curve; we take its absolute value so that the
    sign of r says whether transfer helped even for negative rewards (Pendulum, Acrobot). Both areas
    are `area_under_curve` values over the same step budget (source training not counted). r = 0.5:
    transfer collected 50% more reward over training than scratch; r < 0: negative transfer. The ratio
    depends on the reward's offset; NaN when AUC_scratch is 0 or either area is NaN.
    """
    if not (math.isfinite(auc_transfer) and math.isfinite(auc_scratch)) or auc_scratch == 0.0:
        return math.nan
    return (auc_transfer - auc_scratch) / abs(auc_scratch)


def interquartile_mean(values: Sequence[float] | np.ndarray) -> float:
    """IQM: mean of the middle 50% (scipy.stats.trim_mean with 25% cut at each end, as rliable does)."""
    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data)]
    return float(stats.trim_mean(data, 0.25)) if data.size else math.nan


@dataclass(kw_only=True, frozen=True)
class Estimate:
    """A metric over seeds: mean with a bootstrap confidence interval, IQM and the sample size.

    Attributes:
        mean: Mean over seeds (or the point value of a two-sample statistic).
        low: Lower end of the confidence interval (NaN when it cannot be estimated, e.g. one seed).
        high: Upper end of the confidence interval.
        iqm: Interquartile mean over seeds (NaN for two-sample statistics).
        n: Number of seeds with a finite value.
        reached: For time to threshold: seeds that reached it (the others count as the step budget).
    """

    mean: float
    low: float
    high: float
    iqm: float
    n: int
    reached: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN → None)."""
        out: dict[str, Any] = {
            key: (None if isinstance(value, float) and not math.isfinite(value) else value)
            for key, value in self.__dict__.items()
        }
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Estimate:
        """Inverse of to_dict (None → NaN), e.g. for an estimate read back from summary.json."""
        floats = ("mean", "low", "high", "iqm")
        values = {name: math.nan if data.get(name) is None else float(data[name]) for name in floats}
        reached = data.get("reached")
        return cls(**values, n=int(data.get("n") or 0), reached=None if reached is None else int(reached))


def _bootstrap(
    samples: tuple[np.ndarray, ...], statistic: Callable[..., Any], *, confidence: float, n_resamples: int
) -> tuple[float, float]:
    if any(s.size < 2 for s in samples):
        return math.nan, math.nan
    if all(np.ptp(s) == 0 for s in samples):
        value = float(statistic(*samples))
        return value, value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            samples,
            statistic,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method="percentile",
            vectorized=True,
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _mean(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.mean(sample, axis=axis))


def aggregate(values: Sequence[float] | np.ndarray, *, confidence: float = 0.95, n_resamples: int = 2000) -> Estimate:
    """Mean over seeds with a percentile-bootstrap CI (fixed RNG seed) and the IQM; NaNs are dropped."""
    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return Estimate(mean=math.nan, low=math.nan, high=math.nan, iqm=math.nan, n=0)
    low, high = _bootstrap((data,), _mean, confidence=confidence, n_resamples=n_resamples)
    return Estimate(mean=float(np.mean(data)), low=low, high=high, iqm=interquartile_mean(data), n=int(data.size))


def aggregate_time_to_threshold(
    values: Sequence[float] | np.ndarray, *, budget: float, confidence: float = 0.95, n_resamples: int = 2000
) -> Estimate:
    """Time to threshold over seeds: seeds that never reached it count as `budget` (right-censored).

    The mean is then a lower bound of the true mean whenever `reached` < n; NaN when no seed reached.
    """
    data = np.asarray(values, dtype=np.float64)
    reached = int(np.isfinite(data).sum())
    if reached == 0:
        return Estimate(mean=math.nan, low=math.nan, high=math.nan, iqm=math.nan, n=int(data.size), reached=0)
    censored = np.where(np.isfinite(data), data, float(budget))
    estimate = aggregate(censored, confidence=confidence, n_resamples=n_resamples)
    return Estimate(
        mean=estimate.mean, low=estimate.low, high=estimate.high, iqm=estimate.iqm, n=estimate.n, reached=reached
    )


def _fraction(transfer: np.ndarray, scratch: np.ndarray, axis: int = -1) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.mean(transfer, axis=axis) / np.mean(scratch, axis=axis))


def threshold_steps_fraction(
    transfer: Sequence[float] | np.ndarray,
    scratch: Sequence[float] | np.ndarray,
    *,
    budget: float,
    confidence: float = 0.95,
    n_resamples: int = 2000,
) -> Estimate:
    """Mean steps to threshold of a method as a fraction of scratch's (0.25: four times fewer steps).

    Seeds that never reached the threshold count as `budget` on both sides (right-censored, as in
    aggregate_time_to_threshold), so a fraction with censored scratch seeds is an upper bound. Independent
    two-sample bootstrap CI; NaN when neither side reached the threshold.
    """
    a = np.asarray(transfer, dtype=np.float64)
    b = np.asarray(scratch, dtype=np.float64)
    if a.size == 0 or b.size == 0 or not (np.isfinite(a).any() or np.isfinite(b).any()):
        return Estimate(mean=math.nan, low=math.nan, high=math.nan, iqm=math.nan, n=int(a.size))
    censored = compare_to_scratch(
        np.where(np.isfinite(a), a, float(budget)),
        np.where(np.isfinite(b), b, float(budget)),
        kind="fraction",
        confidence=confidence,
        n_resamples=n_resamples,
    )
    return replace(censored, reached=int(np.isfinite(a).sum()))


def _difference(transfer: np.ndarray, scratch: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.mean(transfer, axis=axis) - np.mean(scratch, axis=axis))


def _ratio(transfer: np.ndarray, scratch: np.ndarray, axis: int = -1) -> np.ndarray:
    base = np.mean(scratch, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((np.mean(transfer, axis=axis) - base) / np.abs(base))


def compare_to_scratch(
    transfer: Sequence[float] | np.ndarray,
    scratch: Sequence[float] | np.ndarray,
    *,
    kind: str,
    confidence: float = 0.95,
    n_resamples: int = 2000,
) -> Estimate:
    """A two-sample statistic of a method against scratch, with an independent two-sample bootstrap CI.

    kind="difference": mean(transfer) − mean(scratch) (jumpstart, from initial performances);
    kind="ratio": (mean(transfer) − mean(scratch)) / |mean(scratch)| (transfer ratio, from AUCs);
    kind="fraction": mean(transfer) / mean(scratch) (steps to threshold, see threshold_steps_fraction).
    Seeds are not paired: each sample is resampled on its own.
    """
    statistics = {"difference": _difference, "ratio": _ratio, "fraction": _fraction}
    if kind not in statistics:
        raise ConfigError(f'unknown comparison "{kind}"', fix="use kind='difference', 'ratio' or 'fraction'")
    a = np.asarray(transfer, dtype=np.float64)
    b = np.asarray(scratch, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return Estimate(mean=math.nan, low=math.nan, high=math.nan, iqm=math.nan, n=int(a.size))
    point = float(statistics[kind](a, b))
    if kind != "difference" and not math.isfinite(point):
        return Estimate(mean=math.nan, low=math.nan, high=math.nan, iqm=math.nan, n=int(a.size))
    low, high = _bootstrap((a, b), statistics[kind], confidence=confidence, n_resamples=n_resamples)
    return Estimate(mean=point, low=low, high=high, iqm=math.nan, n=int(a.size))


def curve_band(
    curves: np.ndarray, *, confidence: float = 0.95, n_resamples: int = 1000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean learning curve over seeds (rows) and its pointwise bootstrap CI band (fixed RNG seed)."""
    data = np.asarray(curves, dtype=np.float64)
    data = data[np.all(np.isfinite(data), axis=1)] if data.ndim == 2 else data.reshape(0, 0)
    if data.shape[0] == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    mean = data.mean(axis=0)
    if data.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            (data,),
            _mean,
            axis=0,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method="percentile",
            vectorized=True,
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
    low = np.where(np.isfinite(result.confidence_interval.low), result.confidence_interval.low, mean)
    high = np.where(np.isfinite(result.confidence_interval.high), result.confidence_interval.high, mean)
    return mean, np.asarray(low), np.asarray(high)


@dataclass(kw_only=True, frozen=True)
class RunMetrics:
    """The per-run metrics of one episodes.csv.

    Attributes:
        initial: Mean return of the first episodes (jumpstart is this minus scratch's).
        asymptote: Mean return in the last 10% of steps.
        auc: Area under the learning curve, normalised by steps.
        time_to_threshold: Steps until the moving average reached the threshold (NaN: never).
        episodes: Finished episodes.
    """

    initial: float
    asymptote: float
    auc: float
    time_to_threshold: float
    episodes: int


def run_metrics(
    episodes: np.ndarray, total_steps: int, *, threshold: float | None, bins: int = DEFAULT_BINS
) -> RunMetrics:
    """Every per-run metric of one run with the default parameters of this module."""
    return RunMetrics(
        initial=initial_performance(episodes),
        asymptote=asymptotic_performance(episodes, total_steps),
        auc=area_under_curve(episodes, total_steps, bins=bins),
        time_to_threshold=time_to_threshold(episodes, threshold),
        episodes=int(np.asarray(episodes).shape[0]) if np.asarray(episodes).size else 0,
    )
