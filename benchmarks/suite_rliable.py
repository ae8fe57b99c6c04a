"""rliable (Agarwal et al., NeurIPS 2021) for the suite's aggregate: interval estimates and their plots.

rliable is an optional heavy dependency (the `bench` extra), imported on first use; every estimate uses its
stratified bootstrap (resampling runs within each target) with a fixed seed.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from benchmarks.suite_targets import METHOD_ORDER
from rltransfer import metrics
from rltransfer.errors import ConfigError
from rltransfer.io import atomic_write_bytes

REPS = 2000
"""Bootstrap replications of every rliable interval estimate (rliable's default for profiles and P(X > Y))."""


@contextlib.contextmanager
def _fixed_numpy_seed() -> Iterator[None]:
    """Seed NumPy's global RNG, then restore it: rliable's bootstrap (arch 7) ignores random_state and uses it."""
    state = np.random.get_state()
    np.random.seed(metrics.BOOTSTRAP_SEED)
    try:
        yield
    finally:
        np.random.set_state(state)


def _rliable() -> SimpleNamespace:
    """The rliable modules and pyplot (Agg backend); rliable is an optional heavy dependency, the `bench` extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
        from rliable import library, plot_utils
        from rliable import metrics as rliable_metrics
    except ImportError as exc:
        raise ConfigError(
            f"suite aggregate needs rliable ({exc})", fix="pip install -e '.[bench]' (or make setup)"
        ) from exc
    return SimpleNamespace(library=library, metrics=rliable_metrics, plot_utils=plot_utils, pyplot=pyplot)


def _interval(point: Any, interval: Any) -> dict[str, float]:
    low, high = np.asarray(interval, dtype=float).reshape(2, -1)[:, 0]
    return {"point": float(np.ravel(point)[0]), "low": float(low), "high": float(high)}


def rliable_estimates(matrices: dict[str, dict[str, np.ndarray]], *, reps: int = REPS) -> dict[str, Any]:
    """IQM per score and method, P(method > scratch) and the AUC performance profile, with stratified-bootstrap CIs."""
    rliable = _rliable()
    out: dict[str, Any] = {"iqm": {}, "probability_of_improvement": {}}

    def iqm(scores: np.ndarray) -> np.ndarray:
        return np.array([rliable.metrics.aggregate_iqm(scores)])

    with _fixed_numpy_seed():
        for score, by_method in matrices.items():
            points, intervals = rliable.library.get_interval_estimates(by_method, iqm, reps=reps)
            out["iqm"][score] = {m: _interval(points[m], intervals[m]) for m in by_method}
        auc = matrices["auc"]
        pairs = {f"{m},scratch": (auc[m], auc["scratch"]) for m in auc if m != "scratch"} if "scratch" in auc else {}
        if pairs:
            points, intervals = rliable.library.get_interval_estimates(
                pairs, rliable.metrics.probability_of_improvement, reps=reps
            )
            out["probability_of_improvement"] = {k.split(",")[0]: _interval(points[k], intervals[k]) for k in pairs}
        scores = np.concatenate([s.ravel() for s in auc.values()]) if auc else np.zeros(0)
        taus = np.linspace(min(0.0, *scores), max(1.0, *scores), 81)
        profiles, cis = rliable.library.create_performance_profile(auc, taus, reps=reps) if auc else ({}, {})
    out["performance_profile"] = {
        "score": "auc",
        "taus": taus.tolist(),
        "profiles": {
            m: {"point": profiles[m].tolist(), "low": cis[m][0].tolist(), "high": cis[m][1].tolist()} for m in auc
        },
    }
    return out


def _save(figure: Any, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())
    return path


def write_plots(estimates: dict[str, Any], folder: Path, *, titles: dict[str, str]) -> list[Path]:
    """The rliable plots of the estimates: IQM intervals, probability of improvement, performance profile."""
    rliable = _rliable()
    plot_utils, plt = rliable.plot_utils, rliable.pyplot
    files = []
    iqm = estimates["iqm"]
    methods = [m for m in METHOD_ORDER if all(m in iqm[s] for s in iqm)]
    if methods:
        points = {m: np.array([iqm[s][m]["point"] for s in iqm]) for m in methods}
        intervals = {m: np.array([[iqm[s][m]["low"] for s in iqm], [iqm[s][m]["high"] for s in iqm]]) for m in methods}
        figure, _ = plot_utils.plot_interval_estimates(
            points, intervals, metric_names=[f"IQM {titles[s]}" for s in iqm], algorithms=methods, xlabel=""
        )
        files.append(_save(figure, folder / "iqm.png"))
        plt.close(figure)
    poi = estimates["probability_of_improvement"]
    if poi:
        axis = plot_utils.plot_probability_of_improvement(
            {f"{m},scratch": v["point"] for m, v in poi.items()},
            {f"{m},scratch": np.array([v["low"], v["high"]]) for m, v in poi.items()},
        )
        files.append(_save(axis.figure, folder / "probability_of_improvement.png"))
        plt.close(axis.figure)
    profile = estimates["performance_profile"]
    if profile["profiles"]:
        axis = plot_utils.plot_performance_profiles(
            {m: np.array(v["point"]) for m, v in profile["profiles"].items()},
            np.array(profile["taus"]),
            performance_profile_cis={
                m: (np.array(v["low"]), np.array(v["high"])) for m, v in profile["profiles"].items()
            },
            xlabel=r"normalised AUC ($\tau$)",
            ylabel=r"fraction of runs with score $> \tau$",
            legend=True,
        )
        files.append(_save(axis.figure, folder / "performance_profile.png"))
        plt.close(axis.figure)
    return files
