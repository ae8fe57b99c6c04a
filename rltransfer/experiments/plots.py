"""Learning-curve figures (matplotlib, Agg backend: no display needed), written atomically."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

from rltransfer.io import atomic_write_bytes

if TYPE_CHECKING:
    from rltransfer.experiments.summary import EnvSummary


def plot_learning_curves(envs: list[EnvSummary], path: str | Path, *, title: str = "") -> Path:
    """One panel per target: per method the mean learning curve over seeds and its 95% CI band.

    The threshold (when the target has one) is drawn as a dashed line. Returns the written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure

    panels = max(1, len(envs))
    columns = min(3, panels)
    rows = math.ceil(panels / columns)
    figure: Figure = plt.figure(figsize=(5.2 * columns, 3.8 * rows))
    try:
        colours = plt.get_cmap("tab10")
        for index, env in enumerate(envs):
            axis = figure.add_subplot(rows, columns, index + 1)
            for number, (method, summary) in enumerate(env.methods.items()):
                if summary.curve_mean.size == 0:
                    continue
                colour = colours(number % 10)
                label = f"{method} ({len(summary.seeds)} seeds)"
                axis.plot(env.steps, summary.curve_mean, color=colour, label=label, linewidth=1.6)
                axis.fill_between(env.steps, summary.curve_low, summary.curve_high, color=colour, alpha=0.2)
            if env.threshold is not None:
                axis.axhline(env.threshold, color="grey", linestyle="--", linewidth=1, label="threshold")
            axis.set_title(env.env_id, fontsize=10)
            axis.set_xlabel("environment steps")
            axis.set_ylabel("episode return")
            axis.grid(alpha=0.3)
            axis.legend(fontsize=7, loc="best")
        if title:
            figure.suptitle(title, fontsize=10)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
    finally:
        plt.close(figure)
    target = Path(path)
    atomic_write_bytes(target, buffer.getvalue())
    return target
